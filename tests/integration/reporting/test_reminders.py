"""Reminders that a report is due: sent once per due time, to the people who report, and
cleared by the next report."""

from datetime import timedelta

from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from flotilla.audit.models import AuditEvent
from flotilla.authz.models import Role
from flotilla.notifications.models import Notification
from flotilla.reporting import reminders
from flotilla.reporting.models import Reminder
from tests import factories as f


def _unread(user):
    return Notification.objects.filter(recipient=user, read_at__isnull=True)


def test_an_organisation_past_its_interval_is_reminded_once_per_due_time(cast):
    now = timezone.now()
    f.report(cast.north, now - timedelta(hours=5), ga_open=100)  # interval is 4 hours
    f.report(cast.south, now - timedelta(hours=1), ga_open=50)
    sent = reminders.send_due(now=now)
    assert [(r.organisation, r.collaborative) for r in sent] == [(cast.north, cast.collab)]
    assert reminders.send_due(now=now) == []
    assert reminders.send_due(now=now + timedelta(minutes=30)) == []
    assert Reminder.objects.count() == 1
    event = AuditEvent.objects.get(action="reporting.reminder_sent")
    assert event.organisation_id == cast.north.pk
    assert event.after["recipients"] == 3  # reporter, coordinator, admin: not the viewer


def test_the_reminder_goes_to_the_people_who_report_and_says_when_it_was_due(cast):
    now = timezone.now()
    f.report(cast.north, now - timedelta(hours=5), ga_open=100)
    f.report(cast.south, now - timedelta(hours=1), ga_open=50)
    reminders.send_due(now=now)
    for role in (Role.REPORTER, Role.COORDINATOR, Role.ORG_ADMIN):
        [note] = _unread(cast.people[role])
        assert "report to River System was due at" in note.text
        assert note.link == f"/o/{cast.north.code}/report"
    assert not _unread(cast.people[Role.VIEWER]).exists()
    assert not _unread(cast.people["south_reporter"]).exists()


def test_an_organisation_that_never_reported_is_reminded_an_interval_after_joining(cast):
    later = timezone.now() + timedelta(hours=5)
    sent = reminders.send_due(now=later)
    assert {r.organisation for r in sent} == {cast.north, cast.south}
    assert all(r.last_report_at is None for r in sent)
    assert "has not reported yet" in _unread(cast.people["south_reporter"]).get().text


def test_a_commissioner_or_a_former_member_is_not_reminded(cast):
    from flotilla.collaboratives import actions as collaboratives_actions

    collaboratives_actions.leave(
        by=cast.people["south_reporter"], collaborative=cast.collab, organisation=cast.south
    )
    sent = reminders.send_due(now=timezone.now() + timedelta(hours=5))
    assert {r.organisation for r in sent} == {cast.north}


def test_the_next_report_clears_the_reminder_and_marks_it_read(cast):
    now = timezone.now()
    f.report(cast.north, now - timedelta(hours=5), ga_open=100)
    reminders.send_due(now=now)
    reporter = cast.people[Role.REPORTER]
    assert _unread(reporter).count() == 1
    f.report(cast.north, now, by=reporter, ga_open=101)
    assert not _unread(reporter).exists()
    assert Reminder.objects.get().cleared_at is not None
    assert AuditEvent.objects.filter(action="reporting.reminder_cleared").count() == 1


def test_a_report_of_no_organisation_clears_nothing_and_asks_nothing(cast):
    now = timezone.now()
    f.report(cast.north, now - timedelta(hours=5), ga_open=100)
    reminders.send_due(now=now)
    with CaptureQueriesContext(connection) as queries:
        assert reminders.clear_after_report(by=f.SYSTEM, newest={}) == 0
    assert not queries.captured_queries
    assert Reminder.objects.get().cleared_at is None


def test_an_older_figure_sent_late_does_not_clear_the_reminder(cast):
    now = timezone.now()
    f.report(cast.north, now - timedelta(hours=5), ga_open=100)
    reminders.send_due(now=now)
    f.report(cast.north, now - timedelta(hours=7), ga_open=90)
    assert Reminder.objects.get().cleared_at is None
    assert _unread(cast.people[Role.REPORTER]).count() == 1


def test_a_reminder_is_also_emailed_to_people_who_have_an_address(cast):
    reporter = cast.people[Role.REPORTER]
    reporter.email = "reporter@north.example"
    reporter.save()
    mail.outbox.clear()
    now = timezone.now()
    f.report(cast.north, now - timedelta(hours=5), ga_open=100)
    reminders.send_due(now=now)
    from flotilla.notifications.delivery import deliver_due

    deliver_due(now=now + timedelta(minutes=1))
    assert any("reporter@north.example" in m.to and "was due at" in m.body for m in mail.outbox)


def test_in_surge_reminders_come_after_the_surge_interval_and_say_it_is_surge(cast):
    now = timezone.now().replace(second=0, microsecond=0)  # reports are filed by the minute
    f.report(cast.north, now - timedelta(hours=2), ga_open=100)  # usually due after 4 hours
    f.report(cast.south, now - timedelta(minutes=30), ga_open=50)
    assert reminders.send_due(now=now) == []
    f.surge_settings(cast.collab, reporting_interval_hours=1)
    f.surge(cast.collab)
    [sent] = reminders.send_due(now=now)
    assert (sent.organisation, sent.due_at) == (cast.north, now - timedelta(hours=1))
    [note] = _unread(cast.people[Role.REPORTER])
    assert "expected every 1 hour while River System is in surge" in note.text
    event = AuditEvent.objects.get(action="reporting.reminder_sent")
    assert (event.after["interval_hours"], event.after["surge"]) == (1, True)
    f.surge(cast.collab, on=False)
    assert reminders.send_due(now=now + timedelta(minutes=5)) == []
