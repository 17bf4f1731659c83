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
Objective: ``min sum o + alpha sum x + beta sum |x_{i,j,t} - x_{i,j,t-1}|`` (``x_{.,.,-1} = 0``)
with small ``alpha`` (``transfer_penalty``) and ``beta`` (``change_penalty``).

Robust variant: with ``admissions_low <= A <= admissions`` (e.g. forecast quantiles) the plan
redirects at most ``admissions_low`` and is scored on ``admissions``; as every coefficient of
``A`` in ``Y`` is non-negative, this is the exact worst case of every constraint over the box.

The LP is continuous (patients are expected values over days); it is solved per connected
component of the transfer graph, skipping components that never overflow.
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
from flotilla.planning.core.highs import HighsModel

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
    objective: float  # sum o + alpha sum x + beta sum |dx| over the solved components

    @property
    def overflow_before(self) -> float:
        """Patient-days above safe capacity with no redirection."""
        return float(np.maximum(self.active_before - self.capacity[:, None], 0).sum())

    @property
    def overflow_after(self) -> float:
        """Patient-days above safe capacity with the plan."""
        return float(np.maximum(self.active_after - self.capacity[:, None], 0).sum())

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


def _solve_component(
    inst: MultiDayInstance,
    sites: IntArray,
    edges: IntArray,
    null: FloatArray,
    surv: FloatArray,
    time_limit: float | None,
    solver: str = "choose",
) -> tuple[FloatArray, str, float]:
    """Build and solve the LP restricted to ``sites``; returns ``x`` of shape (len(edges), T)."""
    t_len = inst.days
    n = int(sites.size)
    e = int(edges.size)
    local = np.full(inst.n, -1, dtype=np.int64)
    local[sites] = np.arange(n)
    src = local[inst.src[edges]]
    dst = local[inst.dst[edges]]
    cap = inst.capacity[sites]
    nul = null[sites]
    adm_low = inst.admissions if inst.admissions_low is None else inst.admissions_low
    adm = adm_low[sites]
    # Column blocks: x (e*T, edge-major), net (n*T), o (n*T), d (e*T).
    nx, nn = e * t_len, n * t_len
    x_col = np.arange(nx).reshape(e, t_len)
    net_col = nx + np.arange(nn).reshape(n, t_len)
    o_col = nx + nn + np.arange(nn).reshape(n, t_len)
    d_col = nx + 2 * nn + np.arange(nx).reshape(e, t_len)
    n_cols = 2 * nx + 2 * nn
    rows_i: list[IntArray] = []
    rows_j: list[IntArray] = []
    vals: list[FloatArray] = []
    lo: list[FloatArray] = []
    hi: list[FloatArray] = []
    n_rows = 0

    def add(r: IntArray, c: IntArray, v: FloatArray) -> None:
        rows_i.append(r.ravel())
        rows_j.append(c.ravel())
        vals.append(np.broadcast_to(v, r.shape).ravel().astype(np.float64))

    # (1) net_{i,t} - sum_in x + sum_out x = 0.
    net_row = np.arange(nn).reshape(n, t_len)
    add(net_row, net_col, np.ones((n, t_len)))
    add(net_row[dst], x_col, -np.ones((e, t_len)))
    add(net_row[src], x_col, np.ones((e, t_len)))
    lo.append(np.zeros(nn))
    hi.append(np.zeros(nn))
    n_rows += nn
    # (2) overflow: sum_tau L_{t-tau} net_{i,tau} - o_{i,t} <= C_i - N_{i,t}.
    tt, tau = np.tril_indices(t_len)
    base = n_rows + np.arange(n)[:, None] * t_len
    add(base + tt[None, :], net_col[:, tau], np.broadcast_to(surv[tt - tau], (n, tt.size)))
    add(base + np.arange(t_len)[None, :], o_col, -np.ones((n, t_len)))
    lo.append(np.full(nn, -np.inf))
    hi.append((cap[:, None] - nul).ravel())
    n_rows += nn
    # (3) no worse overflow where N >= C: sum L net <= 0.
    if inst.no_worse_overflow:
        over_i, over_t = np.nonzero(nul >= cap[:, None])
        k = over_i.size
        if k:
            q_all = np.arange(k)
            for t in range(t_len):  # a loop over days, not over variables
                q = q_all[over_t == t]
                if q.size == 0:
                    continue
                taus = np.arange(t + 1)
                add(
                    np.broadcast_to(n_rows + q[:, None], (q.size, t + 1)),
                    net_col[over_i[q]][:, taus],
                    np.broadcast_to(surv[t - taus], (q.size, t + 1)),
                )
            lo.append(np.full(k, -np.inf))
            hi.append(np.zeros(k))
            n_rows += k
    # (4) redirect only that day's admissions: sum_out x <= A_low.
    send_row = n_rows + np.arange(nn).reshape(n, t_len)
    add(send_row[src], x_col, np.ones((e, t_len)))
    lo.append(np.full(nn, -np.inf))
    hi.append(adm.ravel())
    n_rows += nn
    # (5) d >= |x_t - x_{t-1}|, two rows per (edge, day).
    for sign in (1.0, -1.0):
        r = n_rows + np.arange(nx).reshape(e, t_len)
        add(r, x_col, np.full((e, t_len), sign))
        add(r[:, 1:], x_col[:, :-1], np.full((e, t_len - 1), -sign))
        add(r, d_col, -np.ones((e, t_len)))
        lo.append(np.full(nx, -np.inf))
        hi.append(np.zeros(nx))
        n_rows += nx
    a = sp.csc_array(
        (np.concatenate(vals), (np.concatenate(rows_i), np.concatenate(rows_j))),
        shape=(n_rows, n_cols),
    )
    col_lower = np.zeros(n_cols)
    col_lower[nx : nx + nn] = -np.inf
    col_upper = np.full(n_cols, np.inf)
    if inst.no_artificial_overflow:
        # Where N <= C the overflow row with o = 0 is exactly Y <= C.
        col_upper[o_col[nul <= cap[:, None]]] = 0.0
    if inst.prune:
        # A sender gains nothing by redirecting after its last day of overflow.
        over = nul > cap[:, None]
        last = np.where(over.any(axis=1), t_len - 1 - np.argmax(over[:, ::-1], axis=1), -1)
        late = np.arange(t_len)[None, :] > last[src][:, None]
        col_upper[x_col[late]] = 0.0
    cost = np.zeros(n_cols)
    cost[:nx] = inst.transfer_penalty
    cost[o_col.ravel()] = 1.0
    cost[d_col.ravel()] = inst.change_penalty
    model = HighsModel(
        cost,
        col_lower,
        col_upper,
        a,
        np.concatenate(lo),
        np.concatenate(hi),
        time_limit=time_limit,
        solver=solver,
    )
    sol = model.solve()
    x = np.maximum(sol.x[:nx].reshape(e, t_len), 0.0)
    if not sol.optimal:
        # A time-limited or failed solve may hold an infeasible point; no redirection is always
        # feasible and never worse than doing nothing.
        x = np.zeros((e, t_len))
    change = np.abs(np.diff(x, axis=1, prepend=0.0)).sum()
    return x, sol.status, inst.transfer_penalty * x.sum() + inst.change_penalty * change


def solve_multiday(
    inst: MultiDayInstance, *, time_limit: float | None = None, solver: str = "choose"
) -> MultiDayPlan:
    """Solve the redistribution LP component by component with HiGHS.

    ``solver`` is passed to HiGHS (``"choose"``, ``"simplex"``, ``"ipm"``, ``"pdlp"``).
    """
    t0 = time.perf_counter()
    t_len = inst.days
    surv = inst.survival(t_len)
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
    edge_label = label[inst.src[edge_ids]]
    order = np.argsort(edge_label, kind="stable")
    bounds = np.searchsorted(edge_label[order], np.arange(n_comp + 1))
    site_order = np.argsort(label, kind="stable")
    site_bounds = np.searchsorted(label[site_order], np.arange(n_comp + 1))
    out_src: list[IntArray] = []
    out_dst: list[IntArray] = []
    out_day: list[IntArray] = []
    out_val: list[FloatArray] = []
    statuses: set[str] = set()
    solved = 0
    variables = 0
    penalties = 0.0
    for c in np.flatnonzero(overflowing & has_edges):
        comp_sites = site_order[site_bounds[c] : site_bounds[c + 1]]
        comp_edges = edge_ids[order[bounds[c] : bounds[c + 1]]]
        x, status, obj = _solve_component(
            inst, comp_sites, comp_edges, null, surv, time_limit, solver
        )
        penalties += obj
        statuses.add(status)
        solved += 1
        variables += 2 * x.size + 2 * comp_sites.size * t_len
        e_idx, day = np.nonzero(x > 1e-7)
        out_src.append(inst.src[comp_edges[e_idx]])
        out_dst.append(inst.dst[comp_edges[e_idx]])
        out_day.append(day.astype(np.int64))
        out_val.append(x[e_idx, day])
    src = np.concatenate(out_src) if out_src else np.zeros(0, np.int64)
    dst = np.concatenate(out_dst) if out_dst else np.zeros(0, np.int64)
    day = np.concatenate(out_day) if out_day else np.zeros(0, np.int64)
    val = np.concatenate(out_val) if out_val else np.zeros(0)
    after = active_with_plan(inst, src, dst, day, val)
    dist_lookup = dict(
        zip(
            zip(inst.src.tolist(), inst.dst.tolist(), strict=True),
            inst.distance_km.tolist(),
            strict=True,
        )
    )
    dist = np.array([dist_lookup[(a, b)] for a, b in zip(src.tolist(), dst.tolist(), strict=True)])
    status = "optimal" if statuses <= {"Optimal"} else ",".join(sorted(statuses))
    return MultiDayPlan(
        src=frozen(src, np.int64),
        dst=frozen(dst, np.int64),
        day=frozen(day, np.int64),
        patients=frozen(val, np.float64),
        distance_km=frozen(dist, np.float64),
        active_before=frozen(null, np.float64),
        active_after=frozen(after, np.float64),
        capacity=inst.capacity,
        solve_seconds=time.perf_counter() - t0,
        status=status,
        components_solved=solved,
        variables=variables,
        objective=float(np.maximum(after - inst.capacity[:, None], 0).sum()) + penalties,
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
