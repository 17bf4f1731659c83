"""The disclosure rules: what one value looks like at each detail, and how grants combine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from flotilla.sharing.policy import rules as d
from flotilla.sharing.policy.rules import Access


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


def test_several_grants_are_all_held_finest_first_each_fresher_than_the_one_before():
    banded_live = Access(d.BANDED, 0, 1)
    exact_late = Access(d.EXACT, 24, 2)
    exact_later = Access(d.EXACT, 48, 3)
    status_late = Access(d.STATUS, 6, 4)
    assert d.combine([banded_live, exact_later, exact_late, status_late]) == (
        exact_late,
        banded_live,
    )
    assert d.combine([Access(d.STATUS, 0, 4), banded_live]) == (banded_live,)
    assert d.combine([Access(d.EXACT, 3, 9), Access(d.EXACT, 3, 5)]) == (Access(d.EXACT, 3, 5),)
    assert d.combine([]) == ()


NOW = datetime(2026, 1, 5, 12, tzinfo=UTC)
HELD = (Access(d.EXACT, 24, 1), Access(d.BANDED, 3, 2), Access(d.STATUS, 0, 3))


def test_each_figure_is_shown_under_the_finest_grant_it_is_old_enough_for():
    def under(hours_ago: float, moment: datetime = NOW) -> Access | None:
        return d.shown_under(HELD, NOW - timedelta(hours=hours_ago), moment, NOW)

    assert [under(h) for h in (30, 24, 23, 3, 2, 0)] == [
        HELD[0], HELD[0], HELD[1], HELD[1], HELD[2], HELD[2],
    ]  # fmt: skip
    assert under(-1) is None  # newer than any grant shows
    # Looking back past every delay, every figure there was is shown exactly.
    assert under(30, moment=NOW - timedelta(hours=25)) == HELD[0]
    assert under(25, moment=NOW - timedelta(hours=25)) == HELD[0]
    assert d.shown_under((), NOW, NOW, NOW) is None


@given(
    st.lists(
        st.builds(
            Access,
            detail=st.sampled_from((d.EXACT, d.BANDED, d.STATUS)),
            delay_hours=st.sampled_from((0, 3, 24, 48)),
            grant_id=st.integers(1, 9),
        ),
        max_size=6,
    ),
    st.integers(-2, 60),
    st.integers(0, 60),
)
def test_no_figure_is_shown_finer_than_a_single_grant_allows_at_its_age(granted, age, back):
    moment, as_of = NOW - timedelta(hours=back), NOW - timedelta(hours=age)
    held = d.combine(granted)
    allowing = [a for a in granted if as_of <= d.cutoff(a, moment, NOW)]
    shown = d.shown_under(held, as_of, moment, NOW)
    if not allowing:
        assert shown is None
        return
    best = max(d.RANK[a.detail] for a in allowing)
    assert shown is not None and d.RANK[shown.detail] == best
    assert shown in granted and as_of <= d.cutoff(shown, moment, NOW)


def test_narrative_text_is_shown_only_under_an_exact_grant():
    assert d.showing(HELD, "text") == (HELD[0],)
    assert d.showing(HELD, "count") == HELD
    assert d.showing(HELD[1:], "text") == ()


def test_a_derived_figure_takes_the_coarser_of_its_two_inputs():
    assert d.coarser(HELD[0], HELD[1]) == HELD[1]
    assert d.coarser(HELD[2], HELD[1]) == HELD[2]
    late = Access(d.BANDED, 24, 7)
    assert d.coarser(HELD[1], late) == late  # alike in detail: the later


def test_rag_bands_need_both_a_value_and_a_threshold():
    assert d.rag_band(None, 0.99) == "none"
    assert d.rag_band((0.92, 0.95), None) == "none"
    assert d.rag_band((0.92, 0.95), 0.95) == "red"
    assert d.rag_band((0.92, 0.95), 0.93) == "amber"
    assert d.rag_band((0.92, 0.95), 0.5) == "green"
