"""A global quantile gradient-boosted forecaster (LightGBM), trained on published files.

One model per quantile level (`scoring.QUANTILES`) over many series at once: every trust's G&A
and adult critical care beds occupied in the published winter sitreps. The features of a
series at an origin day come from that series' own history only (so a forecast of one
organisation never reads another's figures; what the model learnt from the published files
is in its trees):

- the log level, and its change over 1-27 days (`LAGS`);
- its recent volatility (mean absolute daily log change over the last 14 days);
- which measure it is (a category: `MEASURES`);
- the horizon, the days of the week of the origin and of the target day;
- the day of the winter (days since 1 November of the season) and how many of the last seven
  days had a figure.

The target is the log change from the origin to the target day. A day with no figure is
carried over from the last one (`forecast.fill_gaps`), never read as zero.

**Widening.** The model's intervals are too narrow in a hard winter, so each interval (50%,
80%, 95%) is widened per horizon by the conformal quantile, at its level, of how far outside
that interval the outcomes of recent forecasts fell (negative inside), pooled over every
series of a published file: `calibrate` takes the last `WINDOW` origins whose targets the
file already holds (nothing from fewer than `MIN_ERRORS` errors; never narrowed).
`widen_rolling` does the same at every origin of a backtest, with the errors known only
`lag` days after their target day, as with weekly publication.

No Django here: `flotilla.planning` stores the model and the widening, and calls `forecast`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from flotilla.planning.core.forecast import fill_gaps
from flotilla.planning.core.scoring import QUANTILES

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: The measures the model knows, and their category codes.
MEASURES: dict[str, int] = {"ga_occupied": 0, "cc_adult_occupied": 1}
HORIZON = 14
LAGS = (1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 21, 27)
#: Origins before this index of a series' history are not used (too little behind them).
FIRST_ORIGIN = 20
#: Days of history a forecast needs: the longest lag and the origin itself.
HISTORY_DAYS = max(LAGS) + 1
#: Of the last `HISTORY_DAYS`, at least this many must have a figure.
MIN_POINTS = 14
#: (lower, upper, level): the indices in QUANTILES bounding each interval.
PAIRS = ((0, 6, 0.95), (1, 5, 0.8), (2, 4, 0.5))
WINDOW, MIN_ERRORS = 14, 500
#: The column of the measure category among the features.
MEASURE_COLUMN = len(LAGS) + 2
FEATURE_NAMES = (
    *(f"change_{k}d" for k in LAGS),
    "volatility",
    "log_level",
    "measure",
    "horizon",
    "origin_weekday",
    "target_weekday",
    "day_of_winter",
    "days_reported_of_7",
)


@dataclass(frozen=True)
class Settings:
    """How the trees are grown (chosen on the 2019-20 winter; docs/benchmarks.md)."""

    trees: int = 200
    leaves: int = 63
    learning_rate: float = 0.05
    min_data_in_leaf: int = 200
    bagging_fraction: float = 0.5
    feature_fraction: float = 0.8
    seed: int = 1
    #: One thread: LightGBM's OpenMP threads spin while they wait, and on a shared two-core
    #: machine with other work running two threads trained ten times slower than one.
    threads: int = 1

    def params(self, alpha: float) -> dict[str, Any]:
        return {
            "objective": "quantile",
            "alpha": alpha,
            "learning_rate": self.learning_rate,
            "num_leaves": self.leaves,
            "min_data_in_leaf": self.min_data_in_leaf,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": 1,
            "feature_fraction": self.feature_fraction,
            "verbose": -1,
            "num_threads": self.threads,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
        }


@dataclass(frozen=True)
class Panel:
    """Series on one consecutive daily grid: values (series × days, NaN where no figure), each
    series' measure category, and the date of the first day."""

    values: FloatArray
    measures: IntArray
    first_day: date


def day_of_winter(day: date) -> int:
    """Days since 1 November of the season the day belongs to (a season runs from August)."""
    season = day.year if day.month >= 8 else day.year - 1
    return (day - date(season, 11, 1)).days


@dataclass(frozen=True)
class Rows:
    """Feature rows for (series, origin, horizon) and, where the panel holds it, the target."""

    X: FloatArray
    #: Log change to the target day; NaN where the target day has no figure or is beyond.
    target: FloatArray
    origin: IntArray
    series: IntArray
    horizon: IntArray
    #: The filled log level at each row's origin (the base the quantiles are added to).
    base: FloatArray


def rows(panel: Panel, origins: Sequence[int] | None = None) -> Rows:
    """The feature rows at these origin indices (default: every one from `FIRST_ORIGIN` to
    the day before the last), for every series and horizon 1-14."""
    y, obs = fill_gaps(panel.values)
    n_series, n_days = y.shape
    ly = np.log1p(np.maximum(y, 0.0))
    step = np.abs(np.diff(ly, axis=1))
    if origins is None:
        origins = range(FIRST_ORIGIN, n_days - 1)
    measure = panel.measures.astype(np.float64)
    parts: list[tuple[FloatArray, FloatArray, int, int]] = []
    for o in origins:
        base = ly[:, o]
        changes = [base - ly[:, max(o - k, 0)] for k in LAGS]
        recent = step[:, max(o - 14, 0) : o]
        volatility = recent.mean(axis=1) if recent.shape[1] else np.zeros(n_series)
        reported = obs[:, max(o - 6, 0) : o + 1].sum(axis=1).astype(np.float64)
        origin_day = panel.first_day + timedelta(days=o)
        for h in range(1, HORIZON + 1):
            t = o + h
            target = np.full(n_series, np.nan)
            if t < n_days:
                target = np.where(obs[:, t], ly[:, t] - base, np.nan)
            X = np.column_stack(
                [
                    *changes,
                    volatility,
                    base,
                    measure,
                    np.full(n_series, float(h)),
                    np.full(n_series, float(origin_day.weekday())),
                    np.full(n_series, float((origin_day + timedelta(days=h)).weekday())),
                    np.full(n_series, float(day_of_winter(origin_day))),
                    reported,
                ]
            )
            parts.append((X, target, o, h))
    if not parts:
        empty = np.zeros((0, len(FEATURE_NAMES)))
        none_i = np.zeros(0, dtype=np.int64)
        return Rows(empty, np.zeros(0), none_i, none_i, none_i, np.zeros(0))
    every = np.arange(n_series, dtype=np.int64)
    return Rows(
        X=np.concatenate([p[0] for p in parts]),
        target=np.concatenate([p[1] for p in parts]),
        origin=np.concatenate([np.full(n_series, p[2], dtype=np.int64) for p in parts]),
        series=np.concatenate([every for _ in parts]),
        horizon=np.concatenate([np.full(n_series, p[3], dtype=np.int64) for p in parts]),
        base=np.concatenate([ly[:, p[2]] for p in parts]),
    )


@dataclass
class Model:
    """The trees of each quantile level, the days of the winter they were trained on, the
    settings, and the widening in use (HORIZON × intervals, log scale; zeros: none). The
    widening is kept apart from the trees (`to_text` leaves it out): a model is trained once
    and calibrated again from each newly published file."""

    boosters: dict[float, Any]
    days: tuple[int, int]
    settings: Settings = field(default_factory=Settings)
    widening: FloatArray = field(default_factory=lambda: np.zeros((HORIZON, len(PAIRS))))

    def quantiles(self, X: FloatArray) -> FloatArray:
        """Log-change quantiles (rows × levels), sorted (quantile crossing removed)."""
        if X.shape[0] == 0:
            return np.zeros((0, len(QUANTILES)))
        q = np.column_stack([self.boosters[level].predict(X, num_threads=1) for level in QUANTILES])
        return np.sort(np.asarray(q, dtype=np.float64), axis=1)

    def knows(self, day: date) -> bool:
        """Whether an origin on this day is within the winters it was trained on."""
        return self.days[0] <= day_of_winter(day) <= self.days[1]

    def to_text(self) -> str:
        """The trees, days and settings as text (JSON holding LightGBM's own model format
        per level), without the widening."""
        return json.dumps(
            {
                "format": 1,
                "levels": {str(q): b.model_to_string() for q, b in self.boosters.items()},
                "days": list(self.days),
                "settings": self.settings.__dict__,
            }
        )

    @classmethod
    def from_text(cls, text: str, widening: Sequence[Sequence[float]] | None = None) -> Model:
        """The model `to_text` wrote, with this widening (none: no widening)."""
        import lightgbm as lgb

        data = json.loads(text)
        if data.get("format") != 1:
            raise ValueError("not a forecast model of a format this version reads")
        boosters = {float(q): lgb.Booster(model_str=s) for q, s in data["levels"].items()}
        if sorted(boosters) != sorted(QUANTILES):
            raise ValueError("the model does not have a tree set for every quantile level")
        model = cls(boosters, (int(data["days"][0]), int(data["days"][1])),
                    Settings(**data["settings"]))  # fmt: skip
        if widening is not None:
            model.widening = check_widening(widening)
        return model


def fit(panels: Sequence[Panel], settings: Settings = Settings()) -> Model:
    """One model per quantile level over the rows of every panel whose target is known."""
    import lightgbm as lgb

    made = [rows(p) for p in panels]
    X = np.concatenate([r.X for r in made])
    target = np.concatenate([r.target for r in made])
    known = np.isfinite(target)
    if not known.any():
        raise ValueError("no day in the files has a figure to learn from")
    X, target = X[known], target[known]
    days = X[:, FEATURE_NAMES.index("day_of_winter")]
    boosters = {}
    for level in QUANTILES:
        data = lgb.Dataset(
            X, target, categorical_feature=[MEASURE_COLUMN], feature_name=list(FEATURE_NAMES)
        )
        boosters[level] = lgb.train(settings.params(level), data, num_boost_round=settings.trees)
    return Model(boosters, (int(days.min()), int(days.max())), settings)


def _beyond(log_q: FloatArray, known: FloatArray) -> FloatArray:
    """How far outside each interval each outcome fell (rows × intervals; negative inside)."""
    return np.column_stack(
        [np.maximum(log_q[:, lo] - known, known - log_q[:, hi]) for lo, hi, _ in PAIRS]
    )


def _conformal(errors: FloatArray, level: float) -> float:
    """The conformal quantile at `level` of these errors, never below nought; nought from
    fewer than `MIN_ERRORS`."""
    e = errors[np.isfinite(errors)]
    if e.size < MIN_ERRORS:
        return 0.0
    k = min(e.size - 1, int(np.ceil((e.size + 1) * level)) - 1)
    return max(float(np.partition(e, k)[k]), 0.0)


def check_widening(widening: Sequence[Sequence[float]]) -> FloatArray:
    """A widening as an array, refused unless HORIZON × intervals of finite values ≥ 0."""
    w = np.asarray(widening, dtype=np.float64)
    if w.shape != (HORIZON, len(PAIRS)) or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"a widening is {HORIZON} × {len(PAIRS)} finite values at least nought")
    return w


def _apply(log_q: FloatArray, widening: FloatArray, horizon: IntArray) -> FloatArray:
    out = log_q.copy()
    for i, (lo, hi, _) in enumerate(PAIRS):
        w = widening[horizon - 1, i]
        out[:, lo] -= w
        out[:, hi] += w
    return np.sort(out, axis=1)


def calibrate(model: Model, panel: Panel) -> FloatArray:
    """The widening (HORIZON × intervals) from the newest forecasts a published file can
    score: per horizon h, the origins of the last `WINDOW` days whose target day the file
    holds (its last day at most), pooled over every series."""
    n_days = panel.values.shape[1]
    last = n_days - 1
    start = max(FIRST_ORIGIN, last - HORIZON - WINDOW + 1)
    r = rows(panel, range(start, last))
    log_q = model.quantiles(r.X)
    beyond = _beyond(log_q, r.target)
    out = np.zeros((HORIZON, len(PAIRS)))
    for h in range(1, HORIZON + 1):
        mine = (r.horizon == h) & (r.origin > last - h - WINDOW) & (r.origin <= last - h)
        for i, (_, _, level) in enumerate(PAIRS):
            out[h - 1, i] = _conformal(beyond[mine, i], level)
    return out


def widen_rolling(log_q: FloatArray, r: Rows, lag: int = 0) -> FloatArray:
    """A backtest's forecasts (log scale, rows as `r`) each widened as `calibrate` would have
    widened it on its origin day from the errors known by then: the same horizon's forecasts
    from the `WINDOW` origins before `origin - h - lag`, pooled over every series."""
    beyond = _beyond(log_q, r.target)
    out = log_q.copy()
    for h in range(1, HORIZON + 1):
        mine = np.where(r.horizon == h)[0]
        origins = r.origin[mine]
        for o in np.unique(origins):
            past = (origins <= o - h - lag) & (origins > o - h - lag - WINDOW)
            here = mine[origins == o]
            for i, (lo, hi, level) in enumerate(PAIRS):
                w = _conformal(beyond[mine[past], i], level)
                out[here, lo] -= w
                out[here, hi] += w
    return np.sort(out, axis=1)


def forecast(model: Model, panel: Panel) -> FloatArray:
    """Each series' quantiles (series × HORIZON × levels, in its own units, at least nought)
    from the panel's last day, widened by the model's widening. The caller checks that each
    series is one the model may forecast (`usable`)."""
    last = panel.values.shape[1] - 1
    r = rows(panel, [last])
    log_q = _apply(model.quantiles(r.X), model.widening, r.horizon)
    values = np.maximum(np.expm1(r.base[:, None] + log_q), 0.0)
    n_series = panel.values.shape[0]
    out = np.zeros((n_series, HORIZON, len(QUANTILES)))
    out[r.series, r.horizon - 1, :] = values
    return out


def usable(values: FloatArray) -> npt.NDArray[np.bool_]:
    """Series with enough recent history for the model: a figure on the last day and at
    least `MIN_POINTS` of the last `HISTORY_DAYS` days."""
    if values.shape[1] < HISTORY_DAYS:
        return np.zeros(values.shape[0], dtype=np.bool_)
    enough = np.isfinite(values[:, -HISTORY_DAYS:]).sum(axis=1) >= MIN_POINTS
    out: npt.NDArray[np.bool_] = enough & np.isfinite(values[:, -1])
    return out
