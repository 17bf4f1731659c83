"""Forecasting: baselines, fallbacks, quantile shape, scoring and the fast backtest path."""

from __future__ import annotations

import numpy as np
import pytest

from flotilla.planning.core.backtest import rolling_backtest
from flotilla.planning.core.forecast import (
    ForecastConfig,
    History,
    fill_gaps,
    forecast,
    forecast_array,
    nanquantile_sorted,
    seasonal_naive_paths,
)
from flotilla.planning.core.scoring import QUANTILES, coverage, wis


def weekly_series(days: int, level: float = 100.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    return level + 10 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 1, days)


def test_wis_of_a_perfect_point_forecast_is_zero() -> None:
    q = np.full((1, 7), 5.0)
    assert wis(q, np.array([5.0]))[0] == 0.0


def test_wis_matches_a_hand_computed_value() -> None:
    # Median 10, all intervals [8, 12], y = 14: 0.5*4 + sum_k alpha_k/2 * (4 + 2/alpha_k * 2).
    q = np.array([[8, 8, 8, 10, 12, 12, 12]], dtype=float)
    alphas = [0.05, 0.2, 0.5]
    expected = (0.5 * 4 + sum(a / 2 * (4 + 2 / a * 2) for a in alphas)) / 3.5
    assert wis(q, np.array([14.0]))[0] == pytest.approx(expected)


def test_coverage_counts_the_interval_ends_as_inside() -> None:
    q = np.array([[1, 2, 3, 4, 5, 6, 7]], dtype=float)
    assert coverage(q, np.array([7.0]), 0.95)[0] == 1.0
    assert coverage(q, np.array([7.5]), 0.95)[0] == 0.0
    assert coverage(q, np.array([5.5]), 0.5)[0] == 0.0


def test_sorted_nanquantile_agrees_with_numpy() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=(4, 30, 5))
    a[rng.random(a.shape) < 0.3] = np.nan
    ours = nanquantile_sorted(a, QUANTILES, axis=1)
    theirs = np.moveaxis(np.nanquantile(a, QUANTILES, axis=1), 0, -1)
    assert np.allclose(ours, theirs)


def test_gaps_are_filled_with_the_last_observation() -> None:
    filled, obs = fill_gaps(np.array([[np.nan, 2.0, np.nan, 4.0]]))
    assert filled.tolist() == [[2.0, 2.0, 2.0, 4.0]]
    assert obs.tolist() == [[False, True, False, True]]


def test_seasonal_naive_repeats_last_week() -> None:
    y = np.arange(14, dtype=float)[None, :]
    paths = seasonal_naive_paths(y, 8)
    assert paths[0, -1].tolist() == [7, 8, 9, 10, 11, 12, 13, 7]


def test_quantiles_are_ordered_and_non_negative() -> None:
    values = np.stack([weekly_series(60, seed=s) for s in range(3)] + [np.zeros(60) + 1.0])
    values[1, 10:15] = np.nan
    q, methods = forecast_array(values, np.zeros(4, dtype=np.int64), 14)
    assert q.shape == (4, 14, 7)
    assert np.all(np.diff(q, axis=2) >= 0)
    assert np.all(q >= 0)
    assert methods[3] == "flat series: constant"


def test_short_series_fall_back_to_the_last_value_and_say_so() -> None:
    values = np.array([[5.0, 6, 7, 8, 9, np.nan, np.nan, np.nan, 10]])
    q, methods = forecast_array(values, np.zeros(1, dtype=np.int64), 3)
    assert methods[0].startswith("short series (6 points)")
    assert np.all(np.isfinite(q))


def test_zero_series_forecast_zero() -> None:
    q, methods = forecast_array(np.zeros((1, 40)), np.zeros(1, dtype=np.int64), 5)
    assert np.all(q == 0)
    assert methods[0] == "flat series: constant"


def test_ensemble_learns_a_weekly_pattern_the_last_value_misses() -> None:
    values = np.stack([weekly_series(84, seed=s) for s in range(6)])
    sums = rolling_backtest(values, np.zeros(6, dtype=np.int64), 7)
    rel = [s.relative_wis for s in sums.scores()]
    assert np.mean(rel) < 0.7


def test_fast_backtest_equals_forecasting_the_truncated_history() -> None:
    values = np.stack([weekly_series(50, seed=s) for s in range(3)])
    groups = np.zeros(3, dtype=np.int64)
    config = ForecastConfig()
    from flotilla.planning.core.forecast import candidate_paths, fill_gaps, forecast_at_origin

    y, obs = fill_gaps(values)
    cand = candidate_paths(y, 5, config)
    fast, _ = forecast_at_origin(values, y, obs, cand, groups, 30, config, QUANTILES, "ensemble")
    slow, _ = forecast_array(values[:, :31], groups, 5, config)
    assert np.allclose(fast, slow)


def test_forecast_dates_follow_the_history() -> None:
    dates = np.arange(np.datetime64("2021-01-01"), np.datetime64("2021-02-10"))
    hist = History(keys=(("A", "ga"),), dates=dates, values=weekly_series(dates.size)[None])
    result = forecast(hist, 3)
    assert [str(d) for d in result.dates] == ["2021-02-10", "2021-02-11", "2021-02-12"]
