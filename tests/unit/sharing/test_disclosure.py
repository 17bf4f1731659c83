"""The disclosure rules: what one value looks like at each detail, and how grants combine."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from flotilla.sharing import disclosure as d
from flotilla.sharing.disclosure import Access


def test_counts_round_to_the_nearest_five_with_halves_going_up():
    assert [d.round_count(v) for v in (0, 2, 2.5, 3, 7, 7.5, 12, 453)] == [
        0, 0, 5, 5, 5, 10, 10, 455,
    ]  # fmt: skip


@given(st.integers(min_value=0, max_value=10_000))
def test_a_rounded_count_is_a_multiple_of_five_within_two_and_a_half(n):
    shown = d.round_count(n)
    assert shown % 5 == 0
    assert abs(shown - n) <= 2.5


def test_occupancy_bands_are_five_points_wide_and_computed_on_exact_counts():
    assert d.occupancy_band(453, 500) == (0.90, 0.95)
    assert d.occupancy_band(7, 8) == (0.85, 0.90)
    assert d.occupancy_band(19, 20) == (0.95, 1.00)
    assert d.occupancy_band(21, 20) == (1.05, 1.10)
    assert d.occupancy_band(0, 20) == (0.0, 0.05)


@given(st.integers(min_value=0, max_value=3000), st.integers(min_value=1, max_value=3000))
def test_the_band_holds_the_exact_occupancy(occupied, open_):
    low, high = d.occupancy_band(occupied, open_)
    assert low <= occupied / open_ < high + 1e-9
    assert round((high - low) * 100) == 5


def test_exact_detail_shows_everything_as_reported():
    assert d.shown_value("count", 453.0, None, d.EXACT) == (True, 453.0, None)
    assert d.shown_value("text", None, "Busy", d.EXACT) == (True, None, "Busy")


def test_banded_detail_rounds_counts_keeps_levels_and_withholds_text():
    assert d.shown_value("count", 453.0, None, d.BANDED) == (True, 455.0, None)
    assert d.shown_value("level", 3.0, None, d.BANDED) == (True, 3.0, None)
    assert d.shown_value("text", None, "Busy", d.BANDED) == (False, None, None)


def test_status_detail_shows_levels_only():
    assert d.shown_value("count", 453.0, None, d.STATUS) == (True, None, None)
    assert d.shown_value("level", 4.0, None, d.STATUS) == (True, 4.0, None)
    assert d.shown_value("text", None, "Busy", d.STATUS) == (False, None, None)


def test_a_missing_value_stays_missing_at_every_detail():
    for detail in (d.EXACT, d.BANDED, d.STATUS):
        assert d.shown_value("count", None, None, detail) == (True, None, None)


def test_the_finest_detail_wins_then_the_shortest_delay_among_grants_with_it():
    banded_live = Access(d.BANDED, 0, 1)
    exact_late = Access(d.EXACT, 24, 2)
    exact_later = Access(d.EXACT, 48, 3)
    assert d.combine([banded_live, exact_later, exact_late]) == exact_late
    assert d.combine([Access(d.STATUS, 0, 4), banded_live]) == banded_live
    assert d.combine([]) is None
    assert exact_late.delay_hours and not banded_live.delay_hours


def test_rag_bands_need_both_a_value_and_a_threshold():
    assert d.rag_band(None, 0.99) == "none"
    assert d.rag_band((0.92, 0.95), None) == "none"
    assert d.rag_band((0.92, 0.95), 0.95) == "red"
    assert d.rag_band((0.92, 0.95), 0.93) == "amber"
    assert d.rag_band((0.92, 0.95), 0.5) == "green"
