"""Crash consistency: the web server killed with SIGKILL in the middle of API submissions,
round after round, loses no acknowledged report and leaves none stored in part; the audit
chains and the state they describe still verify. A few rounds here; `bench/crash.py` runs
200 (and `make bench` with it)."""

from __future__ import annotations

import pytest

from flotilla.authz import actions as authz_actions
from flotilla.authz.models import Role, TokenScope
from tests.crash_drill import drill, problems

ROUNDS = 4


@pytest.mark.django_db(transaction=True)
def test_killing_the_server_mid_submission_loses_no_acknowledged_report_and_none_in_part(
    cast, tmp_path
):
    _, secret = authz_actions.issue_token(
        by=cast.people[Role.ORG_ADMIN],
        organisation=cast.north,
        name="crash drill",
        scope=TokenScope.SUBMIT,
    )
    tally = drill(ROUNDS, secret, tmp_path / "gunicorn.log")
    assert tally.rounds == ROUNDS
    assert tally.acknowledged, "no report was acknowledged: the drill tested nothing"
    assert tally.cut, "no request was in flight at a kill: the drill tested nothing"
    assert problems(tally) == []
