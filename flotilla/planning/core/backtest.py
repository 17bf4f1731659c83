"""Rolling-origin backtest of the forecasters, scored per horizon."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from flotilla.planning.core.forecast import (
    DEFAULT_CONFIG,
    ForecastConfig,
    candidate_paths,
    fill_gaps,
    forecast_at_origin,
)
from flotilla.planning.core.scoring import QUANTILES, coverage, wis

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class HorizonScores:
    """Scores at one horizon (days ahead), averaged over series and origins.

    ``wis``/``mae`` in patients; ``wape`` = sum|y - median| / sum y; coverages are fractions.
    """

    horizon: int
    n: int
    wis: float
    wis_baseline: float
    relative_wis: float
    mae: float
    wape: float
    coverage_50: float
    coverage_95: float


@dataclass(frozen=True)
class BacktestSums:
    """Per-horizon sums that add across data sets (winters) before forming ratios."""

    n: FloatArray
    wis: FloatArray
    wis_baseline: FloatArray
    abs_err: FloatArray
    actual: FloatArray
    cover_50: FloatArray
    cover_95: FloatArray

    def __add__(self, other: BacktestSums) -> BacktestSums:
        return BacktestSums(*(a + b for a, b in zip(self._parts(), other._parts(), strict=True)))

    def _parts(self) -> tuple[FloatArray, ...]:
        return (
            self.n,
            self.wis,
            self.wis_baseline,
            self.abs_err,
            self.actual,
            self.cover_50,
            self.cover_95,
        )

    def scores(self) -> list[HorizonScores]:
        """Per-horizon averages and ratios."""
        out = []
        for h in range(self.n.size):
            n = max(float(self.n[h]), 1.0)
            out.append(
                HorizonScores(
                    horizon=h + 1,
                    n=int(self.n[h]),
                    wis=float(self.wis[h] / n),
                    wis_baseline=float(self.wis_baseline[h] / n),
                    relative_wis=float(self.wis[h] / self.wis_baseline[h])
                    if self.wis_baseline[h] > 0
                    else float("nan"),
                    mae=float(self.abs_err[h] / n),
                    wape=float(self.abs_err[h] / self.actual[h]) if self.actual[h] > 0 else 0.0,
                    coverage_50=float(self.cover_50[h] / n),
                    coverage_95=float(self.cover_95[h] / n),
                )
            )
        return out


def rolling_backtest(
    values: FloatArray,
    groups: npt.NDArray[np.int64],
    horizon: int,
    *,
    min_train: int = 21,
    config: ForecastConfig = DEFAULT_CONFIG,
    model: str = "ensemble",
    baseline: str = "last_value",
) -> BacktestSums:
    """Forecast from every origin ``o >= min_train - 1`` using days ``0..o`` and score the
    observed targets ``o + 1 .. o + horizon`` against ``model`` and ``baseline``."""
    _s_n, t_len = values.shape
    zeros = np.zeros(horizon)
    sums = BacktestSums(*(zeros.copy() for _ in range(7)))
    # Every candidate forecast is causal, so the paths from all origins are computed once; each
    # origin then only uses errors whose target day it has already seen.
    y, obs = fill_gaps(values)
    cand = candidate_paths(y, horizon, config)
    for origin in range(min_train - 1, t_len - 1):
        q, _ = forecast_at_origin(values, y, obs, cand, groups, origin, config, QUANTILES, model)
        qb, _ = forecast_at_origin(
            values, y, obs, cand, groups, origin, config, QUANTILES, baseline
        )
        h_max = min(horizon, t_len - 1 - origin)
        target = values[:, origin + 1 : origin + 1 + h_max]
        ok = np.isfinite(target)
        yz = np.where(ok, target, 0.0)
        mask = ok.astype(np.float64)
        med = q[:, :h_max, QUANTILES.index(0.5)]
        parts = (
            mask,
            wis(q[:, :h_max], yz) * mask,
            wis(qb[:, :h_max], yz) * mask,
            np.abs(yz - med) * mask,
            np.abs(yz) * mask,
            coverage(q[:, :h_max], yz, 0.5) * mask,
            coverage(q[:, :h_max], yz, 0.95) * mask,
        )
        add = [np.concatenate([p.sum(axis=0), np.zeros(horizon - h_max)]) for p in parts]
        sums = sums + BacktestSums(*add)
    return sums
