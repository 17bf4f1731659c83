"""Occupancy forecasts: baselines and a vectorised exponential-smoothing ensemble.

Every model here is computed for all series at once (numpy arrays of shape (series, time)), and
for every past forecast origin in one recursive pass, so that the empirical distribution of each
model's own past h-day errors is available at no extra cost. Units: values are patients (beds
occupied), horizons are days.

Models (``F[s, t, h]`` is the forecast made at the end of day ``t`` for day ``t + h``):

* last value: ``F = y_t``;
* weekly seasonal naive: ``F = y_{t + h - 7 ceil(h/7)}``;
* additive Holt-Winters / ETS(A,Ad,A) with period 7 and fixed smoothing parameters
  ``l_t = a (y_t - s_{t-7}) + (1-a)(l_{t-1} + phi b_{t-1})``,
  ``b_t = b (l_t - l_{t-1}) + (1-b) phi b_{t-1}``, ``s_t = g (y_t - l_t) + (1-g) s_{t-7}``,
  ``F = l_t + (phi + ... + phi^h) b_t + s_{t+h-7 ceil(h/7)}``.

The ensemble averages several such members. Quantiles come from the empirical distribution of
the ensemble's own past h-day errors for that series, shrunk towards the errors of all series of
the same measure (rescaled by each series' typical day-to-day change) when a series is short.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from flotilla.planning.core._arrays import frozen
from flotilla.planning.core.errors import InputError

FloatArray = npt.NDArray[np.float64]
DateArray = npt.NDArray[np.datetime64]


@dataclass(frozen=True)
class History:
    """Daily history on one calendar grid: ``values[k, d]`` for series ``keys[k]`` on ``dates[d]``.

    Keys are ``(site, measure)``; values are patients (beds occupied); NaN marks a gap.
    """

    keys: tuple[tuple[str, str], ...]
    dates: DateArray
    values: FloatArray

    def __post_init__(self) -> None:
        object.__setattr__(self, "keys", tuple((str(a), str(b)) for a, b in self.keys))
        object.__setattr__(self, "dates", frozen(self.dates, "datetime64[D]"))
        object.__setattr__(self, "values", frozen(self.values, np.float64))
        if self.values.shape != (len(self.keys), self.dates.size):
            raise InputError("values must have shape (len(keys), len(dates))")
        if self.dates.size > 1 and np.any(np.diff(self.dates) != np.timedelta64(1, "D")):
            raise InputError("dates must be consecutive days")

    @property
    def measure_groups(self) -> npt.NDArray[np.int64]:
        """For each series, the index of its measure among the sorted measures (series of one
        measure share their error statistics)."""
        measures = sorted({m for _, m in self.keys})
        return np.array([measures.index(m) for _, m in self.keys], dtype=np.int64)

    @classmethod
    def from_long(
        cls, sites: list[str], measures: list[str], dates: DateArray, values: FloatArray
    ) -> History:
        """Pivot a long table onto a consecutive daily grid (missing days become NaN)."""
        if len(dates) == 0:
            raise InputError("history is empty")
        keys = sorted(set(zip(sites, measures, strict=True)))
        kidx = {k: i for i, k in enumerate(keys)}
        d = np.asarray(dates, dtype="datetime64[D]")
        start, end = d.min(), d.max()
        grid = np.arange(start, end + np.timedelta64(1, "D"), dtype="datetime64[D]")
        out = np.full((len(keys), grid.size), np.nan)
        rows = np.array([kidx[(s, m)] for s, m in zip(sites, measures, strict=True)])
        out[rows, (d - start).astype(np.int64)] = values
        return cls(keys=tuple(keys), dates=grid, values=out)


MIN_POINTS = 14  # fewer observed points than this: fall back to the last value
SEASON = 7


@dataclass(frozen=True)
class EtsMember:
    """One fixed ETS(A,Ad,A) configuration: smoothing for level, trend, season; damping."""

    alpha: float
    beta: float
    gamma: float
    phi: float


DEFAULT_MEMBERS: tuple[EtsMember, ...] = tuple(
    EtsMember(a, 0.0, g, 0.0) for a in (0.2, 0.3, 0.5, 0.7, 1.0) for g in (0.1, 0.2, 0.4)
)


@dataclass(frozen=True)
class ForecastConfig:
    """Tunable settings of the ensemble (chosen on the 2015-16 to 2019-20 winters).

    At every origin and horizon the ensemble averages the ``top_k`` candidates (the ETS members
    and the last value) with the lowest recent scaled absolute error over all series of the same
    measure; ``selection_window`` is how many recent origins that error looks back over.
    """

    members: tuple[EtsMember, ...] = DEFAULT_MEMBERS
    top_k: int = 3
    selection_window: int = 28
    shrinkage_points: float = 30.0  # pseudo-count of pooled errors mixed into a series' own
    # Error quantiles are multiplied by a factor growing linearly from the first to the second
    # value over horizons 1..14 (and constant beyond): past in-sample errors understate the
    # errors of the weeks ahead when a wave turns (calibration knob).
    interval_inflation: tuple[float, float] = (1.0, 1.3)
    error_window: int = 10_000  # use at most this many most recent origins for errors


DEFAULT_CONFIG = ForecastConfig()


@dataclass(frozen=True)
class Forecast:
    """Quantile forecasts ``values[s, h, k]`` for series ``keys[s]``, day ``dates[h]``,
    quantile level ``quantiles[k]``; ``method[s]`` says which model produced series ``s``."""

    keys: tuple[tuple[str, str], ...]
    dates: DateArray
    quantiles: tuple[float, ...]
    values: FloatArray
    method: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "dates", frozen(self.dates, "datetime64[D]"))
        object.__setattr__(self, "values", frozen(self.values, np.float64))


def fill_gaps(values: FloatArray) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Carry the last observation forward (leading gaps take the first one); returns the
    filled array and the mask of truly observed points."""
    y = np.asarray(values, dtype=np.float64)
    obs = np.isfinite(y)
    idx = np.where(obs, np.arange(y.shape[1])[None, :], 0)
    np.maximum.accumulate(idx, axis=1, out=idx)
    filled = np.take_along_axis(y, idx, axis=1)
    first = np.argmax(obs, axis=1)
    first_val = y[np.arange(y.shape[0]), first]
    lead = ~np.isfinite(filled)
    filled = np.where(lead, first_val[:, None], filled)
    filled = np.where(np.isfinite(filled), filled, 0.0)
    return filled, obs


def _season_index(t_len: int, horizon: int) -> npt.NDArray[np.int64]:
    """``t + h - 7 ceil(h/7)`` for every origin ``t`` and horizon ``h`` (may be negative)."""
    h = np.arange(1, horizon + 1)
    back = h - SEASON * np.ceil(h / SEASON).astype(np.int64)
    return np.arange(t_len)[:, None] + back[None, :]


def last_value_paths(y: FloatArray, horizon: int) -> FloatArray:
    """``F[s, t, h-1] = y[s, t]``."""
    return np.repeat(y[:, :, None], horizon, axis=2)


def seasonal_naive_paths(y: FloatArray, horizon: int) -> FloatArray:
    """Weekly seasonal naive; origins with less than a week of history use the last value."""
    idx = _season_index(y.shape[1], horizon)
    ok = idx >= 0
    out = y[:, np.clip(idx, 0, None)]
    return np.where(ok[None], out, y[:, :, None])


def ets_paths(y: FloatArray, horizon: int, m: EtsMember) -> FloatArray:
    """ETS(A,Ad,A) forecasts from every origin (see module docstring)."""
    s_n, t_len = y.shape
    season = np.zeros((s_n, t_len))
    level = np.zeros((s_n, t_len))
    trend = np.zeros((s_n, t_len))
    k0 = min(SEASON, t_len)
    l_prev = y[:, :k0].mean(axis=1)
    b_prev = np.zeros(s_n)
    init_season = np.zeros((s_n, SEASON))
    if t_len >= SEASON:
        init_season = y[:, :SEASON] - l_prev[:, None]
    for t in range(t_len):
        s_old = season[:, t - SEASON] if t >= SEASON else init_season[:, t % SEASON]
        lev = m.alpha * (y[:, t] - s_old) + (1 - m.alpha) * (l_prev + m.phi * b_prev)
        b_prev = m.beta * (lev - l_prev) + (1 - m.beta) * m.phi * b_prev
        season[:, t] = m.gamma * (y[:, t] - lev) + (1 - m.gamma) * s_old
        level[:, t] = lev
        trend[:, t] = b_prev
        l_prev = lev
    damp = np.cumsum(m.phi ** np.arange(1, horizon + 1))
    idx = _season_index(t_len, horizon)
    neg = idx < 0
    # Before a full season exists the initial seasonal estimate stands in.
    seas = season[:, np.clip(idx, 0, None)]
    seas = np.where(neg[None], init_season[:, np.mod(idx, SEASON)], seas)
    return np.asarray(level[:, :, None] + damp[None, None, :] * trend[:, :, None] + seas)


def _scale(y: FloatArray, obs: npt.NDArray[np.bool_]) -> FloatArray:
    """Typical day-to-day change of each series (patients), floored to stay positive."""
    d = np.abs(np.diff(y, axis=1))
    both = obs[:, 1:] & obs[:, :-1]
    d = np.where(both, d, np.nan)
    cnt = np.isfinite(d).sum(axis=1)
    sc = np.nansum(d, axis=1) / np.maximum(cnt, 1)
    return np.where(np.isfinite(sc) & (sc > 0), sc, 1.0)


def nanquantile_sorted(a: FloatArray, levels: npt.ArrayLike, axis: int) -> FloatArray:
    """``np.nanquantile`` (linear interpolation) via one sort; result has levels last.

    numpy's own ``nanquantile`` loops in Python over slices and is two orders of magnitude
    slower on the (series, origins, horizons) arrays used here. All-NaN slices give NaN.
    """
    lv = np.asarray(levels, dtype=np.float64)
    moved = np.moveaxis(np.asarray(a, dtype=np.float64), axis, -1)
    srt = np.sort(moved, axis=-1)  # NaNs sort to the end
    n = np.isfinite(srt).sum(axis=-1)
    pos = (np.maximum(n, 1) - 1)[..., None] * lv
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, np.maximum(n - 1, 0)[..., None])
    frac = pos - lo
    v_lo = np.take_along_axis(srt, lo, axis=-1)
    v_hi = np.take_along_axis(srt, hi, axis=-1)
    out = v_lo + frac * (v_hi - v_lo)
    return np.asarray(np.where((n > 0)[..., None], out, np.nan))


def error_quantiles(
    err: FloatArray,
    scale: FloatArray,
    groups: npt.NDArray[np.int64],
    levels: tuple[float, ...],
    shrinkage: float,
) -> FloatArray:
    """Quantiles ``Q[s, h-1, k]`` of the h-day errors: the series' own, mixed with the pooled
    scaled errors of its group in proportion ``n / (n + shrinkage)`` (n = own error count)."""
    lv = np.asarray(levels)
    s_n, _, horizon = err.shape
    own = nanquantile_sorted(err, lv, axis=1)  # (S, H, K)
    count = np.isfinite(err).sum(axis=1)  # (S, H)
    pooled = np.zeros((s_n, horizon, lv.size))
    scaled = err / scale[:, None, None]
    for g in np.unique(groups):
        rows = groups == g
        flat = np.moveaxis(scaled[rows], 2, 0).reshape(horizon, -1)
        q = nanquantile_sorted(flat, lv, axis=1)  # (H, K)
        q = np.where(np.isfinite(q), q, 0.0)
        pooled[rows] = q[None] * scale[rows, None, None]
    w = (count / (count + shrinkage))[:, :, None]
    own = np.where(np.isfinite(own), own, pooled)
    out = w * own + (1 - w) * pooled
    return np.asarray(np.sort(out, axis=2))


def candidate_paths(y: FloatArray, horizon: int, config: ForecastConfig) -> FloatArray:
    """Forecasts of every candidate from every origin, shape (C, S, T, H); candidate 0 is the
    last value."""
    paths = [last_value_paths(y, horizon)] + [ets_paths(y, horizon, m) for m in config.members]
    return np.stack(paths)


def _errors_until(
    y: FloatArray, obs: npt.NDArray[np.bool_], paths: FloatArray, origin: int, window: int
) -> FloatArray:
    """Errors of ``paths`` (..., S, T, H) whose target day ``t + h`` is at most ``origin``."""
    horizon = paths.shape[-1]
    err = np.full(paths.shape, np.nan)
    for h in range(1, horizon + 1):
        last_t = origin - h  # origins t with t + h <= origin
        if last_t < 0:
            continue
        first_t = max(0, last_t + 1 - window)
        tgt = slice(first_t + h, last_t + h + 1)
        e = y[:, tgt] - paths[..., first_t : last_t + 1, h - 1]
        err[..., first_t : last_t + 1, h - 1] = np.where(obs[:, tgt], e, np.nan)
    return err


def _recent_errors(
    y: FloatArray, obs: npt.NDArray[np.bool_], paths: FloatArray, origin: int, window: int
) -> FloatArray:
    """`_errors_until` over only the origins that can hold an error (the last `window`, less
    the horizon): the columns before them are all NaN, so each origin's cost stays the same
    however long the history grows."""
    lo = max(0, origin + 1 - window - paths.shape[-1])
    return _errors_until(y[:, lo:], obs[:, lo:], paths[..., lo:, :], origin - lo, window)


def _selection_weights(
    cand_err: FloatArray, scale: FloatArray, groups: npt.NDArray[np.int64], top_k: int
) -> FloatArray:
    """Weights (S, H, C): equal weight on the ``top_k`` candidates with the lowest mean scaled
    absolute error over the series of the same group; the last value when nothing is known."""
    c_n, s_n, _, horizon = cand_err.shape
    scaled = np.abs(cand_err) / scale[None, :, None, None]
    weights = np.zeros((s_n, horizon, c_n))
    for g in np.unique(groups):
        rows = groups == g
        block = scaled[:, rows]
        count = np.isfinite(block).sum(axis=(1, 2))  # (C, H)
        total = np.nansum(block, axis=(1, 2))
        mae = np.where(count > 0, total / np.maximum(count, 1), np.inf)
        w = np.zeros((horizon, c_n))
        for h in range(horizon):
            if not np.isfinite(mae[:, h]).any():
                w[h, 0] = 1.0
                continue
            best = np.argsort(mae[:, h], kind="stable")[: min(top_k, c_n)]
            w[h, best] = 1.0 / best.size
        weights[rows] = w[None]
    return weights


def forecast_at_origin(
    values: FloatArray,
    y: FloatArray,
    obs: npt.NDArray[np.bool_],
    cand: FloatArray,
    groups: npt.NDArray[np.int64],
    origin: int,
    config: ForecastConfig,
    levels: tuple[float, ...],
    model: str,
) -> tuple[FloatArray, tuple[str, ...]]:
    """Quantiles (S, H, K) made at the end of day ``origin`` from data up to that day only.

    ``cand`` holds the candidates' causal forecasts from every origin (``candidate_paths``), so
    a backtest can compute them once and call this for each origin.
    """
    horizon = cand.shape[-1]
    y_o = y[:, : origin + 1]
    obs_o = obs[:, : origin + 1]
    n_obs = obs_o.sum(axis=1)
    scale = _scale(y_o, obs_o)
    if model == "last_value":
        paths = cand[0, :, : origin + 1]
    elif model == "ensemble":
        sel = _recent_errors(y, obs, cand[:, :, : origin + 1], origin, config.selection_window)
        w = _selection_weights(sel, scale, groups, config.top_k)  # (S, H, C)
        paths = np.einsum("csth,shc->sth", cand[:, :, : origin + 1], w)
    else:
        raise InputError(f"unknown model {model!r}")
    short = n_obs < MIN_POINTS
    if model != "last_value" and short.any():
        paths = np.where(short[:, None, None], cand[0, :, : origin + 1], paths)
    err = _recent_errors(y, obs, paths, origin, config.error_window)
    if model == "last_value":
        # The baseline's intervals: the empirical distribution of its own past errors only.
        q = nanquantile_sorted(err, levels, axis=1)
        q = np.where(np.isfinite(q), q, 0.0)
    else:
        q = error_quantiles(err, scale, groups, levels, config.shrinkage_points)
        lo_f, hi_f = config.interval_inflation
        ramp = np.clip(np.arange(horizon) / 13.0, 0.0, 1.0)
        q = q * (lo_f + (hi_f - lo_f) * ramp)[None, :, None]
    point = paths[:, -1, :]
    out = point[:, :, None] + q
    vals = np.where(obs_o, values[:, : origin + 1], np.nan)
    with np.errstate(all="ignore"):
        lo = np.nanmin(np.where(obs_o, vals, np.inf), axis=1)
        hi = np.nanmax(np.where(obs_o, vals, -np.inf), axis=1)
    flat = (n_obs > 0) & (lo == hi)
    out = np.where(flat[:, None, None], point[:, :, None], out)
    out = np.where((n_obs == 0)[:, None, None], 0.0, out)
    # Occupancy cannot be negative; keep quantiles ordered after clipping.
    out = np.sort(np.maximum(out, 0.0), axis=2)
    methods = []
    for s in range(out.shape[0]):
        if n_obs[s] == 0:
            methods.append("no data: zero")
        elif flat[s]:
            methods.append("flat series: constant")
        elif short[s] and model != "last_value":
            methods.append(f"short series ({int(n_obs[s])} points): last value")
        else:
            methods.append(model)
    return out, tuple(methods)


def forecast_array(
    values: FloatArray,
    groups: npt.NDArray[np.int64],
    horizon: int,
    config: ForecastConfig = DEFAULT_CONFIG,
    levels: tuple[float, ...] | None = None,
    model: str = "ensemble",
) -> tuple[FloatArray, tuple[str, ...]]:
    """Quantile forecasts ``(S, horizon, K)`` from the end of ``values`` (S, T; NaN = gap).

    ``model`` is ``"ensemble"`` or ``"last_value"`` (the baseline). ``groups`` labels series
    that share error statistics (one label per measure). Series with fewer than ``MIN_POINTS``
    observations fall back to the last value; flat series (one observed value, e.g. all zero)
    are forecast flat with no spread. Returns the quantiles and a per-series method note.
    """
    from flotilla.planning.core.scoring import QUANTILES

    lv = QUANTILES if levels is None else levels
    if horizon < 1:
        raise InputError("horizon must be at least 1 day")
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] == 0:
        raise InputError("history must hold at least one day")
    y, obs = fill_gaps(arr)
    cand = (
        candidate_paths(y, horizon, config)
        if model == "ensemble"
        else (last_value_paths(y, horizon)[None])
    )
    return forecast_at_origin(
        arr, y, obs, cand, np.asarray(groups, dtype=np.int64), arr.shape[1] - 1, config, lv, model
    )


def forecast(
    history: History,
    horizon: int,
    config: ForecastConfig = DEFAULT_CONFIG,
    model: str = "ensemble",
) -> Forecast:
    """Forecast every series of ``history`` for days 1..``horizon`` after its last date."""
    from flotilla.planning.core.scoring import QUANTILES

    values, methods = forecast_array(
        history.values, history.measure_groups, horizon, config, model=model
    )
    dates = history.dates[-1] + np.arange(1, horizon + 1).astype("timedelta64[D]")
    return Forecast(
        keys=history.keys, dates=dates, quantiles=QUANTILES, values=values, method=methods
    )
