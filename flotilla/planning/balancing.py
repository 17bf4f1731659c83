"""Balancing the load from the live picture: the static plan a viewer may make of what they
may see.

The plan is made of the collaborative's picture as this viewer sees it
(`picture.queries.collaborative_picture`, so every figure comes through the sharing policy
and the reads go on the owners' access records). A place whose open or occupied beds are
withheld, shared only as a band or a status, not reported yet, or too old is *unknown*: it
is left out of the plan and listed with why, never treated as empty or as full. What is
left is one row per place for the planning core (`planning.core.static`), which moves
patients between places within the radius, lexicographically: least overflow, then fewest
patient-km.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
from django.utils import timezone

from flotilla import catalogue
from flotilla.collaboratives.models import Collaborative
from flotilla.formatting import when
from flotilla.organisations.models import Organisation, Site
from flotilla.picture.queries import Figure, Row, collaborative_picture
from flotilla.planning.core.multiday import (
    MultiDayInstance,
    geometric_survival,
    residual_discharges,
    solve_multiday,
)
from flotilla.planning.core.static import (
    Sites,
    graph_by_radius,
    safe_capacity,
    solve_static,
)
from flotilla.planning.queries import forecasts_seen_by
from flotilla.sharing import policy
from flotilla.sharing.policy.rules import BANDED, EXACT

#: Limits of what a plan may be asked for (also in the form and the docs).
SAFE_OCCUPANCY_RANGE = (0.5, 1.0)
RADIUS_KM_RANGE = (1.0, 300.0)
DEFAULT_RADIUS_KM = 50.0
#: The safe occupancy of a bed type with no occupancy indicator to take a default from.
FALLBACK_SAFE_OCCUPANCY = 0.92
#: A static plan of a collaborative solves in well under a second; past this it stops.
TIME_LIMIT_S = 10.0


class PlanInvalid(ValueError):
    """What was asked for cannot be planned: field → why."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def bed_types() -> dict[str, str]:
    """Bed type → label, for every bed type the catalogue counts open and occupied beds of."""
    cat = catalogue.current()
    codes = {m.code for m in cat.measures}
    return {
        code: spec.label
        for code, spec in cat.bed_types.items()
        if f"{code}_open" in codes and f"{code}_occupied" in codes
    }


def default_safe_occupancy(collaborative: Collaborative, bed: str) -> float:
    """The collaborative's amber line for the bed type's occupancy (where being fuller starts
    to worry it), else the catalogue's standard one, else 0.92."""
    indicator = f"{bed}_occupancy"
    own = collaborative.thresholds.filter(indicator=indicator).first()
    if own is not None:
        return float(own.amber)
    for spec in catalogue.current().indicators:
        if spec.code == indicator:
            return float(spec.amber)
    return FALLBACK_SAFE_OCCUPANCY


@dataclass(frozen=True)
class Place:
    """Somewhere patients of the bed type are: a site, or an organisation reporting whole."""

    organisation: Organisation
    site: Site | None
    lat: float
    lon: float
    open_beds: int
    occupied: int
    as_of: datetime
    #: Hours late the owner shares these figures with the viewer.
    delay_hours: int

    @property
    def key(self) -> str:
        return f"{self.organisation.code}/{self.site.code}" if self.site else self.organisation.code

    @property
    def name(self) -> str:
        return (
            f"{self.organisation.name}, {self.site.name}" if self.site else self.organisation.name
        )


@dataclass(frozen=True)
class LeftOut:
    """A place the plan could not use, and why (its figures unknown to this viewer)."""

    name: str
    why: str


@dataclass(frozen=True)
class Move:
    source: Place
    target: Place
    patients: int
    distance_km: float


@dataclass(frozen=True)
class Plan:
    """A static plan: what was asked, what it used and left out, and what it recommends."""

    collaborative: Collaborative
    bed: str
    bed_label: str
    safe_occupancy: float
    radius_km: float
    at: datetime
    places: list[Place]
    left_out: list[LeftOut]
    #: Members that report none of this bed type (not unknown: they have none to plan with).
    none_reported: list[str]
    capacity: dict[str, int]
    after: dict[str, int]
    overflow_before: int
    overflow_after: int
    #: The overflow no transfer within any radius can remove: occupied beyond the safe
    #: capacity of every place in the plan together.
    lower_bound: int
    moves: list[Move]
    status: str
    solve_seconds: float

    def overflow_of(self, place: Place, after: bool) -> int:
        held = self.after[place.key] if after else place.occupied
        return max(0, held - self.capacity[place.key])

    @property
    def patients_moved(self) -> int:
        return sum(m.patients for m in self.moves)

    @property
    def patient_km(self) -> float:
        return sum(m.patients * m.distance_km for m in self.moves)


def check_request(
    collaborative: Collaborative, bed: str, safe_occupancy: str, radius_km: str
) -> tuple[str, float, float]:
    """Read what the planning form asks for; PlanInvalid names each field that is wrong."""
    errors: dict[str, str] = {}
    beds = bed_types()
    if bed not in beds:
        errors["bed"] = "choose a bed type from the list"
    safe = _number(errors, "safe_occupancy", safe_occupancy, SAFE_OCCUPANCY_RANGE, percent=True)
    if safe is None and "safe_occupancy" not in errors and bed in beds:
        safe = default_safe_occupancy(collaborative, bed)
    radius = _number(errors, "radius_km", radius_km, RADIUS_KM_RANGE)
    if radius is None and "radius_km" not in errors:
        radius = DEFAULT_RADIUS_KM
    if errors:
        raise PlanInvalid(errors)
    assert safe is not None and radius is not None
    return bed, safe, radius


def _number(
    errors: dict[str, str],
    name: str,
    raw: str,
    bounds: tuple[float, float],
    percent: bool = False,
    unit: str = " km",
) -> float | None:
    """A number from the form (None when left empty); a percentage is given as 0–100."""
    raw = raw.strip().rstrip("%").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        errors[name] = f"“{raw}” is not a number"
        return None
    lo, hi = bounds
    if percent:
        value /= 100
    if not math.isfinite(value) or not lo <= value <= hi:
        unit = "%" if percent else unit
        scale = 100 if percent else 1
        errors[name] = f"give a number from {lo * scale:g} to {hi * scale:g}{unit}"
        return None
    return value


def _why_unknown(row: Row, codes: tuple[str, str], stale_note: str) -> str | None:
    """Why a row's open and occupied beds cannot be planned with (None: they can)."""
    figures: list[Figure] = []
    for code in codes:
        if code in row.withheld:
            return "does not share its bed figures with you"
        if code in row.delayed and code not in row.figures:
            hours = row.delayed[code]
            return f"shares its bed figures {hours} hours late, and none old enough yet"
        fig = row.figures.get(code)
        if fig is None:
            return "has not reported both open and occupied beds"
        figures.append(fig)
    for fig in figures:
        if not fig.exact:
            shown = "a band" if fig.detail == BANDED else "a status"
            return f"shares its bed figures with you only as {shown}: a plan needs counts"
        if fig.is_missing or fig.value is None:
            return f"reported its beds as not available ({fig.missing_reason or 'no value'})"
        if fig.stale:
            return f"its newest figures are from {when(fig.as_of)}, {stale_note}"
    return None


def places_seen_by(
    viewer: policy.Viewer, collaborative: Collaborative, bed: str
) -> tuple[list[Place], list[LeftOut], list[str], datetime]:
    """The places the viewer may plan with for this bed type, those left out (with why),
    the members reporting none of it, and the moment of the picture."""
    codes = (f"{bed}_open", f"{bed}_occupied")
    picture = collaborative_picture(viewer, collaborative, measures=codes)
    stale_note = (
        f"too old to plan on (older than {collaborative.effective_reporting_interval_hours}-hourly "
        "reporting allows)"
    )
    by_org: dict[int, list[Row]] = defaultdict(list)
    for row in picture.all_rows:
        by_org[row.organisation.pk].append(row)
    places, left_out, none_reported = [], [], []
    for org in picture.expected:
        rows = by_org.get(org.pk, [])
        sites = [r for r in rows if r.site is not None and (set(codes) & set(r.figures))]
        whole = [r for r in rows if r.site is None]
        # Where an organisation reports the bed type by site, its sites are the places;
        # otherwise the organisation as a whole is one.
        candidates = sites or whole
        if not any(set(codes) & (set(r.figures) | r.withheld | set(r.delayed)) for r in rows):
            none_reported.append(org.name)
            continue
        for row in candidates:
            name = f"{org.name}, {row.site.name}" if row.site else org.name
            why = _why_unknown(row, codes, stale_note)
            where = row.site if row.site is not None else org
            if why is None and (where.latitude is None or where.longitude is None):
                why = "has no map position in the registry, so no distance can be measured"
            if why is not None:
                left_out.append(LeftOut(name, why))
                continue
            open_fig, occupied_fig = row.figures[codes[0]], row.figures[codes[1]]
            assert open_fig.value is not None and occupied_fig.value is not None
            assert where.latitude is not None and where.longitude is not None
            places.append(
                Place(
                    organisation=org,
                    site=row.site,
                    lat=where.latitude,
                    lon=where.longitude,
                    open_beds=int(open_fig.value),
                    occupied=int(occupied_fig.value),
                    as_of=min(open_fig.as_of, occupied_fig.as_of),
                    delay_hours=max(open_fig.delay_hours, occupied_fig.delay_hours),
                )
            )
    return places, left_out, none_reported, picture.at


def _core_sites(places: list[Place], bed: str, safe_occupancy: float) -> Sites:
    """The places as the planning core's rows (one bed type, one safe occupancy)."""
    return Sites(
        site_id=tuple(p.key for p in places),
        bed_type=tuple(bed for _ in places),
        lat=np.array([p.lat for p in places]),
        lon=np.array([p.lon for p in places]),
        open_beds=np.array([p.open_beds for p in places], dtype=np.int64),
        occupied=np.array([p.occupied for p in places], dtype=np.int64),
        safe_occupancy=np.full(len(places), safe_occupancy),
    )


def _safe_capacity(places: list[Place], safe_occupancy: float) -> tuple[np.ndarray, dict[str, int]]:
    """Each place's safe capacity (patients), as an array and by place key."""
    capacity = safe_capacity(np.full(len(places), safe_occupancy), [p.open_beds for p in places])
    return capacity, {p.key: int(c) for p, c in zip(places, capacity, strict=True)}


def static_plan(
    viewer: policy.Viewer,
    collaborative: Collaborative,
    *,
    bed: str,
    safe_occupancy: float,
    radius_km: float,
) -> Plan:
    """The static plan for this bed type from the live picture as the viewer sees it."""
    places, left_out, none_reported, at = places_seen_by(viewer, collaborative, bed)
    _, cap = _safe_capacity(places, safe_occupancy)
    plan = Plan(
        collaborative=collaborative,
        bed=bed,
        bed_label=bed_types()[bed],
        safe_occupancy=safe_occupancy,
        radius_km=radius_km,
        at=at,
        places=places,
        left_out=left_out,
        none_reported=none_reported,
        capacity=cap,
        after={p.key: p.occupied for p in places},
        overflow_before=0,
        overflow_after=0,
        lower_bound=0,
        moves=[],
        status="nothing to plan",
        solve_seconds=0.0,
    )
    if not places:
        return plan
    sites = _core_sites(places, bed, safe_occupancy)
    graph = graph_by_radius(sites, radius_km)
    result = solve_static(sites, graph, time_limit=TIME_LIMIT_S)
    moves = [
        Move(places[int(s)], places[int(d)], int(k), float(km))
        for s, d, k, km in zip(
            result.src, result.dst, result.patients, result.distance_km, strict=True
        )
        if k > 0
    ]
    moves.sort(key=lambda m: (-m.patients, m.distance_km, m.source.name))
    after = dict(plan.after)
    for m in moves:
        after[m.source.key] -= m.patients
        after[m.target.key] += m.patients
    return dataclasses.replace(
        plan,
        after=after,
        overflow_before=result.overflow_before,
        overflow_after=result.overflow_after,
        lower_bound=result.lower_bound,
        moves=moves,
        status=result.status,
        solve_seconds=result.solve_seconds,
    )


# Multi-day: the next days, from the forecasts ------------------------------------------------

#: The days a multi-day plan may look ahead, and the default length of stay (days).
DAYS_CHOICES = (3, 7, 14)
LOS_DAYS_RANGE = (1.0, 30.0)
DEFAULT_LOS_DAYS = 6.0
#: Long enough that a geometric stay's survival is all there (for the discharges of the
#: patients in hospital at the start).
_LOS_TERMS = 400


@dataclass(frozen=True)
class Redirect:
    """Admissions of `source` sent to `target` over the plan's days (expected patients)."""

    source: Place
    target: Place
    by_day: tuple[float, ...]
    distance_km: float

    @property
    def patients(self) -> float:
        return sum(self.by_day)


@dataclass(frozen=True)
class Outlook:
    """A multi-day plan: today's patients, the forecast census of the next days, and the
    admissions to send elsewhere so that fewest patient-days are above safe capacity."""

    collaborative: Collaborative
    bed: str
    bed_label: str
    safe_occupancy: float
    radius_km: float
    days: int
    los_days: float
    at: datetime
    first_day: date
    places: list[Place]
    left_out: list[LeftOut]
    none_reported: list[str]
    capacity: dict[str, int]
    #: Place key → expected patients on each day, without and with the plan.
    before: dict[str, tuple[float, ...]]
    after: dict[str, tuple[float, ...]]
    overflow_before: float
    overflow_after: float
    lower_bound: float
    redirects: list[Redirect]
    #: The redirects as whole patients over the days (at least one), for drafting.
    moves: list[Move]
    #: Places whose forecast falls faster than their patients leave (admissions taken as 0).
    clipped: list[str]
    status: str
    solve_seconds: float

    @property
    def day_labels(self) -> list[str]:
        """The plan's days as people read them: "Tue 1 Dec"."""
        days = (self.first_day + timedelta(days=n) for n in range(self.days))
        return [f"{d:%a} {d.day} {d:%b}" for d in days]

    def overflow_of(self, place: Place, after: bool) -> float:
        loads = (self.after if after else self.before)[place.key]
        return sum(max(0.0, v - self.capacity[place.key]) for v in loads)


def _loads(places: list[Place], loads: np.ndarray) -> dict[str, tuple[float, ...]]:
    return {p.key: tuple(float(v) for v in row) for p, row in zip(places, loads, strict=True)}


def check_outlook_request(days: str, los_days: str) -> tuple[int, float]:
    """Read the multi-day part of the form; PlanInvalid names each field that is wrong."""
    errors: dict[str, str] = {}
    try:
        n = int(days)
    except ValueError:
        n = -1
    if n not in DAYS_CHOICES:
        errors["days"] = f"choose {', '.join(str(d) for d in DAYS_CHOICES)} days"
    los = _number(errors, "los_days", los_days, LOS_DAYS_RANGE, unit=" days")
    if errors:
        raise PlanInvalid(errors)
    return n, los if los is not None else DEFAULT_LOS_DAYS


def outlook(
    viewer: policy.Viewer,
    collaborative: Collaborative,
    *,
    bed: str,
    safe_occupancy: float,
    radius_km: float,
    days: int,
    los_days: float,
) -> Outlook:
    """The multi-day plan of the next `days` days for this bed type, from today's figures
    and the forecasts of occupied beds, both as the viewer may see them.

    The model (Parker et al., `planning.core.multiday`) redirects admissions, so admissions
    are needed: with a geometric length of stay of mean `los_days` (a patient stays another
    day with probability q = 1 − 1/los), the census follows N_t = q·N_{t−1} + A_t, so the
    admissions the forecast implies are A_t = F_t − q·F_{t−1}, from today's patients F_0.
    Where a forecast falls faster than stays end, A_t would be negative: it is taken as 0
    and the place named."""
    places, left_out, none_reported, at = places_seen_by(viewer, collaborative, bed)
    today = timezone.localdate(at)
    targets = [today + timedelta(days=d) for d in range(1, days + 1)]
    series = {
        (s.organisation.pk, s.site_id): s
        for s in forecasts_seen_by(
            viewer, {p.organisation for p in places}, measures=[f"{bed}_occupied"]
        )
    }
    usable, medians = [], []
    for p in places:
        s = series.get((p.organisation.pk, p.site.pk if p.site else None))
        by_target = {d.target: d.median for d in s.days} if s is not None else {}
        if s is None:
            left_out.append(LeftOut(p.name, "has no forecast of occupied beds you may see"))
        elif s.access.detail != EXACT:
            left_out.append(
                LeftOut(p.name, "shares its forecast with you only banded: a plan needs counts")
            )
        elif not all(t in by_target for t in targets):
            left_out.append(
                LeftOut(
                    p.name,
                    f"its newest forecast (made {s.origin:%d %b}) does not reach {days} days ahead",
                )
            )
        else:
            usable.append(p)
            medians.append([by_target[t] for t in targets])
    n = len(usable)
    capacity, cap = _safe_capacity(usable, safe_occupancy)
    base = Outlook(
        collaborative=collaborative,
        bed=bed,
        bed_label=bed_types()[bed],
        safe_occupancy=safe_occupancy,
        radius_km=radius_km,
        days=days,
        los_days=los_days,
        at=at,
        first_day=targets[0],
        places=usable,
        left_out=left_out,
        none_reported=none_reported,
        capacity=cap,
        before={},
        after={},
        overflow_before=0.0,
        overflow_after=0.0,
        lower_bound=0.0,
        redirects=[],
        moves=[],
        clipped=[],
        status="nothing to plan",
        solve_seconds=0.0,
    )
    if n == 0:
        return base
    q = 1.0 - 1.0 / los_days
    census = np.array(medians)  # F_1..F_T
    today_patients = np.array([float(p.occupied) for p in usable])
    previous = np.column_stack([today_patients, census[:, :-1]])
    implied = census - q * previous
    clipped = [p.name for p, row in zip(usable, implied, strict=True) if (row < -1e-9).any()]
    survival = geometric_survival(los_days, _LOS_TERMS)
    pairs = graph_by_radius(_core_sites(usable, bed, safe_occupancy), radius_km)
    inst = MultiDayInstance(
        site_id=tuple(p.key for p in usable),
        capacity=capacity.astype(np.float64),
        initial=today_patients,
        initial_discharges=residual_discharges(today_patients, survival, days),
        admissions=np.maximum(implied, 0.0),
        los_survival=survival,
        src=pairs.src,
        dst=pairs.dst,
        distance_km=pairs.distance_km,
    )
    result = solve_multiday(inst, time_limit=TIME_LIMIT_S)
    before_loads = result.active_before
    after_loads = result.active_after
    arcs: dict[tuple[int, int], list[float]] = {}
    distance: dict[tuple[int, int], float] = {}
    for s, d, t, k, km in zip(
        result.src, result.dst, result.day, result.patients, result.distance_km, strict=True
    ):
        arcs.setdefault((int(s), int(d)), [0.0] * days)[int(t)] += float(k)
        distance[(int(s), int(d))] = float(km)
    redirects = sorted(
        (
            Redirect(usable[s], usable[d], tuple(v), distance[(s, d)])
            for (s, d), v in arcs.items()
            if sum(v) >= 0.05
        ),
        key=lambda r: (-r.patients, r.distance_km),
    )
    moves = [
        Move(r.source, r.target, round(r.patients), r.distance_km)
        for r in redirects
        if round(r.patients) >= 1
    ]
    total_over = np.maximum(before_loads.sum(axis=0) - capacity.sum(), 0.0)
    return dataclasses.replace(
        base,
        before=_loads(usable, before_loads),
        after=_loads(usable, after_loads),
        overflow_before=float(np.maximum(before_loads - capacity[:, None], 0).sum()),
        overflow_after=float(np.maximum(after_loads - capacity[:, None], 0).sum()),
        lower_bound=float(total_over.sum()),
        redirects=redirects,
        moves=moves,
        clipped=clipped,
        status=result.status,
        solve_seconds=result.solve_seconds,
    )
