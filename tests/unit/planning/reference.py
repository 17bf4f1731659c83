"""Slow, obviously correct reference formulations, for tests only.

Dense models written constraint by constraint with Python loops and solved with scipy
(``scipy.optimize.milp`` / ``linprog``), independent of the sparse builders in ``static`` and
``multiday``. Only use on small instances (tens of sites).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from flotilla.planning.core.multiday import MultiDayInstance
from flotilla.planning.core.static import Sites, TransferGraph

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ReferenceStatic:
    """An optimal plan in whole patients and the values of the three lexicographic stages."""

    overflow: float
    surge_cost: float
    distance: float
    transfers: FloatArray  # (N, N) patients from row i to row j
    surge: FloatArray


def reference_static(sites: Sites, graph: TransferGraph) -> ReferenceStatic:
    """Solve the static model densely: variables x[i, j] for every ordered pair, s_i, o_i.

    Each stage is solved with no relative MIP gap (scipy's default lets HiGHS stop 0.01% above
    the optimum, which the next stage would then hold). HiGHS takes a value within 1e-6 of a
    whole number for integral, so its answer is rounded to whole patients and beds, and every
    stage's value is that plan's, never the solver's near-integral point's: 0.999999 patients
    moved 34.229196 km is no plan, yet it read as 34.229162 patient-km.
    """
    n = sites.n
    cap = [int(c) for c in sites.capacity]
    occ = [int(o) for o in sites.occupied]
    surge = [int(s) for s in sites.surge_beds]
    dist = np.zeros((n, n))
    allowed = np.zeros((n, n), dtype=bool)
    for a, b, c in zip(graph.src.tolist(), graph.dst.tolist(), graph.cost.tolist(), strict=True):
        allowed[a, b] = True
        dist[a, b] = c
    nx = n * n
    nv = nx + 2 * n

    def xi(i: int, j: int) -> int:
        return i * n + j

    def si(i: int) -> int:
        return nx + i

    def oi(i: int) -> int:
        return nx + n + i

    lower = np.zeros(nv)
    upper = np.zeros(nv)
    for i in range(n):
        can_cope = occ[i] <= cap[i] + surge[i]
        for j in range(n):
            receiver_ok = occ[j] <= cap[j] + surge[j]
            if i != j and allowed[i, j] and receiver_ok:
                upper[xi(i, j)] = occ[i]
        upper[si(i)] = surge[i]
        upper[oi(i)] = 0 if can_cope else np.inf
    rows: list[FloatArray] = []
    lo: list[float] = []
    hi: list[float] = []
    for i in range(n):
        # Send only the patients the site has.
        r = np.zeros(nv)
        for j in range(n):
            r[xi(i, j)] = 1
        rows.append(r)
        lo.append(-np.inf)
        hi.append(occ[i])
        # occ - out + in - s - o <= cap.
        r = np.zeros(nv)
        for j in range(n):
            r[xi(i, j)] -= 1
            r[xi(j, i)] += 1
        r[si(i)] = -1
        r[oi(i)] = -1
        rows.append(r)
        lo.append(-np.inf)
        hi.append(cap[i] - occ[i])
    integrality = np.zeros(nv)
    integrality[: nx + n] = 1
    c_over = np.zeros(nv)
    c_over[nx + n :] = 1
    c_surge = np.zeros(nv)
    c_surge[nx : nx + n] = sites.surge_cost
    c_dist = np.zeros(nv)
    c_dist[:nx] = dist.ravel()

    def whole_plan(point: FloatArray) -> FloatArray:
        """The solver's point as whole patients and beds, with the overflow that plan leaves."""
        x = point.copy()
        x[: nx + n] = np.round(x[: nx + n])
        moved = x[:nx].reshape(n, n)
        after = np.array(occ) - moved.sum(axis=1) + moved.sum(axis=0)
        over = np.maximum(after - np.array(cap) - x[nx : nx + n], 0.0)
        if np.any(moved.sum(axis=1) > np.array(occ)) or np.any(over > upper[nx + n :]):
            raise RuntimeError("reference static plan breaks a rule once rounded")
        x[nx + n :] = over
        return x

    results: list[float] = []
    x = np.zeros(nv)
    for c in (c_over, c_surge, c_dist):
        res = milp(
            c,
            constraints=LinearConstraint(np.array(rows), lo, hi),
            integrality=integrality,
            bounds=Bounds(lower, upper),
            options={"mip_rel_gap": 0.0},
        )
        if not res.success:
            raise RuntimeError(f"reference static model failed: {res.message}")
        x = whole_plan(np.asarray(res.x))
        value = float(c @ x)
        results.append(value)
        # Hold this stage at the whole plan's value while the next one is minimised. The plan
        # meets it exactly; the slack only absorbs rounding in the sum.
        rows.append(c.copy())
        lo.append(-np.inf)
        hi.append(value + 1e-9 * max(1.0, abs(value)))
    return ReferenceStatic(
        overflow=results[0],
        surge_cost=results[1],
        distance=results[2],
        transfers=x[:nx].reshape(n, n),
        surge=x[nx : nx + n],
    )


def reference_lp_overflow(sites: Sites, graph: TransferGraph) -> float:
    """LP relaxation optimum of the static overflow with ``linprog`` on the dense model."""
    n = sites.n
    cap = sites.capacity.astype(float)
    occ = sites.occupied.astype(float)
    surge = sites.surge_beds.astype(float)
    cope = occ <= cap + surge
    allowed = np.zeros((n, n), dtype=bool)
    allowed[graph.src, graph.dst] = True
    np.fill_diagonal(allowed, False)
    allowed[:, ~cope] = False
    nx = n * n
    c = np.concatenate([np.zeros(nx + n), np.ones(n)])
    a_ub = np.zeros((2 * n, nx + 2 * n))
    b_ub = np.zeros(2 * n)
    for i in range(n):
        for j in range(n):
            a_ub[i, i * n + j] = 1
            a_ub[n + i, i * n + j] -= 1
            a_ub[n + i, j * n + i] += 1
        a_ub[n + i, nx + i] = -1
        a_ub[n + i, nx + n + i] = -1
        b_ub[i] = occ[i]
        b_ub[n + i] = cap[i] - occ[i]
    bounds: list[tuple[float, float | None]] = [
        (0.0, float(occ[k // n]) if allowed[k // n, k % n] else 0.0) for k in range(nx)
    ]
    bounds += [(0.0, float(s)) for s in surge]
    bounds += [(0.0, 0.0 if cope[i] else None) for i in range(n)]
    res = linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")
    if not res.success:
        raise RuntimeError(f"reference LP failed: {res.message}")
    return float(res.fun)


@dataclass(frozen=True)
class ReferenceMultiDay:
    """Optimal objective and overflow (patient-days) of the dense multi-day model."""

    objective: float
    overflow: float
    sent: FloatArray  # (N, N, T)


def reference_multiday(inst: MultiDayInstance) -> ReferenceMultiDay:
    """Parker et al. redistribution LP, dense: sent[i, j, t] for every pair and day."""
    n, t_len = int(inst.admissions.shape[0]), int(inst.admissions.shape[1])
    surv = inst.survival(t_len)
    null = inst.active_without_transfers()
    cap = inst.capacity.astype(float)
    allowed = np.zeros((n, n), dtype=bool)
    allowed[inst.src, inst.dst] = True
    np.fill_diagonal(allowed, False)
    n_sent = n * n * t_len
    n_over = n * t_len
    n_smooth = n * n * t_len  # |sent[t] - sent[t-1]| with sent[-1] = 0
    nv = n_sent + n_over + n_smooth

    def s_idx(i: int, j: int, t: int) -> int:
        return (i * n + j) * t_len + t

    def o_idx(i: int, t: int) -> int:
        return n_sent + i * t_len + t

    def d_idx(i: int, j: int, t: int) -> int:
        return n_sent + n_over + (i * n + j) * t_len + t

    c = np.zeros(nv)
    c[:n_sent] = inst.transfer_penalty
    c[n_sent : n_sent + n_over] = 1.0
    c[n_sent + n_over :] = inst.change_penalty
    bounds: list[tuple[float, float | None]] = []
    for i in range(n):
        for j in range(n):
            for _ in range(t_len):
                bounds.append((0.0, None if allowed[i, j] else 0.0))
    bounds += [(0.0, None)] * (n_over + n_smooth)
    rows: list[FloatArray] = []
    rhs: list[float] = []

    def active_row(i: int, t: int) -> FloatArray:
        # Coefficients of active[i, t] - null[i, t] on the sent variables.
        r = np.zeros(nv)
        for tau in range(t + 1):
            for k in range(n):
                r[s_idx(k, i, tau)] += surv[t - tau]
                r[s_idx(i, k, tau)] -= surv[t - tau]
        return r

    for i in range(n):
        for t in range(t_len):
            act = active_row(i, t)
            # overflow: active - cap <= o
            r = act.copy()
            r[o_idx(i, t)] = -1
            rows.append(r)
            rhs.append(cap[i] - null[i, t])
            if inst.no_artificial_overflow and null[i, t] <= cap[i]:
                rows.append(act.copy())
                rhs.append(cap[i] - null[i, t])
            if inst.no_worse_overflow and null[i, t] >= cap[i]:
                rows.append(act.copy())
                rhs.append(0.0)
            # Redirect only that day's admissions.
            r = np.zeros(nv)
            for j in range(n):
                r[s_idx(i, j, t)] = 1
            rows.append(r)
            rhs.append(float(inst.admissions[i, t]))
            for j in range(n):
                for sign in (1.0, -1.0):
                    r = np.zeros(nv)
                    r[s_idx(i, j, t)] = sign
                    if t > 0:
                        r[s_idx(i, j, t - 1)] = -sign
                    r[d_idx(i, j, t)] = -1
                    rows.append(r)
                    rhs.append(0.0)
    res = linprog(c, A_ub=np.array(rows), b_ub=np.array(rhs), bounds=bounds, method="highs")
    if not res.success:
        raise RuntimeError(f"reference multi-day LP failed: {res.message}")
    x = np.asarray(res.x)
    return ReferenceMultiDay(
        objective=float(res.fun),
        overflow=float(x[n_sent : n_sent + n_over].sum()),
        sent=x[:n_sent].reshape(n, n, t_len),
    )
