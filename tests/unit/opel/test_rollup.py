"""Providers' levels rolled up to a system's level, by each rule, worked by hand."""

from __future__ import annotations

import pytest

from flotilla.opel import Rollup, rollup, shipped


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        ([1, 2, 4], 4),
        ([3], 3),
        ([2, None, 1], 2),  # a provider without a level is left out
    ],
)
def test_the_highest_rule_takes_the_highest_providers_level(levels, expected):
    assert rollup("highest", levels) == expected


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        ([1, 2], 2),  # 1.5 rounds half up to 2
        ([2, 3], 3),  # 2.5 to 3, not to the even 2
        ([1, 1, 2], 1),  # 1.33
        ([1, 2, 2], 2),  # 1.67
        ([1, 4], 3),  # 2.5
        ([1, 1, 1, 4], 2),  # 1.75
        ([4, None], 4),
    ],
)
def test_the_mean_rule_takes_the_mean_level_rounded_half_up(levels, expected):
    assert rollup("mean", levels) == expected


@pytest.mark.parametrize(
    ("levels", "share", "expected"),
    [
        # 4 providers at 1, 2, 3, 4. At or above 2: 3 of 4; at or above 3: 2 of 4 (a half);
        # at or above 4: 1 of 4.
        ([1, 2, 3, 4], 0.5, 3),
        ([1, 2, 3, 4], 0.75, 2),
        ([1, 2, 3, 4], 0.25, 4),
        ([1, 2, 3, 4], 1.0, 1),
        # 3 providers at 4, 4, 1: two thirds at 4, which is at least a half.
        ([4, 4, 1], 0.5, 4),
        # 3 providers at 4, 1, 1: a third at 4 and at 2 or above; a half needs more.
        ([4, 1, 1], 0.5, 1),
        ([2, 2, None], 0.5, 2),
    ],
)
def test_the_share_rule_takes_the_highest_level_enough_providers_are_at_or_above(
    levels, share, expected
):
    assert rollup("share", levels, share=share) == expected
    assert rollup(Rollup("share", share), levels) == expected


@pytest.mark.parametrize("rule", ["highest", "mean"])
def test_with_no_provider_levels_there_is_no_system_level(rule):
    assert rollup(rule, []) is None
    assert rollup(rule, [None, None]) is None
    assert rollup(Rollup("share", 0.5), []) is None


def test_a_profile_carries_its_rollup_rule():
    acute = shipped()["acute"]
    assert acute.rollup == Rollup("share", 0.5)
    assert rollup(acute.rollup, [4, 4, 2, 1]) == 4
    assert rollup(shipped()["community"].rollup, [4, 4, 2, 1]) == 4
    assert rollup(Rollup("mean"), [4, 4, 2, 1]) == 3  # 2.75


def test_an_unknown_rule_or_a_share_rule_without_a_share_is_refused():
    with pytest.raises(ValueError, match="unknown rollup rule"):
        rollup("median", [1, 2])
    with pytest.raises(ValueError, match="needs a share"):
        rollup("share", [1, 2])
