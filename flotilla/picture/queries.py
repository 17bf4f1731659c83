"""Build the shared picture from what the sharing policy lets a viewer read."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from flotilla import catalogue
from flotilla.catalogue import Catalogue, ColumnSpec
from flotilla.collaboratives.models import Collaborative, CollaborativeMembership
from flotilla.collaboratives.queries import collaboratives_of, members_of
from flotilla.escalation.queries import DECLARED
from flotilla.organisations.models import Organisation, Site
from flotilla.sharing import policy
from flotilla.sharing.policy.rules import EXACT, rag_band

#: The declared OPEL level: the dashboard filters on it and counts those at its top.
OPEL = "opel_declared"
#: The columns around those the catalogue declares: the organisation or site, and when it
#: last reported.
NAME_COLUMN = ColumnSpec(key="name", heading="Organisation / site", measure="", indicator="")
AS_OF_COLUMN = ColumnSpec(key="as_of", heading="As of", measure="", indicator="")


@dataclass(frozen=True)
class Dashboard:
    """What the dashboard shows, as the metric catalogue declares it (see `dashboard_of`)."""

    #: Every column in order, the name first and the as-of time last.
    columns: tuple[ColumnSpec, ...]
    #: The measures it reads: those its columns show, then those its indicators need.
    measures: tuple[str, ...]
    #: Rated indicator → label, in the catalogue's order.
    indicators: dict[str, str]
    #: Rated indicator → the bed type it concerns ("" for none).
    indicator_beds: dict[str, str]
    #: The bed types the table can be narrowed to (those of its columns) → label.
    beds: dict[str, str]
    #: The OPEL levels, lowest first: the declared level's valid range.
    opel_levels: tuple[int, ...]

    @property
    def sorts(self) -> tuple[str, ...]:
        return ("pressure", *(c.key for c in self.columns))

    @property
    def opel_top(self) -> int:
        """The highest OPEL level, the one a summary of trouble counts."""
        return self.opel_levels[-1]

    @property
    def pressure_bed(self) -> str:
        """The bed type whose occupancy sorts by pressure when the table is not narrowed."""
        return next(iter(self.beds), "")

    def column(self, key: str) -> ColumnSpec:
        return next(c for c in self.columns if c.key == key)


def dashboard_of(cat: Catalogue) -> Dashboard:
    """The dashboard a catalogue declares."""
    measures: dict[str, None] = {}
    for c in cat.columns:
        if c.measure:
            measures[c.measure] = None
    for i in cat.indicators:
        measures.update(dict.fromkeys(i.measures))
    beds = {c.bed_type: cat.bed_types[c.bed_type].short_label for c in cat.columns if c.bed_type}
    opel = cat.measure(OPEL)
    assert opel.min_value is not None and opel.max_value is not None, "OPEL has a range"
    return Dashboard(
        columns=(NAME_COLUMN, *cat.columns, AS_OF_COLUMN),
        measures=tuple(measures),
        indicators=cat.indicator_labels,
        indicator_beds={i.code: i.bed_type for i in cat.indicators},
        beds=beds,
        opel_levels=tuple(range(int(opel.min_value), int(opel.max_value) + 1)),
    )


#: The dashboard of the catalogue in force.
DASHBOARD = dashboard_of(catalogue.current())
DASHBOARD_MEASURES = DASHBOARD.measures
#: Member kinds not expected to report (commissioners such as ICBs): left out of coverage,
#: of "not reported" and of the table unless they do report something.
NON_REPORTING_KINDS = frozenset({"commissioner"})
#: RAG ratings, worst first.
RAGS = ("red", "amber", "green", "none")
RAG_RANK = {"red": 3, "amber": 2, "green": 1, "none": 0}


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
    #: Stale even allowing for the delay it is shared with: the owner has not reported it
    #: within the staleness limit (a figure shared 24 h late is stale to its viewer, but
    #: its owner may be reporting on time).
    overdue: bool = False

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
    #: Measure → hours late it is shared: reported, but nothing is visible to this viewer yet.
    delayed: dict[str, int] = field(default_factory=dict)

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

    @property
    def overdue(self) -> bool:
        """Its owner has not reported within the staleness limit: every figure shown is
        overdue even allowing for the delay it is shared with."""
        return bool(self.figures) and all(f.overdue for f in self.figures.values())


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
    #: Members expected to report (commissioners are not): what coverage counts against.
    expected: list[Organisation] = field(default_factory=list)
    #: Every row in name order; `rows` is what the table view shows of them, in its order.
    all_rows: list[Row] = field(default_factory=list)
    #: The measures read.
    measures: tuple[str, ...] = ()

    @property
    def coverage_hours(self) -> int:
        return self.collaborative.effective_reporting_interval_hours

    def total_occupancy(self, bed: str) -> float | None:
        occ, opn = self.totals.get(f"{bed}_occupied"), self.totals.get(f"{bed}_open")
        if not occ or not opn or occ.value is None or not opn.value:
            return None
        if not (occ.complete and opn.complete):
            return None
        return occ.value / opn.value

    def rag(self, indicator: str, value: float | None) -> str:
        return rag_band(self.thresholds.get(indicator), value)

    def organisation_count(self, rows: list[Row]) -> int:
        return len({r.organisation.pk for r in rows})

    def declared_levels(self) -> dict[int, tuple[float, datetime]] | None:
        """Organisation id → its own declared level and its time, as this picture shows them
        (for `escalation.collaborative_levels`, so that they are not read twice); None when
        the picture did not read declared levels."""
        if DECLARED not in self.measures:
            return None
        out = {}
        for row in self.all_rows:
            figure = row.figures.get(DECLARED) if row.site is None else None
            if figure is not None and figure.value is not None:
                out[row.organisation.pk] = (figure.value, figure.as_of)
        return out


@dataclass(frozen=True)
class Frozen:
    """Figures kept at a moment by `policy.freeze`, and who the members were then."""

    at: datetime
    member_ids: list[int]
    values: list[list[Any]]


def _figure(o: policy.Shared, stale_before: datetime) -> Figure:
    return Figure(
        value=o.value,
        text=o.text,
        missing_reason=o.missing_reason,
        as_of=o.as_of,
        received_at=o.received_at,
        source=o.source,
        stale=o.as_of < stale_before,
        overdue=o.as_of < stale_before - timedelta(hours=o.delay_hours),
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
    view: TableView | None = None,
    frozen: Frozen | None = None,
) -> Picture:
    """The collaborative's picture now, or as at a past moment, as this viewer may see it;
    or, with `frozen`, the figures kept at a moment (a decision's snapshot), shown to this
    viewer through the sharing policy as they stood then.

    Rows come in name order, or filtered and sorted as `view` asks (`all_rows` keeps them
    all); coverage and totals count every expected member whatever the view.
    """
    measures = tuple(measures)
    now = timezone.now()
    moment = frozen.at if frozen else min(at, now) if at else now
    # In surge figures go stale sooner: members are expected to report more often.
    interval = timedelta(hours=collaborative.effective_reporting_interval_hours)
    stale_before = moment - interval * settings.STALE_FACTOR
    if frozen:
        members = list(Organisation.objects.filter(id__in=frozen.member_ids).order_by("name"))
    else:
        members = members_of(collaborative)
    member_ids = {m.pk for m in members}
    rows: dict[tuple[int, int | None], Row] = {}
    org_by_id = {m.pk: m for m in members}
    thresholds = {t.indicator: (t.amber, t.red) for t in collaborative.thresholds.all()}
    if frozen:
        reading = policy.read_frozen(
            viewer, frozen.values, moment, member_ids, measures, thresholds, occupancy=True
        )
    else:
        reading = policy.read_latest(
            viewer, moment, member_ids, measures, thresholds, occupancy=True
        )
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
    expected = [m for m in members if m.kind not in NON_REPORTING_KINDS]
    reporting = {owner for owner, _site in rows}
    for m in members:
        if m.kind in NON_REPORTING_KINDS and m.pk not in reporting:
            continue
        rows.setdefault((m.pk, None), Row(m, None))
    for (owner, _site), row in rows.items():
        row.withheld = frozenset(withheld.get(owner, ()))
        row.delayed = reading.delayed_at(owner, _site)
    ordered = sorted(
        rows.values(),
        key=lambda r: (r.organisation.name, r.site is not None, r.site and r.site.name),
    )
    recent_since = moment - interval
    expected_ids = {m.pk for m in expected}
    reported = {
        r.organisation.pk
        for r in ordered
        if r.organisation.pk in expected_ids and r.latest_as_of and r.latest_as_of >= recent_since
    }
    return Picture(
        collaborative=collaborative,
        at=moment,
        is_live=at is None and frozen is None,
        rows=arrange(ordered, view) if view is not None else ordered,
        members=members,
        totals=_totals(ordered, expected, measures),
        reported_recently=len(reported),
        thresholds=thresholds,
        expected=expected,
        all_rows=ordered,
        measures=measures,
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
    kind_of = catalogue.current().kind_of
    for code in measures:
        if kind_of(code) != "count":  # levels and texts do not add up
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


def _in_sentence(label: str) -> str:
    """A label as it reads mid-sentence: "Adult critical care" → "adult critical care", while
    an abbreviation ("G&A") stays as it is."""
    return label if label.split(" ")[0].isupper() else label[:1].lower() + label[1:]


def _either(choices: list[str]) -> str:
    """ "a, b or c"."""
    return " or ".join(filter(None, (", ".join(choices[:-1]), choices[-1])))


@dataclass(frozen=True)
class TableView:
    """How the dashboard's rows are filtered and sorted; built by `table_view`, so valid.

    Filters choose whole organisations (an organisation's sites stay with it): `bed` those
    that report that bed type (and shows only its columns), `rag` those whose worst rating
    is that one (on `rag_on` only, or across every rated measure shown), `stale` those that
    have (yes) or have not (no) reported within the staleness limit, `opel` those at that
    OPEL level or higher.
    """

    sort: str = "pressure"
    descending: bool = True
    bed: str = ""
    rag: str = ""
    rag_on: str = ""
    stale: str = ""
    opel: int | None = None
    #: What the table can show: the catalogue's columns, indicators and bed types.
    dashboard: Dashboard = field(default=DASHBOARD, compare=False, repr=False)

    @property
    def filtered(self) -> bool:
        return bool(self.bed or self.rag or self.stale or self.opel)

    def columns(self) -> list[ColumnSpec]:
        """The columns shown: all, or when narrowed to a bed type, none of another's."""
        return [c for c in self.dashboard.columns if self._shows_bed(c.bed_type)]

    def indicators(self) -> list[str]:
        """The rated measures shown: every bed type's occupancy, or the chosen one's."""
        beds = self.dashboard.indicator_beds
        return [i for i in self.dashboard.indicators if self._shows_bed(beds[i])]

    def _shows_bed(self, bed: str) -> bool:
        return not bed or not self.bed or bed == self.bed

    def sort_phrase(self) -> str:
        """How the rows are sorted, in words."""
        if self.sort == "pressure":
            worst = "Sorted by pressure: worst RAG rating first (red, amber, green, none)"
            bed = self.bed or self.dashboard.pressure_bed
            if not bed:
                return worst + "."
            return (
                f"{worst}, then {_in_sentence(self.dashboard.beds[bed])} occupancy, highest first."
            )
        heading = self.dashboard.column(self.sort).heading
        if self.sort == "name":
            way = "Z to A" if self.descending else "A to Z"
        elif self.sort == "as_of":
            way = "newest first" if self.descending else "oldest first"
        else:
            way = "highest first" if self.descending else "lowest first"
        return f"Sorted by {heading}, {way}; missing figures last."

    def sorted_by(self, key: str) -> str:
        """'ascending', 'descending' or 'none', as `aria-sort` says it for a column."""
        if key != self.sort:
            return "none"
        return "descending" if self.descending else "ascending"

    def params(self, **changes: Any) -> dict[str, str]:
        """The query parameters that give this view with `changes`, defaults left out."""
        view = replace(self, **changes)
        out = {}
        if view.sort != "pressure":
            out["sort"] = view.sort
        if view.descending != _descending_first(view.sort):
            out["order"] = "desc" if view.descending else "asc"
        for name in ("bed", "rag", "rag_on", "stale"):
            if getattr(view, name):
                out[name] = getattr(view, name)
        if view.opel:
            out["opel"] = str(view.opel)
        return out

    def sort_params(self, key: str) -> dict[str, str]:
        """The parameters a column heading links to: sorted by it, or the other way round."""
        descending = not self.descending if key == self.sort else _descending_first(key)
        return self.params(sort=key, descending=descending)

    def filter_params(self, **filters: Any) -> dict[str, str]:
        """The same sort with only `filters` applied."""
        cleared = dict.fromkeys(("bed", "rag", "rag_on", "stale"), "") | {"opel": None}
        return self.params(**(cleared | filters))


def _descending_first(key: str) -> bool:
    # Worst, highest and newest first is what a bed manager looks for; names read A to Z.
    return key != "name"


def table_view(
    params: Mapping[str, str], dashboard: Dashboard = DASHBOARD
) -> tuple[TableView, dict[str, str]]:
    """The table view the query parameters ask for, and a message per parameter it could not
    use (that parameter is then left at its default, the rest still apply)."""
    errors: dict[str, str] = {}
    found: dict[str, Any] = {"dashboard": dashboard}

    def choice(name: str, allowed: Iterable[str], message: str) -> str:
        raw = params.get(name, "").strip()
        if raw and raw not in allowed:
            errors[name] = f"“{raw}” {message}"
            return ""
        return raw

    sort = choice(
        "sort", dashboard.sorts, "is not a column to sort by: use a column heading's link."
    )
    found["sort"] = sort or "pressure"
    order = choice("order", ("asc", "desc"), "is not an order: choose asc or desc.")
    found["descending"] = order == "desc" if order else _descending_first(found["sort"])
    beds = _either([f"{b} ({_in_sentence(label)})" for b, label in dashboard.beds.items()])
    found["bed"] = choice("bed", dashboard.beds, f"is not a bed type: choose {beds}.")
    found["rag"] = choice("rag", RAGS, "is not a RAG rating: choose red, amber, green or none.")
    rated = dashboard.indicators
    found["rag_on"] = choice(
        "rag_on", rated, "is not a rated measure: choose " + ", ".join(rated) + "."
    )
    found["stale"] = choice("stale", ("yes", "no"), "is not a choice for stale: choose yes or no.")
    levels = [str(n) for n in dashboard.opel_levels]
    opel = choice("opel", levels, f"is not an OPEL level: choose {_either(levels)}.")
    found["opel"] = int(opel) if opel else None
    return TableView(**found), errors


def _groups(rows: Iterable[Row]) -> list[list[Row]]:
    """Rows by organisation, in their order (each organisation's own row comes first)."""
    by_org: dict[int, list[Row]] = {}
    for r in rows:
        by_org.setdefault(r.organisation.pk, []).append(r)
    return list(by_org.values())


def _worst(rags: Iterable[str]) -> str:
    return max(rags, key=RAG_RANK.__getitem__, default="none")


def _shown_value(fig: Figure | None) -> float | None:
    """A figure's value as the viewer is shown it (banded: rounded, or the band's floor)."""
    if fig is None or fig.is_missing:
        return None
    return fig.value


def _level(group: list[Row], code: str, current_only: bool = False) -> float | None:
    """The organisation's own figure, or else the highest of its sites'; with
    `current_only`, overdue figures (not reported within the staleness limit) are left out."""

    def value(r: Row) -> float | None:
        fig = r.figures.get(code)
        return None if current_only and fig is not None and fig.overdue else _shown_value(fig)

    own = [value(r) for r in group if r.site is None]
    if own and own[0] is not None:
        return own[0]
    shown = (value(r) for r in group)
    return max((v for v in shown if v is not None), default=None)


def _not_reported(group: list[Row]) -> bool:
    """Every figure shown is overdue (stale even allowing for its delay), or none is shown and
    none is withheld or shared late: an organisation whose figures the viewer cannot see (yet)
    may be reporting, and nothing is said of it."""
    figures = [f for r in group for f in r.figures.values()]
    if not figures:
        return not any(r.withheld or r.delayed for r in group)
    return all(f.overdue for f in figures)


def _reports_bed(group: list[Row], bed: str) -> bool:
    codes = (f"{bed}_open", f"{bed}_occupied")
    return any(c in r.figures for r in group for c in codes) or any(
        f"{bed}_occupancy" in r.derived for r in group
    )


def _passes(group: list[Row], view: TableView) -> bool:
    if view.bed and not _reports_bed(group, view.bed):
        return False
    if view.rag:
        on = [view.rag_on] if view.rag_on else view.indicators()
        if _worst(r.rag(i) for r in group for i in on) != view.rag:
            return False
    if view.stale and _not_reported(group) != (view.stale == "yes"):
        return False
    if view.opel:
        level = _level(group, OPEL)
        if level is None or level < view.opel:
            return False
    return True


def _sort_value(row: Row, view: TableView) -> Any:
    """What a row is sorted on; None (missing, not shared, status only) always sorts last."""
    if view.sort == "name":
        return (row.site.name if row.site else row.organisation.name).casefold()
    if view.sort == "as_of":
        return row.latest_as_of
    if view.sort == "pressure":
        bed = view.bed or view.dashboard.pressure_bed
        occupancy = _shown_value(row.derived.get(f"{bed}_occupancy"))
        worst = _worst(row.rag(i) for i in view.indicators())
        return (RAG_RANK[worst], -1.0 if occupancy is None else occupancy)
    column = view.dashboard.column(view.sort)
    if not column.measure:  # an occupancy, derived by the policy
        return _shown_value(row.derived.get(column.indicator))
    return _shown_value(row.figures.get(column.measure))


def _in_order(items: list[Any], value: Any, descending: bool) -> list[Any]:
    """Items with a value in order, then those without in the order they came."""
    valued = [(v, i) for i in items if (v := value(i)) is not None]
    valued.sort(key=lambda pair: pair[0], reverse=descending)  # stable: ties keep name order
    return [i for _, i in valued] + [i for i in items if value(i) is None]


def arrange(rows: list[Row], view: TableView) -> list[Row]:
    """The rows `view` shows, filtered and sorted, each organisation's sites kept under it.

    An organisation is placed by its most extreme row (so a red site lifts its trust), its
    sites in the same order beneath its own row; ties stay in name order.
    """
    groups = [g for g in _groups(rows) if _passes(g, view)]
    values = {id(r): _sort_value(r, view) for g in groups for r in g}

    def placed(group: list[Row]) -> Any:
        if view.sort == "name":
            return group[0].organisation.name.casefold()
        found = [v for r in group if (v := values[id(r)]) is not None]
        if not found:
            return None
        return max(found) if view.descending else min(found)

    out: list[Row] = []
    for group in _in_order(groups, placed, view.descending):
        own = [r for r in group if r.site is None]
        sites = [r for r in group if r.site is not None]
        out.extend(own + _in_order(sites, lambda r: values[id(r)], view.descending))
    return out


@dataclass(frozen=True)
class TroublePart:
    """One part of the summary of trouble: its words and the filter that shows who."""

    count: int
    text: str
    params: dict[str, str]


@dataclass(frozen=True)
class Trouble:
    """Why one expected organisation is in trouble, as the viewer is shown it."""

    organisation: Organisation
    #: Its declared OPEL level now (not an overdue one), if shown.
    declared: float | None
    #: At the top OPEL level.
    at_top: bool
    #: At or over the red line of the first bed type's occupancy (G&A).
    red: bool
    #: Not reported within the staleness limit.
    quiet: bool

    @property
    def any(self) -> bool:
        return self.at_top or self.red or self.quiet


def troubles(picture: Picture, view: TableView) -> list[Trouble]:
    """Each expected organisation's trouble, over what the viewer is shown, in the picture's
    order: what `trouble` counts, one organisation at a time."""
    expected = {m.pk for m in picture.expected}
    groups = [g for g in _groups(picture.all_rows) if g[0].organisation.pk in expected]
    top = view.dashboard.opel_top
    occupancy = f"{view.dashboard.pressure_bed}_occupancy"
    rated = occupancy in picture.thresholds
    out = []
    for g in groups:
        # A level declared days ago is not a level now: that organisation is "not reported".
        declared = _level(g, OPEL, current_only=True)
        red = rated and _worst(r.rag(occupancy) for r in g) == "red"
        out.append(
            Trouble(g[0].organisation, declared, (declared or 0) >= top, red, _not_reported(g))
        )
    return out


def trouble(picture: Picture, view: TableView) -> list[TroublePart]:
    """Who is in trouble, counted over what the viewer is shown: organisations at the top
    OPEL level, at or over the red line of the first bed type's occupancy (G&A), and not
    reported within the staleness limit. Only parts with a count; the first says
    "organisation(s)"."""
    each = troubles(picture, view)
    found: list[tuple[int, str, dict[str, str]]] = []
    top = view.dashboard.opel_top
    found.append((sum(t.at_top for t in each), f"at OPEL {top}", view.filter_params(opel=top)))
    occupancy = f"{view.dashboard.pressure_bed}_occupancy"
    red_line = picture.thresholds.get(occupancy)
    if red_line is not None:
        label = view.dashboard.indicators[occupancy]
        found.append(
            (
                sum(t.red for t in each),
                f"at or over {round(red_line[1] * 100, 1):g}% {label}",
                view.filter_params(rag="red", rag_on=occupancy),
            )
        )
    hours = picture.coverage_hours * settings.STALE_FACTOR
    quiet = sum(t.quiet for t in each)
    found.append((quiet, f"not reported for {hours} h", view.filter_params(stale="yes")))
    parts = []
    for count, text, params in found:
        if not count:
            continue
        noun = "" if parts else (" organisation" if count == 1 else " organisations")
        parts.append(TroublePart(count, f"{count}{noun} {text}", params))
    return parts


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


@dataclass(frozen=True)
class Due:
    """Whether an organisation's report is due for one collaborative it belongs to."""

    collaborative: Collaborative
    #: "overdue" (its figures are stale there, or it never reported), "due" (an interval has
    #: passed since its last report) or "ok".
    state: str
    #: When the next report is due (None if it never reported).
    due_at: datetime | None


@dataclass(frozen=True)
class Reporting:
    """An organisation someone reports for: its last report and what is due where."""

    organisation: Organisation
    last: datetime | None
    dues: list[Due]

    @property
    def state(self) -> str:
        """The most pressing of its dues ("ok" when it belongs to no collaborative)."""
        states = {d.state for d in self.dues}
        return next((s for s in ("overdue", "due") if s in states), "ok")


def reporting_due(
    viewer: policy.Viewer, organisations: Iterable[Organisation], now: datetime | None = None
) -> list[Reporting]:
    """For each organisation (the viewer's own), when it last reported (the newest as-of of
    any of its figures, sites included) and whether a report is due against each of its
    collaboratives' reporting intervals; most pressing first, then by name."""
    now = now or timezone.now()
    orgs = [o for o in organisations if o.kind not in NON_REPORTING_KINDS]
    ids = {o.pk for o in orgs} & viewer.organisation_ids
    last: dict[int, datetime] = {}
    for v in policy.read_latest(viewer, now, ids).values:
        if v.organisation_id not in last or v.as_of > last[v.organisation_id]:
            last[v.organisation_id] = v.as_of
    collabs: dict[int, list[Collaborative]] = defaultdict(list)
    for m in (
        CollaborativeMembership.objects.filter(
            organisation_id__in=ids,
            left_at__isnull=True,
            collaborative__in=collaboratives_of(viewer.organisation_ids),
        )
        .select_related("collaborative")
        .order_by("collaborative__name")
    ):
        collabs[m.organisation_id].append(m.collaborative)
    out = []
    for org in orgs:
        if org.pk not in ids:
            continue
        when = last.get(org.pk)
        dues = []
        for c in collabs[org.pk]:
            interval = timedelta(hours=c.reporting_interval_hours)
            if when is None or now - when >= interval * settings.STALE_FACTOR:
                state = "overdue"
            elif now - when >= interval:
                state = "due"
            else:
                state = "ok"
            dues.append(Due(c, state, when + interval if when else None))
        out.append(Reporting(org, when, dues))
    rank = {"overdue": 0, "due": 1, "ok": 2}
    return sorted(out, key=lambda r: (rank[r.state], r.organisation.name))


@dataclass(frozen=True)
class Change:
    """Something that changed in the viewer's collaboratives, in words: `text`, then the
    collaborative's name where it concerns one (for the page to link to it)."""

    at: datetime
    text: str
    #: "joined", "left", "up" or "down" (OPEL), for the page to mark it.
    kind: str
    collaborative: Collaborative | None = None


#: More organisations than this joining (or leaving) one collaborative are said as a number.
NAMED_MOVES = 3


def recent_changes(
    viewer: policy.Viewer, since: datetime, now: datetime | None = None
) -> list[Change]:
    """What changed in the viewer's collaboratives since a moment, newest first:
    organisations that joined or left, and declared OPEL levels that went up or down (or
    were first declared), as the sharing policy lets the viewer see them: a level is
    compared with the one the viewer was shown at `since`."""
    now = now or timezone.now()
    mine = collaboratives_of(viewer.organisation_ids)
    changes = []
    moves = (
        CollaborativeMembership.objects.filter(collaborative__in=mine)
        .filter(Q(joined_at__gte=since) | Q(left_at__gte=since))
        .select_related("collaborative", "organisation")
    )
    by_collaborative: dict[tuple[int, str], list[tuple[datetime, str, Collaborative]]] = (
        defaultdict(list)
    )
    for m in moves:
        for kind, moment in (("joined", m.joined_at), ("left", m.left_at)):
            if moment is not None and moment >= since:
                by_collaborative[(m.collaborative_id, kind)].append(
                    (moment, m.organisation.name, m.collaborative)
                )
    for (_, kind), found in by_collaborative.items():
        if len(found) > NAMED_MOVES:
            latest = max(moment for moment, _, _ in found)
            text = f"{len(found)} organisations {kind}"
            changes.append(Change(latest, text, kind, found[0][2]))
        else:
            changes.extend(Change(t, f"{name} {kind}", kind, c) for t, name, c in found)
    members = {o.pk for c in mine for o in members_of(c)}
    if members:
        code = (OPEL,)
        before = {
            (v.organisation_id, v.site_id): v
            for v in policy.read_latest(viewer, since, members, code).values
            if v.value is not None and not v.missing_reason
        }
        current = [
            v
            for v in policy.read_latest(viewer, now, members, code).values
            if v.value is not None and not v.missing_reason
        ]
        names = dict(Organisation.objects.filter(id__in=members).values_list("id", "name"))
        sites = dict(
            Site.objects.filter(id__in={v.site_id for v in current if v.site_id}).values_list(
                "id", "name"
            )
        )
        for v in current:
            who = sites[v.site_id] if v.site_id else names[v.organisation_id]
            level = f"OPEL {v.value:g}"
            old = before.get((v.organisation_id, v.site_id))
            if old is None:
                # First declared since then, as far as the viewer could see at that moment.
                seen_until = min(since, now - timedelta(hours=v.delay_hours))
                if v.as_of > seen_until:
                    changes.append(Change(v.as_of, f"{who} declared {level}", "up"))
            elif v.value != old.value:
                way = "up" if v.value > (old.value or 0) else "down"
                text = f"{who} went {way} to {level} (from OPEL {old.value:g})"
                changes.append(Change(v.as_of, text, way))
    return sorted(changes, key=lambda c: c.at, reverse=True)
