"""Surge mode's pure parts: when the platform should switch it, and what it changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flotilla.collaboratives.actions import surge_due
from flotilla.collaboratives.models import AidReach, Collaborative
from flotilla.exchange.models import Reach

SINCE = datetime(2026, 1, 5, 14, 5, tzinfo=UTC)


def collaborative(*, automatic=True, level=3, since=None, by_platform=False) -> Collaborative:
    return Collaborative(
        name="River System",
        reporting_interval_hours=4,
        surge_level=level,
        surge_automatic=automatic,
        surge_reporting_interval_hours=1,
        surge_aid_reach=AidReach.REGION,
        surge_since=since,
        surge_switched_automatically=by_platform,
    )


def test_the_surge_audiences_mirror_the_exchanges_reach_ladder():
    assert AidReach.choices == Reach.choices


@pytest.mark.parametrize(
    ("collab", "system_level", "due"),
    [
        pytest.param(collaborative(), 3, True, id="automatic, level reaches surge level: on"),
        pytest.param(collaborative(), 4, True, id="automatic, level above surge level: on"),
        pytest.param(collaborative(), 2, None, id="automatic, level below: nothing"),
        pytest.param(collaborative(automatic=False), 4, None, id="by hand only: never"),
        pytest.param(collaborative(), None, None, id="level unknown: nothing"),
        pytest.param(
            collaborative(since=SINCE, by_platform=True), 3, None, id="in surge at the level: stays"
        ),
        pytest.param(
            collaborative(since=SINCE, by_platform=True), 2, False, id="dropped below: off"
        ),
        pytest.param(
            collaborative(since=SINCE, by_platform=True), 1, False, id="dropped far below: off"
        ),
        pytest.param(
            collaborative(since=SINCE, by_platform=False),
            1,
            None,
            id="switched on by hand: left for a person to end",
        ),
        pytest.param(
            collaborative(automatic=False, since=SINCE, by_platform=True),
            1,
            None,
            id="automatic since turned off: left for a person to end",
        ),
        pytest.param(
            collaborative(since=SINCE, by_platform=True), None, None, id="in surge, level unknown"
        ),
    ],
)
def test_surge_is_due_only_when_automatic_and_the_level_crosses_the_surge_level(
    collab, system_level, due
):
    assert surge_due(collaborative=collab, system_level=system_level) is due


def test_in_surge_members_report_on_the_surge_interval_and_aid_is_asked_wider():
    calm, surging = collaborative(), collaborative(since=SINCE)
    assert (calm.in_surge, surging.in_surge) == (False, True)
    assert calm.effective_reporting_interval_hours == 4
    assert surging.effective_reporting_interval_hours == 1
    assert calm.default_aid_reach == Reach.COLLABORATIVE
    assert surging.default_aid_reach == Reach.REGION
