"""The pure decisions of alerting: hysteresis, the minimum interval, level changes, who may
be shown an alert, what a forecast says of a threshold, and when a storm becomes a digest."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flotilla.alerts import logic
from flotilla.alerts.logic import Current, Step
from flotilla.sharing.policy.rules import Access

T0 = datetime(2026, 1, 5, 8, tzinfo=UTC)
HOUR = timedelta(minutes=60)


def step(value, current=None, now=T0, threshold=100.0, clear_at=90.0):
    return logic.decide(
        threshold=threshold,
        clear_at=clear_at,
        min_interval=HOUR,
        current=current,
        value=value,
        now=now,
    )


def test_a_figure_at_the_threshold_opens_an_alert_and_one_below_does_not():
    assert step(100) is Step.OPEN
    assert step(99.9) is Step.NOTHING


def test_an_open_alert_resolves_only_below_where_it_clears():
    open_ = Current("open", T0)
    assert step(95, open_) is Step.UPDATE
    assert step(90, open_) is Step.UPDATE
    assert step(89, open_) is Step.RESOLVE
    assert step(89, Current("acknowledged", T0)) is Step.RESOLVE


def test_no_figure_changes_nothing():
    assert step(None, Current("open", T0)) is Step.NOTHING
    assert step(None) is Step.NOTHING


def test_crossing_again_within_the_minimum_interval_re_opens_the_same_alert():
    resolved = Current("resolved", T0, resolved_at=T0)
    assert step(120, resolved, now=T0 + timedelta(minutes=59)) is Step.REOPEN
    assert step(120, resolved, now=T0 + HOUR) is Step.OPEN


def test_a_level_change_opens_once_and_resolves_when_the_level_holds():
    change = dict(min_interval=HOUR, previous=2.0, now=T0)
    assert logic.decide_change(current=None, level=3.0, as_of=T0, **change) is Step.OPEN
    assert logic.decide_change(current=None, level=2.0, as_of=T0, **change) is Step.NOTHING
    opened = Current("open", T0, last_value=3.0, last_as_of=T0)
    later = T0 + timedelta(minutes=5)
    assert (
        logic.decide_change(current=opened, level=2.0, previous=3.0, as_of=later,
                            min_interval=HOUR, now=later)
        is Step.UPDATE
    )  # fmt: skip
    held = T0 + HOUR
    assert (
        logic.decide_change(current=opened, level=3.0, previous=3.0, as_of=T0,
                            min_interval=HOUR, now=held)
        is Step.RESOLVE
    )  # fmt: skip
    # A level already acted on is not a change again, however long ago it resolved.
    resolved = Current("resolved", T0, resolved_at=held, last_value=3.0, last_as_of=T0)
    assert logic.decide_change(current=resolved, level=3.0, as_of=T0, **change) is Step.NOTHING


def test_counts_and_occupancy_alerts_are_shown_only_exactly_and_levels_at_every_detail():
    count, ratio = (
        logic.figure_of("measure", "ga_occupied"),
        logic.figure_of("measure", "ga_occupancy"),
    )
    level = logic.figure_of("level")
    for detail, shown in (("exact", True), ("banded", False), ("status", False)):
        held = (Access(detail, 0, 1),)
        assert logic.shown(count, held, T0, T0) is shown
        assert logic.shown(ratio, held, T0, T0) is shown
        assert logic.shown(level, held, T0, T0) is True
    assert logic.shown(count, (), T0, T0) is False
    assert logic.shown(logic.figure_of("overdue"), (), T0, T0) is True


def test_an_alert_about_a_late_shared_figure_is_shown_once_the_figure_is():
    count = logic.figure_of("measure", "ga_occupied")
    held = (Access("exact", 2, 1),)
    assert logic.shown(count, held, T0, T0 + timedelta(hours=1)) is False
    assert logic.shown(count, held, T0, T0 + timedelta(hours=2)) is True


def test_more_than_three_alerts_within_the_window_come_as_one_digest():
    assert not logic.as_digest(3, 0)
    assert logic.as_digest(4, 0)
    assert logic.as_digest(1, 3)
    assert not logic.as_digest(0, 10)


def simulate(values, clear_at=90.0, threshold=100.0, every=timedelta(minutes=5)):
    """Run a sequence of figures through `decide` as evaluation would; the steps taken."""
    current, steps = None, []
    for n, v in enumerate(values):
        now = T0 + every * n
        s = step(v, current, now, threshold, clear_at)
        steps.append(s)
        if s in (Step.OPEN, Step.REOPEN):
            current = Current("open", now if s is Step.OPEN else current.opened_at)
        elif s is Step.RESOLVE:
            current = Current("resolved", current.opened_at, resolved_at=now)
    return steps


@given(st.lists(st.floats(min_value=0, max_value=200), min_size=1, max_size=48))
def test_an_hour_of_any_figures_five_minutes_apart_opens_at_most_one_new_alert(values):
    steps = simulate(values[:12])
    assert steps.count(Step.OPEN) <= 1


@given(st.lists(st.floats(min_value=90, max_value=200), min_size=1, max_size=48))
def test_figures_that_never_fall_below_where_it_clears_never_resolve_it(values):
    steps = simulate([150.0, *values])
    assert steps[0] is Step.OPEN
    assert Step.RESOLVE not in steps and Step.OPEN not in steps[1:]


@given(st.lists(st.floats(min_value=0, max_value=200), min_size=1, max_size=200))
def test_new_alerts_are_never_more_than_one_per_minimum_interval(values):
    steps = simulate(values)
    hours = len(values) * 5 / 60
    assert steps.count(Step.OPEN) <= 1 + hours


def test_a_rule_s_numbers_are_checked():
    assert logic.check("measure", 10, 12, 60) == {
        "clear_at": "The value an alert clears at must be below the threshold"
    }
    assert "threshold" in logic.check("level", 5, None, 60)
    assert "threshold" in logic.check("level_change", 3, None, 60)
    assert "min_interval_minutes" in logic.check("measure", 10, 5, 5000)
    assert logic.check("overdue", 6, 3, 0) == {}


def test_a_forecast_rule_looks_one_to_fourteen_days_ahead_at_a_quantile_of_the_fan():
    assert logic.check("forecast", 100, 95, 60, 3, 0.5) == {}
    assert logic.check("forecast", 100, 95, 60, 14, 0.975) == {}
    assert logic.check("forecast", 100, 95, 60, 0, 0.9) == {
        "within_days": "Enter how many days ahead to look, from 1 to 14"
    }
    assert logic.check("forecast", 100, 95, 60, 15, 0.9, horizon_days=14) == {
        "within_days": "Enter how many days ahead to look, from 1 to 14"
    }
    assert logic.check("forecast", 100, 95, 60, 3, 0.6) == {
        "quantile": "Choose how likely the forecast must say it is"
    }
    assert logic.check("level", 3, None, 60, None, 0.5) == {
        "quantile": "Only a forecast rule reads a forecast"
    }


def test_a_forecast_rule_watches_only_what_is_forecast_and_is_shared_as_the_measure():
    occupied = logic.figure_of("forecast", "ga_occupied")
    assert (occupied.group, occupied.kind) == (
        logic.figure_of("measure", "ga_occupied").group,
        "count",
    )
    assert occupied.label.startswith("Forecast ")
    occupancy = logic.figure_of("forecast", "ga_occupancy")
    assert (occupancy.label, occupancy.kind) == ("Forecast G&A occupancy", "ratio")
    for not_forecast in ("nctr", "ga_open", "opel_declared"):
        with pytest.raises(KeyError):
            logic.figure_of("forecast", not_forecast)
    offered = dict(logic.forecasts_offered())
    assert {"ga_occupied", "ga_occupancy", "cc_adult_occupancy"} <= set(offered)
    assert "nctr" not in offered


TODAY = date(2026, 12, 1)


def days(*values: float) -> list[tuple[date, float]]:
    """A forecast from yesterday: today, tomorrow, ..."""
    return [(TODAY + timedelta(days=n), v) for n, v in enumerate(values)]


def test_the_outlook_is_the_highest_figure_forecast_over_the_days_watched():
    said = logic.outlook(days(90, 96, 99, 104, 120), today=TODAY, within=3, threshold=95)
    assert said == logic.Outlook(104, TODAY + timedelta(days=1))  # 120 is four days ahead
    below = logic.outlook(days(90, 92, 91), today=TODAY, within=3, threshold=95)
    assert below == logic.Outlook(92, TODAY + timedelta(days=1))
    # Days already passed are not read; a forecast whose days have all passed says nothing.
    assert logic.outlook(
        days(200, 10), today=TODAY + timedelta(days=1), within=3, threshold=95
    ) == (logic.Outlook(10, TODAY + timedelta(days=1)))
    assert logic.outlook(days(200), today=TODAY + timedelta(days=1), within=3, threshold=9) is None


@given(
    st.lists(st.floats(min_value=0, max_value=500), min_size=1, max_size=14),
    st.integers(min_value=0, max_value=5),
    st.integers(min_value=1, max_value=14),
    st.floats(min_value=0, max_value=500),
)
def test_the_outlook_names_the_first_day_at_or_above_the_threshold_within_the_days(
    values, passed, within, threshold
):
    forecast = days(*values)
    today = TODAY + timedelta(days=passed)
    said = logic.outlook(forecast, today=today, within=within, threshold=threshold)
    window = [(d, v) for d, v in forecast if today <= d <= today + timedelta(days=within)]
    if not window:
        assert said is None
        return
    assert said is not None
    assert said.value == max(v for _, v in window)
    assert today <= said.target <= today + timedelta(days=within)
    crossing = [d for d, v in window if v >= threshold]
    assert said.target == (
        crossing[0] if crossing else next(d for d, v in window if v == said.value)
    )
