"""Build the shared picture from what the sharing policy lets a viewer read."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from flotilla.registry.models import Collaborative, Organisation, Site
from flotilla.sharing import policy
from flotilla.sharing.disclosure import EXACT, rag_band

#: The measures the dashboard shows, in column order.
DASHBOARD_MEASURES = (
    "ga_open",
    "ga_occupied",
    "cc_adult_open",
    "cc_adult_occupied",
    "handover_30_60",
    "handover_over_60",
    "nctr",
    "opel_declared",
)
#: Occupancy is derived from counts (never taken from a published rate): bed type → label.
OCCUPANCY = {"ga": "G&A", "cc_adult": "Adult CC"}
#: Dashboard indicator → how to read it off a row.
INDICATORS = {
    "ga_occupancy": "G&A occupancy",
    "cc_adult_occupancy": "Adult CC occupancy",
    "handover_over_60": "Handovers over 60 min",
    "nctr": "No criteria to reside",
    "opel_declared": "Declared OPEL",
}


@dataclass(frozen=True)
class Figure:
    """One value as shown: the number (or why it is missing), when it was true, and by whom."""

    value: float | None
    text: str | None
    missing_reason: str
    as_of: datetime
    received_at: datetime
    source: str
    stale: bool
    #: exact, banded or status: how the owner shares it with this viewer.
    detail: str = EXACT
    delay_hours: int = 0
    #: Red, amber, green or none, as the policy judged it for this viewer.
    rag: str = "none"
    #: A banded occupancy's band, as ratios.
    band: tuple[float, float] | None = None
    #: count, level, text or ratio: only counts are ever rounded.
    kind: str = "count"

    @property
    def is_missing(self) -> bool:
        return bool(self.missing_reason)

    @property
    def exact(self) -> bool:
        return self.detail == EXACT


@dataclass
class Row:
    organisation: Organisation
    site: Site | None
    figures: dict[str, Figure] = field(default_factory=dict)
    #: Occupancy of each bed type ("ga_occupancy"), as the policy derived and coarsened it.
    derived: dict[str, Figure] = field(default_factory=dict)
    #: Measures the organisation does not share with this viewer.
    withheld: frozenset[str] = frozenset()

    def occupancy(self, bed: str) -> float | None:
        """The exact occupancy, or None if it is not shared exactly (see `derived`)."""
        fig = self.derived.get(f"{bed}_occupancy")
        return fig.value if fig is not None and fig.exact else None

    def rag(self, name: str) -> str:
        """The RAG band of an indicator, as the policy judged it for this viewer."""
        fig = self.derived.get(name) or self.figures.get(name)
        return fig.rag if fig is not None else "none"

    @property
    def latest_as_of(self) -> datetime | None:
        return max((f.as_of for f in self.figures.values()), default=None)

    @property
    def any_stale(self) -> bool:
        return any(f.stale for f in self.figures.values())


@dataclass(frozen=True)
class Total:
    value: float | None
    #: Organisations whose figure is included / expected.
    included: int
    expected: int

    @property
    def complete(self) -> bool:
        return self.included == self.expected


@dataclass
class Picture:
    collaborative: Collaborative
    at: datetime
    is_live: bool
    rows: list[Row]
    members: list[Organisation]
    totals: dict[str, Total]
    reported_recently: int
    thresholds: dict[str, tuple[float, float]]

    @property
    def coverage_hours(self) -> int:
        return self.collaborative.reporting_interval_hours

    def total_occupancy(self, bed: str) -> float | None:
        occ, opn = self.totals.get(f"{bed}_occupied"), self.totals.get(f"{bed}_open")
        if not occ or not opn or occ.value is None or not opn.value:
            return None
        if not (occ.complete and opn.complete):
            return None
        return occ.value / opn.value

    def rag(self, indicator: str, value: float | None) -> str:
        return rag_band(self.thresholds.get(indicator), value)


def _figure(o: policy.Shared, stale_before: datetime) -> Figure:
    return Figure(
        value=o.value,
        text=o.text,
        missing_reason=o.missing_reason,
        as_of=o.as_of,
        received_at=o.received_at,
        source=o.source,
        stale=o.as_of < stale_before,
        detail=o.detail,
        delay_hours=o.delay_hours,
        rag=o.rag,
        band=o.band,
        kind=o.kind,
    )


def collaborative_picture(
    viewer: policy.Viewer,
    collaborative: Collaborative,
    at: datetime | None = None,
    measures: Iterable[str] = DASHBOARD_MEASURES,
) -> Picture:
    """The collaborative's picture now, or as at a past moment, as this viewer may see it."""
    measures = tuple(measures)
    now = timezone.now()
    moment = min(at, now) if at else now
    interval = timedelta(hours=collaborative.reporting_interval_hours)
    stale_before = moment - interval * settings.STALE_FACTOR
    members = policy.members(viewer, collaborative)
    member_ids = {m.pk for m in members}
    rows: dict[tuple[int, int | None], Row] = {}
    org_by_id = {m.pk: m for m in members}
    thresholds = {t.indicator: (t.amber, t.red) for t in collaborative.thresholds.all()}
    reading = policy.read_latest(viewer, moment, member_ids, measures, thresholds, occupancy=True)
    latest = reading.values
    sites = Site.objects.in_bulk({o.site_id for o in latest if o.site_id})
    for o in latest:
        key = (o.organisation_id, o.site_id)
        row = rows.get(key)
        if row is None:
            row = rows[key] = Row(org_by_id[o.organisation_id], sites.get(o.site_id))
        target = row.figures if o.series_id is not None else row.derived
        target[o.measure] = _figure(o, stale_before)
    withheld: dict[int, set[str]] = defaultdict(set)
    for owner, code in reading.withheld:
        withheld[owner].add(code)
    for m in members:
        rows.setdefault((m.pk, None), Row(m, None))
    for (owner, _site), row in rows.items():
        row.withheld = frozenset(withheld.get(owner, ()))
    ordered = sorted(
        rows.values(),
        key=lambda r: (r.organisation.name, r.site is not None, r.site and r.site.name),
    )
    recent_since = moment - interval
    reported = {
        r.organisation.pk for r in ordered if r.latest_as_of and r.latest_as_of >= recent_since
    }
    return Picture(
        collaborative=collaborative,
        at=moment,
        is_live=at is None,
        rows=ordered,
        members=members,
        totals=_totals(ordered, members, measures),
        reported_recently=len(reported),
        thresholds=thresholds,
    )


def _totals(
    rows: list[Row], members: list[Organisation], measures: Iterable[str]
) -> dict[str, Total]:
    """Collaborative totals: each organisation's own figure, or else the sum of its sites'.

    Only organisations that report a measure, or withhold it, are expected in its total; a
    total is marked incomplete when any of them has no current exact figure for it (missing
    is never zero). A total is the sum of exact figures the viewer sees, nothing else, so no
    withheld, banded or status-only figure can be recovered from it by subtraction.
    """
    by_org: dict[int, list[Row]] = defaultdict(list)
    for r in rows:
        by_org[r.organisation.pk].append(r)
    totals = {}
    for code in measures:
        if code in ("opel_declared",):
            continue
        total, included, expected = 0.0, 0, 0
        for m in members:
            org_rows = by_org.get(m.pk, [])
            own = next((r.figures.get(code) for r in org_rows if r.site is None), None)
            site_figs = [
                f for f in (r.figures.get(code) for r in org_rows if r.site) if f is not None
            ]
            withheld = code in org_rows[0].withheld  # every member has a row
            if own is None and not site_figs and not withheld:
                continue  # this organisation does not report this measure
            expected += 1
            if own is not None and not own.is_missing and own.exact:
                total += own.value or 0
                included += 1
            elif site_figs and all(not f.is_missing and f.exact for f in site_figs):
                total += sum(f.value or 0 for f in site_figs)
                included += 1
        totals[code] = Total(
            value=total if included else None, included=included, expected=expected
        )
    return totals


def history(
    viewer: policy.Viewer,
    organisation: Organisation,
    site: Site | None,
    measures: Iterable[str],
    since: datetime,
    until: datetime,
) -> tuple[dict[str, list[tuple[datetime, float | None]]], policy.History]:
    """Each measure's current values between two times, oldest first; None where missing;
    and how each measure is shared with the viewer."""
    codes = list(measures)
    out: dict[str, list[tuple[datetime, float | None]]] = {m: [] for m in codes}
    reading = policy.read_history(viewer, organisation, site, codes, since, until)
    for code, as_of, value in reading.rows:
        out[code].append((as_of, value))
    return out, reading
