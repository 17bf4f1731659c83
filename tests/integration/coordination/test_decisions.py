"""Decisions keep the picture as it stood when they were taken, and show each viewer only
what that viewer may see of it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from flotilla.authz.models import Role
from flotilla.coordination import actions, queries
from flotilla.sharing import policy
from tests import factories as f

pytestmark = pytest.mark.django_db


def _figure(picture, org, code):
    row = next(r for r in picture.all_rows if r.organisation.pk == org.pk and r.site is None)
    return row.figures.get(code), row.derived.get(code), code in row.withheld


def test_a_decision_keeps_the_figures_as_they_stood_after_they_change(cast):
    coordinator = cast.people[Role.COORDINATOR]
    earlier = timezone.now() - timedelta(hours=1)
    f.report(cast.south, earlier, ga_occupied=470, ga_open=500)
    decision = f.log_item(by=coordinator, collaborative=cast.collab, kind="decision")
    f.report(cast.south, timezone.now(), ga_occupied=300, ga_open=500)
    seen = queries.decision_picture(policy.viewer_of(coordinator), decision)
    occupied, _, _ = _figure(seen, cast.south, "ga_occupied")
    assert occupied.value == 470
    assert seen.at == decision.decided_at
    _, occupancy, _ = _figure(seen, cast.south, "ga_occupancy")
    assert occupancy.value == pytest.approx(0.94)


def test_a_decision_shows_a_viewer_a_banded_figure_when_that_is_all_they_may_see(cast):
    coordinator = cast.people[Role.COORDINATOR]
    f.reshare(f.collaborative_grant(cast.south, cast.collab), detail="banded")
    f.report(cast.south, timezone.now() - timedelta(minutes=5), ga_occupied=473, ga_open=500)
    decision = f.log_item(by=coordinator, collaborative=cast.collab, kind="decision")
    seen = queries.decision_picture(policy.viewer_of(coordinator), decision)
    occupied, _, _ = _figure(seen, cast.south, "ga_occupied")
    assert occupied.value == 475
    assert occupied.detail == "banded"
    own = queries.decision_picture(policy.viewer_of(cast.people["south_reporter"]), decision)
    assert _figure(own, cast.south, "ga_occupied")[0].value == 473


def test_a_decision_withholds_what_the_owner_no_longer_shares(cast):
    coordinator = cast.people[Role.COORDINATOR]
    f.report(cast.south, timezone.now() - timedelta(minutes=5), ga_occupied=470, ga_open=500)
    decision = f.log_item(by=coordinator, collaborative=cast.collab, kind="decision")
    f.unshare(f.collaborative_grant(cast.south, cast.collab))
    seen = queries.decision_picture(policy.viewer_of(coordinator), decision)
    occupied, occupancy, withheld = _figure(seen, cast.south, "ga_occupied")
    assert occupied is None and occupancy is None and withheld


def test_a_decision_taken_later_keeps_the_picture_of_its_own_moment(cast):
    coordinator = cast.people[Role.COORDINATOR]
    pending = f.log_item(
        by=coordinator,
        collaborative=cast.collab,
        kind="decision",
        decided=False,
        due_on=timezone.localdate(),
    )
    assert pending.snapshot is None and pending.decided_at is None
    f.report(cast.south, timezone.now() - timedelta(minutes=5), ga_occupied=480, ga_open=500)
    taken = actions.decide(
        by=coordinator, item=pending, rationale="Open the escalation ward", decided_by="Chair"
    )
    assert taken.status == "done"
    seen = queries.decision_picture(policy.viewer_of(coordinator), taken)
    assert _figure(seen, cast.south, "ga_occupied")[0].value == 480
