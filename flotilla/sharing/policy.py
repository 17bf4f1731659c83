"""The one policy point: whose data may this viewer read?

Every read of an organisation's data by anyone other than its own people goes through these
functions: pages, API responses, exports, aggregates and background jobs. The rule today:
members of a collaborative see each other's operational data; everyone else sees nothing.
Organisation-controlled grants will narrow this here, and only here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from flotilla.registry.models import Collaborative, CollaborativeMembership, Organisation, Site
from flotilla.reporting.catalogue import current as current_catalogue
from flotilla.reporting.models import Observation, Series
from flotilla.reporting.queries import LatestValue, latest_as_at
from flotilla.sharing import ledger


@dataclass(frozen=True)
class Viewer:
    """Whoever is reading: a person with their organisations, or an organisation's token."""

    label: str
    organisation_ids: frozenset[int]
    user_id: int | None = None
    token_id: int | None = None
    #: The platform operator reads every organisation's data and owns none of it.
    platform: bool = False


def viewer_of(principal: Any) -> Viewer:
    """The viewer for a logged-in user, an anonymous user, or an API token."""
    if hasattr(principal, "secret_sha256"):
        return Viewer(
            label=str(principal),
            organisation_ids=frozenset({principal.organisation_id}),
            token_id=principal.pk,
        )
    if not getattr(principal, "is_authenticated", False):
        return Viewer(label="anonymous", organisation_ids=frozenset())
    org_ids = frozenset(principal.memberships.values_list("organisation_id", flat=True))
    return Viewer(label=principal.get_username(), organisation_ids=org_ids, user_id=principal.pk)


def _active(qs: QuerySet[CollaborativeMembership]) -> QuerySet[CollaborativeMembership]:
    return qs.filter(left_at__isnull=True)


def collaboratives(viewer: Viewer) -> QuerySet[Collaborative]:
    """The collaboratives in which one of the viewer's organisations is an active member."""
    ids = _active(
        CollaborativeMembership.objects.filter(organisation_id__in=viewer.organisation_ids)
    ).values("collaborative_id")
    return Collaborative.objects.filter(id__in=ids)


def readable_organisation_ids(viewer: Viewer) -> frozenset[int]:
    """The viewer's own organisations and every fellow active member of their collaboratives."""
    if viewer.platform:
        return frozenset(Organisation.objects.values_list("id", flat=True))
    shared = _active(
        CollaborativeMembership.objects.filter(collaborative__in=collaboratives(viewer))
    ).values_list("organisation_id", flat=True)
    return viewer.organisation_ids | frozenset(shared)


def get_collaborative(viewer: Viewer, slug: str) -> Collaborative:
    """The collaborative, or 404 for anyone whose organisation is not a member."""
    collab = collaboratives(viewer).filter(slug=slug).first()
    if collab is None:
        raise Http404("Not found")
    return collab


def members(viewer: Viewer, collaborative: Collaborative) -> list[Organisation]:
    """The active member organisations the viewer may see (all of them, for a member)."""
    if not viewer.platform and not collaboratives(viewer).filter(pk=collaborative.pk).exists():
        return []
    ids = _active(collaborative.memberships.all()).values("organisation_id")
    return list(Organisation.objects.filter(id__in=ids).order_by("name"))


def get_organisation(viewer: Viewer, code: str) -> Organisation:
    """The organisation, or 404 if the viewer may not read its data."""
    org = Organisation.objects.filter(code=code.upper()).first()
    if org is None or org.pk not in readable_organisation_ids(viewer):
        raise Http404("Not found")
    return org


def get_site(viewer: Viewer, code: str) -> Site:
    """The site, or 404 if the viewer may not read its organisation's data."""
    site = Site.objects.select_related("organisation").filter(code=code.upper()).first()
    if site is None or site.organisation_id not in readable_organisation_ids(viewer):
        raise Http404("Not found")
    return site


def readable_series(viewer: Viewer, organisation_ids: set[int] | None = None) -> QuerySet[Series]:
    """Series of organisations the viewer may read, optionally narrowed to some of them."""
    allowed = readable_organisation_ids(viewer)
    if organisation_ids is not None:
        allowed = allowed & frozenset(organisation_ids)
    return Series.objects.filter(organisation_id__in=allowed)


def platform_viewer(purpose: str) -> Viewer:
    """The platform operator (a command run on the server), who may read every organisation.

    Whoever runs commands on the server can read the database anyway; naming this viewer
    keeps those reads on the same path as everyone else's and says why they are made.
    """
    return Viewer(label=f"platform:{purpose}", organisation_ids=frozenset(), platform=True)


def _note(viewer: Viewer, reads: Iterable[tuple[int, str]]) -> None:
    """Put reads of other organisations' data (owner id, measure code) on the record."""
    group_of = {m.code: m.group for m in current_catalogue().measures}
    owners: dict[int, set[str]] = defaultdict(set)
    for owner, measure in reads:
        owners[owner].add(group_of.get(measure, "other"))
    ledger.note(viewer, owners)


def read_latest(
    viewer: Viewer,
    at: datetime | None,
    organisation_ids: set[int] | None = None,
    measures: Iterable[str] | None = None,
) -> list[LatestValue]:
    """The latest value of each readable series as at `at` (None: now), put on the record."""
    series = readable_series(viewer, organisation_ids)
    if measures is not None:
        series = series.filter(measure__code__in=list(measures))
    values = latest_as_at(series, at)
    _note(viewer, ((v.organisation_id, v.measure) for v in values))
    return values


def read_history(
    viewer: Viewer,
    organisation: Organisation,
    site: Site | None,
    measures: Iterable[str],
    since: datetime,
    until: datetime,
) -> list[tuple[str, datetime, float | None]]:
    """(measure, as of, value) of one organisation or site between two times, oldest first."""
    codes = list(measures)
    series = readable_series(viewer, {organisation.pk}).filter(site=site, measure__code__in=codes)
    rows = list(
        Observation.objects.filter(
            series__in=series, is_current=True, as_of__gte=since, as_of__lte=until
        )
        .order_by("as_of")
        .values_list("series__measure__code", "as_of", "value")
    )
    _note(viewer, ((organisation.pk, code) for code, _, _ in rows))
    return rows


@dataclass(frozen=True)
class Audience:
    """Who can see an organisation's data, what they see, and why (for its admins)."""

    collaborative: Collaborative
    organisations: tuple[Organisation, ...]
    since: datetime
    groups: tuple[str, ...]
    detail: str
    delay: str


def audiences(organisation: Organisation) -> list[Audience]:
    """Everyone outside `organisation` who may read its data, grouped by the reason.

    The inverse of `readable_organisation_ids`, from the same membership rule: today each
    collaborative the organisation is an active member of sees all of its data, exactly and
    in real time.
    """
    groups = tuple(sorted({m.group for m in current_catalogue().measures}))
    out = []
    for own in _active(CollaborativeMembership.objects.filter(organisation=organisation)).order_by(
        "joined_at"
    ):
        others = _active(
            CollaborativeMembership.objects.filter(collaborative_id=own.collaborative_id)
        ).exclude(organisation=organisation)
        orgs = Organisation.objects.filter(id__in=others.values("organisation_id")).order_by("name")
        out.append(
            Audience(
                collaborative=own.collaborative,
                organisations=tuple(orgs),
                since=own.joined_at,
                groups=groups,
                detail="exact",
                delay="real time",
            )
        )
    return out
