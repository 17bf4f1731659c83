"""Static load balancing: one snapshot of beds, one round of transfers.

Model (per snapshot; one row of ``Sites`` is one site's beds of one bed type):

* ``cap_i = floor(safe_occupancy_i * open_beds_i)`` safe capacity (patients);
* decision ``x_e`` (integer patients) on each allowed edge ``e = (i -> j)``, same bed type,
  within the radius (km) or the travel-time limit (minutes);
* decision ``s_i`` in ``{0..surge_beds_i}`` surge beds opened;
* ``p_i = occ_i - sum_out x + sum_in x`` patients after the transfers;
* overflow ``o_i = max(0, p_i - cap_i - s_i)``.

Rules: a site sends at most the patients it has (``sum_out x <= occ_i``). A site that can hold
its own patients (``occ_i <= cap_i + surge_i``) must end within its safe capacity
(``p_i <= cap_i + s_i``: transfers never create overflow there, "no artificial overflow"); a
site that cannot (``occ_i > cap_i + surge_i``) never receives ("no worse overflow").

Objective, lexicographic: minimise ``sum o`` (patients over safe capacity), then
``sum surge_cost * s`` (cost units), then ``sum x_e * d_e + SURGE_TIE_BREAK * sum s``
(patient-km, or patient-minutes when a travel-time table is used; the tie-break makes the
plan open no surge bed it does not need). Every stage is solved to optimality, with no MIP gap.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from flotilla.planning.core._arrays import frozen
from flotilla.planning.core.errors import InputError
from flotilla.planning.core.geo import haversine_km, pairs_within_km
from flotilla.planning.core.highs import HighsModel

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_INTEGRAL_TOL = 1e-6

#: Added to the third stage's cost per surge bed opened (in patient-km, or patient-minutes), so
#: that of two equally short plans the one opening fewer surge beds wins. A free surge bed is
#: therefore left shut unless it saves more than this much distance: a plan may travel up to
#: this much further per surge bed it leaves shut than the shortest plan does.
SURGE_TIE_BREAK = 1e-6


def safe_capacity(safe_occupancy: npt.ArrayLike, open_beds: npt.ArrayLike) -> IntArray:
    """``floor(safe_occupancy * open_beds)`` in patients, robust to binary rounding."""
    prod = np.asarray(safe_occupancy, dtype=np.float64) * np.asarray(open_beds, dtype=np.float64)
    # 0.29 * 100 is 28.999999999999996 in binary floating point; the intended answer is 29.
    return np.floor(prod + 1e-9).astype(np.int64)


@dataclass(frozen=True)
class Sites:
    """One snapshot: one row per (site, bed type). Counts are patients/beds; lat/lon degrees.

    ``surge_beds`` (beds that can be opened) and ``surge_cost`` (cost units per bed opened)
    default to zero.
    """

    site_id: tuple[str, ...]
    bed_type: tuple[str, ...]
    lat: FloatArray
    lon: FloatArray
    open_beds: IntArray
    occupied: IntArray
    safe_occupancy: FloatArray
    surge_beds: IntArray = field(default_factory=lambda: frozen([], np.int64))
    surge_cost: FloatArray = field(default_factory=lambda: frozen([], np.float64))

    def __post_init__(self) -> None:
        n = len(self.site_id)
        object.__setattr__(self, "site_id", tuple(str(s) for s in self.site_id))
        object.__setattr__(self, "bed_type", tuple(str(b) for b in self.bed_type))
        for name, dtype in (
            ("lat", np.float64),
            ("lon", np.float64),
            ("open_beds", np.int64),
            ("occupied", np.int64),
            ("safe_occupancy", np.float64),
        ):
            object.__setattr__(self, name, frozen(getattr(self, name), dtype))
        for name, dtype in (("surge_beds", np.int64), ("surge_cost", np.float64)):
            value = np.asarray(getattr(self, name))
            object.__setattr__(self, name, frozen(np.zeros(n) if value.size == 0 else value, dtype))
        for name in (
            "bed_type",
            "lat",
            "lon",
            "open_beds",
            "occupied",
            "safe_occupancy",
            "surge_beds",
            "surge_cost",
        ):
            if len(getattr(self, name)) != n:
                raise InputError(f"'{name}' has {len(getattr(self, name))} values, expected {n}")
        keys = list(zip(self.site_id, self.bed_type, strict=True))
        if len(set(keys)) != n:
            dup = next(k for k in keys if keys.count(k) > 1)
            raise InputError(f"site {dup[0]!r} appears twice for bed type {dup[1]!r}")
        if np.any(self.open_beds < 0) or np.any(self.occupied < 0) or np.any(self.surge_beds < 0):
            raise InputError("bed and patient counts must be non-negative")
        if np.any((self.safe_occupancy < 0) | (self.safe_occupancy > 1)):
            raise InputError("safe_occupancy must lie in [0, 1]")
        if np.any(self.surge_cost < 0):
            raise InputError("surge_cost must be non-negative")

    @property
    def n(self) -> int:
        """Number of rows (site x bed type)."""
        return len(self.site_id)

    @property
    def capacity(self) -> IntArray:
        """Safe capacity without surge, in patients."""
        return safe_capacity(self.safe_occupancy, self.open_beds)

    def overflow_before(self) -> int:
        """Patients above safe capacity with no transfers and no surge beds opened."""
        return int(np.maximum(self.occupied - self.capacity, 0).sum())

    def lower_bound(self) -> int:
        """Overflow no transfer can remove: per bed type, max(0, occupied - capacity - surge)."""
        total = 0
        types = np.asarray(self.bed_type)
        slack = self.occupied - self.capacity - self.surge_beds
        for b in np.unique(types):
            total += max(0, int(slack[types == b].sum()))
        return total


@dataclass(frozen=True)
class TransferGraph:
    """Allowed transfers: edge ``e`` goes from row ``src[e]`` to row ``dst[e]`` of ``Sites``.

    ``distance_km`` is the great-circle distance; ``cost`` is what the third objective
    minimises per patient (km, or minutes when built from a travel-time table).
    """

    src: IntArray
    dst: IntArray
    distance_km: FloatArray
    cost: FloatArray
    cost_unit: str = "km"

    def __post_init__(self) -> None:
        for name, dtype in (
            ("src", np.int64),
            ("dst", np.int64),
            ("distance_km", np.float64),
            ("cost", np.float64),
        ):
            object.__setattr__(self, name, frozen(getattr(self, name), dtype))

    @property
    def n_edges(self) -> int:
        """Number of directed edges."""
        return int(self.src.shape[0])


def graph_by_radius(sites: Sites, radius_km: float) -> TransferGraph:
    """Edges between rows of the same bed type at most ``radius_km`` apart (haversine)."""
    types = np.asarray(sites.bed_type)
    srcs, dsts, dists = [], [], []
    for b in np.unique(types):
        rows = np.flatnonzero(types == b)
        a, c, d = pairs_within_km(sites.lat[rows], sites.lon[rows], radius_km)
        srcs.append(rows[a])
        dsts.append(rows[c])
        dists.append(d)
    src = np.concatenate(srcs) if srcs else np.zeros(0, np.int64)
    dst = np.concatenate(dsts) if dsts else np.zeros(0, np.int64)
    dist = np.concatenate(dists) if dists else np.zeros(0)
    return TransferGraph(src=src, dst=dst, distance_km=dist, cost=dist, cost_unit="km")


@dataclass(frozen=True)
class TravelTimes:
    """Directed travel times in minutes between site ids."""

    from_site: tuple[str, ...]
    to_site: tuple[str, ...]
    minutes: FloatArray

    def __post_init__(self) -> None:
        object.__setattr__(self, "minutes", frozen(self.minutes, np.float64))


def graph_by_travel(sites: Sites, travel: TravelTimes, max_minutes: float) -> TransferGraph:
    """Edges of the same bed type whose travel time is at most ``max_minutes``."""
    rows_by_site: dict[str, list[int]] = {}
    for r, s in enumerate(sites.site_id):
        rows_by_site.setdefault(s, []).append(r)
    src: list[int] = []
    dst: list[int] = []
    minutes: list[float] = []
    for a, b, m in zip(travel.from_site, travel.to_site, travel.minutes.tolist(), strict=True):
        if a == b or m > max_minutes:
            continue
        for ra in rows_by_site.get(a, []):
            for rb in rows_by_site.get(b, []):
                if sites.bed_type[ra] == sites.bed_type[rb]:
                    src.append(ra)
                    dst.append(rb)
                    minutes.append(m)
    s_arr = np.asarray(src, dtype=np.int64)
    d_arr = np.asarray(dst, dtype=np.int64)
    dist = haversine_km(sites.lat[s_arr], sites.lon[s_arr], sites.lat[d_arr], sites.lon[d_arr])
    return TransferGraph(
        src=s_arr,
        dst=d_arr,
        distance_km=dist,
        cost=np.asarray(minutes, dtype=np.float64),
        cost_unit="minutes",
    )


@dataclass(frozen=True)
class StaticPlan:
    """A solved snapshot: transfers (patients on edges), surge opened and the summary figures."""

    src: IntArray
    dst: IntArray
    patients: IntArray
    distance_km: FloatArray
    surge: IntArray
    overflow_before: int
    overflow_after: int
    lower_bound: int
    surge_cost: float
    solve_seconds: float
    status: str

    @property
    def patients_moved(self) -> int:
        """Total patients transferred."""
        return int(self.patients.sum())

    @property
    def total_distance_km(self) -> float:
        """Sum over transfers of patients x km."""
        return float((self.patients * self.distance_km).sum())

    @property
    def max_distance_km(self) -> float:
        """Longest transfer used, km (0 when nobody moves)."""
        return float(self.distance_km.max()) if self.patients.size else 0.0

    def summary(self) -> dict[str, Any]:
        """The JSON summary printed by ``flotilla plan``."""
        return {
            "overflow_before": self.overflow_before,
            "overflow_after": self.overflow_after,
            "lower_bound": self.lower_bound,
            "patients_moved": self.patients_moved,
            "total_distance_km": round(self.total_distance_km, 3),
            "max_distance_km": round(self.max_distance_km, 3),
            "surge_opened": int(self.surge.sum()),
            "solve_seconds": round(self.solve_seconds, 4),
            "status": self.status,
        }


def patients_after(sites: Sites, src: IntArray, dst: IntArray, patients: IntArray) -> IntArray:
    """Patients at each row after applying the transfers."""
    out = np.bincount(src, weights=patients, minlength=sites.n)
    inc = np.bincount(dst, weights=patients, minlength=sites.n)
    return (sites.occupied - out + inc).round().astype(np.int64)


def overflow_of(sites: Sites, after: IntArray, surge: IntArray) -> int:
    """Total patients above safe capacity plus opened surge."""
    return int(np.maximum(after - sites.capacity - surge, 0).sum())


def receivers(sites: Sites) -> BoolArray:
    """Rows that may receive: those able to hold their own patients with all surge open."""
    return np.asarray(sites.occupied <= sites.capacity + sites.surge_beds)


def usable_edges(sites: Sites, graph: TransferGraph) -> IntArray:
    """Indices of edges the model may use: receiver end, sender with patients, no self-loops."""
    ok = receivers(sites)[graph.dst] & (sites.occupied[graph.src] > 0) & (graph.src != graph.dst)
    return np.flatnonzero(ok)


def _is_integral(x: FloatArray) -> bool:
    return bool(np.all(np.abs(x - np.round(x)) <= _INTEGRAL_TOL))


@dataclass(frozen=True)
class _StaticModel:
    model: HighsModel
    edges: IntArray
    n_edges: int
    n: int


def _build(sites: Sites, graph: TransferGraph, time_limit: float | None) -> _StaticModel:
    """Assemble the sparse model: columns [x (E), s (N), o (N)], rows [send (N), cap (N)]."""
    n = sites.n
    edges = usable_edges(sites, graph)
    e = int(edges.size)
    src = graph.src[edges]
    dst = graph.dst[edges]
    cap = sites.capacity.astype(np.float64)
    occ = sites.occupied.astype(np.float64)
    ar_e = np.arange(e)
    ar_n = np.arange(n)
    # Row block 1 (send limit): sum_out x_i <= occ_i.
    send = sp.coo_array((np.ones(e), (src, ar_e)), shape=(n, e))
    # Row block 2 (capacity): -out + in - s - o <= cap - occ.
    cap_x = sp.coo_array(
        (
            np.concatenate([-np.ones(e), np.ones(e)]),
            (np.concatenate([src, dst]), np.concatenate([ar_e, ar_e])),
        ),
        shape=(n, e),
    )
    eye = sp.coo_array((np.ones(n), (ar_n, ar_n)), shape=(n, n))
    zero = sp.coo_array((n, n))
    a = sp.block_array([[send, zero, zero], [cap_x, -eye, -eye]], format="csc")
    can_cope = receivers(sites)
    o_upper = np.where(can_cope, 0.0, np.inf)  # hard "no artificial overflow" at receivers
    col_lower = np.zeros(e + 2 * n)
    col_upper = np.concatenate([occ[src], sites.surge_beds.astype(np.float64), o_upper])
    row_lower = np.full(2 * n, -np.inf)
    row_upper = np.concatenate([occ, cap - occ])
    cost = np.concatenate([np.zeros(e + n), np.ones(n)])
    # Each stage's optimum is held while the next is solved, so a stage HiGHS left at its
    # default 0.01% MIP gap would hold a worse plan for good. No gap costs no time measurably:
    # England 2021-22 days given random surge beds and costs solve as fast, to the same plans.
    model = HighsModel(
        cost, col_lower, col_upper, a, row_lower, row_upper, time_limit=time_limit, mip_rel_gap=0.0
    )
    return _StaticModel(model=model, edges=edges, n_edges=e, n=n)


def solve_static(
    sites: Sites, graph: TransferGraph, *, time_limit: float | None = None
) -> StaticPlan:
    """Solve the lexicographic static model with HiGHS, in integer patients.

    Each stage is first solved as an LP (the first stage is a min-cost-flow and so has integral
    vertices); only a stage whose LP answer is fractional is re-solved as a MIP.
    """
    t0 = time.perf_counter()
    m = _build(sites, graph, time_limit)
    e, n = m.n_edges, m.n
    int_cols = np.arange(e + n)
    status = "optimal"

    def run() -> FloatArray:
        nonlocal status
        sol = m.model.solve()
        if not _is_integral(sol.x[: e + n]):
            m.model.set_integer(int_cols)
            sol = m.model.solve()
            m.model.set_integer(int_cols, integer=False)
        if not sol.optimal:
            status = sol.status
        return sol.x

    x = run()
    overflow_opt = float(x[e + n :].sum())
    # Stage 2: keep overflow at its optimum, minimise surge cost.
    # Stage 1 is a min-cost flow, so its optimum is integral. An integral right-hand side keeps
    # the model a network (the new row is one more node collecting the overflow arcs), so the
    # next LP still has integral vertices and rarely needs the MIP fallback.
    m.model.add_row(-np.inf, round(overflow_opt) + 1e-7, np.arange(e + n, e + 2 * n), np.ones(n))
    cost2 = np.concatenate([np.zeros(e), sites.surge_cost, np.zeros(n)])
    if np.any(sites.surge_beds > 0) and np.any(cost2 > 0):
        m.model.set_cost(cost2)
        x = run()
    surge_opt = float(cost2 @ x)
    m.model.add_row(
        -np.inf, surge_opt + 1e-7 * max(1.0, abs(surge_opt)), np.arange(e, e + n), sites.surge_cost
    )
    # Stage 3: minimise patient-distance; a tiny surge-bed cost stops free surge beds being
    # opened for no reason.
    dist_cost = graph.cost[m.edges]
    m.model.set_cost(np.concatenate([dist_cost, np.full(n, SURGE_TIE_BREAK), np.zeros(n)]))
    if e:
        x = run()
    elapsed = time.perf_counter() - t0
    xe = np.round(x[:e])
    surge = np.round(x[e : e + n]).astype(np.int64)
    used = xe > _INTEGRAL_TOL
    src = graph.src[m.edges][used]
    dst = graph.dst[m.edges][used]
    pats = xe[used].astype(np.int64)
    after = patients_after(sites, src, dst, pats)
    overflow_after = overflow_of(sites, after, surge)
    return StaticPlan(
        src=frozen(src, np.int64),
        dst=frozen(dst, np.int64),
        patients=frozen(pats, np.int64),
        distance_km=frozen(graph.distance_km[m.edges][used], np.float64),
        surge=frozen(surge, np.int64),
        overflow_before=sites.overflow_before(),
        overflow_after=overflow_after,
        lower_bound=sites.lower_bound(),
        surge_cost=float(sites.surge_cost @ surge),
        solve_seconds=elapsed,
        status=status,
    )


def lp_overflow_optimum(sites: Sites, graph: TransferGraph) -> float:
    """Optimal overflow of the LP relaxation (fractional patients allowed), in patients."""
    m = _build(sites, graph, None)
    return float(m.model.solve().objective)


def check_static_plan(sites: Sites, graph: TransferGraph, plan: StaticPlan) -> list[str]:
    """Every rule the plan must respect; returns human-readable violations (empty if none)."""
    problems: list[str] = []
    allowed = set(zip(graph.src.tolist(), graph.dst.tolist(), strict=True))
    for a, b, p in zip(plan.src.tolist(), plan.dst.tolist(), plan.patients.tolist(), strict=True):
        if (a, b) not in allowed:
            problems.append(f"transfer {a}->{b} is not an allowed edge")
        if sites.bed_type[a] != sites.bed_type[b]:
            problems.append(f"transfer {a}->{b} changes bed type")
        if p <= 0:
            problems.append(f"transfer {a}->{b} has non-positive patients {p}")
    sent = np.bincount(plan.src, weights=plan.patients, minlength=sites.n)
    received = np.bincount(plan.dst, weights=plan.patients, minlength=sites.n)
    if np.any(sent > sites.occupied):
        problems.append("a site sends more patients than it has")
    if np.any(plan.surge < 0) or np.any(plan.surge > sites.surge_beds):
        problems.append("surge beds opened outside [0, surge_beds]")
    after = patients_after(sites, plan.src, plan.dst, plan.patients)
    limit = sites.capacity + plan.surge
    bad = (received > 0) & (after > limit)
    if np.any(bad):
        problems.append(f"receiving rows {np.flatnonzero(bad).tolist()} end above safe capacity")
    worse = np.maximum(after - limit, 0) > np.maximum(sites.occupied - limit, 0)
    if np.any(worse):
        problems.append(f"rows {np.flatnonzero(worse).tolist()} end with more overflow")
    if overflow_of(sites, after, plan.surge) != plan.overflow_after:
        problems.append("overflow_after does not match the transfers")
    if plan.overflow_after < plan.lower_bound:
        problems.append("overflow_after is below the lower bound")
    return problems
