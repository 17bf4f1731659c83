"""Forecast scores: weighted interval score (WIS), MAE, WAPE and interval coverage.

WIS follows Bracher et al. (2021), as used by the US COVID-19 Forecast Hub: for the median
``m`` and central intervals ``[l_k, u_k]`` at levels ``1 - alpha_k``,

    IS_alpha(l, u; y) = (u - l) + (2/alpha)(l - y)[y < l] + (2/alpha)(y - u)[y > u]
    WIS = (0.5 |y - m| + sum_k (alpha_k / 2) IS_alpha_k) / (K + 1/2)

in the units of ``y`` (patients). With the quantiles 0.025 ... 0.975 used here, K = 3
(alpha = 0.05, 0.2, 0.5).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

QUANTILES: tuple[float, ...] = (0.025, 0.1, 0.25, 0.5, 0.75, 0.9, 0.975)


def wis(q: FloatArray, y: FloatArray, levels: tuple[float, ...] = QUANTILES) -> FloatArray:
    """WIS of quantile forecasts ``q[..., k]`` (at ``levels``) against ``y[...]``."""
    lv = np.asarray(levels)
    k_med = int(np.flatnonzero(np.isclose(lv, 0.5))[0])
    n_int = k_med
    total = 0.5 * np.abs(y - q[..., k_med])
    for k in range(n_int):
        alpha = 2 * lv[k]
        lo = q[..., k]
        hi = q[..., len(lv) - 1 - k]
        score = (
            (hi - lo) + (2 / alpha) * np.maximum(lo - y, 0) + (2 / alpha) * np.maximum(y - hi, 0)
        )
        total = total + (alpha / 2) * score
    return np.asarray(total / (n_int + 0.5))


def coverage(
    q: FloatArray, y: FloatArray, level: float, levels: tuple[float, ...] = QUANTILES
) -> FloatArray:
    """1.0 where ``y`` lies in the central interval of the given level (e.g. 0.95), else 0."""
    lv = np.asarray(levels)
    lo = q[..., int(np.argmin(np.abs(lv - (1 - level) / 2)))]
    hi = q[..., int(np.argmin(np.abs(lv - (1 + level) / 2)))]
    return np.asarray(((y >= lo) & (y <= hi)).astype(np.float64))
