"""The demo's mutual aid: requests, offers and commitments, open now and over the last month.

Six member trusts take part: the demo coordinator's trust (`demo-coordinator`) and the five
nearest to it (for the synthetic system, the next five), each with a demo coordinator of its
own (`demo-coord-<code>`, the same password). Everything is done through
`flotilla.exchange.actions`, as those people or, for the moves only the platform makes
(widening, expiry), as the demo itself, so that every row passed the same checks as a real
one and every step is on the audit record.

The actions stamp "now". A month of history made at load time would all have happened in the
same second, so each row's times are planned (relative to now, with a seeded jitter, so two
loads at the same moment are alike) and `_backdate` moves them there afterwards, in one
transaction with one audit event that says which rows moved and by how much.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Max, Model
from django.utils import timezone

from flotilla.audit import actions as audit
from flotilla.audit.principals import Principal
from flotilla.authz import actions as authz_actions
from flotilla.authz.models import Membership, Role
from flotilla.collaboratives.models import Collaborative
from flotilla.exchange import actions
from flotilla.exchange.matching import distance_km
from flotilla.exchange.models import AidRequest, Commitment, Offer
from flotilla.exchange.queries import committed_to
from flotilla.notifications import actions as notifications
from flotilla.notifications.models import Notification
from flotilla.organisations.models import Organisation, Site

SEED = 20261130
#: How many trusts take part, the demo coordinator's included.
PARTIES = 6


@dataclass(frozen=True)
class Party:
    """One trust in the demo's exchange: where it helps from and who arranges it."""

    organisation: Organisation
    site: Site
    person: Any


def _where(org: Organisation) -> tuple[float, float] | None:
    if org.latitude is None or org.longitude is None:
        return None
    return (org.latitude, org.longitude)


def _main_site(org: Organisation) -> Site | None:
    """The organisation's own site nearest its registered address (its main hospital, as a
    rule), else its first own site by code; a site registered under another code prefix
    (an independent hospital it contracts with) only when it has nothing else."""
    sites = list(Site.objects.filter(organisation=org).order_by("code"))
    own = [s for s in sites if s.code.startswith(org.code)] or sites
    here = _where(org)
    located = [s for s in own if s.latitude is not None and s.longitude is not None]
    if here is not None and located:
        return min(
            located,
            key=lambda s: (distance_km(here, (s.latitude, s.longitude)) or 0.0, s.code),  # type: ignore[arg-type]
        )
    return own[0] if own else None


def _coordinator(org: Organisation, password: str, demo: Principal) -> Any:
    """A demo person holding the coordinator role at `org`: the one there is, or a new one."""
    found = (
        Membership.objects.filter(
            organisation=org, role=Role.COORDINATOR, user__username__startswith="demo-"
        )
        .select_related("user")
        .order_by("user__username")
        .first()
    )
    if found is not None:
        return found.user
    user = authz_actions.create_user(
        by=demo, username=f"demo-coord-{org.code.lower()}", password=password
    )
    authz_actions.set_membership(by=demo, user=user, organisation=org, role=Role.COORDINATOR)
    return user


def choose_parties(
    home: Organisation, members: list[Organisation], password: str, demo: Principal
) -> list[Party]:
    """The demo coordinator's trust first, then the members with a site nearest to it (in the
    order given where locations are unknown), each with a coordinator."""
    here = _where(home)
    others = [m for m in members if m.pk != home.pk]

    def nearness(pair: tuple[int, Organisation]) -> tuple[float, int]:
        d = distance_km(here, _where(pair[1]))
        return (d if d is not None else float("inf"), pair[0])

    chosen = []
    for org in [home] + [o for _, o in sorted(enumerate(others), key=nearness)]:
        site = _main_site(org)
        if site is None:
            continue
        chosen.append(Party(org, site, _coordinator(org, password, demo)))
        if len(chosen) == PARTIES:
            break
    return chosen


class _Exchange:
    """Makes the demo's exchange through the actions, remembering when each row should say
    things happened."""

    def __init__(self, collab: Collaborative, now: datetime, demo: Principal) -> None:
        self.collab = collab
        self.now = now
        self.demo = demo
        self.rng = random.Random(SEED)
        self.planned: dict[tuple[type[Model], int], dict[str, datetime]] = {}

    def _plan(self, obj: Model, **stamps: datetime) -> None:
        self.planned.setdefault((type(obj), obj.pk), {}).update(stamps)

    def jitter(self, minutes: int) -> timedelta:
        """Up to `minutes` more, the same on every load."""
        return timedelta(minutes=self.rng.randint(0, minutes))

    # -- requests

    def ask(
        self,
        p: Party,
        kind: str,
        quantity: int,
        urgency: str,
        details: dict[str, Any],
        *,
        at: datetime,
        needed_in: timedelta,
        note: str = "",
        max_distance_km: int | None = None,
    ) -> AidRequest:
        request = actions.raise_request(
            by=p.person,
            organisation=p.organisation,
            collaborative=self.collab,
            site=p.site,
            kind=kind,
            details=details,
            quantity=quantity,
            urgency=urgency,
            needed_by=self.now + needed_in,
            max_distance_km=max_distance_km,
            note=note,
        )
        self._plan(request, created_at=at, reach_since=at, needed_by=at + needed_in)
        return request

    def widen(self, request: AidRequest, *, at: datetime) -> None:
        # As the widening job would have, unmet after the collaborative's wait.
        actions.widen(by=self.demo, request=request)
        self._plan(request, reach_since=at)

    def close(self, p: Party, request: AidRequest, *, at: datetime) -> None:
        actions.move_request(by=p.person, request=request, to="closed")
        self._plan(request, ended_at=at)

    def withdraw_request(self, p: Party, request: AidRequest, *, at: datetime, reason: str) -> None:
        actions.move_request(by=p.person, request=request, to="withdrawn", reason=reason)
        self._plan(request, ended_at=at)

    def expire_request(self, request: AidRequest, *, at: datetime) -> None:
        needed_by = self.planned[(AidRequest, request.pk)]["needed_by"]
        # The expiry job's words, with the time the request was really needed by.
        reason = (
            f"Needed by {timezone.localtime(needed_by):%d %b %H:%M}; "
            f"{committed_to(request)} of {request.quantity} committed by then."
        )
        actions.move_request(by=self.demo, request=request, to="expired", reason=reason)
        self._plan(request, ended_at=at)

    # -- offers

    def offer(
        self,
        p: Party,
        quantity: int,
        *,
        at: datetime,
        hours: int,
        request: AidRequest | None = None,
        kind: str = "",
        details: dict[str, Any] | None = None,
        transport: str = "offerer",
        cost_recovery: str = "none",
        duration_hours: int | None = None,
        conditions: str = "",
        note: str = "",
    ) -> Offer:
        window = timedelta(hours=hours)
        offer = actions.make_offer(
            by=p.person,
            organisation=p.organisation,
            site=p.site,
            request=request,
            collaborative=None if request is not None else self.collab,
            kind=kind,
            details=details if details is not None else dict(request.details if request else {}),
            quantity=quantity,
            available_from=self.now,
            available_until=self.now + window,
            transport=transport,
            cost_recovery=cost_recovery,
            duration_hours=duration_hours,
            conditions=conditions,
            note=note,
        )
        self._plan(offer, created_at=at, available_from=at, available_until=at + window)
        return offer

    def decline(self, p: Party, offer: Offer, *, at: datetime, reason: str) -> None:
        actions.move_offer(by=p.person, offer=offer, to="declined", reason=reason)
        self._plan(offer, ended_at=at)

    def withdraw_offer(self, p: Party, offer: Offer, *, at: datetime, reason: str) -> None:
        actions.move_offer(by=p.person, offer=offer, to="withdrawn", reason=reason)
        self._plan(offer, ended_at=at)

    def expire_closed_windows(self) -> None:
        """Expire every offer still offered whose planned window has closed, a few minutes
        after it closed, as the expiry job would have."""
        for offer in Offer.objects.filter(state="offered").order_by("pk"):
            until = self.planned[(Offer, offer.pk)]["available_until"]
            at = until + timedelta(minutes=1) + self.jitter(4)
            if at >= self.now:
                continue
            reason = (
                f"Available until {timezone.localtime(until):%d %b %H:%M}; "
                f"{offer.quantity - offer.remaining} of {offer.quantity} taken up."
            )
            actions.move_offer(by=self.demo, offer=offer, to="expired", reason=reason)
            self._plan(offer, ended_at=at)

    # -- commitments

    def take(self, p: Party, offer: Offer, quantity: int, *, at: datetime) -> Commitment:
        commitment = actions.commit(
            by=p.person,
            offer=offer,
            quantity=quantity,
            organisation=None if offer.request_id else p.organisation,
        )
        self._plan(commitment, created_at=at)
        return commitment

    def move(
        self, p: Party, commitment: Commitment, to: str, *, at: datetime, reason: str = ""
    ) -> None:
        actions.move_commitment(by=p.person, commitment=commitment, to=to, reason=reason)
        stamp = {"in_progress": "started_at", "fulfilled": "fulfilled_at"}.get(to, "ended_at")
        self._plan(commitment, **{stamp: at})

    def done(self, giver: Party, taker: Party, c: Commitment, *, at: datetime, hours: int) -> None:
        """Started by the giver at `at`, fulfilled `hours` later (by the taker, who knows)."""
        self.move(giver, c, "in_progress", at=at)
        self.move(taker, c, "fulfilled", at=at + timedelta(hours=hours) + self.jitter(50))


def _dates(at: datetime, days: int) -> tuple[str, str]:
    start = timezone.localtime(at).date()
    return start.isoformat(), (start + timedelta(days=days)).isoformat()


def _return_by(at: datetime, days: int) -> str:
    return (timezone.localtime(at).date() + timedelta(days=days)).isoformat()


def _history(x: _Exchange, h: Party, a: Party, b: Party, c: Party, d: Party, e: Party) -> None:
    """Sixteen requests (and one standing offer) over the last 28 days: most met in full,
    some in part, one released before it happened, one offer declined, one request withdrawn
    and one that nobody could meet and expired."""
    hr, mins = timedelta(hours=1), timedelta(minutes=1)

    def day(n: int, hour: int) -> datetime:
        """`hour` o'clock (local time) `n` days ago, and a few minutes."""
        local = timezone.localtime(x.now) - timedelta(days=n)
        return local.replace(hour=hour, minute=0, second=0, microsecond=0) + x.jitter(40)

    # A critical care transfer, met by the demo coordinator's trust.
    t = day(28, 3)
    r = x.ask(
        a,
        "transfer",
        1,
        "within_4h",
        {"level_of_care": "cc2", "bed_type": "cc_adult"},
        at=t,
        needed_in=4 * hr,
        note="Critical care full after a run of admissions overnight.",
    )
    o = x.offer(h, 1, request=r, at=t + 35 * mins + x.jitter(20), hours=12)
    cm = x.take(a, o, 1, at=t + 70 * mins)
    x.done(h, a, cm, at=t + 2 * hr, hours=2)
    x.close(a, r, at=t + 5 * hr)

    # Nurses for a weekend, from two trusts.
    t = day(26, 9)
    r = x.ask(
        h,
        "staff",
        3,
        "within_24h",
        {"role": "registered_nurse", "grade": "Band 5", "shifts": "Three long days, Sat to Mon"},
        at=t,
        needed_in=24 * hr,
    )
    o1 = x.offer(b, 2, request=r, at=t + 2 * hr + x.jitter(60), hours=48, cost_recovery="at_cost")
    o2 = x.offer(c, 1, request=r, at=t + 4 * hr + x.jitter(60), hours=48, cost_recovery="at_cost")
    c1 = x.take(h, o1, 2, at=t + 5 * hr)
    c2 = x.take(h, o2, 1, at=t + 5 * hr + 10 * mins)
    x.done(b, h, c1, at=t + 22 * hr, hours=36)
    x.done(c, h, c2, at=t + 22 * hr, hours=36)
    x.close(h, r, at=t + 62 * hr)

    # Ventilators lent, and returned.
    t = day(25, 14)
    r = x.ask(
        c,
        "equipment",
        4,
        "within_4h",
        {
            "equipment_type": "Non-invasive ventilators",
            "consumable": False,
            "return_by": _return_by(t, 14),
        },
        at=t,
        needed_in=4 * hr,
    )
    o = x.offer(d, 4, request=r, at=t + 50 * mins + x.jitter(20), hours=24)
    cm = x.take(c, o, 4, at=t + 80 * mins)
    x.done(d, c, cm, at=t + 2 * hr, hours=1)
    x.close(c, r, at=t + 4 * hr)
    x.move(c, cm, "returned", at=t + 10 * 24 * hr)

    # A transfer that was no longer needed: released before it happened, with the reason.
    t = day(23, 7)
    r = x.ask(
        d,
        "transfer",
        2,
        "within_24h",
        {"level_of_care": "ga", "bed_type": "ga"},
        at=t,
        needed_in=24 * hr,
    )
    o = x.offer(e, 2, request=r, at=t + 3 * hr + x.jitter(30), hours=24, transport="requester")
    cm = x.take(d, o, 2, at=t + 4 * hr)
    x.move(
        d,
        cm,
        "released",
        at=t + 7 * hr,
        reason="Discharges this afternoon freed the beds: nobody needs to move.",
    )
    x.close(d, r, at=t + 7 * hr + 5 * mins)

    # Beds asked for four, two found: met in part.
    t = day(21, 10)
    start, end = _dates(t + 24 * hr, 5)
    r = x.ask(
        e,
        "beds",
        4,
        "within_24h",
        {"bed_type": "ga", "from_date": start, "until_date": end},
        at=t,
        needed_in=24 * hr,
    )
    o = x.offer(h, 2, request=r, at=t + 5 * hr + x.jitter(60), hours=24, duration_hours=120)
    cm = x.take(e, o, 2, at=t + 6 * hr)
    x.done(h, e, cm, at=t + 24 * hr, hours=3)
    x.close(e, r, at=t + 30 * hr)

    # Doctors: one offer taken, a second declined with thanks.
    t = day(20, 15)
    r = x.ask(
        a,
        "staff",
        2,
        "within_24h",
        {
            "role": "doctor",
            "grade": "ST3 or above",
            "skills": "Emergency medicine",
            "shifts": "Saturday and Sunday nights",
        },
        at=t,
        needed_in=30 * hr,
    )
    o1 = x.offer(c, 2, request=r, at=t + 3 * hr + x.jitter(30), hours=40, cost_recovery="tariff")
    o2 = x.offer(d, 1, request=r, at=t + 5 * hr + x.jitter(30), hours=40, cost_recovery="tariff")
    cm = x.take(a, o1, 2, at=t + 6 * hr)
    x.decline(a, o2, at=t + 6 * hr + 5 * mins, reason="Covered by another offer; thank you.")
    x.done(c, a, cm, at=t + 27 * hr, hours=26)
    x.close(a, r, at=t + 54 * hr)

    # Mattresses: ten asked for, six lent and returned.
    t = day(18, 11)
    r = x.ask(
        h,
        "equipment",
        10,
        "within_24h",
        {
            "equipment_type": "Pressure-relieving mattresses",
            "consumable": False,
            "return_by": _return_by(t, 21),
        },
        at=t,
        needed_in=24 * hr,
    )
    o = x.offer(b, 6, request=r, at=t + 4 * hr + x.jitter(60), hours=24)
    cm = x.take(h, o, 6, at=t + 5 * hr)
    x.done(b, h, cm, at=t + 8 * hr, hours=2)
    x.close(h, r, at=t + 26 * hr)
    x.move(h, cm, "returned", at=t + 12 * 24 * hr)

    # Cataract lists for a fortnight.
    t = day(16, 9)
    r = x.ask(
        d,
        "elective",
        4,
        "planned",
        {
            "specialty": "Ophthalmology",
            "procedure_group": "Cataract surgery",
            "unit": "sessions",
            "weeks": 2,
        },
        at=t,
        needed_in=7 * 24 * hr,
    )
    o = x.offer(
        a,
        4,
        request=r,
        at=t + 26 * hr + x.jitter(60),
        hours=7 * 24,
        transport="requester",
        cost_recovery="tariff",
        conditions="Your surgeons and patients, our theatres and theatre staff.",
    )
    cm = x.take(d, o, 4, at=t + 30 * hr)
    x.done(a, d, cm, at=t + 5 * 24 * hr, hours=9 * 24)
    x.close(d, r, at=t + 14 * 24 * hr + 2 * hr)

    # A paediatric transfer nobody could take: shown to the region, then expired.
    t = day(14, 2)
    r = x.ask(
        c,
        "transfer",
        1,
        "within_4h",
        {"level_of_care": "paediatric", "bed_type": "ga_paed", "clinical_needs": ["isolation"]},
        at=t,
        needed_in=4 * hr,
    )
    x.widen(r, at=t + 60 * mins + x.jitter(5))
    x.expire_request(r, at=t + 4 * hr + x.jitter(5))

    # Healthcare assistants.
    t = day(12, 8)
    r = x.ask(
        b,
        "staff",
        2,
        "within_24h",
        {"role": "healthcare_assistant", "grade": "Band 3", "shifts": "Two early shifts"},
        at=t,
        needed_in=24 * hr,
    )
    o = x.offer(e, 2, request=r, at=t + 90 * mins + x.jitter(30), hours=24)
    cm = x.take(b, o, 2, at=t + 2 * hr)
    x.done(e, b, cm, at=t + 22 * hr, hours=8)
    x.close(b, r, at=t + 31 * hr)

    # A standing offer of escalation beds, taken up by two trusts.
    t = day(10, 12)
    start, end = _dates(t, 3)
    o = x.offer(
        d,
        3,
        kind="beds",
        details={"bed_type": "escalation", "from_date": start, "until_date": end},
        at=t,
        hours=72,
        duration_hours=72,
        transport="requester",
        cost_recovery="at_cost",
        note="Our escalation ward is staffed for three more days than we need it.",
    )
    c1 = x.take(h, o, 2, at=t + 3 * hr + x.jitter(30))
    c2 = x.take(c, o, 1, at=t + 9 * hr + x.jitter(30))
    x.done(d, h, c1, at=t + 5 * hr, hours=2)
    x.done(d, c, c2, at=t + 11 * hr, hours=2)

    # A ventilated patient, met by the demo coordinator's trust again.
    t = day(8, 22)
    r = x.ask(
        a,
        "transfer",
        1,
        "immediate",
        {"level_of_care": "cc3", "bed_type": "cc_adult", "clinical_needs": ["ventilation"]},
        at=t,
        needed_in=2 * hr,
        max_distance_km=80,
    )
    o = x.offer(h, 1, request=r, at=t + 25 * mins + x.jitter(10), hours=6)
    cm = x.take(a, o, 1, at=t + 40 * mins)
    x.done(h, a, cm, at=t + 50 * mins, hours=2)
    x.close(a, r, at=t + 4 * hr)

    # Giving sets: consumable, nothing to return.
    t = day(6, 13)
    r = x.ask(
        e,
        "equipment",
        200,
        "within_24h",
        {"equipment_type": "IV giving sets", "consumable": True},
        at=t,
        needed_in=24 * hr,
    )
    o = x.offer(c, 200, request=r, at=t + 2 * hr + x.jitter(30), hours=24, cost_recovery="at_cost")
    cm = x.take(e, o, 200, at=t + 3 * hr)
    x.done(c, e, cm, at=t + 4 * hr, hours=3)
    x.close(e, r, at=t + 9 * hr)

    # Physiotherapists: two asked for, one found.
    t = day(4, 10)
    r = x.ask(
        d,
        "staff",
        2,
        "within_24h",
        {
            "role": "allied_health",
            "grade": "Band 6",
            "skills": "Respiratory physiotherapy",
            "shifts": "Weekdays for one week",
        },
        at=t,
        needed_in=24 * hr,
    )
    o = x.offer(b, 1, request=r, at=t + 6 * hr + x.jitter(60), hours=24, cost_recovery="at_cost")
    cm = x.take(d, o, 1, at=t + 7 * hr)
    x.done(b, d, cm, at=t + 22 * hr, hours=60)
    x.close(d, r, at=t + 26 * hr)

    # A request withdrawn, after its one offer was withdrawn too.
    t = day(3, 16)
    start, end = _dates(t, 2)
    r = x.ask(
        b,
        "beds",
        3,
        "within_4h",
        {"bed_type": "ga", "from_date": start, "until_date": end},
        at=t,
        needed_in=4 * hr,
    )
    o = x.offer(a, 2, request=r, at=t + 40 * mins + x.jitter(10), hours=12)
    x.withdraw_offer(
        a, o, at=t + 2 * hr, reason="A surge in our own emergency department: the beds are taken."
    )
    x.withdraw_request(
        b, r, at=t + 2 * hr + 30 * mins, reason="We opened our escalation ward instead."
    )

    # A mental health bed, two days ago.
    t = day(2, 19)
    r = x.ask(
        h,
        "transfer",
        1,
        "within_24h",
        {"level_of_care": "mental_health", "bed_type": "mh_adult"},
        at=t,
        needed_in=24 * hr,
    )
    o = x.offer(c, 1, request=r, at=t + 3 * hr + x.jitter(30), hours=12, transport="requester")
    cm = x.take(h, o, 1, at=t + 4 * hr)
    x.done(c, h, cm, at=t + 6 * hr, hours=2)
    x.close(h, r, at=t + 9 * hr)

    x.expire_closed_windows()


def _open_now(x: _Exchange, h: Party, a: Party, b: Party, c: Party, d: Party, e: Party) -> None:
    """What is open as the demo starts: four requests of different kinds and urgencies, an
    offer answering one with its terms, a standing offer, and commitments under way."""
    hr, mins, now = timedelta(hours=1), timedelta(minutes=1), x.now
    # The demo coordinator's trust needs two ventilated critical care beds; one neighbour's
    # transfer is under way, another has offered the second bed.
    t = now - 110 * mins
    r = x.ask(
        h,
        "transfer",
        2,
        "within_4h",
        {"level_of_care": "cc3", "bed_type": "cc_adult", "clinical_needs": ["ventilation"]},
        at=t,
        needed_in=4 * hr,
        max_distance_km=80,
        note="Critical care is full and two ventilated patients are waiting in recovery.",
    )
    o = x.offer(
        a,
        1,
        request=r,
        at=t + 25 * mins,
        hours=12,
        conditions="Our critical care outreach team reviews the referral first.",
    )
    cm = x.take(h, o, 1, at=t + 40 * mins)
    x.move(a, cm, "in_progress", at=t + 70 * mins)
    x.offer(
        b,
        1,
        request=r,
        at=now - 35 * mins,
        hours=12,
        transport="requester",
        cost_recovery="at_cost",
        duration_hours=72,
        conditions="Bed ready within two hours, after a planned step-down; your own critical "
        "care transfer team, please.",
    )
    # Nurses for tonight and the weekend, shown to the region after an hour unmet.
    t = now - 5 * hr
    r = x.ask(
        c,
        "staff",
        4,
        "within_24h",
        {
            "role": "registered_nurse",
            "grade": "Band 5",
            "skills": "Emergency department; triage",
            "shifts": "Night shifts, Friday to Sunday",
        },
        at=t,
        needed_in=24 * hr,
    )
    x.widen(r, at=t + 62 * mins)
    # Infusion pumps, now.
    t = now - 50 * mins
    x.ask(
        d,
        "equipment",
        6,
        "immediate",
        {
            "equipment_type": "Volumetric infusion pumps",
            "consumable": False,
            "return_by": _return_by(now, 14),
        },
        at=t,
        needed_in=3 * hr,
    )
    # Planned orthopaedic lists over the coming month.
    t = now - 3 * hr
    x.ask(
        b,
        "elective",
        6,
        "planned",
        {
            "specialty": "Trauma and orthopaedics",
            "procedure_group": "Primary hip and knee replacement",
            "unit": "sessions",
            "weeks": 4,
        },
        at=t,
        needed_in=14 * 24 * hr,
        note="Our elective theatres are closed for ventilation works.",
    )
    # A standing offer: two ventilated critical care beds for 72 hours; one already taken up.
    t = now - 3 * hr
    start, end = _dates(t, 3)
    o = x.offer(
        e,
        2,
        kind="beds",
        details={"bed_type": "cc_adult", "from_date": start, "until_date": end},
        at=t,
        hours=72,
        duration_hours=72,
        transport="requester",
        cost_recovery="at_cost",
        conditions="Level 3 capable; ventilated patients accepted after a consultant-to-"
        "consultant call.",
        note="Two ventilated critical care beds for the next 72 hours.",
    )
    x.take(d, o, 1, at=now - 20 * mins)


def _backdate(x: _Exchange, demo: Principal) -> dict[str, Any]:
    """Move the exchange's rows to their planned times, in one transaction with ONE audit
    event naming every row and how far each time moved back.

    Only the demo does this. The history is synthetic: each row was made through the actions
    just now, and its audit events (rightly) say so. This event says, on the same record,
    that the demo then moved the rows' own times back to tell a month's story, so the audit
    log stays a true account of when the data was loaded and by whom.
    """
    moved: dict[str, dict[str, dict[str, int]]] = {}
    with transaction.atomic():
        for (model, pk), stamps in sorted(
            x.planned.items(), key=lambda i: (i[0][0].__name__, i[0][1])
        ):
            row = model._default_manager.select_for_update().get(pk=pk)
            shifts = {}
            for field, when in stamps.items():
                back = (getattr(row, field) - when).total_seconds()
                if back < 0:
                    raise ValueError(f"the demo would move {model.__name__} {pk}.{field} forward")
                shifts[field] = round(back)
            model._default_manager.filter(pk=pk).update(**stamps)
            moved.setdefault(model._meta.label_lower, {})[str(pk)] = shifts
        audit.record(
            by=demo,
            action="demo.aid_history_backdated",
            object_type="exchange",
            before=None,
            after={
                "why": "The demo's mutual aid history is synthetic: made through the actions "
                "at load time, then moved back to the times it tells of.",
                "loaded_at": x.now.isoformat(),
                "seconds_moved_back": moved,
            },
        )
    return moved


def load(
    collab: Collaborative,
    home: Organisation,
    members: list[Organisation],
    *,
    password: str,
    demo: Principal,
) -> dict[str, int]:
    """The demo's exchange: a month of history and what is open now. Returns counts."""
    cast = choose_parties(home, members, password, demo)
    if len(cast) < PARTIES:
        return {"requests": 0, "offers": 0, "commitments": 0}
    x = _Exchange(collab, timezone.now(), demo)
    before = Notification.objects.aggregate(n=Max("pk"))["n"] or 0
    _history(x, *cast)
    # The month's notifications went out when it was loaded: the demo marks them read, so
    # that each inbox shows what is open now as new.
    told = Notification.objects.filter(pk__gt=before, read_at__isnull=True)
    recipients = {n.recipient_id: n.recipient for n in told.select_related("recipient")}
    for _, recipient in sorted(recipients.items()):
        ids = told.filter(recipient=recipient).values_list("pk", flat=True)
        notifications.mark_read(by=demo, recipient=recipient, ids=list(ids))
    _open_now(x, *cast)
    _backdate(x, demo)
    return {
        "requests": AidRequest.objects.filter(collaborative=collab).count(),
        "offers": Offer.objects.filter(collaborative=collab).count(),
        "commitments": Commitment.objects.filter(offer__collaborative=collab).count(),
    }
