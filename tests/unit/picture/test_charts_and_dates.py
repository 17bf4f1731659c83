"""Charts draw every value honestly, and times say their year when it is not this one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flotilla.formatting import when
from flotilla.picture.charts import HEIGHT, PAD_B, PAD_T, WIDTH, line_chart

SINCE = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
UNTIL = SINCE + timedelta(days=7)
HOURLY = timedelta(hours=1)


def chart(points, counts=True):
    return line_chart("Beds", points, SINCE, UNTIL, HOURLY, counts)


def at(hours: float) -> datetime:
    return SINCE + timedelta(hours=hours)


def test_a_single_value_is_drawn_as_a_dot():
    c = chart([(at(24), 40.0)])
    assert len(c.dots) == 1
    assert c.points == 1


def test_a_value_with_no_neighbour_is_a_dot_and_a_line_is_not():
    c = chart([(at(1), 5.0), (at(2), 6.0), (at(3), None), (at(4), 7.0), (at(30), 8.0)])
    # 5-6 is a line; 7 stands between a missing value and a gap; 8 stands after the gap.
    assert len(c.dots) == 2
    assert c.path.count("M") == 3


def test_a_line_of_values_has_no_dots():
    assert chart([(at(h), 10.0 + h) for h in range(5)]).dots == []


def test_counts_get_whole_number_ticks():
    c = chart([(at(1), 1.0), (at(2), 3.0)])
    assert [label for _, label in c.y_ticks] == ["1", "2", "3"]
    c = chart([(at(1), 0.0), (at(2), 1.0)])
    assert [label for _, label in c.y_ticks] == ["0", "1"]


def test_a_count_axis_never_goes_below_zero():
    for values in ([0.0], [0.0, 0.0], [0.0, 1.0], [0.0, 2.0, 0.0]):
        c = chart([(at(i), v) for i, v in enumerate(values)])
        assert c.y_ticks[0] == (HEIGHT - PAD_B, "0")  # zero sits on the axis, nothing below
    assert chart([(at(1), 2.0), (at(2), 2.0)]).y_ticks[0][1] == "1"


def test_ticks_are_round_numbers_that_hold_every_value():
    c = chart([(at(1), 230.0), (at(2), 488.0)])
    ticks = [float(label.replace(",", "")) for _, label in c.y_ticks]
    assert ticks[0] <= 230 and ticks[-1] >= 488
    assert all(t % 50 == 0 for t in ticks)
    assert all(PAD_T <= y <= HEIGHT - PAD_B for y, _ in c.y_ticks)


def test_a_ratio_keeps_its_decimals():
    c = chart([(at(1), 0.2), (at(2), 0.9)], counts=False)
    assert [label for _, label in c.y_ticks] == ["0.0", "0.5", "1.0"]


def test_the_last_date_is_anchored_inside_the_chart():
    c = chart([(at(1), 5.0)])
    x, label, anchor = c.x_ticks[-1]
    assert (label, anchor) == ("12 Jan", "end")
    assert x <= WIDTH
    assert c.x_ticks[0][2] == "start"


def test_a_time_this_year_has_no_year_and_another_years_has_it():
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert when(datetime(2026, 1, 5, 8, 0, tzinfo=UTC), now) == "5 Jan 08:00"
    assert when(datetime(2025, 11, 26, 14, 5, tzinfo=UTC), now) == "26 Nov 2025 14:05"
    assert when(None, now) == "–"


def fan(days: int = 3, start: float = 40.0):
    from flotilla.picture.charts import FanPoint

    return [
        FanPoint(
            UNTIL + timedelta(days=d), start - 2 * d, start - d, start, start + d, start + 2 * d
        )
        for d in range(1, days + 1)
    ]


def test_a_forecast_is_drawn_after_the_history_as_a_median_inside_two_bands():
    c = line_chart(
        "Beds", [(at(h), 40.0) for h in range(0, 160, 8)], SINCE, UNTIL, HOURLY, fan=fan()
    )
    assert c.median.count("L") == 2 and c.median.startswith("M")
    assert len(c.band95.split()) == 6 and len(c.band50.split()) == 6
    last_value_x = max(float(p.split(",")[0].lstrip("ML")) for p in c.path.split())
    assert c.fan_from is not None and c.fan_from > last_value_x
    # The axis reaches the last forecast day and holds its 95% band.
    assert c.x_ticks[-1][0] == WIDTH - 12
    tops = [float(p.split(",")[1]) for p in c.band95.split()]
    assert min(tops) >= PAD_T and max(tops) <= HEIGHT - PAD_B


def test_a_chart_without_a_forecast_draws_no_fan():
    c = chart([(at(1), 5.0), (at(2), 6.0)])
    assert (c.band95, c.band50, c.median, c.fan_from) == ("", "", "", None)
