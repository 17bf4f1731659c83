"""The multi-day redistribution LP, built sparse and solved by column generation.

Notation as in ``multiday`` (and docs/planning.md). The LP holds one connected group of sites
(numbered ``0..n-1`` here) and their arcs ``a = (src_a -> dst_a)``. Its variables:

* ``S_{i,t}`` (free): the length-of-stay weighted sum of net redirects into ``i``, so that
  ``Y_{i,t} = N_{i,t} + S_{i,t}``;
* ``o_{i,t} >= 0`` overflow, only where it can be positive (``N_{i,t} > C_i``, or anywhere
  when the no-artificial-overflow rule is off);
* ``x_{a,t} >= 0`` redirects, generated as columns;
* for a general length of stay, ``net_{i,t}`` (free): net redirects into ``i`` on day ``t``.

Rows:

* flow ``(i, t)``: geometric stay (``L_k = q^k``) ``S_{i,t} - q S_{i,t-1} + out - in = 0``, the
  recursion, 2 non-zeros per site-day; otherwise ``net_{i,t} + out - in = 0`` plus the
  convolution row ``S_{i,t} - sum_{tau<=t} L_{t-tau} net_{i,tau} = 0``;
* send ``(i, t)``: ``sum_{a out of i} x_{a,t} <= A_{i,t}`` (``admissions_low`` if given);
* overflow: ``S_{i,t} - o_{i,t} <= C_i - N_{i,t}``;
* the rules are bounds on ``S``: ``S_{i,t} <= C_i - N_{i,t}`` where ``N_{i,t} <= C_i`` (no
  artificial overflow; ``o`` is not needed there), ``S_{i,t} <= 0`` where ``N_{i,t} >= C_i``
  (no worse overflow).

Phase 1 minimises ``sum o + alpha sum x`` over every arc and day. It starts with each
overflowing sender's few nearest receivers and prices the rest with the duals ``y`` of an
optimal restricted LP: a redirect ``x_{a,t}`` has reduced cost
``alpha - (y_flow[src,t] - y_flow[dst,t] + y_send[src,t])``. Columns with a negative reduced
cost are added and the LP is re-solved from its basis; when none is below ``-PRICING_TOL``
the restricted optimum is optimal for the full LP (LP duality: the duals are feasible for the
full dual). Every round's optimum is a feasible plan, so a time limit keeps the last one.

Phase 2 (``beta > 0``) minimises ``sum o + alpha sum x + beta sum |x_{a,t} - x_{a,t-1}|``
over the arcs phase 1 uses (all their days), with ``sum o + alpha sum x`` held within
``SMOOTHING_SLACK`` (relative) of the phase-1 optimum, by interior point and crossover.

Whether or not phase 2 finishes, the full LP's optimum (with the change penalty, over every
arc) lies between the phase-1 optimum (every plan's full objective is at least its phase-1
objective, which is at least the phase-1 optimum) and the plan's own full objective: the
plan's ``full_lp_gap``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from flotilla.planning.core.highs import HighsModel, LpSolution

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: A column prices out (cannot improve the LP) when its reduced cost is at least ``-PRICING_TOL``
#: (HiGHS's default dual feasibility tolerance is 1e-7).
PRICING_TOL = 1e-7
#: Phase 2 keeps ``sum o + alpha sum x <= z1 + SMOOTHING_SLACK * max(1, |z1|)``.
SMOOTHING_SLACK = 1e-6
#: Each overflowing sender starts with arcs to its this many nearest receivers with room.
NEAREST = 3
#: Columns added per pricing round: at most this many per LP site-day (most negative first).
NEW_PER_SITE_DAY = 0.3
#: Re-solve with primal simplex after a round that adds fewer columns than this, else dual.
PRIMAL_BELOW = 10_000
#: Pricing works through the arcs in chunks of this many (bounds the memory of the reduced costs).
PRICING_CHUNK = 65536


@dataclass(frozen=True)
class LpData:
    """One LP's sites and arcs in local numbering (sites ``0..n-1``)."""

    capacity: FloatArray  # C_i, (n,)
    null: FloatArray  # N_{i,t}, (n, T)
    send_limit: FloatArray  # A_{i,t} or admissions_low, (n, T)
    survival: FloatArray  # L_0..L_{T-1}
    src: IntArray  # arcs, (E,)
    dst: IntArray
    distance_km: FloatArray
    last_day: IntArray  # an arc carries redirects on days 0..last_day only, (E,)
    transfer_penalty: float
    change_penalty: float
    no_artificial_overflow: bool
    no_worse_overflow: bool

    @property
    def n(self) -> int:
        """Number of sites."""
        return int(self.capacity.size)

    @property
    def days(self) -> int:
        """Horizon T."""
        return int(self.null.shape[1])


@dataclass(frozen=True)
class LpResult:
    """Redirects ``x`` on (arc, day) and the figures of the optimality proof."""

    arc: IntArray
    day: IntArray
    patients: FloatArray
    proven: bool  # phase 1 optimal over every arc and day
    status: str
    rounds: int  # phase-1 LP solves
    columns: int  # (arc, day) redirect columns generated
    arc_days: int  # every (arc, day) the full LP has
    min_reduced_cost: float  # smallest reduced cost over every (arc, day) at the last duals
    phase1_objective: float  # sum o + alpha sum x of the last restricted optimum (this LP)
    lp_columns: int  # columns of the last phase-1 LP


def geometric_ratio(survival: FloatArray) -> float | None:
    """``q`` when ``L_k = q^k`` for every ``k`` given (a geometric length of stay), else None."""
    t_len = int(survival.size)
    if t_len <= 1:
        return 0.0
    q = float(survival[1])
    if np.allclose(survival, q ** np.arange(t_len), rtol=1e-9, atol=1e-12):
        return q
    return None


@dataclass(frozen=True)
class _Layout:
    """Where the static block's columns and rows are."""

    n_static_cols: int
    n_rows: int
    send_row0: int
    o_rows: IntArray  # (i*T + t) of each overflow variable, in column order
    o_col0: int


def _static_block(
    d: LpData, q: float | None
) -> tuple[sp.coo_array, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, _Layout]:
    """Columns S (and o, net) with their rows; the x columns are added separately."""
    n, t_len = d.n, d.days
    nt = n * t_len
    cap = d.capacity[:, None]
    idx = np.arange(nt).reshape(n, t_len)
    # S bounds carry both rules.
    s_upper = np.full((n, t_len), np.inf)
    if d.no_artificial_overflow:
        s_upper = np.where(d.null <= cap, cap - d.null, s_upper)
    if d.no_worse_overflow:
        s_upper = np.where(d.null >= cap, np.minimum(s_upper, 0.0), s_upper)
    has_o = (d.null > cap) if d.no_artificial_overflow else np.ones((n, t_len), dtype=bool)
    o_rows = idx[has_o].astype(np.int64)
    k = int(o_rows.size)
    o_col0 = nt
    send_row0 = nt
    over_row0 = 2 * nt
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    vals: list[FloatArray] = []
    # Flow rows.
    if q is not None:
        rows += [idx.ravel(), idx[:, 1:].ravel()]
        cols += [idx.ravel(), idx[:, :-1].ravel()]
        vals += [np.ones(nt), np.full(n * (t_len - 1), -q)]
        n_cols = nt + k
        n_rows = 2 * nt + k
    else:
        net_col0 = nt + k
        los_row0 = 2 * nt + k
        rows.append(idx.ravel())
        cols.append(net_col0 + idx.ravel())
        vals.append(np.ones(nt))
        # S_{i,t} - sum_tau L_{t-tau} net_{i,tau} = 0.
        rows.append(los_row0 + idx.ravel())
        cols.append(idx.ravel())
        vals.append(np.ones(nt))
        tt, tau = np.tril_indices(t_len)
        rows.append((los_row0 + idx[:, tt]).ravel())
        cols.append((net_col0 + idx[:, tau]).ravel())
        vals.append(np.broadcast_to(-d.survival[tt - tau], (n, tt.size)).ravel())
        n_cols = 2 * nt + k
        n_rows = 3 * nt + k
    # Overflow rows: S - o <= C - N.
    rows += [over_row0 + np.arange(k), over_row0 + np.arange(k)]
    cols += [o_rows, o_col0 + np.arange(k)]
    vals += [np.ones(k), -np.ones(k)]
    a = sp.coo_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_rows, n_cols),
    )
    cost = np.zeros(n_cols)
    cost[o_col0 : o_col0 + k] = 1.0
    lower = np.full(n_cols, -np.inf)
    lower[o_col0 : o_col0 + k] = 0.0
    upper = np.full(n_cols, np.inf)
    upper[:nt] = s_upper.ravel()
    row_lo = np.zeros(n_rows)
    row_hi = np.zeros(n_rows)
    row_lo[send_row0 : send_row0 + nt] = -np.inf
    row_hi[send_row0 : send_row0 + nt] = d.send_limit.ravel()
    row_lo[over_row0 : over_row0 + k] = -np.inf
    row_hi[over_row0 : over_row0 + k] = (cap - d.null).ravel()[o_rows]
    layout = _Layout(
        n_static_cols=n_cols, n_rows=n_rows, send_row0=send_row0, o_rows=o_rows, o_col0=o_col0
    )
    return a, cost, lower, upper, row_lo, row_hi, layout


def _x_block(d: LpData, lay: _Layout, arc: IntArray, day: IntArray, n_rows: int) -> sp.csc_array:
    """Columns of the redirects ``x_{arc,day}``: +1 in the sender's flow and send rows, -1 in
    the receiver's flow row."""
    t_len = d.days
    m = int(arc.size)
    fs = d.src[arc] * t_len + day
    fd = d.dst[arc] * t_len + day
    r = np.stack([fs, fd, lay.send_row0 + fs], axis=1).ravel()
    v = np.tile(np.array([1.0, -1.0, 1.0]), m)
    ptr = np.arange(0, 3 * m + 1, 3)
    return sp.csc_array((v, r, ptr), shape=(n_rows, m))


def _reduced_costs(d: LpData, lay: _Layout, dual: FloatArray, lo: int, hi: int) -> FloatArray:
    """Reduced costs of every ``x_{a,t}`` for arcs ``lo..hi-1``, shape (hi - lo, T)."""
    n, t_len = d.n, d.days
    yf = dual[: n * t_len].reshape(n, t_len)
    ys = dual[lay.send_row0 : lay.send_row0 + n * t_len].reshape(n, t_len)
    s, r = d.src[lo:hi], d.dst[lo:hi]
    return np.asarray(d.transfer_penalty - (yf[s] - yf[r] + ys[s]))


def _first_columns(d: LpData) -> tuple[IntArray, IntArray]:
    """Each overflowing sender's arcs to its ``NEAREST`` nearest receivers with room, on the
    days up to its last day of overflow."""
    cap = d.capacity[:, None]
    over: BoolArray = np.asarray(d.null > cap)
    t_len = d.days
    sender: BoolArray = np.asarray(over.any(axis=1))
    last_over = np.where(sender, t_len - 1 - np.argmax(over[:, ::-1], axis=1), -1)
    room: BoolArray = np.asarray((d.null < cap).any(axis=1))
    useful = np.flatnonzero(sender[d.src] & room[d.dst])
    order = useful[np.lexsort((d.distance_km[useful], d.src[useful]))]
    s = d.src[order]
    first = np.searchsorted(s, s, side="left")
    chosen = order[np.arange(order.size) - first < NEAREST]
    last = np.minimum(last_over[d.src[chosen]], d.last_day[chosen])
    reps = np.maximum(last + 1, 0)
    arc = np.repeat(chosen, reps)
    start = np.repeat(np.cumsum(reps) - reps, reps)
    day = np.arange(arc.size) - start
    return arc.astype(np.int64), day.astype(np.int64)


def _price(
    d: LpData, lay: _Layout, dual: FloatArray, in_model: BoolArray, limit: int
) -> tuple[IntArray, IntArray, float]:
    """Up to ``limit`` most negative (arc, day) columns not yet in the model, and the smallest
    reduced cost over every (arc, day)."""
    t_len = d.days
    found_arc: list[IntArray] = []
    found_day: list[IntArray] = []
    found_rc: list[FloatArray] = []
    smallest = np.inf
    days = np.arange(t_len)[None, :]
    for lo in range(0, int(d.src.size), PRICING_CHUNK):
        hi = min(lo + PRICING_CHUNK, int(d.src.size))
        rc = _reduced_costs(d, lay, dual, lo, hi)
        rc[days > d.last_day[lo:hi, None]] = np.inf
        if rc.size:
            smallest = min(smallest, float(rc.min()))
        rc[in_model[lo:hi]] = np.inf
        a, t = np.nonzero(rc < -PRICING_TOL)
        found_arc.append(a + lo)
        found_day.append(t)
        found_rc.append(rc[a, t])
    arc = np.concatenate(found_arc) if found_arc else np.zeros(0, np.int64)
    day = np.concatenate(found_day) if found_day else np.zeros(0, np.int64)
    rcs = np.concatenate(found_rc) if found_rc else np.zeros(0)
    if arc.size > limit:
        keep = np.argpartition(rcs, limit)[:limit]
        arc, day = arc[keep], day[keep]
    return arc.astype(np.int64), day.astype(np.int64), smallest


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(deadline - time.perf_counter(), 0.0)


def solve_lp(
    d: LpData, *, deadline: float | None = None, solver: str = "simplex", recursion: bool = True
) -> LpResult:
    """Phase 1 by column generation; see the module docstring.

    ``recursion=False`` uses the convolution rows even for a geometric stay (for comparison).
    """
    t_len = d.days
    q = geometric_ratio(d.survival) if recursion else None
    a, cost, lower, upper, row_lo, row_hi, lay = _static_block(d, q)
    arc, day = _first_columns(d)
    x_block = _x_block(d, lay, arc, day, lay.n_rows)
    model = HighsModel(
        np.concatenate([cost, np.full(arc.size, d.transfer_penalty)]),
        np.concatenate([lower, np.zeros(arc.size)]),
        np.concatenate([upper, np.full(arc.size, np.inf)]),
        sp.hstack([sp.csc_array(a), x_block], format="csc"),
        row_lo,
        row_hi,
        solver=solver,
    )
    in_model = np.zeros((int(d.src.size), t_len), dtype=bool)
    in_model[arc, day] = True
    col_arc, col_day = [arc], [day]
    arc_days = int(np.minimum(d.last_day + 1, t_len).clip(0).sum())
    limit = max(1000, int(NEW_PER_SITE_DAY * d.n * t_len))
    best: LpSolution | None = None
    best_cols = 0
    status = "not solved"
    smallest = -np.inf
    rounds = 0
    proven = False
    while True:
        left = _remaining(deadline)
        if left is not None and left <= 0:
            status = "Time limit reached"
            break
        model.set_time_limit(left)
        sol = model.solve()
        rounds += 1
        if not sol.optimal or sol.row_dual.size == 0:
            status = sol.status
            break
        best = sol
        best_cols = sum(c.size for c in col_arc)
        new_arc, new_day, smallest = _price(d, lay, sol.row_dual, in_model, limit)
        if new_arc.size == 0:
            proven = smallest >= -PRICING_TOL
            status = "Optimal" if proven else "pricing stalled"
            break
        # The basis stays primal feasible when columns are added, and primal simplex goes on
        # from it. Measured on the scale benchmark: after a round of tens of thousands of
        # columns (a component of thousands of sites) dual simplex re-solves faster, its
        # iterations being far cheaper; after smaller rounds primal is faster.
        model.set_option("simplex_strategy", 4 if new_arc.size < PRIMAL_BELOW else 1)
        in_model[new_arc, new_day] = True
        col_arc.append(new_arc)
        col_day.append(new_day)
        model.add_cols(
            np.full(new_arc.size, d.transfer_penalty),
            np.zeros(new_arc.size),
            np.full(new_arc.size, np.inf),
            _x_block(d, lay, new_arc, new_day, lay.n_rows),
        )
    all_arc = np.concatenate(col_arc)
    all_day = np.concatenate(col_day)
    if best is None:
        # Not even the first restricted LP was solved: no redirection is always feasible.
        empty = np.zeros(0, np.int64)
        return LpResult(
            arc=empty,
            day=empty.copy(),
            patients=np.zeros(0),
            proven=False,
            status=status,
            rounds=rounds,
            columns=int(all_arc.size),
            arc_days=arc_days,
            min_reduced_cost=float("nan"),
            phase1_objective=float(np.maximum(d.null - d.capacity[:, None], 0).sum()),
            lp_columns=model.n_col,
        )
    # The last optimum may predate the columns of an unfinished round (they are zero there).
    xval = best.x[lay.n_static_cols : lay.n_static_cols + best_cols]
    used = xval > 1e-9
    return LpResult(
        arc=all_arc[:best_cols][used],
        day=all_day[:best_cols][used],
        patients=np.maximum(xval[used], 0.0),
        proven=proven,
        status=status,
        rounds=rounds,
        columns=int(all_arc.size),
        arc_days=arc_days,
        min_reduced_cost=float(smallest),
        phase1_objective=float(best.objective),
        lp_columns=model.n_col,
    )


def _slack(z1: float, slack: float | None) -> float:
    return SMOOTHING_SLACK * max(1.0, abs(z1)) if slack is None else slack


def smooth_lp(
    d: LpData,
    arcs: IntArray,
    z1: float,
    *,
    deadline: float | None = None,
    recursion: bool = True,
    slack: float | None = None,
) -> tuple[IntArray, IntArray, FloatArray] | None:
    """Phase 2 on ``arcs`` (all their days): least ``sum o + alpha sum x + beta sum |dx|`` with
    ``sum o + alpha sum x`` held within ``slack`` (default ``SMOOTHING_SLACK``, relative) of the
    phase-1 optimum ``z1``.

    Returns the redirects (arc, day, patients), or None if HiGHS does not finish in time.
    """
    t_len = d.days
    q = geometric_ratio(d.survival) if recursion else None
    a, cost, lower, upper, row_lo, row_hi, lay = _static_block(d, q)
    m = int(arcs.size)
    arc = np.repeat(arcs, t_len)
    day = np.tile(np.arange(t_len), m)
    nx = int(arc.size)
    x_block = _x_block(d, lay, arc, day, lay.n_rows)
    x0 = lay.n_static_cols
    d0 = x0 + nx
    n_cols = d0 + nx
    # d_{a,t} >= |x_{a,t} - x_{a,t-1}| (x_{a,-1} = 0): two rows per (arc, day).
    xi = np.arange(nx).reshape(m, t_len)
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    vals: list[FloatArray] = []
    for k, sign in enumerate((1.0, -1.0)):
        r = k * nx + xi
        rows += [r.ravel(), r[:, 1:].ravel(), r.ravel()]
        cols += [x0 + xi.ravel(), x0 + xi[:, :-1].ravel(), d0 + xi.ravel()]
        vals += [np.full(nx, sign), np.full(m * (t_len - 1), -sign), -np.ones(nx)]
    k_o = int(lay.o_rows.size)
    # The phase-1 objective row: sum o + alpha sum x <= z1 + slack.
    rows += [np.full(k_o, 2 * nx), np.full(nx, 2 * nx)]
    cols += [lay.o_col0 + np.arange(k_o), x0 + np.arange(nx)]
    vals += [np.ones(k_o), np.full(nx, d.transfer_penalty)]
    extra = sp.coo_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(2 * nx + 1, n_cols),
    )
    top = sp.hstack([sp.csc_array(a), x_block, sp.csc_array((lay.n_rows, nx))], format="csc")
    matrix = sp.vstack([top, sp.csc_array(extra)], format="csc")
    x_upper = np.where(day <= d.last_day[arc], np.inf, 0.0)
    model = HighsModel(
        np.concatenate([cost, np.full(nx, d.transfer_penalty), np.full(nx, d.change_penalty)]),
        np.concatenate([lower, np.zeros(2 * nx)]),
        np.concatenate([upper, x_upper, np.full(nx, np.inf)]),
        matrix,
        np.concatenate([row_lo, np.full(2 * nx + 1, -np.inf)]),
        np.concatenate([row_hi, np.zeros(2 * nx), [z1 + _slack(z1, slack)]]),
        time_limit=_remaining(deadline),
        solver="ipm",
    )
    # Interior point then crossover to a vertex (few redirects, none tiny): on the 1,000-site
    # metro instance's largest component 5 s against 14 s for simplex, the same optimum.
    model.set_option("run_crossover", "on")
    sol = model.solve()
    if not sol.optimal:
        return None
    xval = sol.x[x0 : x0 + nx]
    used = xval > 1e-9
    return arc[used], day[used], np.maximum(xval[used], 0.0)
