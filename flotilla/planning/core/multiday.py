"""Multi-day demand redistribution (Parker et al., "Optimal resource and demand redistribution
for healthcare systems under stress from COVID-19").

Notation (``i, j`` sites; ``t, tau`` days ``0..T-1``; all counts in patients):

* ``C_i`` safe capacity; ``P_i`` patients in hospital at the start of day 0;
* ``D_{i,t}`` expected discharges on day ``t`` of the patients present at the start;
* ``A_{i,t}`` (forecast) admissions on day ``t``;
* ``L_k`` length-of-stay survival: the fraction of patients admitted on day ``tau`` still in
  hospital on day ``tau + k`` (``L_0 = 1``);
* decision ``x_{i,j,t} >= 0``: patients of ``A_{i,t}`` redirected to ``j`` on admission;
* without transfers ``N_{i,t} = P_i - sum_{tau<=t} D_{i,tau} + sum_{tau<=t} L_{t-tau} A_{i,tau}``;
* with transfers ``Y_{i,t} = N_{i,t} + sum_{tau<=t} L_{t-tau} (sum_j x_{j,i,tau} - x_{i,j,tau})``;
* overflow ``o_{i,t} >= Y_{i,t} - C_i``, ``o >= 0`` (patient-days when summed over days).

Constraints: ``sum_j x_{i,j,t} <= A_{i,t}`` (only new admissions are redirected);
"no artificial overflow" ``Y_{i,t} <= C_i`` wherever ``N_{i,t} <= C_i``; "no worse overflow"
``Y_{i,t} <= N_{i,t}`` wherever ``N_{i,t} >= C_i``.
Objective, in two phases (``multiday_lp``): phase 1 ``min sum o + alpha sum x`` over every arc
and day, proven optimal by column generation; phase 2 ``min sum o + alpha sum x + beta sum
|x_{i,j,t} - x_{i,j,t-1}|`` (``x_{.,.,-1} = 0``) on the arcs phase 1 uses, with phase 1's
objective held within a relative 1e-6; small ``alpha`` (``transfer_penalty``) and ``beta``
(``change_penalty``).

Robust variant: with ``admissions_low <= A <= admissions`` (e.g. forecast quantiles) the plan
redirects at most ``admissions_low`` and is scored on ``admissions``; as every coefficient of
``A`` in ``Y`` is non-negative, this is the exact worst case of every constraint over the box.

The LP is continuous (patients are expected values over days); it is solved per connected
component of the transfer graph, skipping components that never overflow. A geometric length
of stay is written as a recursion, any other as a convolution.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from flotilla.planning.core._arrays import frozen
from flotilla.planning.core.errors import InputError
from flotilla.planning.core.multiday_lp import (
    SMOOTHING_SLACK,
    LpData,
    LpResult,
    smooth_lp,
    solve_lp,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def survival_from_pmf(pmf: npt.ArrayLike) -> FloatArray:
    """``L_k = P(LOS > k)`` for a length-of-stay pmf over whole days ``1, 2, ...``.

    ``pmf[d-1]`` is the probability of a stay of ``d`` days; a patient with a stay of ``d`` days
    occupies a bed on days ``0..d-1`` after admission. The result is read-only.
    """
    p = np.asarray(pmf, dtype=np.float64)
    if p.ndim != 1 or p.size == 0 or not np.isfinite(p).all() or np.any(p < 0) or p.sum() <= 0:
        raise InputError("length-of-stay pmf must be a non-empty, finite, non-negative vector")
    p = p / p.sum()
    surv = np.concatenate([[1.0], 1.0 - np.cumsum(p)])[:-1]
    return frozen(np.clip(surv, 0.0, 1.0), np.float64)


def geometric_survival(mean_days: float, horizon: int) -> FloatArray:
    """Survival of a geometric length of stay with the given mean (days), ``horizon`` terms."""
    q = 1.0 - 1.0 / max(mean_days, 1.0)
    return frozen(q ** np.arange(horizon), np.float64)


@dataclass(frozen=True)
class MultiDayInstance:
    """Inputs of the multi-day model; see the module docstring for the mathematics."""

    site_id: tuple[str, ...]
    capacity: FloatArray  # C_i, patients
    initial: FloatArray  # P_i, patients
    initial_discharges: FloatArray  # D_{i,t}, patients/day, shape (N, T)
    admissions: FloatArray  # A_{i,t}, patients/day, shape (N, T)
    los_survival: FloatArray  # L_k, fraction, k = 0..K-1
    src: IntArray  # allowed redirect edges i -> j
    dst: IntArray
    distance_km: FloatArray
    admissions_low: FloatArray | None = None  # robust variant, shape (N, T)
    transfer_penalty: float = 1e-3  # alpha, per patient redirected
    change_penalty: float = 1e-3  # beta, per patient of day-to-day change on an edge
    no_artificial_overflow: bool = True
    no_worse_overflow: bool = True
    prune: bool = False  # see ``candidate_edges``: drop redirects that cannot help directly

    def __post_init__(self) -> None:
        object.__setattr__(self, "site_id", tuple(str(s) for s in self.site_id))
        for name, dtype in (
            ("capacity", np.float64),
            ("initial", np.float64),
            ("initial_discharges", np.float64),
            ("admissions", np.float64),
            ("los_survival", np.float64),
            ("src", np.int64),
            ("dst", np.int64),
            ("distance_km", np.float64),
        ):
            object.__setattr__(self, name, frozen(getattr(self, name), dtype))
        if self.admissions_low is not None:
            object.__setattr__(self, "admissions_low", frozen(self.admissions_low, np.float64))
        n = len(self.site_id)
        if self.admissions.ndim != 2 or self.admissions.shape[0] != n:
            raise InputError(f"admissions must have shape ({n}, T)")
        shape = self.admissions.shape
        if self.initial_discharges.shape != shape:
            raise InputError(f"initial_discharges must have shape {shape}")
        if self.admissions_low is not None and (
            self.admissions_low.shape != shape or np.any(self.admissions_low > self.admissions)
        ):
            raise InputError("admissions_low must have the admissions' shape and not exceed it")
        if self.capacity.shape != (n,) or self.initial.shape != (n,):
            raise InputError(f"capacity and initial must have {n} values")
        if not (self.src.shape == self.dst.shape == self.distance_km.shape):
            raise InputError("src, dst and distance_km must have the same length")
        if self.src.size and (self.src.max() >= n or self.dst.max() >= n or self.src.min() < 0):
            raise InputError("edge endpoints must index sites")
        if np.any(self.admissions < 0) or np.any(self.initial < 0):
            raise InputError("admissions and initial patients must be non-negative")

    @property
    def n(self) -> int:
        """Number of sites."""
        return len(self.site_id)

    @property
    def days(self) -> int:
        """Horizon length T in days."""
        return int(self.admissions.shape[1])

    def survival(self, horizon: int) -> FloatArray:
        """``L_0..L_{horizon-1}``, padded with zeros past the given distribution."""
        out = np.zeros(horizon)
        k = min(horizon, self.los_survival.size)
        out[:k] = self.los_survival[:k]
        return out

    def active_without_transfers(self) -> FloatArray:
        """``N_{i,t}``: expected patients in hospital on day ``t`` with no redirection."""
        t_len = self.days
        conv = _causal_convolve(self.admissions, self.survival(t_len))
        return np.asarray(self.initial[:, None] - np.cumsum(self.initial_discharges, axis=1) + conv)


def _causal_convolve(values: FloatArray, kernel: FloatArray) -> FloatArray:
    """``out[:, t] = sum_{tau<=t} kernel[t - tau] * values[:, tau]`` (small T: dense Toeplitz)."""
    t_len = values.shape[1]
    lag = np.arange(t_len)[:, None] - np.arange(t_len)[None, :]
    toeplitz = np.where(lag >= 0, kernel[np.clip(lag, 0, t_len - 1)], 0.0)
    return np.asarray(values @ toeplitz.T)


def _part_objective(d: LpData, arc: IntArray, day: IntArray, x: FloatArray) -> float:
    """``sum o + alpha sum x`` of redirects (arc, day, x) in ``d``: each site's overflow
    ``max(0, N + S - C)`` where the LP has an overflow column, ``S`` the stays the redirects
    add and remove."""
    net = np.zeros((d.n, d.days))
    np.add.at(net, (d.dst[arc], day), x)
    np.add.at(net, (d.src[arc], day), -x)
    load = d.null + _causal_convolve(net, d.survival)
    cap = d.capacity[:, None]
    over = np.maximum(load - cap, 0.0)
    if d.no_artificial_overflow:
        over = np.where(d.null > cap, over, 0.0)
    return float(over.sum() + d.transfer_penalty * x.sum())


def parts_of(d: LpData, arcs: IntArray) -> IntArray:
    """The part of each of these arcs: arcs joined through a site are in the same part."""
    graph = sp.coo_array((np.ones(arcs.size), (d.src[arcs], d.dst[arcs])), shape=(d.n, d.n))
    _, label = connected_components(graph, directed=False)
    return np.asarray(label[d.src[arcs]], dtype=np.int64)


def _smooth_parts(
    d: LpData, res: LpResult, deadline: float | None, recursion: bool
) -> tuple[tuple[IntArray, IntArray, FloatArray], bool]:
    """Phase 2 of one component, part by part: the sites joined by the arcs phase 1 chose fall
    into parts that share no arc and no site, so each part's LP is solved alone with its own
    share of the phase-1 objective held (each part is at its own phase-1 minimum, since a
    better one would have improved phase 1; holding the sum or each part is the same).
    Smallest parts first; a part out of time keeps its phase-1 redirects. Returns the
    redirects (arc, day, patients) in the component's numbering, and whether every part
    finished."""
    chosen = np.unique(res.arc)
    # The slack phase 1's objective is held within, shared among the parts by their share of
    # it: together they keep it within the same slack as one LP would.
    slack = SMOOTHING_SLACK * max(1.0, abs(res.phase1_objective))
    part_of_arc = parts_of(d, chosen)
    parts = np.unique(part_of_arc)
    sizes = np.bincount(part_of_arc)
    out: list[tuple[IntArray, IntArray, FloatArray]] = []
    finished = True
    for part in parts[np.argsort(sizes[parts], kind="stable")]:
        arcs = chosen[part_of_arc == part]
        mine = np.isin(res.arc, arcs)
        phase1 = (res.arc[mine], res.day[mine], res.patients[mine])
        if deadline is not None and time.perf_counter() >= deadline:
            out.append(phase1)
            finished = False
            continue
        sites = np.unique(np.concatenate([d.src[arcs], d.dst[arcs]]))
        local = np.full(d.n, -1, dtype=np.int64)
        local[sites] = np.arange(sites.size)
        sub = LpData(
            capacity=d.capacity[sites],
            null=d.null[sites],
            send_limit=d.send_limit[sites],
            survival=d.survival,
            src=local[d.src[arcs]],
            dst=local[d.dst[arcs]],
            distance_km=d.distance_km[arcs],
            last_day=d.last_day[arcs],
            transfer_penalty=d.transfer_penalty,
            change_penalty=d.change_penalty,
            no_artificial_overflow=d.no_artificial_overflow,
            no_worse_overflow=d.no_worse_overflow,
        )
        position = np.searchsorted(arcs, phase1[0])
        held = _part_objective(sub, position, phase1[1], phase1[2])
        share = held / res.phase1_objective if res.phase1_objective > 0 else 1.0 / parts.size
        smooth = smooth_lp(
            sub,
            np.arange(arcs.size),
            held,
            deadline=deadline,
            recursion=recursion,
            slack=slack * min(max(share, 0.0), 1.0),
        )
        if smooth is None:
            out.append(phase1)
            finished = False
        else:
            out.append((arcs[smooth[0]], smooth[1], smooth[2]))
    arc = np.concatenate([o[0] for o in out]).astype(np.int64)
    day = np.concatenate([o[1] for o in out]).astype(np.int64)
    patients = np.concatenate([o[2] for o in out])
    return (arc, day, patients), finished


@dataclass(frozen=True)
class MultiDayPlan:
    """Redirections ``patients`` on (src, dst, day) plus loads and summary figures."""

    src: IntArray
    dst: IntArray
    day: IntArray
    patients: FloatArray
    distance_km: FloatArray
    active_before: FloatArray  # N_{i,t}
    active_after: FloatArray  # Y_{i,t}
    capacity: FloatArray
    solve_seconds: float
    status: str
    components_solved: int
    variables: int
    objective: float  # sum o + alpha sum x + beta sum |dx| of the plan, every site
    pricing_rounds: int = 0  # phase-1 LP solves (the most any component needed)
    columns_generated: int = 0  # (arc, day) redirect columns the LP held at the end
    arc_days: int = 0  # every (arc, day) of the full LP
    min_reduced_cost: float = 0.0  # smallest over every (arc, day) at the last duals
    phase1_objective: float = 0.0  # sum o + alpha sum x at the phase-1 optimum, every site
    phase1_seconds: float = 0.0  # wall seconds until phase 1 was solved (and proven)

    @property
    def overflow_before(self) -> float:
        """Patient-days above safe capacity with no redirection."""
        return float(np.maximum(self.active_before - self.capacity[:, None], 0).sum())

    @property
    def overflow_after(self) -> float:
        """Patient-days above safe capacity with the plan."""
        return float(np.maximum(self.active_after - self.capacity[:, None], 0).sum())

    @property
    def full_lp_gap(self) -> float:
        """How far, at most, the plan's objective is above the optimum of the full LP (the
        change penalty included): the phase-1 optimum is a lower bound of that optimum when
        phase 1 is proven optimal, so the gap is ``objective - phase1_objective``."""
        return max(self.objective - self.phase1_objective, 0.0)

    def summary(self) -> dict[str, Any]:
        """JSON summary printed by ``flotilla plan --multi-day``."""
        before, after = self.overflow_before, self.overflow_after
        return {
            "overflow_before": round(before, 3),
            "overflow_after": round(after, 3),
            "overflow_reduction": round(1 - after / before, 4) if before > 0 else 0.0,
            "patients_moved": round(float(self.patients.sum()), 3),
            "total_distance_km": round(float((self.patients * self.distance_km).sum()), 3),
            "max_distance_km": round(float(self.distance_km.max()), 3)
            if self.patients.size
            else 0.0,
            "components_solved": self.components_solved,
            "variables": self.variables,
            "pricing_rounds": self.pricing_rounds,
            "columns_generated": self.columns_generated,
            "arc_days": self.arc_days,
            "min_reduced_cost": self.min_reduced_cost,
            "phase1_objective": round(self.phase1_objective, 6),
            "full_lp_gap": round(self.full_lp_gap, 6),
            "solve_seconds": round(self.solve_seconds, 4),
            "status": self.status,
        }


def candidate_edges(inst: MultiDayInstance, null: FloatArray) -> npt.NDArray[np.bool_]:
    """Edges worth a variable when ``inst.prune`` is set, else every non-loop edge.

    Pruning keeps an edge ``i -> j`` only if ``i`` overflows on some day without transfers and
    ``j`` is below capacity on some day. This is a heuristic, not a relaxation: it forbids
    chains (``i`` redirecting to ``j`` while ``j`` redirects its own admissions further to a
    ``k`` out of ``i``'s reach), so its overflow can exceed the full model's; tests check it
    is never better than the full model and always respects the rules.
    """
    keep = inst.src != inst.dst
    if inst.prune:
        cap = inst.capacity[:, None]
        sender = np.asarray((null > cap).any(axis=1), dtype=bool)
        receiver = np.asarray((null < cap).any(axis=1), dtype=bool)
        keep &= sender[inst.src] & receiver[inst.dst]
    return np.asarray(keep)


def solve_multiday(
    inst: MultiDayInstance,
    *,
    time_limit: float | None = None,
    solver: str = "simplex",
    los_recursion: bool = True,
) -> MultiDayPlan:
    """Solve the redistribution LP with HiGHS by column generation (see ``multiday_lp``).

    Every connected component of the transfer graph with an overflow goes into one LP; sites
    elsewhere get no redirection (none can help them). ``time_limit`` bounds the whole solve
    in wall seconds: the plan is then the last restricted optimum (feasible, not proven
    optimal), or no redirection if not even the first one was reached. ``solver`` is passed to
    HiGHS for phase 1 (``"simplex"``; ``"ipm"`` gives duals too, after crossover).
    ``los_recursion=False`` writes the length-of-stay convolution out even when the stay is
    geometric (the recursion is used otherwise; both give the same LP optimum).
    """
    t0 = time.perf_counter()
    deadline = None if time_limit is None else t0 + time_limit
    t_len = inst.days
    null = inst.active_without_transfers()
    edge_ids = np.flatnonzero(candidate_edges(inst, null))
    n = inst.n
    graph = sp.coo_array(
        (np.ones(edge_ids.size), (inst.src[edge_ids], inst.dst[edge_ids])), shape=(n, n)
    )
    n_comp, label = connected_components(graph, directed=False)
    overflowing = (
        np.bincount(label, weights=(null > inst.capacity[:, None]).any(axis=1), minlength=n_comp)
        > 0
    )
    has_edges = np.bincount(label[inst.src[edge_ids]], minlength=n_comp) > 0
    solve = overflowing & has_edges
    sites = np.flatnonzero(solve[label])
    edge_label = label[inst.src[edge_ids]]
    arcs = edge_ids[solve[edge_label]]
    arc_order = np.argsort(label[inst.src[arcs]], kind="stable")
    arcs = arcs[arc_order]
    arc_bounds = np.searchsorted(label[inst.src[arcs]], np.arange(n_comp + 1))
    site_order = np.argsort(label, kind="stable")
    site_bounds = np.searchsorted(label[site_order], np.arange(n_comp + 1))
    local = np.full(n, -1, dtype=np.int64)
    over = null > inst.capacity[:, None]
    last_over = np.where(over.any(axis=1), t_len - 1 - np.argmax(over[:, ::-1], axis=1), -1)
    limit = inst.admissions if inst.admissions_low is None else inst.admissions_low
    surv = inst.survival(t_len)
    found: list[tuple[IntArray, IntArray, FloatArray]] = []
    statuses: set[str] = set()
    rounds = columns = arc_days = lp_columns = 0
    smallest = np.inf
    phase1 = 0.0
    # Largest components first: under a time limit they matter most.
    comps = np.flatnonzero(solve)
    comps = comps[np.argsort(-(site_bounds[comps + 1] - site_bounds[comps]), kind="stable")]
    phase1_done: list[tuple[LpData, LpResult, IntArray]] = []
    for c in comps:
        comp_sites = site_order[site_bounds[c] : site_bounds[c + 1]]
        comp_arcs = arcs[arc_bounds[c] : arc_bounds[c + 1]]
        local[comp_sites] = np.arange(comp_sites.size)
        last_day = np.full(comp_arcs.size, t_len - 1, dtype=np.int64)
        if inst.prune:
            # A sender gains nothing directly by redirecting after its last day of overflow.
            last_day = last_over[inst.src[comp_arcs]].astype(np.int64)
        data = LpData(
            capacity=inst.capacity[comp_sites],
            null=null[comp_sites],
            send_limit=limit[comp_sites],
            survival=surv,
            src=local[inst.src[comp_arcs]],
            dst=local[inst.dst[comp_arcs]],
            distance_km=inst.distance_km[comp_arcs],
            last_day=last_day,
            transfer_penalty=inst.transfer_penalty,
            change_penalty=inst.change_penalty,
            no_artificial_overflow=inst.no_artificial_overflow,
            no_worse_overflow=inst.no_worse_overflow,
        )
        res = solve_lp(data, deadline=deadline, solver=solver, recursion=los_recursion)
        phase1_done.append((data, res, comp_arcs))
        if not res.proven:
            statuses.add(f"not proven optimal: {res.status}")
        rounds = max(rounds, res.rounds)
        columns += res.columns
        arc_days += res.arc_days
        lp_columns += res.lp_columns
        smallest = min(smallest, res.min_reduced_cost)
        phase1 += res.phase1_objective
    phase1_seconds = time.perf_counter() - t0
    # Phase 2, smallest components first, each part keeping its phase-1 plan if out of time.
    unsmoothed = 0
    for data, res, comp_arcs in sorted(phase1_done, key=lambda item: item[0].n):
        arc_day_val = (res.arc, res.day, res.patients)
        if inst.change_penalty > 0 and res.arc.size:
            arc_day_val, finished = _smooth_parts(data, res, deadline, los_recursion)
            unsmoothed += not finished
        found.append((comp_arcs[arc_day_val[0]], arc_day_val[1], arc_day_val[2]))
    if unsmoothed:
        statuses.add(f"smoothing not finished in {unsmoothed} components (phase-1 plan kept)")
    status = "; ".join(["optimal"] if not statuses else sorted(statuses))
    edge = np.concatenate([f[0] for f in found]) if found else np.zeros(0, np.int64)
    day = np.concatenate([f[1] for f in found]) if found else np.zeros(0, np.int64)
    val = np.concatenate([f[2] for f in found]) if found else np.zeros(0)
    order = np.lexsort((day, edge))
    edge, day, val = edge[order], day[order], val[order]
    src = inst.src[edge]
    dst = inst.dst[edge]
    after = active_with_plan(inst, src, dst, day, val)
    overflow_after = float(np.maximum(after - inst.capacity[:, None], 0).sum())
    used, row = np.unique(edge, return_inverse=True)
    dense = np.zeros((used.size, t_len))
    dense[row, day] = val
    change = float(np.abs(np.diff(dense, axis=1, prepend=0.0)).sum())
    outside = np.ones(n, dtype=bool)
    outside[sites] = False
    phase1 += float(np.maximum(null[outside] - inst.capacity[outside, None], 0).sum())
    return MultiDayPlan(
        src=frozen(src, np.int64),
        dst=frozen(dst, np.int64),
        day=frozen(day, np.int64),
        patients=frozen(val, np.float64),
        distance_km=frozen(inst.distance_km[edge], np.float64),
        active_before=frozen(null, np.float64),
        active_after=frozen(after, np.float64),
        capacity=inst.capacity,
        solve_seconds=time.perf_counter() - t0,
        status=status,
        components_solved=int(comps.size),
        variables=lp_columns,
        objective=overflow_after
        + inst.transfer_penalty * float(val.sum())
        + inst.change_penalty * change,
        pricing_rounds=rounds,
        columns_generated=columns,
        arc_days=arc_days,
        min_reduced_cost=float(smallest) if comps.size else 0.0,
        phase1_objective=phase1,
        phase1_seconds=phase1_seconds,
    )


def active_with_plan(
    inst: MultiDayInstance, src: IntArray, dst: IntArray, day: IntArray, patients: FloatArray
) -> FloatArray:
    """``Y_{i,t}`` for a given list of redirections (patients redirected on admission day)."""
    t_len = inst.days
    net = np.zeros((inst.n, t_len))
    np.add.at(net, (dst, day), patients)
    np.add.at(net, (src, day), -patients)
    return inst.active_without_transfers() + _causal_convolve(net, inst.survival(t_len))


def check_multiday_plan(inst: MultiDayInstance, plan: MultiDayPlan, tol: float = 1e-6) -> list[str]:
    """Rules the plan must respect (admissions only, both overflow rules); empty if none fail."""
    problems: list[str] = []
    allowed = set(zip(inst.src.tolist(), inst.dst.tolist(), strict=True))
    for a, b in zip(plan.src.tolist(), plan.dst.tolist(), strict=True):
        if (a, b) not in allowed or a == b:
            problems.append(f"redirect {a}->{b} is not an allowed edge")
    if np.any(plan.patients < -tol):
        problems.append("negative redirection")
    sent = np.zeros((inst.n, inst.days))
    np.add.at(sent, (plan.src, plan.day), plan.patients)
    limit = inst.admissions if inst.admissions_low is None else inst.admissions_low
    if np.any(sent > limit + tol * (1 + limit)):
        problems.append("a site redirects more than that day's admissions")
    null = plan.active_before
    after = plan.active_after
    cap = inst.capacity[:, None]
    scale = tol * (1 + np.abs(cap))
    if inst.no_artificial_overflow and np.any((null <= cap) & (after > cap + scale)):
        problems.append("artificial overflow: a site within capacity is pushed above it")
    if inst.no_worse_overflow and np.any((null >= cap) & (after > null + scale)):
        problems.append("worse overflow: an overflowing site ends with more patients")
    return problems


def residual_discharges(initial: FloatArray, los_survival: FloatArray, days: int) -> FloatArray:
    """Expected discharges per day of the patients present at the start, shape (N, days).

    Assumes the present patients are a stationary census: a patient's elapsed stay is drawn
    from the equilibrium distribution, so the fraction still in hospital ``t + 1`` days later is
    ``R_t = sum_{k > t} L_k / sum_k L_k``. Pass a survival long enough to reach ~0.
    """
    surv = np.asarray(los_survival, dtype=np.float64)
    total = surv.sum()
    if total <= 0:
        raise InputError("length-of-stay survival must have a positive sum")
    tail = np.concatenate([total - np.cumsum(surv), np.zeros(days + 1)])
    remain = np.concatenate([[1.0], tail[:days] / total])  # R_{-1} = 1, R_0 .. R_{days-1}
    frac = remain[:-1] - remain[1:]
    return np.asarray(np.asarray(initial, dtype=np.float64)[:, None] * frac[None, :])
