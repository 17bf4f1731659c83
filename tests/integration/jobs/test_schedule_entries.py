"""The schedule names real tasks, and each scheduled task does its work for the slot it is
given, once however often it runs."""

from datetime import timedelta

import pytest
from django.utils import timezone

from flotilla.jobs.schedule import SCHEDULE
from flotilla.picture.models import Summary
from flotilla.reporting.models import Reminder
from tests import factories as f


@pytest.mark.parametrize("entry", SCHEDULE, ids=lambda e: e.name)
def test_every_schedule_entry_names_a_task_that_takes_its_slot(entry):
    task = entry.resolve()
    assert "slot" in task.func.__code__.co_varnames
    assert entry.about and entry.explain()


def test_the_reminders_job_reminds_as_at_its_slot_and_only_once(cast):
    now = timezone.now()
    f.report(cast.north, now - timedelta(hours=5), ga_open=100)
    f.report(cast.south, now - timedelta(hours=1), ga_open=50)
    task = next(e for e in SCHEDULE if e.name == "report-reminders").resolve()
    assert task.call(slot=(now - timedelta(hours=2)).isoformat()) == 0  # not yet due then
    assert task.call(slot=now.isoformat()) == 1
    assert task.call(slot=now.isoformat()) == 0
    assert Reminder.objects.get().organisation == cast.north


def test_the_morning_summary_job_sends_the_days_summaries_once(cast):
    now = timezone.now()
    f.report(cast.north, now - timedelta(minutes=30), ga_occupied=80, ga_open=100)
    task = next(e for e in SCHEDULE if e.name == "morning-summary").resolve()
    assert task.call(slot=now.isoformat()) == 1
    assert task.call(slot=now.isoformat()) == 0
    assert Summary.objects.get().organisation == cast.north


def test_the_delivery_job_sends_what_is_due(cast):
    from django.core import mail

    from flotilla.notifications import actions as notifications

    person = cast.people["outsider"]
    person.email = "admin@outside.example"
    person.save()
    notifications.notify(by=f.SYSTEM, recipients=[person], text="Something to know.")
    mail.outbox.clear()
    task = next(e for e in SCHEDULE if e.name == "deliver-notifications").resolve()
    task.call(slot=timezone.now().isoformat())
    assert [m.to for m in mail.outbox] == [["admin@outside.example"]]
    task.call(slot=timezone.now().isoformat())
    assert len(mail.outbox) == 1  # sent once, however often the job runs


def test_a_morning_summary_slot_missed_by_hours_is_not_sent_late(cast):
    f.report(cast.north, timezone.now() - timedelta(hours=30), ga_occupied=80, ga_open=100)
    task = next(e for e in SCHEDULE if e.name == "morning-summary").resolve()
    assert task.call(slot=(timezone.now() - timedelta(hours=17)).isoformat()) == 0
    assert not Summary.objects.exists()
