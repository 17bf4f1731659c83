"""The RAID log: items numbered per kind, flagged when overdue or unowned, escalated to the
sponsor who is told, moved on by their owner, never deleted."""

from datetime import timedelta

import pytest
from django.utils import timezone

from flotilla.audit.models import AuditEvent
from flotilla.authz.models import Role
from flotilla.coordination import actions, queries
from flotilla.notifications.models import Notification
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def coordinator(cast):
    return cast.people[Role.COORDINATOR]


def test_items_are_numbered_per_kind_in_each_collaborative(cast, coordinator):
    refs = [
        f.log_item(by=coordinator, collaborative=cast.collab, kind=k).reference
        for k in ("action", "risk", "action", "issue", "decision", "risk")
    ]
    assert refs == ["A1", "R1", "A2", "I1", "D1", "R2"]


def test_a_risk_scores_its_likelihood_times_its_impact(cast, coordinator):
    risk = f.log_item(
        by=coordinator, collaborative=cast.collab, kind="risk", likelihood=4, impact=5
    )
    assert risk.score == 20


@pytest.mark.parametrize(
    ("kind", "given", "field", "words"),
    [
        ("action", {"due_on": None}, "due_on", "Give the date the action is due"),
        (
            "risk",
            {"likelihood": None},
            "likelihood",
            "Give the likelihood from 1 (low) to 5 (high)",
        ),
        ("risk", {"impact": 6}, "impact", "Give the impact from 1 (low) to 5 (high)"),
        ("decision", {"rationale": ""}, "rationale", "Say why it was decided"),
        ("decision", {"decided_by": " "}, "decided_by", "Say who decided"),
        ("decision", {"decided": False}, "due_on", "Give the date the decision is due"),
        ("action", {"title": "x" * 301}, "title", "Keep it to 300 characters (it has 301)"),
        ("plan", {}, "kind", "Choose a risk, an action, an issue or a decision"),
    ],
)
def test_a_bad_item_is_refused_by_field_and_nothing_is_stored(
    cast, coordinator, kind, given, field, words
):
    with pytest.raises(actions.CoordinationError) as refused:
        f.log_item(by=coordinator, collaborative=cast.collab, kind=kind, **given)
    assert refused.value.errors[field] == words
    assert not cast.collab.log_items.exists()


def test_overdue_and_unowned_items_are_flagged(cast, coordinator):
    today = timezone.localdate()
    late = f.log_item(
        by=coordinator,
        collaborative=cast.collab,
        owner=coordinator,
        due_on=today - timedelta(days=1),
    )
    unowned = f.log_item(by=coordinator, collaborative=cast.collab, kind="issue")
    due = f.log_item(
        by=coordinator, collaborative=cast.collab, kind="decision", decided=False, due_on=today
    )
    assert queries.flags(late).overdue and not queries.flags(late).unowned
    assert queries.flags(unowned).unowned and not queries.flags(unowned).overdue
    assert queries.flags(due).due_soon
    assert queries.overdue_actions(cast.collab) == [late]
    assert queries.decisions_due(cast.collab) == [due]
    late = actions.set_status(by=coordinator, item=late, status="done")
    assert not queries.flags(late).overdue
    assert queries.overdue_actions(cast.collab) == []


def test_closing_needs_a_reason_and_keeps_the_item(cast, coordinator):
    item = f.log_item(by=coordinator, collaborative=cast.collab)
    with pytest.raises(actions.CoordinationError) as refused:
        actions.set_status(by=coordinator, item=item, status="closed")
    assert refused.value.errors["reason"] == "Say why it is closed"
    actions.set_status(by=coordinator, item=item, status="closed", reason="Overtaken")
    item.refresh_from_db()
    assert (item.status, item.closed_reason) == ("closed", "Overtaken")
    with pytest.raises(actions.CoordinationError) as refused:
        actions.set_status(by=coordinator, item=item, status="open")
    assert refused.value.errors["reason"] == "Say why it is reopened"
    event = AuditEvent.objects.filter(action="log_item_status").order_by("-id").first()
    assert (event.before["status"], event.after["status"]) == ("open", "closed")


def test_an_owner_moves_their_own_item_on_but_not_anothers(cast, coordinator):
    owner = cast.people["south_reporter"]
    mine = f.log_item(by=coordinator, collaborative=cast.collab, owner=owner)
    theirs = f.log_item(by=coordinator, collaborative=cast.collab, owner=coordinator)
    assert actions.set_status(by=owner, item=mine, status="in_progress").status == "in_progress"
    with pytest.raises(actions.CoordinationError, match="Only the item's owner"):
        actions.set_status(by=owner, item=theirs, status="done")


def test_escalating_tells_the_workstream_sponsor(cast, coordinator):
    sponsor = cast.people[Role.ORG_ADMIN]
    stream = f.workstream(by=coordinator, collaborative=cast.collab, sponsor=sponsor)
    item = f.log_item(by=coordinator, collaborative=cast.collab, kind="issue", workstream=stream)
    actions.escalate(by=coordinator, item=item, note="We need a decision on funding")
    told = Notification.objects.get(recipient=sponsor)
    assert "I1 escalated to you" in told.text and "funding" in told.text
    assert told.link.endswith(f"/c/{cast.collab.slug}/log/{item.pk}")
    item.refresh_from_db()
    assert item.escalated_by == coordinator and queries.flags(item).escalated


def test_escalating_without_a_workstream_tells_the_collaboratives_sponsors(cast, coordinator):
    sponsor = cast.people["south_reporter"]
    f.role(sponsor, cast.collab, cast.south, "sponsor", by=coordinator)
    item = f.log_item(by=coordinator, collaborative=cast.collab, kind="risk")
    actions.escalate(by=coordinator, item=item, note="Please unblock")
    assert Notification.objects.filter(recipient=sponsor).count() == 1


def test_escalating_with_no_sponsor_is_refused_saying_how_to_name_one(cast, coordinator):
    item = f.log_item(by=coordinator, collaborative=cast.collab)
    with pytest.raises(actions.CoordinationError, match="There is no sponsor to escalate to"):
        actions.escalate(by=coordinator, item=item, note="Help")
    assert not Notification.objects.exists()


def test_a_role_lapses_when_its_holder_leaves_the_organisation(cast, coordinator):
    from flotilla.authz import actions as authz_actions
    from flotilla.authz.models import Membership

    person = cast.people["south_reporter"]
    f.role(person, cast.collab, cast.south, "lead", by=coordinator)
    f.log_item(by=person, collaborative=cast.collab)
    authz_actions.remove_membership(
        by=f.SYSTEM, membership=Membership.objects.get(user=person, organisation=cast.south)
    )
    with pytest.raises(actions.CoordinationError):
        f.log_item(by=person, collaborative=cast.collab)


def test_a_decision_cannot_be_changed_once_taken(cast, coordinator):
    decision = f.log_item(by=coordinator, collaborative=cast.collab, kind="decision")
    with pytest.raises(actions.CoordinationError, match="D1 is closed"):
        actions.change_item(
            by=coordinator, item=decision, title="Something else", rationale="r", decided_by="d"
        )
    with pytest.raises(actions.CoordinationError, match="decided or closed already"):
        actions.decide(by=coordinator, item=decision, rationale="again", decided_by="me")
