"""The gradient-boosted forecaster of the planning core: its features see only the past, its
model survives being written as text, its widening reads only errors already known, and its
forecasts are ordered quantiles at least nought."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flotilla.planning.core import gbm
from flotilla.planning.core.forecast import fill_gaps
from flotilla.planning.core.scoring import QUANTILES

SMALL = gbm.Settings(trees=8, leaves=7, min_data_in_leaf=20, threads=1)
WINTER = date(2025, 11, 20)


def panel(n_series: int = 40, days: int = 90, seed: int = 3, first: date = WINTER) -> gbm.Panel:
    """Beds occupied wandering around each trust's own level, with a weekly pattern and a few
    days not reported."""
    rng = np.random.default_rng(seed)
    level = rng.uniform(20, 600, n_series)
    t = np.arange(days)
    walk = np.cumsum(rng.normal(0, 0.01, (n_series, days)), axis=1)
    values = level[:, None] * np.exp(walk) * (1 + 0.03 * np.sin(2 * np.pi * t / 7))[None, :]
    values[rng.random((n_series, days)) < 0.03] = np.nan
    measures = (np.arange(n_series) % 2).astype(np.int64)
    return gbm.Panel(np.round(values), measures, first)


@pytest.fixture(scope="module")
def model() -> gbm.Model:
    return gbm.fit([panel(seed=1), panel(seed=2)], SMALL)


def test_the_day_of_the_winter_counts_from_the_first_of_november_of_its_season():
    assert gbm.day_of_winter(date(2025, 11, 1)) == 0
    assert gbm.day_of_winter(date(2026, 1, 1)) == 61
    assert gbm.day_of_winter(date(2026, 3, 31)) == 150
    assert gbm.day_of_winter(date(2026, 8, 1)) == -92  # a new season from August


def test_there_is_a_row_for_every_series_origin_and_horizon_with_the_target_where_known():
    p = panel(n_series=4, days=30)
    r = gbm.rows(p)
    origins = 30 - 1 - gbm.FIRST_ORIGIN
    assert r.X.shape == (4 * origins * gbm.HORIZON, len(gbm.FEATURE_NAMES))
    last = r.origin == 28
    assert np.isnan(r.target[last & (r.horizon >= 2)]).all()  # beyond the panel's last day
    y = np.log1p(p.values[:, 29])
    one = last & (r.horizon == 1)
    expected = y[r.series[one]] - r.base[one]
    np.testing.assert_allclose(r.target[one], expected)


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=gbm.FIRST_ORIGIN, max_value=50), st.integers(0, 2**32 - 1))
def test_the_features_at_an_origin_never_read_a_later_day(origin, seed):
    p = panel(n_series=3, days=60)
    later = p.values.copy()
    later[:, origin + 1 :] = np.random.default_rng(seed).uniform(
        0, 1000, later[:, origin + 1 :].shape
    )
    a = gbm.rows(p, [origin])
    b = gbm.rows(gbm.Panel(later, p.measures, p.first_day), [origin])
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.base, b.base)


def test_a_model_written_as_text_and_read_back_forecasts_the_same(model):
    p = panel(seed=9)
    again = gbm.Model.from_text(model.to_text(), model.widening.tolist())
    np.testing.assert_array_equal(gbm.forecast(model, p), gbm.forecast(again, p))
    assert again.days == model.days == (gbm.day_of_winter(WINTER) + gbm.FIRST_ORIGIN,
                                        gbm.day_of_winter(WINTER) + 88)  # fmt: skip
    with pytest.raises(ValueError, match="format"):
        gbm.Model.from_text('{"format": 2}')


def test_forecasts_are_ordered_quantiles_at_least_nought_from_the_last_day(model):
    p = panel(seed=11)
    made = gbm.forecast(model, p)
    assert made.shape == (40, gbm.HORIZON, len(QUANTILES))
    assert (made >= 0).all()
    assert (np.diff(made, axis=2) >= 0).all()
    # Around each trust's own last figure, whatever its size.
    last = fill_gaps(p.values)[0][:, -1]
    assert np.all(np.abs(made[:, 0, 3] / last - 1) < 0.5)


def test_a_widening_widens_each_interval_by_its_own_amount(model):
    p = panel(seed=12)
    narrow = gbm.forecast(model, p)
    model_w = gbm.Model(model.boosters, model.days, model.settings)
    model_w.widening = np.tile([0.2, 0.1, 0.0], (gbm.HORIZON, 1))
    wide = gbm.forecast(model_w, p)
    assert (wide[:, :, 0] < narrow[:, :, 0]).all() and (wide[:, :, 6] > narrow[:, :, 6]).all()
    np.testing.assert_allclose(wide[:, :, 3], narrow[:, :, 3])  # the median stays
    with pytest.raises(ValueError):
        gbm.check_widening([[0.1, -0.1, 0.0]] * gbm.HORIZON)
    with pytest.raises(ValueError):
        gbm.check_widening([[0.1, 0.1]] * gbm.HORIZON)


def test_calibrating_on_a_published_file_widens_from_its_last_weeks_and_never_narrows(model):
    w = gbm.calibrate(model, panel(seed=13, n_series=60))
    assert w.shape == (gbm.HORIZON, 3)
    assert (w >= 0).all()
    # Too few errors (fewer than MIN_ERRORS): no widening at all.
    assert (gbm.calibrate(model, panel(seed=13, n_series=4)) == 0).all()


@settings(max_examples=10, deadline=None)
@given(st.integers(min_value=45, max_value=70), st.integers(0, 2**32 - 1))
def test_the_rolling_widening_at_an_origin_reads_only_errors_already_known(model, origin, seed):
    p = panel(seed=14, n_series=60, days=90)
    r = gbm.rows(p)
    log_q = model.quantiles(r.X)
    lag = 3
    before = gbm.widen_rolling(log_q, r, lag)
    # Outcomes of later forecasts change (their targets are not known yet at `origin`).
    changed = r.target.copy()
    unknown = r.origin + r.horizon + lag > origin
    changed[unknown] = np.random.default_rng(seed).normal(0, 1, unknown.sum())
    r2 = gbm.Rows(r.X, changed, r.origin, r.series, r.horizon, r.base)
    after = gbm.widen_rolling(log_q, r2, lag)
    here = r.origin == origin
    np.testing.assert_array_equal(before[here], after[here])


def test_only_a_series_reported_on_its_last_day_with_enough_recent_figures_is_usable():
    p = panel(n_series=4, days=40).values.copy()
    p[0, -1] = np.nan  # nothing on the origin day
    p[1, -gbm.HISTORY_DAYS :] = np.nan  # one figure short of enough, the last day's among them
    p[1, -(gbm.MIN_POINTS - 1) :] = 100.0
    p[2, -gbm.HISTORY_DAYS :] = np.nan  # just enough
    p[2, -gbm.MIN_POINTS :] = 100.0
    assert gbm.usable(p).tolist() == [False, False, True, True]
    assert not gbm.usable(p[:, -10:]).any()  # too short a history


def test_an_origin_outside_the_winters_it_learnt_is_not_the_models(model):
    assert model.knows(WINTER + timedelta(days=gbm.FIRST_ORIGIN))
    assert not model.knows(date(2026, 7, 1))
