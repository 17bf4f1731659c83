"""The policy's database engine: the reads behind `flotilla.sharing.policy`.

The rules of what a viewer sees of one value are pure (`rules`); this module finds the grants
in force and the values, applies those rules to them, and puts the reads on the record.

The one policy point: whose data may this viewer read, how finely, and how fresh?

Every read of an organisation's data by anyone other than its own people goes through these
functions: pages, API responses, exports, aggregates and background jobs. An organisation's
data reaches others only through its grants in force (`Grant`): to a collaborative it
belongs to, a named organisation, every organisation, or the public, for some measure groups,
at a detail (exact, banded, status only) and a delay. Values leave this module already
coarsened and delayed; nothing downstream sees more than the viewer may.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import reduce
from typing import Any, NamedTuple, Protocol, TypeVar

from django.db.models import Case, DateTimeField, Q, QuerySet, Value, When
from django.http import Http404
from django.utils import timezone

from flotilla.catalogue import current as current_catalogue
from flotilla.collaboratives.models import CollaborativeMembership
from flotilla.collaboratives.queries import active, collaboratives_of
from flotilla.organisations.models import Organisation, Site
from flotilla.reporting.models import Observation, Series
from flotilla.reporting.queries import LatestValue, latest_as_at
from flotilla.sharing import ledger
from flotilla.sharing.models import AudienceKind, Grant
from flotilla.sharing.policy import rules
from flotilla.sharing.policy.rules import OWN, Access, Accesses, Viewer


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


def grants_in_force() -> QuerySet[Grant]:
    """Grants neither ended nor expired."""
    return Grant.objects.filter(ended_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
    )


def _reaching(viewer: Viewer) -> QuerySet[Grant]:
    """The grants in force whose audience includes the viewer (other organisations' only)."""
    if _standing_in(viewer) is not None:
        # A stand-in holds an access map and no grants: a read that asks for grants would
        # answer as for a stranger, not as for the viewers it stands in for.
        raise RuntimeError("a stand-in viewer reads only through access_map")
    reach = Q(audience=AudienceKind.PUBLIC)
    if viewer.collaborative_id is not None:
        reach |= Q(audience=AudienceKind.EVERYONE) | Q(
            audience=AudienceKind.COLLABORATIVE, collaborative_id=viewer.collaborative_id
        )
    if viewer.organisation_ids:
        reach |= (
            Q(audience=AudienceKind.EVERYONE)
            | Q(
                audience=AudienceKind.ORGANISATION,
                audience_organisation_id__in=viewer.organisation_ids,
            )
            | Q(
                audience=AudienceKind.COLLABORATIVE,
                collaborative__in=collaboratives_of(viewer.organisation_ids),
            )
        )
    return grants_in_force().filter(reach).exclude(owner_id__in=viewer.organisation_ids)


def _as_access(grant: Grant) -> Access:
    return Access(grant.detail, grant.delay_hours, grant.pk)


def _combined(accesses: dict[int, dict[str, list[Access]]]) -> dict[int, dict[str, Accesses]]:
    return {
        owner: {g: rules.combine(options) for g, options in by_group.items()}
        for owner, by_group in accesses.items()
    }


#: (viewer, organisations asked for) → their access map, while `remembering`; else None.
_remembered: ContextVar[dict[tuple[Viewer, frozenset[int] | None], Any] | None] = ContextVar(
    "flotilla_policy_remembered", default=None
)


@contextmanager
def remembering() -> Iterator[None]:
    """Inside the block, each viewer's access to the same organisations is worked out once.

    For a request that changes nothing (a GET: `flotilla.middleware.RememberAccessMiddleware`),
    which asks the same question of the policy several times (the dashboard: its figures,
    levels and forecasts). Only for a block in which no grant, membership or collaborative
    changes: a change made inside it would not be seen by the reads after it."""
    token = _remembered.set({})
    try:
        yield
    finally:
        _remembered.reset(token)


def access_map(
    viewer: Viewer, organisation_ids: Iterable[int] | None = None
) -> dict[int, dict[str, Accesses]]:
    """Owner id → measure group → every access the viewer holds to it, finest first (see
    `rules.combine`). Absent: not shared with the viewer.

    The viewer's own organisations (and, for the platform operator, every organisation) are
    seen in full. Others are seen through the grants that reach the viewer.
    """
    wanted = None if organisation_ids is None else frozenset(organisation_ids)
    held = _standing_in(viewer)
    if held is not None:
        return {o: dict(g) for o, g in held.items() if wanted is None or o in wanted}
    memo = _remembered.get()
    if memo is None:
        return _access_map(viewer, wanted)
    key = (viewer, wanted)
    if key not in memo:
        memo[key] = _within_remembered(memo, viewer, wanted)
        if memo[key] is None:
            memo[key] = _access_map(viewer, wanted)
    # A copy each time: a caller may change what it is given.
    return {owner: dict(groups) for owner, groups in memo[key].items()}


def _within_remembered(
    memo: dict[tuple[Viewer, frozenset[int] | None], Any],
    viewer: Viewer,
    wanted: frozenset[int] | None,
) -> dict[int, dict[str, Accesses]] | None:
    """The viewer's access to `wanted`, taken from a remembered answer about a set of
    organisations that holds them all (each owner's access does not depend on which others
    were asked about); None when no remembered answer holds them."""
    if wanted is None or viewer.platform:  # the platform's answer is made without a query
        return None
    for (who, asked), answer in memo.items():
        if who == viewer and (asked is None or wanted <= asked):
            return {owner: groups for owner, groups in answer.items() if owner in wanted}
    return None


def _access_map(viewer: Viewer, wanted: frozenset[int] | None) -> dict[int, dict[str, Accesses]]:
    if viewer.platform:
        owners = wanted if wanted is not None else Organisation.objects.values_list("id", flat=True)
        return {o: dict.fromkeys(rules.GROUPS, OWN) for o in owners}
    found: dict[int, dict[str, list[Access]]] = defaultdict(lambda: defaultdict(list))
    # Reading only one's own organisations (a job acting for one) needs no grant.
    if wanted is None or not wanted <= viewer.organisation_ids:
        grants = _reaching(viewer)  # never the viewer's own organisations
        if wanted is not None:
            grants = grants.filter(owner_id__in=wanted)
        for grant in grants:
            for group in grant.groups:
                found[grant.owner_id][group].append(_as_access(grant))
    out = _combined(found)
    own = viewer.organisation_ids if wanted is None else viewer.organisation_ids & wanted
    out.update({o: dict.fromkeys(rules.GROUPS, OWN) for o in own})
    return out


#: What one owner's data looks like to a viewer, without the grants that say so: measure
#: group → (detail, delay in hours) of each access held, finest first.
Seen = tuple[tuple[str, tuple[tuple[str, int], ...]], ...]


def seen_of(viewer: Viewer, owners: Iterable[int]) -> tuple[tuple[int, Seen], ...]:
    """What the viewer may see of each of these owners' data, as a value two viewers share
    exactly when the policy shows them the same: every owner asked about (an owner that
    shares nothing with the viewer too), each group's accesses as detail and delay.

    Which grant gives an access is left out, and so is whose the data is: an organisation's
    own people hold `OWN` (exact, in real time, every group), which shows its data exactly
    as a grant of every group, exact and in real time, shows it to a fellow member. The
    rules (`rules.shown_under`, `rules.shown_value`) look at nothing else of an access."""
    wanted = sorted(set(owners))
    access = access_map(viewer, wanted)
    return tuple(
        (
            owner,
            tuple(
                (group, tuple((a.detail, a.delay_hours) for a in accesses))
                for group, accesses in sorted(access.get(owner, {}).items())
            ),
        )
        for owner in wanted
    )


#: The stand-in viewer being read as, and the access map it holds (see `standing_in`).
_stand_in: ContextVar[tuple[Viewer, dict[int, dict[str, Accesses]]] | None] = ContextVar(
    "flotilla_policy_stand_in", default=None
)
STAND_IN = Viewer(
    label="stand-in for every viewer who may see the same", organisation_ids=frozenset()
)


def _standing_in(viewer: Viewer) -> dict[int, dict[str, Accesses]] | None:
    held = _stand_in.get()
    return held[1] if held is not None and held[0] == viewer else None


@contextmanager
def standing_in(seen: tuple[tuple[int, Seen], ...]) -> Iterator[Viewer]:
    """A viewer of no organisation holding exactly `seen` (from `seen_of`) and nothing else,
    for the block: reads made as it are what every viewer who holds `seen` may see, and so
    can be shown to each of them (`shared_answer`). It holds no grant: whatever asks for
    grants rather than accesses fails (`_reaching`), so nothing is read as a stranger."""
    access = {
        owner: {
            group: tuple(Access(detail, delay) for detail, delay in accesses)
            for group, accesses in groups
        }
        for owner, groups in seen
        if groups  # as `access_map`: an owner that shares nothing is absent
    }
    token = _stand_in.set((STAND_IN, access))
    try:
        yield STAND_IN
    finally:
        _stand_in.reset(token)


def grants_to(viewer: Viewer, organisation: Organisation) -> list[Grant]:
    """The grants of `organisation` in force that reach the viewer (none for its own people)."""
    return list(
        _reaching(viewer)
        .filter(owner=organisation)
        .select_related("collaborative", "audience_organisation")
        .order_by("created_at", "id")
    )


def readable(viewer: Viewer, organisation_id: int) -> bool:
    """Whether the organisation is the viewer's own or shares something with them."""
    if viewer.platform or organisation_id in viewer.organisation_ids:
        return True
    return _reaching(viewer).filter(owner_id=organisation_id).exists()


def get_organisation(viewer: Viewer, code: str) -> Organisation:
    """The organisation, or 404 if it shares nothing with the viewer."""
    org = Organisation.objects.filter(code=code.upper()).first()
    if org is None or not readable(viewer, org.pk):
        raise Http404("Not found")
    return org


def get_site(viewer: Viewer, code: str) -> Site:
    """The site, or 404 if its organisation shares nothing with the viewer."""
    site = Site.objects.select_related("organisation").filter(code=code.upper()).first()
    if site is None or not readable(viewer, site.organisation_id):
        raise Http404("Not found")
    return site


def platform_viewer(purpose: str) -> Viewer:
    """The platform operator (a command run on the server), who may read every organisation.

    Whoever runs commands on the server can read the database anyway; naming this viewer
    keeps those reads on the same path as everyone else's and says why they are made.
    """
    return Viewer(label=f"platform:{purpose}", organisation_ids=frozenset(), platform=True)


def acting_for(organisation: Organisation, purpose: str) -> Viewer:
    """The viewer for work done for an organisation outside a request (a background job):
    it sees exactly what that organisation's people would, and its reads are recorded under
    a label naming the job, so owners can tell a job's reads from a person's."""
    return Viewer(
        label=f"job:{purpose} for {organisation.code}",
        organisation_ids=frozenset({organisation.pk}),
    )


def collaborative_body(collaborative: Any) -> Viewer:
    """The viewer for a collaborative as a body: what is shared with all its members alike
    (grants to the collaborative, to every organisation, to the public). Its system
    escalation level is computed as this viewer, so any member may be shown it."""
    return Viewer(
        label=f"collaborative:{collaborative.slug}",
        organisation_ids=frozenset(),
        collaborative_id=collaborative.pk,
    )


@contextmanager
def on_the_record(what: str) -> Iterator[None]:
    """Record the reads made inside the block once, at its end, as a page request is
    (`ledger.AccessRecordMiddleware`): one access event per owner read, saying `what`."""
    with ledger.collecting(what):
        yield


def _note(viewer: Viewer, reads: Iterable[tuple[int, str]]) -> None:
    """Put reads of other organisations' data (owner id, measure group) on the record."""
    owners: dict[int, set[str]] = defaultdict(set)
    for owner, group in reads:
        owners[owner].add(group)
    ledger.note(viewer, owners)


class Shared(NamedTuple):
    """A value as the viewer may see it: coarsened to their detail, no newer than their delay."""

    series_id: int | None
    organisation_id: int
    site_id: int | None
    measure: str
    as_of: datetime
    #: Exact, rounded to the nearest 5 (banded), or None (status only: see `rag`).
    value: float | None
    text: str | None
    missing_reason: str
    received_at: datetime
    source: str
    detail: str
    delay_hours: int
    #: Red, amber, green or none, when thresholds were given (see `_rag`).
    rag: str = "none"
    #: For a banded occupancy: the band, as ratios (0.90, 0.95).
    band: tuple[float, float] | None = None
    #: count, level, text, or ratio (a derived occupancy).
    kind: str = "count"


@dataclass
class Reading:
    """What `read_latest` returns: the values shown, and why others are not."""

    values: list[Shared]
    #: (owner id, measure) asked for but not shared with the viewer at all.
    withheld: set[tuple[int, str]] = field(default_factory=set)
    #: (owner id, site id or None, measure) → hours late it is shared: nothing is shown yet,
    #: because everything the owner reported by the moment asked for is newer than the
    #: viewer's shortest delay lets them see.
    delayed: dict[tuple[int, int | None, str], int] = field(default_factory=dict)

    def delayed_at(self, owner: int, site: int | None) -> dict[str, int]:
        """Measure → hours late, of one organisation or site (see `delayed`)."""
        return {c: h for (o, s, c), h in self.delayed.items() if (o, s) == (owner, site)}


def _rag(
    code: str,
    exact: float | None,
    shown: float | None,
    detail: str,
    thresholds: dict[str, tuple[float, float]],
) -> str:
    """The RAG band a viewer may see, never finer than their detail allows.

    Exact: the exact value against the collaborative's thresholds. Banded: the value as shown
    (rounded, or a band's midpoint), so the band says nothing the figure does not. Status only:
    the exact value against Flotilla's standard thresholds, which no viewer can move (moving
    the collaborative's thresholds around a guess would otherwise read a withheld figure).
    """
    if not thresholds:
        return "none"
    if detail == rules.EXACT:
        return rules.rag_band(thresholds.get(code), exact)
    if detail == rules.BANDED:
        return rules.rag_band(thresholds.get(code), shown)
    return rules.rag_band(current_catalogue().standard_thresholds.get(code), exact)


def _catalogue() -> dict[str, Any]:
    return {m.code: m for m in current_catalogue().measures}


def _occupancies(
    raw: list[Any],
    under: dict[int, Access],
    thresholds: dict[str, tuple[float, float]],
    spec: dict[str, Any],
) -> list[Shared]:
    """Occupancy of each bed type (occupied / open of the same row), computed on exact counts
    and shown at the coarser of the two counts' details (`under`: series id → the access each
    count is shown under): exact, a 5-point band, or its RAG only."""
    pairs: dict[tuple[int, int | None, str], dict[str, Any]] = defaultdict(dict)
    for v in raw:
        m = spec.get(v.measure)
        if m is not None and m.state in ("occupied", "open") and not v.missing_reason:
            pairs[(v.organisation_id, v.site_id, m.bed_type)][m.state] = v
    out = []
    for (owner, site, bed), pair in pairs.items():
        occ, opn = pair.get("occupied"), pair.get("open")
        if occ is None or opn is None or not opn.value:
            continue
        a = rules.coarser(under[occ.series_id], under[opn.series_id])
        ratio = occ.value / opn.value
        code = f"{bed}_occupancy"
        value, band, judged = ratio, None, ratio
        if a.detail == rules.BANDED:
            band = rules.occupancy_band(occ.value, opn.value)
            value, judged = band[0], (band[0] + band[1]) / 2
        elif a.detail == rules.STATUS:
            value = None
        older = min(occ, opn, key=lambda v: v.as_of)
        rag = _rag(code, ratio, judged, a.detail, thresholds)
        out.append(
            Shared(
                None, owner, site, code, older.as_of, value, None, "", older.received_at,
                older.source, a.detail, a.delay_hours, rag, band, "ratio",
            )
        )  # fmt: skip
    return out


def _held(
    access: dict[int, dict[str, Accesses]], owners: Iterable[int], codes: list[str], spec: Any
) -> tuple[dict[tuple[int, str], Accesses], set[tuple[int, str]]]:
    """(owner, measure) → the accesses under which the viewer may see it; and the pairs no
    access shows at all (narrative text is shown only exactly)."""
    held, withheld = {}, set()
    for owner in owners:
        groups = access.get(owner, {})
        for code in codes:
            shows = rules.showing(groups.get(spec[code].group, ()), spec[code].kind)
            if shows:
                held[(owner, code)] = shows
            else:
                withheld.add((owner, code))
    return held, withheld


def _by_cutoff(
    held: dict[tuple[int, str], Accesses],
) -> dict[tuple[int, tuple[str, ...]], set[int]]:
    """(shortest delay, measures) → owners: few groups, as owners tend to share alike."""
    per_owner: dict[int, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for (owner, code), shows in held.items():
        per_owner[owner][shows[-1].delay_hours].append(code)
    out: dict[tuple[int, tuple[str, ...]], set[int]] = defaultdict(set)
    for owner, by_delay in per_owner.items():
        for delay, codes in by_delay.items():
            out[(delay, tuple(sorted(codes)))].add(owner)
    return out


def _delayed(
    groups: dict[tuple[int, tuple[str, ...]], set[int]],
    held: dict[tuple[int, str], Accesses],
    shown_series: list[int],
    moment: datetime,
    now: datetime,
) -> dict[tuple[int, int | None, str], int]:
    """Series with nothing shown whose owner reported after the viewer's cutoff, by the
    moment asked for. None when no access is late at that moment; otherwise one query for
    the late series (a small table), and one for their newer values only when some late
    series has nothing shown (usually none has: it shows an older value)."""
    late = [
        Q(organisation_id__in=owners, measure__code__in=codes)
        for (delay, codes), owners in groups.items()
        if min(moment, now - timedelta(hours=delay)) < moment
    ]
    if not late:
        return {}
    shown = set(shown_series)
    #: cutoff → the late series with nothing shown, read as at that cutoff
    blank: dict[datetime, list[int]] = defaultdict(list)
    for sid, owner, code in Series.objects.filter(reduce(operator.or_, late)).values_list(
        "id", "organisation_id", "measure__code"
    ):
        if sid not in shown:
            # The freshest access the viewer holds to it sets how far back it is read.
            delay = held[(owner, code)][-1].delay_hours
            blank[min(moment, now - timedelta(hours=delay))].append(sid)
    if not blank:
        return {}
    near = [Q(series_id__in=ids, as_of__gt=cut) for cut, ids in blank.items()]
    newer = (
        Observation.objects.filter(reduce(operator.or_, near), is_current=True, as_of__lte=moment)
        .values_list("series__organisation_id", "series__site_id", "series__measure__code")
        .distinct()
    )
    return {(o, s, c): held[(o, c)][-1].delay_hours for o, s, c in newer}


def read_latest(
    viewer: Viewer,
    at: datetime | None,
    organisation_ids: set[int] | None = None,
    measures: Iterable[str] | None = None,
    thresholds: dict[str, tuple[float, float]] | None = None,
    occupancy: bool = False,
) -> Reading:
    """The latest value of each series the viewer may read as at `at` (None: now).

    Each measure of each organisation is read as at `at` or the shortest delay of the
    viewer's grants for it ago, whichever is earlier (one query for all). The value found is
    shown at the finest detail of the grants under which it is already old enough to be seen
    (`rules.shown_under`), with that grant's delay; with `thresholds`, each value gets
    the RAG band its detail allows (`_rag`). With `occupancy`, derived occupancies come too.
    What is not shown is said: withheld (not shared) or delayed (not yet visible). The reads
    go on the record.
    """
    now = timezone.now()
    moment = min(at, now) if at else now
    spec = _catalogue()
    codes = [c for c in (measures if measures is not None else spec) if c in spec]
    thresholds = thresholds or {}
    access = access_map(viewer, organisation_ids)
    owners = set(organisation_ids) if organisation_ids is not None else set(access)
    held, withheld = _held(access, owners, codes, spec)
    groups = _by_cutoff(held)
    # One query for every delay: each series is read as at its own cutoff.
    reach, cutoffs = Q(pk__in=[]), []
    for (delay, wanted), owners_alike in sorted(groups.items()):
        q = Q(organisation_id__in=owners_alike, measure__code__in=wanted)
        reach |= q
        cutoffs.append(When(q, then=Value(min(moment, now - timedelta(hours=delay)))))
    series = Series.objects.filter(reach)
    delays = {delay for delay, _ in groups}
    if len(delays) > 1:
        raw = latest_as_at(series, Case(*cutoffs, output_field=DateTimeField()))
    else:
        raw = latest_as_at(series, min(moment, now - timedelta(hours=min(delays, default=0))))
    values, under, not_yet = _shown(raw, held, moment, now, spec, thresholds)
    assert not not_yet, "each series is read at its freshest access's cutoff"
    if occupancy:
        values.extend(_occupancies(raw, under, thresholds, spec))
    delayed = _delayed(groups, held, list(under), moment, now)
    _note(viewer, ((v.organisation_id, spec[v.measure].group) for v in values if v.measure in spec))
    return Reading(values, withheld, delayed)


def _shown(
    raw: list[LatestValue],
    held: dict[tuple[int, str], Accesses],
    moment: datetime,
    now: datetime,
    spec: dict[str, Any],
    thresholds: dict[str, tuple[float, float]],
) -> tuple[list[Shared], dict[int, Access], list[LatestValue]]:
    """The rules applied to values read from the store: each as the viewer may see it
    (coarsened, with its RAG), the access each series is shown under, and the values no
    access shows yet at `moment` (too new for every delay)."""
    values, under, not_yet = [], {}, []
    for v in raw:
        m = spec[v.measure]
        a = rules.shown_under(held[(v.organisation_id, v.measure)], v.as_of, moment, now)
        if a is None:
            not_yet.append(v)
            continue
        under[v.series_id] = a
        _, value, text = rules.shown_value(m.kind, v.value, v.text, a.detail)
        # A level is shown as reported at every detail, so its RAG may be judged as exact.
        judged_as = rules.EXACT if m.kind == "level" else a.detail
        rag = _rag(v.measure, v.value, value, judged_as, thresholds)
        values.append(
            Shared(*v[:5], value, text, *v[7:], a.detail, a.delay_hours, rag, None, m.kind)
        )
    return values, under, not_yet


def freeze(organisation_ids: Iterable[int], moment: datetime) -> list[list[Any]]:
    """These organisations' figures as they stand at `moment`: each series' newest value
    reported by then, exact, as plain JSON rows, to be kept (a decision's snapshot).

    For keeping only, never for showing: what is kept is shown through `read_frozen`, which
    gives each viewer only what their grants let them see of it. Nothing is read by anyone
    here, so nothing goes on the record; every showing does."""
    series = Series.objects.filter(organisation_id__in=list(organisation_ids))
    return [
        [*v[:4], v.as_of.isoformat(), *v[5:8], v.received_at.isoformat(), v.source]
        for v in sorted(latest_as_at(series, moment), key=lambda v: v.series_id)
    ]


def _thawed(row: list[Any]) -> LatestValue:
    return LatestValue(
        *row[:4], datetime.fromisoformat(row[4]), *row[5:8], datetime.fromisoformat(row[8]), row[9]
    )


def read_frozen(
    viewer: Viewer,
    frozen: list[list[Any]],
    moment: datetime,
    organisation_ids: set[int],
    measures: Iterable[str] | None = None,
    thresholds: dict[str, tuple[float, float]] | None = None,
    occupancy: bool = False,
) -> Reading:
    """What `viewer` may see of figures kept by `freeze` at `moment`, as `read_latest` shows
    live ones: each value under the viewer's grants in force now, at the finest detail under
    which it is old enough to be seen, looking at `moment`; withheld when not shared; delayed
    when no grant shows it yet. The reads go on the record."""
    now = timezone.now()
    spec = _catalogue()
    codes = [c for c in (measures if measures is not None else spec) if c in spec]
    wanted = set(codes)
    access = access_map(viewer, organisation_ids)
    held, withheld = _held(access, organisation_ids, codes, spec)
    raw = [
        v
        for v in map(_thawed, frozen)
        if v.organisation_id in organisation_ids
        and v.measure in wanted
        and (v.organisation_id, v.measure) in held
    ]
    values, under, not_yet = _shown(raw, held, moment, now, spec, thresholds or {})
    if occupancy:
        shown = [v for v in raw if v.series_id in under]
        values.extend(_occupancies(shown, under, thresholds or {}, spec))
    delayed = {
        (v.organisation_id, v.site_id, v.measure): held[(v.organisation_id, v.measure)][
            -1
        ].delay_hours
        for v in not_yet
    }
    _note(viewer, ((v.organisation_id, spec[v.measure].group) for v in values if v.measure in spec))
    return Reading(values, withheld, delayed)


@dataclass
class History:
    """What `read_history` returns: (measure, as of, value) oldest first, and how each
    measure is shared with the viewer."""

    rows: list[tuple[str, datetime, float | None]]
    #: Measure → how it is charted: the freshest access that puts points on a chart (for a
    #: count, the freshest not status only), else the freshest; None: not shared, no rows.
    access: dict[str, Access | None]
    #: Measure → every access the viewer holds to it, finest first (empty: not shared).
    accesses: dict[str, Accesses] = field(default_factory=dict)
    #: (measure, as of) → the detail that row is shown at: finer for older rows, when a
    #: finer grant is also a later one.
    details: dict[tuple[str, datetime], str] = field(default_factory=dict)

    def charted(self, measure: str) -> bool:
        a = self.access.get(measure)
        return a is not None and a.detail != rules.STATUS

    def detail_of(self, measure: str, as_of: datetime) -> str:
        """The detail one row is shown at."""
        return self.details[(measure, as_of)]


def _charted_by(shows: Accesses, kind: str) -> Access | None:
    if not shows:
        return None
    charting = [a for a in shows if not (kind == "count" and a.detail == rules.STATUS)]
    return (charting or list(shows))[-1]


def read_history(
    viewer: Viewer,
    organisation: Organisation,
    site: Site | None,
    measures: Iterable[str],
    since: datetime,
    until: datetime,
) -> History:
    """Values of one organisation or site between two times, each at the finest detail of
    the viewer's grants under which it is old enough to be seen, none newer than the shortest
    delay allows.

    Counts shown as status only are left out (a status has no history to chart here).
    """
    spec = _catalogue()
    asked = list(measures)
    codes = [c for c in asked if c in spec]
    groups = access_map(viewer, {organisation.pk}).get(organisation.pk, {})
    held = {c: rules.showing(groups.get(spec[c].group, ()), spec[c].kind) for c in codes}
    charted = {c: _charted_by(shows, spec[c].kind) for c, shows in held.items()}
    now = timezone.now()
    reach = Q(pk__in=[])
    for code, a in charted.items():
        if a is not None:
            reach |= Q(series__measure__code=code, as_of__lte=rules.cutoff(a, until, now))
    rows = Observation.objects.filter(
        reach,
        series__organisation=organisation,
        series__site=site,
        is_current=True,
        as_of__gte=since,
    ).order_by("as_of")
    out, details = [], {}
    for code, as_of, value, text in rows.values_list(
        "series__measure__code", "as_of", "value", "text"
    ):
        a = rules.shown_under(held[code], as_of, until, now)
        assert a is not None, "read at the charted access's cutoff"
        _, value, _ = rules.shown_value(spec[code].kind, value, text, a.detail)
        if not (a.detail == rules.STATUS and spec[code].kind == "count"):
            out.append((code, as_of, value))
            details[(code, as_of)] = a.detail
    _note(viewer, ((organisation.pk, spec[code].group) for code, _, _ in out))
    return History(out, {c: charted.get(c) for c in asked}, held, details)


@dataclass(frozen=True)
class Audience:
    """One grant of an organisation's, as its admins see it: who it reaches and what they see."""

    grant: Grant
    #: The organisations it reaches by name (empty for every organisation and the public).
    organisations: tuple[Organisation, ...]
    description: str

    @property
    def groups(self) -> list[str]:
        return list(self.grant.groups)


def _audience_organisations(grant: Grant) -> tuple[Organisation, ...]:
    if grant.audience == AudienceKind.COLLABORATIVE:
        others = active(
            CollaborativeMembership.objects.filter(collaborative_id=grant.collaborative_id)
        ).exclude(organisation_id=grant.owner_id)
        return tuple(
            Organisation.objects.filter(id__in=others.values("organisation_id")).order_by("name")
        )
    if grant.audience == AudienceKind.ORGANISATION:
        return (grant.audience_organisation,)
    return ()


def audiences(organisation: Organisation) -> list[Audience]:
    """Each grant of `organisation` in force, with the organisations it reaches by name.

    The inverse of `access_map`: the same grants in force, the same audience rule.
    """
    out = []
    grants = grants_in_force().filter(owner=organisation)
    for grant in grants.select_related("collaborative", "audience_organisation"):
        orgs = _audience_organisations(grant)
        if grant.audience == AudienceKind.COLLABORATIVE:
            description = f"Members of {grant.collaborative.name}"
        elif grant.audience == AudienceKind.ORGANISATION:
            description = grant.audience_organisation.name
        elif grant.audience == AudienceKind.EVERYONE:
            description = "Every organisation on Flotilla (their signed-in people and tokens)"
        else:
            description = "Anyone, without signing in"
        out.append(Audience(grant, orgs, description))
    return out


def organisation_views(organisation: Organisation) -> dict[int, dict[str, Accesses]]:
    """Organisation id → group → what it sees of `organisation`, for every organisation that
    sees anything of it: every access the grants reaching it give, as `access_map` makes."""
    found: dict[int, dict[str, list[Access]]] = defaultdict(lambda: defaultdict(list))
    everyone: list[Grant] = []
    for a in audiences(organisation):
        if a.grant.audience in (AudienceKind.EVERYONE, AudienceKind.PUBLIC):
            everyone.append(a.grant)
            continue
        for org in a.organisations:
            for group in a.grant.groups:
                found[org.pk][group].append(_as_access(a.grant))
    if everyone:
        for org_id in Organisation.objects.exclude(pk=organisation.pk).values_list("id", flat=True):
            for grant in everyone:
                for group in grant.groups:
                    found[org_id][group].append(_as_access(grant))
    return _combined(found)


class Derived(Protocol):
    """A figure a higher app derived from one organisation's data and stored (a computed
    escalation level, a forecast): whose it is, and as of when."""

    organisation_id: int
    as_of: datetime


T = TypeVar("T", bound=Derived)


def read_derived(
    viewer: Viewer,
    group: str,
    organisation_ids: Iterable[int],
    fetch: Callable[[dict[int, datetime]], Iterable[T]],
    at: datetime | None = None,
) -> list[tuple[T, Access]]:
    """Derived figures of `group` the viewer may see, each with the access it is shown under.

    A figure derived from an organisation's data is shared as the group it belongs to is
    (a computed level as the owner's escalation grant says): at that grant's delay, to that
    grant's audience. The policy decides, for each owner, the newest as-of the viewer may
    see (`rules.cutoff` of its freshest access); `fetch` is given owner id → that cutoff and
    returns the stored figures at or before it (owners absent from the map share nothing of
    the group with the viewer and must not be fetched). Each figure returned is checked
    again here, and the reads go on the owners' access records.
    """
    now = timezone.now()
    moment = min(at, now) if at else now
    access = access_map(viewer, organisation_ids)
    held = {o: groups[group] for o, groups in access.items() if groups.get(group)}
    cutoffs = {o: rules.cutoff(shows[-1], moment, now) for o, shows in held.items()}
    out = []
    for figure in fetch(cutoffs) if cutoffs else ():
        shows = held.get(figure.organisation_id)
        a = rules.shown_under(shows, figure.as_of, moment, now) if shows else None
        if a is not None:
            out.append((figure, a))
    _note(viewer, ((f.organisation_id, group) for f, _ in out))
    return out


def group_access(
    viewer: Viewer, organisation_ids: Iterable[int], group: str, kind: str = "text"
) -> dict[int, Accesses]:
    """Owner id → every access under which the viewer may see `group` of that owner, held
    as `kind` (text, like narrative: exactly or not at all), finest first. Owners absent
    share nothing of it with the viewer that way; their own people (and the platform
    operator) hold `OWN`.

    For what an organisation keeps outside the observation store and shares as a whole
    group, such as its on-call directory (`contacts`): the caller shows each item only under
    an access its age has reached (`rules.shown_under` of the item's last change). The read
    goes on the record of every owner returned."""
    if group not in rules.GROUPS:
        raise ValueError(f"unknown measure group {group!r}: use one of {', '.join(rules.GROUPS)}")
    held: dict[int, Accesses] = {}
    for owner, groups in access_map(viewer, set(organisation_ids)).items():
        shows = rules.showing(groups.get(group, ()), kind)
        if shows:
            held[owner] = shows
    _note(viewer, ((owner, group) for owner in held))
    return held
