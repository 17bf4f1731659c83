"""Whole profiles scored as worked by hand: the level, the weighted mean, what is missing, how
far the level is from going up, and what would bring it down."""

from __future__ import annotations

import pytest

from flotilla.opel import explain, load, score, shipped

ACUTE = shipped()["acute"]
MENTAL_HEALTH = shipped()["mental_health"]
COMMUNITY = shipped()["community"]

# An acute trust under pressure.
BUSY_ACUTE = {
    "ga_open": 1000,
    "ga_occupied": 961,  # 96.1%: score 3 (95% ≤ it < 98%), weight 2
    "cc_adult_open": 10,
    "cc_adult_occupied": 9,  # 90%: score 3, weight 1
    "nctr": 150,  # 150 ÷ 961 = 15.6%: score 3, weight 2
    "handover_over_60": 6,  # score 3, weight 2
    "dta_waiting": 12,  # score 2, weight 1
    "escalation_open": 0,  # score 1, weight 1
    "long_stay_21": 150,  # 150 ÷ 1000 = 15.0%: score 2 (12% ≤ it < 18%), weight 1
}


def test_an_acute_trust_is_at_the_level_its_weighted_mean_score_falls_in():
    # 2×3 + 1×3 + 2×3 + 2×3 + 1×2 + 1×1 + 1×2 = 26 over weights 10: 2.6, in [2.5, 3.25):
    # OPEL 3.
    result = score(ACUTE, BUSY_ACUTE)
    assert result.level == 3
    assert result.score == pytest.approx(26 / 10)
    assert [p.score for p in result.parameters] == [3, 3, 3, 3, 2, 1, 2]
    assert result.missing == ()
    # OPEL 4 from 3.25: 3.25 − 2.6 = 0.65 to go.
    assert result.to_next_level == pytest.approx(0.65)


def test_the_way_down_names_the_fewest_parameters_and_the_threshold_each_must_go_under():
    # To fall under 2.5 the weighted sum must fall under 25, by more than 1. G&A
    # occupancy (weight 2, 2 points above 1) could take off 4, the most of any, and first in
    # the profile among those that could: one point off it (2) is enough.
    result = score(ACUTE, BUSY_ACUTE)
    assert [c.text for c in result.to_lower] == ["G&A occupancy from 96.1% to below 95%"]
    (change,) = result.to_lower
    assert (change.code, change.below, change.points) == ("ga_occupancy", 0.95, 1)


def test_at_level_four_the_way_down_may_need_several_parameters_and_no_level_is_above():
    # Every parameter at 4: 40 over 10 = 4.0. Under 3.25 needs the sum under 32.5, down by
    # more than 7.5. The most any one can take off is 6 (weight 2 × 3 points), so two are
    # needed: G&A occupancy (first of the weight-2 ones) one point (2), then the NCTR share
    # the rest, more than 5.5: three points (6), to below its first threshold.
    worst = {
        "ga_open": 100,
        "ga_occupied": 99,
        "cc_adult_open": 10,
        "cc_adult_occupied": 10,
        "nctr": 25,  # 25 ÷ 99 = 25.3%
        "handover_over_60": 12,
        "dta_waiting": 50,
        "escalation_open": 30,
        "long_stay_21": 25,  # 25 ÷ 100 = 25%
    }
    result = score(ACUTE, worst)
    assert (result.level, result.score, result.to_next_level) == (4, 4.0, None)
    assert [c.text for c in result.to_lower] == [
        "G&A occupancy from 99.0% to below 98%",
        "G&A beds held by patients with no criteria to reside from 25.3% to below 10%",
    ]
    assert [c.points for c in result.to_lower] == [1, 3]


def test_the_changes_suggested_do_bring_the_level_down():
    result = score(ACUTE, BUSY_ACUTE)
    lowered = dict(BUSY_ACUTE, ga_occupied=949)  # just under 95%: 24 over 10 = 2.4, OPEL 2
    assert score(ACUTE, lowered).level == result.level - 1


def test_at_level_one_there_is_nothing_to_bring_down():
    calm = {"ga_open": 100, "ga_occupied": 85, "nctr": 5, "handover_over_60": 0, "dta_waiting": 2}
    # Five parameters present, all score 1: mean 1.0, OPEL 1; 1.75 − 1 = 0.75 to OPEL 2.
    result = score(ACUTE, calm)
    assert (result.level, result.score, result.to_lower) == (1, 1.0, ())
    assert result.to_next_level == pytest.approx(0.75)


def test_missing_parameters_are_left_out_of_the_mean_not_scored_as_one():
    figures = {
        "ga_open": 100,
        "ga_occupied": 93,  # 93%: score 2, weight 2
        "nctr": 12,  # 12 ÷ 93 = 12.9%: score 2, weight 2
        "handover_over_60": 0,  # score 1, weight 2
        "dta_waiting": 30,  # score 3, weight 1
        "long_stay_21": 14,  # 14 ÷ 100 = 14%: score 2, weight 1
        # critical care and escalation beds not reported
    }
    # Present: 2×2 + 2×2 + 2×1 + 1×3 + 1×2 = 15 over weights 8: 1.875, OPEL 2. Had the two
    # missing been scored 1 it would have been 17 over 10 = 1.7, OPEL 1.
    result = score(ACUTE, figures)
    assert result.missing == ("cc_adult_occupancy", "escalation_open")
    assert result.level == 2
    assert result.score == pytest.approx(15 / 8)
    missing = {p.code: p for p in result.parameters}["escalation_open"]
    assert (missing.value, missing.score, missing.shown) == (None, None, "–")


def test_with_fewer_parameters_than_the_profile_needs_there_is_no_level():
    # Two of seven (G&A occupancy and handovers), and the acute profile needs three.
    figures = {"ga_open": 100, "ga_occupied": 99, "handover_over_60": 20}
    result = score(ACUTE, figures)
    assert result.level is None
    assert result.score is None
    assert result.to_next_level is None
    assert result.to_lower == ()
    assert [p.score for p in result.parameters if p.score is not None] == [4, 4]
    assert explain(result)[0] == (
        "No level: 2 of 7 parameters have a value, and Acute trusts needs at least 3."
    )
    # A third is enough: 2×4 + 2×4 + 1×4 = 20 over weights 5: 4.0, OPEL 4.
    assert score(ACUTE, dict(figures, dta_waiting=50)).level == 4


def test_a_ratio_with_no_beds_open_or_no_count_is_missing_not_zero():
    result = score(ACUTE, {"ga_open": 0, "ga_occupied": 0, "cc_adult_occupied": 3, "nctr": 4})
    # ga_open 0: occupancy cannot be known; cc_adult_open absent; nctr ÷ 0 occupied.
    assert result.missing == tuple(p.code for p in ACUTE.parameters)


def test_a_mental_health_trust_is_scored_as_worked_by_hand():
    figures = {
        "mh_adult_open": 25,
        "mh_adult_occupied": 23,  # 92%: score 3, weight 2
        "mh_picu_open": 10,
        "mh_picu_occupied": 10,  # 100%: score 4, weight 1
        "mh_older_open": 20,
        "mh_older_occupied": 17,  # 85%: score 2, weight 1
        "nctr": 3,  # score 1, weight 1
        "staff_absent": 250,  # score 3, weight 1
    }
    # 2×3 + 4 + 2 + 1 + 3 = 16 over weights 6: 2.667, OPEL 3.
    result = score(MENTAL_HEALTH, figures)
    assert result.level == 3
    assert result.score == pytest.approx(16 / 6)
    # Under 2.5 needs the sum under 15, down by more than 1. Adult occupancy (weight 2 × 2
    # points above 1) could take off 4, more than PICU (weight 1 × 3 points); one point of it
    # (2) is enough.
    assert [c.text for c in result.to_lower] == [
        "Adult acute mental health occupancy from 92.0% to below 90%"
    ]


def test_a_community_trust_is_scored_as_worked_by_hand():
    figures = {
        "nctr": 12,  # score 3, weight 2
        "long_stay_21": 4,  # score 1, weight 1
        "staff_absent": 40,  # score 1, weight 2
        "escalation_open": 5,  # score 3, weight 1
    }
    # 2×3 + 1 + 2×1 + 3 = 12 over weights 6: 2.0, OPEL 2 (1.75 ≤ 2.0 < 2.5), 0.5 from OPEL 3.
    result = score(COMMUNITY, figures)
    assert (result.level, result.score) == (2, 2.0)
    assert result.to_next_level == pytest.approx(0.5)
    # Under 1.75 needs the sum under 10.5, down by more than 1.5: one point of NCTR (2).
    assert [c.text for c in result.to_lower] == [
        "Inpatients with no criteria to reside from 12 to below 10"
    ]


def test_a_weighted_mean_exactly_on_a_band_reaches_it():
    # A variant whose band for OPEL 2 is a mean the community profile can reach exactly.
    variant = load(
        'extends = "community"\ncode = "exact"\nversion = "1"\nlabel = "Exact"\n'
        "bands = [2, 2.5, 3]\n",
        name="exact.toml",
    )
    figures = {"nctr": 12, "long_stay_21": 4, "staff_absent": 40, "escalation_open": 5}
    assert score(variant, figures).level == 2  # mean 2.0, at the band
    assert score(variant, dict(figures, nctr=9)).level == 1  # 10 over 6 = 1.667


def test_each_parameter_says_how_far_it_is_from_its_next_threshold_and_which_it_must_go_under():
    result = score(ACUTE, BUSY_ACUTE)
    occupancy, *_, handovers, dta, escalation, long_stay = result.parameters
    assert (occupancy.next_threshold, occupancy.floor) == (0.98, 0.95)
    assert occupancy.to_next == pytest.approx(0.019)
    assert occupancy.shown == "96.1%"
    assert (handovers.next_threshold, handovers.to_next, handovers.floor) == (10, 4, 5)
    assert handovers.shown == "6 handovers"
    assert (dta.next_threshold, dta.floor) == (25, 10)
    assert (escalation.next_threshold, escalation.to_next, escalation.floor) == (1, 1, None)
    # 15.0%: 3 from 18%, 0.03 off; back to 1 under 12%.
    assert (long_stay.next_threshold, long_stay.floor) == (0.18, 0.12)
    assert long_stay.to_next == pytest.approx(0.03)
    assert long_stay.shown == "15.0%"
    top = score(ACUTE, dict(BUSY_ACUTE, ga_occupied=990)).parameters[0]
    assert (top.score, top.next_threshold, top.to_next, top.floor) == (4, None, None, 0.98)


def test_explain_says_the_level_each_parameter_and_the_way_down_in_sentences():
    # Without critical care: 23 over 9 = 2.556, and 3.25 − 2.556 = 0.694 to OPEL 4.
    lines = explain(score(ACUTE, dict(BUSY_ACUTE, cc_adult_occupied=None)))
    assert lines[0] == (
        "OPEL 3: weighted mean score 2.56 (from 1 to 4); OPEL 4 from 3.25, 0.69 higher."
    )
    assert "G&A occupancy is 96.1%: scores 3 (4 from 98%)." in lines
    assert "Adult critical care occupancy: no value, so left out (not scored as 1)." in lines
    assert lines[-1] == "To come down to OPEL 2: G&A occupancy from 96.1% to below 95%."


def test_a_figure_that_is_not_a_number_is_refused_rather_than_scored():
    with pytest.raises(ValueError, match="dta_waiting is nan"):
        score(ACUTE, dict(BUSY_ACUTE, dta_waiting=float("nan")))


def test_a_ratio_over_a_denominator_near_zero_is_at_the_top_of_the_scale_not_an_error():
    # Found by the property tests: 1 ÷ 2.2e-309 overflows a float.
    result = score(MENTAL_HEALTH, {"mh_older_occupied": 1, "mh_older_open": 2.225073858507203e-309})
    older = {p.code: p for p in result.parameters}["mh_older_occupancy"]
    assert older.score == 4
