"""Who could help with a request, best first, and why each ranks where it does.

Two kinds of candidate:

- **open offers** of the same kind the viewer may see (`queries.offers_seen_by`): standing
  offers and offers made for this request;
- **organisations that appear to have room**, for patient transfers and beds: their latest
  "admissible now" beds of the type asked for, read **through the sharing policy** as the
  viewer. A figure the viewer may not see is never used: a status-only share gives no count,
  so such an organisation is listed as "shares only a status" and scored on nothing else;
  a banded count is used as shown (to the nearest 5), never the exact one behind it.

Each candidate carries its reasons in words. The score is a plain sum of the reasons'
points, so the page can show exactly why one ranks above another.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from flotilla.exchange import kinds
from flotilla.exchange.models import AidRequest, Offer
from flotilla.exchange.queries import audience_of, committed_to, offers_seen_by
from flotilla.organisations.models import Organisation, Site
from flotilla.sharing import policy
from flotilla.sharing.policy import Shared, Viewer

#: Kinds for which reported bed figures say something about room to help.
BED_KINDS = ("transfer", "beds")
PRESSURE = "opel_declared"


@dataclass
class Reason:
    text: str
    points: float


@dataclass
class Candidate:
    organisation: Organisation
    offer: Offer | None = None
    site: Site | None = None
    distance_km: float | None = None
    #: The figure used, exactly as the viewer may see it (detail and delay included).
    spare: Shared | None = None
    pressure: Shared | None = None
    reasons: list[Reason] = field(default_factory=list)

    @property
    def score(self) -> float:
        return round(sum(r.points for r in self.reasons), 2)


@dataclass
class Matches:
    candidates: list[Candidate]
    #: Candidates left out because they are beyond the request's maximum distance.
    too_far: int = 0
    #: Organisations in the audience that share no bed figure with the viewer at all.
    not_shared: int = 0


def distance_km(a: tuple[float, float] | None, b: tuple[float, float] | None) -> float | None:
    """Great-circle distance between two (latitude, longitude) points, or None if unknown."""
    if a is None or b is None:
        return None
    (lat1, lon1), (lat2, lon2) = (tuple(map(math.radians, p)) for p in (a, b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return round(2 * 6371.0 * math.asin(math.sqrt(min(1.0, h))), 1)


def _where(site: Site | None, organisation: Organisation) -> tuple[float, float] | None:
    for place in (site, organisation):
        if place is not None and place.latitude is not None and place.longitude is not None:
            return (place.latitude, place.longitude)
    return None


def _distance_reason(c: Candidate) -> None:
    if c.distance_km is None:
        c.reasons.append(Reason("distance unknown (no location on record)", 0))
    else:
        c.reasons.append(
            Reason(f"{c.distance_km:.0f} km away", round(max(0.0, 2 - c.distance_km / 50), 1))
        )


def _pressure_reason(c: Candidate) -> None:
    p = c.pressure
    if p is None or p.value is None:
        c.reasons.append(Reason("pressure not shared with you", 0))
        return
    level = int(p.value)
    c.reasons.append(Reason(f"declares OPEL {level}", (4 - level) * 0.5))


def _fit_reasons(request: AidRequest, offer: Offer, c: Candidate, needed: int) -> None:
    for name in ("level_of_care", "bed_type", "role", "unit"):
        wanted, given = request.details.get(name), offer.details.get(name)
        if wanted is None or given is None:
            continue
        label = next(f.label for f in kinds.KINDS[request.kind].fields if f.name == name)
        if wanted == given:
            c.reasons.append(Reason(f"{label.lower()} as asked", 3))
        else:
            c.reasons.append(Reason(f"different {label.lower()}", -3))
    if offer.remaining >= needed:
        c.reasons.append(Reason(f"{offer.remaining} left covers all {needed}", 2))
    else:
        c.reasons.append(Reason(f"{offer.remaining} left of {needed} needed", 1))
    if offer.available_from <= request.needed_by:
        c.reasons.append(Reason("available in time", 2))
    else:
        when = timezone.localtime(offer.available_from)
        c.reasons.append(Reason(f"only from {when:%d %b %H:%M}", -1))
    if offer.request_id == request.pk:
        c.reasons.append(Reason("offered for this request", 1))


def _spare_reason(c: Candidate, bed_label: str) -> None:
    s = c.spare
    assert s is not None and s.value is not None
    about = "" if s.detail == "exact" else "about "
    age = timezone.now() - s.as_of
    hours = int(age.total_seconds() // 3600)
    c.reasons.append(
        Reason(
            f"reports {about}{s.value:.0f} {bed_label} beds admissible now "
            f"({hours} h ago; shared {s.detail})",
            round(min(3.0, s.value / 2), 1),
        )
    )


def match(viewer: Viewer, request: AidRequest, *, now: datetime | None = None) -> Matches:
    """Rank who could help with `request`, as `viewer` may see them. Reads of organisations'
    figures go through the sharing policy (and on their access records)."""
    now = now or timezone.now()
    here = _where(request.site, request.organisation)
    limit = request.max_distance_km
    needed = max(request.quantity - committed_to(request), 0)
    found: list[Candidate] = []
    too_far = not_shared = 0
    offers = (
        offers_seen_by(viewer)
        .filter(kind=request.kind, state="offered", remaining__gt=0, available_until__gt=now)
        .filter(Q(request__isnull=True) | Q(request=request))
    )
    offers = offers.select_related("organisation", "site")
    pressure_of: set[int] = {o.organisation_id for o in offers}
    bed_type = request.details.get("bed_type") if request.kind in BED_KINDS else None
    others: list[Organisation] = []
    if bed_type:
        others = list(audience_of(request).exclude(pk=request.organisation_id))
        pressure_of |= {o.pk for o in others}
    measures = [PRESSURE] + ([f"{bed_type}_admissible"] if bed_type else [])
    reading = policy.read_latest(viewer, None, organisation_ids=pressure_of, measures=measures)
    whole_org = {(v.organisation_id, v.measure): v for v in reading.values if v.site_id is None}
    for offer in offers:
        c = Candidate(offer.organisation, offer=offer, site=offer.site)
        c.distance_km = distance_km(here, _where(offer.site, offer.organisation))
        if limit is not None and c.distance_km is not None and c.distance_km > limit:
            too_far += 1
            continue
        c.pressure = whole_org.get((offer.organisation_id, PRESSURE))
        _fit_reasons(request, offer, c, needed)
        _distance_reason(c)
        _pressure_reason(c)
        found.append(c)
    offering = {c.organisation.pk for c in found}
    bed_label = kinds.BED_TYPES.get(bed_type or "", "")
    for org in others:
        if org.pk in offering:
            continue
        spare = whole_org.get((org.pk, f"{bed_type}_admissible"))
        if spare is None:
            not_shared += 1
            continue
        c = Candidate(org, spare=spare)
        c.distance_km = distance_km(here, _where(None, org))
        if limit is not None and c.distance_km is not None and c.distance_km > limit:
            too_far += 1
            continue
        if spare.value is None:
            c.reasons.append(Reason("shares only a status for these beds: no count to go on", 0))
        elif spare.value <= 0:
            continue
        else:
            _spare_reason(c, bed_label.lower())
        c.pressure = whole_org.get((org.pk, PRESSURE))
        _distance_reason(c)
        _pressure_reason(c)
        c.reasons.append(Reason("no offer yet: ask them", -1))
        found.append(c)
    found.sort(key=lambda c: (-c.score, c.distance_km or 1e9, c.organisation.name))
    return Matches(found, too_far, not_shared)
