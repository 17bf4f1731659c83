"""A thin, typed wrapper around highspy for models built from sparse matrices.

Models are ``min c·x  s.t.  row_lower <= A x <= row_upper,  col_lower <= x <= col_upper``
with ``A`` a scipy sparse matrix; no Python loop touches individual variables.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

FloatArray = npt.NDArray[np.float64]
INF = float("inf")

_banner_shown = False


def _new_highs() -> Any:
    """A Highs instance; the first one is made with stdout silenced.

    HiGHS prints a copyright banner on stdout when the first instance is created, which would
    corrupt the JSON that ``flotilla plan`` writes to stdout.
    """
    global _banner_shown
    factory: Any = highspy.Highs
    if _banner_shown:
        return factory()
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            h = factory()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    _banner_shown = True
    return h


@dataclass(frozen=True)
class LpSolution:
    """Primal values, objective and HiGHS model status text of one solve.

    ``row_dual`` holds the constraint duals ``y`` with HiGHS's sign convention (reduced cost
    ``c - A^T y``), empty when HiGHS has none.
    """

    x: FloatArray
    objective: float
    status: str
    optimal: bool
    row_dual: FloatArray = field(default_factory=lambda: np.zeros(0))


class HighsModel:
    """One HiGHS instance holding a model that can be re-solved with new objectives/rows."""

    def __init__(
        self,
        cost: FloatArray,
        col_lower: FloatArray,
        col_upper: FloatArray,
        a: sp.spmatrix | sp.sparray,
        row_lower: FloatArray,
        row_upper: FloatArray,
        *,
        threads: int = 1,
        time_limit: float | None = None,
        solver: str = "choose",
        mip_rel_gap: float | None = None,
    ) -> None:
        self._h: Any = _new_highs()
        self._h.setOptionValue("output_flag", False)
        self._h.setOptionValue("threads", threads)
        self._h.setOptionValue("solver", solver)
        if time_limit is not None:
            self._h.setOptionValue("time_limit", float(time_limit))
        if mip_rel_gap is not None:
            self._h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
        csc = sp.csc_array(a)
        csc.sum_duplicates()
        lp: Any = highspy.HighsLp()
        n_col = int(cost.shape[0])
        lp.num_col_ = n_col
        lp.num_row_ = int(csc.shape[0])
        lp.col_cost_ = np.asarray(cost, dtype=np.float64)
        lp.col_lower_ = np.asarray(col_lower, dtype=np.float64)
        lp.col_upper_ = np.asarray(col_upper, dtype=np.float64)
        lp.row_lower_ = np.asarray(row_lower, dtype=np.float64)
        lp.row_upper_ = np.asarray(row_upper, dtype=np.float64)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
        lp.a_matrix_.index_ = csc.indices.astype(np.int32)
        lp.a_matrix_.value_ = csc.data.astype(np.float64)
        lp.a_matrix_.num_col_ = n_col
        lp.a_matrix_.num_row_ = int(csc.shape[0])
        self._h.passModel(lp)
        self.n_col = n_col
        self.n_row = int(csc.shape[0])

    def set_option(self, name: str, value: float | int | str | bool) -> None:
        """Set a HiGHS option for the next solves."""
        self._h.setOptionValue(name, value)

    def set_time_limit(self, seconds: float | None) -> None:
        """Limit the next solve to ``seconds`` of wall time (``None``: no limit).

        HiGHS compares its limit with the run time of the instance summed over all solves, so
        the limit is set to that sum plus ``seconds``.
        """
        if seconds is None:
            self._h.setOptionValue("time_limit", INF)
        else:
            spent = float(self._h.getRunTime())
            self._h.setOptionValue("time_limit", spent + max(float(seconds), 0.0))

    def add_cols(
        self,
        cost: FloatArray,
        lower: FloatArray,
        upper: FloatArray,
        block: sp.spmatrix | sp.sparray,
    ) -> None:
        """Append columns (``block`` has one column per new variable over the existing rows).

        HiGHS keeps its basis, with the new columns non-basic at a bound, so the next solve
        starts from the previous optimum.
        """
        csc = sp.csc_array(block)
        csc.sum_duplicates()
        n_new = int(csc.shape[1])
        self._h.addCols(
            n_new,
            np.asarray(cost, dtype=np.float64),
            np.asarray(lower, dtype=np.float64),
            np.asarray(upper, dtype=np.float64),
            int(csc.nnz),
            csc.indptr[:-1].astype(np.int32),
            csc.indices.astype(np.int32),
            csc.data.astype(np.float64),
        )
        self.n_col += n_new

    def set_cost(self, cost: FloatArray) -> None:
        """Replace the objective vector."""
        idx = np.arange(self.n_col, dtype=np.int32)
        self._h.changeColsCost(self.n_col, idx, np.asarray(cost, dtype=np.float64))

    def add_row(self, lower: float, upper: float, idx: npt.ArrayLike, val: npt.ArrayLike) -> None:
        """Append one constraint ``lower <= sum(val * x[idx]) <= upper``."""
        i = np.asarray(idx, dtype=np.int32)
        v = np.asarray(val, dtype=np.float64)
        self._h.addRow(float(lower), float(upper), int(i.size), i, v)

    def set_integer(self, idx: npt.ArrayLike, integer: bool = True) -> None:
        """Mark columns ``idx`` as integer (or continuous again)."""
        i = np.asarray(idx, dtype=np.int32)
        kind = highspy.HighsVarType.kInteger if integer else highspy.HighsVarType.kContinuous
        self._h.changeColsIntegrality(int(i.size), i, np.full(i.size, kind))

    def solve(self) -> LpSolution:
        """Run HiGHS and return the primal solution (zeros if none exists)."""
        self._h.run()
        status = self._h.getModelStatus()
        text = str(self._h.modelStatusToString(status))
        optimal = status == highspy.HighsModelStatus.kOptimal
        sol = self._h.getSolution()
        x = np.asarray(sol.col_value, dtype=np.float64)
        if x.shape[0] != self.n_col:
            x = np.zeros(self.n_col)
        obj = float(self._h.getInfo().objective_function_value)
        dual = np.asarray(sol.row_dual, dtype=np.float64) if sol.dual_valid else np.zeros(0)
        return LpSolution(x=x, objective=obj, status=text, optimal=bool(optimal), row_dual=dual)
