"""The daily call: one a day, its actions and decisions recorded as log items, its minutes
sent to the members' people, and the owners of actions falling due nudged once a day."""

from datetime import timedelta

import pytest
from django.utils import timezone

from flotilla.authz.models import Role
from flotilla.coordination import actions
from flotilla.coordination.tasks import nudge_due_actions
from flotilla.notifications.models import Notification
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_there_is_one_call_a_day(cast):
    coordinator = cast.people[Role.COORDINATOR]
    today = timezone.localdate()
    first = actions.start_call(by=coordinator, collaborative=cast.collab, held_on=today)
    again = actions.start_call(
        by=cast.people[Role.ORG_ADMIN], collaborative=cast.collab, held_on=today
    )
    assert first == again and again.note_taker == coordinator


def test_the_minutes_go_to_every_members_people_once_each(cast):
    coordinator = cast.people[Role.COORDINATOR]
    call = actions.start_call(
        by=coordinator, collaborative=cast.collab, held_on=timezone.localdate()
    )
    f.log_item(by=coordinator, collaborative=cast.collab, call=call, owner=coordinator)
    f.log_item(by=coordinator, collaborative=cast.collab, kind="decision", call=call)
    actions.record_attendance(
        by=coordinator, call=call, attendees=[cast.north, cast.south], notes="Busy"
    )
    told = actions.send_minutes(by=coordinator, call=call)
    people = {*(cast.people[r] for r in Role.values), cast.people["south_reporter"]}
    assert told == len(people)
    texts = Notification.objects.filter(text__contains="call on").values_list("text", flat=True)
    assert len(texts) == len(people)
    assert all("1 action, 1 decision" in t for t in texts)
    assert not Notification.objects.filter(recipient=cast.people["outsider"]).exists()
    actions.send_minutes(by=coordinator, call=call)
    assert Notification.objects.filter(text__startswith="Corrected minutes").count() == len(people)


def test_attendance_takes_only_members(cast):
    coordinator = cast.people[Role.COORDINATOR]
    call = actions.start_call(
        by=coordinator, collaborative=cast.collab, held_on=timezone.localdate()
    )
    with pytest.raises(actions.CoordinationError) as refused:
        actions.record_attendance(by=coordinator, call=call, attendees=[cast.outside], notes="")
    assert refused.value.errors == {"attendees": "Choose members"}


def test_owners_of_actions_due_by_tomorrow_are_nudged_once_a_day(cast):
    coordinator = cast.people[Role.COORDINATOR]
    owner = cast.people["south_reporter"]
    today = timezone.localdate()
    due = f.log_item(by=coordinator, collaborative=cast.collab, owner=owner, due_on=today)
    late = f.log_item(
        by=coordinator, collaborative=cast.collab, owner=owner, due_on=today - timedelta(days=2)
    )
    f.log_item(
        by=coordinator, collaborative=cast.collab, owner=owner, due_on=today + timedelta(days=5)
    )
    f.log_item(by=coordinator, collaborative=cast.collab, due_on=today)  # nobody to nudge
    done = f.log_item(by=coordinator, collaborative=cast.collab, owner=owner, due_on=today)
    actions.set_status(by=coordinator, item=done, status="done")
    slot = timezone.now().isoformat()
    assert nudge_due_actions.call(slot=slot) == 2
    assert nudge_due_actions.call(slot=slot) == 0  # a retry tells nobody twice
    texts = sorted(
        Notification.objects.filter(text__startswith="Your action").values_list("text", flat=True)
    )
    assert texts == sorted(
        [
            f"Your action {due.reference} in {cast.collab.name} is due today: {due.title}",
            f"Your action {late.reference} in {cast.collab.name} was due on "
            f"{late.due_on:%a %-d %b}: {late.title}",
        ]
    )
