"""Background jobs: run by the worker, retried with backoff, scheduled once per slot, put back
when their worker is lost, purged when old, and shown to platform staff only.

The worker here is the real one (`FlotillaWorker`, django-tasks-db's loop plus our
housekeeping) run in this process in batch mode: it runs every job that is due, then stops.
Tests that run it use real transactions, because the worker commits as it goes.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult, get_date_max

from flotilla.audit.models import AuditEvent
from flotilla.authz.models import Role
from flotilla.jobs import actions
from flotilla.jobs.models import ScheduledRun, WorkerHeartbeat
from flotilla.jobs.retry import (
    NO_RETRY,
    TAKEN_OVER_BY,
    TAKING_OVER_PRIORITY,
    Retry,
    job,
    rule_for,
)
from flotilla.jobs.schedule import SCHEDULE, Entry
from flotilla.jobs.worker import FlotillaWorker, run_batch
from tests import factories as f
from tests.concurrency import at_once


@job
def add(a: int, b: int) -> int:
    return a + b


@job
def nightly(slot: str) -> str:
    return f"done for {slot}"


@job(max_attempts=3, backoff=timedelta(seconds=0.4), factor=2, takes_context=True)
def fails_twice(context) -> str:
    if context.attempt <= 2:
        raise ConnectionError(f"the mail server hung up on attempt {context.attempt}")
    return f"sent on attempt {context.attempt}"


@job(max_attempts=2, backoff=timedelta(0))
def always_fails(ward: str) -> None:
    raise ValueError(f"the bed list for {ward} is unreadable")


POSTGRES = connection.vendor == "postgresql"

#: The wards `recount` counted, in order: what the worker actually ran.
RECOUNTED: list[str] = []


@job(takes_over=True)
def recount(ward: str) -> str:
    """Stands in for a job that works from the newest state of what it names."""
    RECOUNTED.append(ward)
    return f"counted {ward}"


def run_worker(*, schedule: bool = False) -> FlotillaWorker:
    """Run every job that is due with a real worker, as `flotilla worker --batch` does."""
    return run_batch(schedule=schedule, worker_id=f"test-{time.monotonic_ns()}")


def row(result) -> DBTaskResult:
    return DBTaskResult.objects.get(pk=result.id)


def staff_member():
    """Platform staff are made with Django's own `createsuperuser`, as in production."""
    call_command(
        "createsuperuser", "--noinput", username="platform", email="platform@example.nhs.uk"
    )
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username="platform")


def test_a_retry_rule_waits_longer_after_each_failure_up_to_its_cap():
    rule = Retry(
        max_attempts=6, backoff=timedelta(seconds=30), factor=2, max_delay=timedelta(minutes=3)
    )
    waits = [rule.delay_after(n).total_seconds() for n in range(1, 6)]
    assert waits == [30, 60, 120, 180, 180]
    with pytest.raises(ValueError):
        Retry(max_attempts=0)


@pytest.mark.django_db(transaction=True)
def test_a_job_enqueued_is_run_by_the_worker_and_succeeds():
    result = add.enqueue(2, 3)
    assert row(result).status == TaskResultStatus.READY

    worker = run_worker()

    done = row(result)
    assert done.status == TaskResultStatus.SUCCESSFUL
    assert done.return_value == 5
    assert done.worker_ids == [worker.worker_id]
    # A worker that stops cleanly leaves no heartbeat behind to be taken for a lost one.
    assert not WorkerHeartbeat.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_job_that_fails_twice_is_retried_with_backoff_and_succeeds_on_the_third_attempt():
    result = fails_twice.enqueue()

    before = timezone.now()
    run_worker()
    first = row(result)
    # Back in the queue, not failed, with the error kept and the next try 0.4 s away.
    assert first.status == TaskResultStatus.READY
    assert len(first.worker_ids) == 1
    assert "the mail server hung up on attempt 1" in first.traceback
    assert (
        before + timedelta(seconds=0.4)
        <= first.run_after
        <= timezone.now() + timedelta(seconds=0.4)
    )

    # Before its time, the worker leaves it alone.
    run_worker()
    assert len(row(result).worker_ids) == 1

    time.sleep(max((first.run_after - timezone.now()).total_seconds(), 0) + 0.05)
    before = timezone.now()
    run_worker()
    second = row(result)
    assert second.status == TaskResultStatus.READY
    assert len(second.worker_ids) == 2
    assert "attempt 2" in second.traceback
    # Twice as long after the second failure.
    assert (
        before + timedelta(seconds=0.8)
        <= second.run_after
        <= timezone.now() + timedelta(seconds=0.8)
    )

    time.sleep(max((second.run_after - timezone.now()).total_seconds(), 0) + 0.05)
    run_worker()
    third = row(result)
    assert third.status == TaskResultStatus.SUCCESSFUL
    assert third.return_value == "sent on attempt 3"
    assert len(third.worker_ids) == 3
    assert third.traceback == ""


@pytest.mark.django_db(transaction=True)
def test_a_job_that_always_fails_ends_failed_with_its_error_on_the_jobs_page(client):
    result = always_fails.enqueue("Ward 7")
    add.enqueue(1, 1)

    run_worker()

    failed = row(result)
    assert failed.status == TaskResultStatus.FAILED
    assert len(failed.worker_ids) == 2
    assert failed.exception_class_path == "builtins.ValueError"

    client.force_login(staff_member())
    page = client.get("/platform/jobs")
    assert page.status_code == 200
    html = page.content.decode()
    failed_section = html[html.index('id="failed"') : html.index('id="queued"')]
    assert "always_fails" in failed_section
    assert "ValueError: the bed list for Ward 7 is unreadable" in failed_section
    assert "2 of 2" in failed_section
    assert "Traceback (most recent call last)" in failed_section
    succeeded = html[html.index('id="succeeded"') : html.index('id="workers"')]
    assert "add" in succeeded and "always_fails" not in succeeded


@pytest.mark.django_db(transaction=True)
def test_the_schedule_enqueues_a_slot_once_even_when_asked_twice():
    entry = Entry(
        name="test-nightly",
        task="flotilla.jobs.tasks.purge_finished_jobs",
        when="0 3 * * *",
        about="-",
    )
    night = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)  # 03:00 in London in winter

    first = actions.enqueue_due(now=night + timedelta(minutes=1), entries=[entry])
    again = actions.enqueue_due(now=night + timedelta(minutes=1), entries=[entry])
    later_that_day = actions.enqueue_due(now=night + timedelta(hours=20), entries=[entry])
    # Straight at the slot, without the cheap look-up first.
    direct = actions.enqueue_slot(entry=entry, slot=night)

    assert [r.slot for r in first] == [night]
    assert again == later_that_day == [] and direct is None
    run = ScheduledRun.objects.get(name="test-nightly")
    assert run.result.args_kwargs == {"args": [], "kwargs": {"slot": night.isoformat()}}
    assert DBTaskResult.objects.count() == 1

    next_night = actions.enqueue_due(now=night + timedelta(days=1), entries=[entry])
    assert [r.slot for r in next_night] == [night + timedelta(days=1)]


@pytest.mark.django_db(transaction=True)
def test_two_schedulers_asking_at_the_same_moment_enqueue_the_slot_once():
    entry = Entry(
        name="test-race",
        task="flotilla.jobs.tasks.purge_finished_jobs",
        when="*/5 * * * *",
        about="-",
    )
    now = timezone.now()
    made = at_once(lambda _: len(actions.enqueue_due(now=now, entries=[entry])), threads=4)

    assert sorted(made) == [0, 0, 0, 1]
    assert ScheduledRun.objects.filter(name="test-race").count() == 1
    assert DBTaskResult.objects.count() == 1


def test_schedule_slots_are_read_in_local_time_across_the_clock_change():
    entry = Entry(
        name="test-nine",
        task="flotilla.jobs.tasks.purge_finished_jobs",
        when="0 9 * * *",
        about="-",
    )
    # 09:00 in London is 09:00 UTC in winter and 08:00 UTC in summer.
    assert entry.latest_slot(datetime(2026, 1, 5, 9, 0, tzinfo=UTC)) == datetime(
        2026, 1, 5, 9, 0, tzinfo=UTC
    )
    assert entry.latest_slot(datetime(2026, 7, 1, 8, 30, tzinfo=UTC)) == datetime(
        2026, 7, 1, 8, 0, tzinfo=UTC
    )
    assert entry.next_slot(datetime(2026, 3, 28, 9, 0, tzinfo=UTC)) == datetime(
        2026, 3, 29, 8, 0, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="test-bad"):
        Entry(
            name="test-bad",
            task="flotilla.jobs.tasks.purge_finished_jobs",
            when="61 * * * *",
            about="-",
        )


def test_every_schedule_entry_has_a_unique_name_and_a_job_with_a_retry_rule():
    names = [e.name for e in SCHEDULE]
    assert len(names) == len(set(names))
    assert "purge-finished-jobs" in names
    # A scheduled job that fails once should not wait a whole slot for its next chance.
    assert all(rule_for(e.task) is not NO_RETRY for e in SCHEDULE)


@pytest.mark.django_db(transaction=True)
def test_the_worker_runs_the_scheduled_purge_and_the_page_says_when_it_ran_and_runs_next(client):
    run_worker(schedule=True)

    run = ScheduledRun.objects.get(name="purge-finished-jobs")
    assert run.result.status == TaskResultStatus.SUCCESSFUL
    client.force_login(staff_member())
    html = client.get("/platform/jobs").content.decode()
    scheduled = html[html.index('id="schedule"') : html.index('id="succeeded"')]
    assert "purge-finished-jobs" in scheduled
    assert "At 03:17 every day" in scheduled
    assert "Succeeded" in scheduled
    assert "Never" not in scheduled


@pytest.mark.django_db(transaction=True)
def test_a_lost_workers_job_is_put_back_and_given_up_after_three_claims(settings):
    settings.JOBS_WORKER_LOST_AFTER_SECONDS = 60
    # Two attempts allowed: a lost worker still gets the job back up to three claims.
    result = always_fails.enqueue("Ward 1")
    now = timezone.now()
    for attempt in (1, 2, 3):
        # A worker claims the job (as django-tasks-db's loop does) and is never heard of again.
        claimed = row(result)
        claimed.claim(f"vanished-{attempt}")
        later = claimed.started_at + timedelta(seconds=61)
        # Not while the worker may still be alive...
        assert actions.recover_lost(
            by=f.SYSTEM, now=claimed.started_at + timedelta(seconds=30)
        ) == {
            "put_back": [],
            "failed": [],
        }
        # ...but once it has been silent for longer than the limit.
        recovered = actions.recover_lost(by=f.SYSTEM, now=later)
        if attempt < 3:
            assert recovered == {"put_back": [result.id], "failed": []}
            assert row(result).status == TaskResultStatus.READY
        else:
            assert recovered == {"put_back": [], "failed": [result.id]}
    gone = row(result)
    assert gone.status == TaskResultStatus.FAILED
    assert gone.exception_class_path == "flotilla.jobs.actions.WorkerLost"
    assert "vanished-3" in gone.traceback
    events = AuditEvent.objects.filter(action="jobs.worker_lost").order_by("id")
    assert [e.after["workers"] for e in events] == [["vanished-1"], ["vanished-2"], ["vanished-3"]]
    assert now < gone.finished_at


@pytest.mark.django_db(transaction=True)
def test_a_running_job_of_a_live_worker_is_left_alone():
    result = add.enqueue(1, 2)
    actions.beat(worker_id="alive", host="here", pid=1)
    row(result).claim("alive")
    started = row(result).started_at
    actions.beat(worker_id="alive", host="here", pid=1, now=started + timedelta(seconds=90))

    assert actions.recover_lost(by=f.SYSTEM, now=started + timedelta(seconds=100)) == {
        "put_back": [],
        "failed": [],
    }
    assert row(result).status == TaskResultStatus.RUNNING


@pytest.mark.django_db(transaction=True)
def test_the_purge_deletes_old_finished_jobs_but_keeps_recent_ones_and_each_entrys_last_slot():
    entry = Entry(name="test-daily", task=f"{__name__}.nightly", when="0 4 * * *", about="-")
    old_slot = datetime(2026, 1, 1, 4, 0, tzinfo=UTC)
    actions.enqueue_slot(entry=entry, slot=old_slot)
    actions.enqueue_slot(entry=entry, slot=old_slot + timedelta(days=1))
    recent = add.enqueue(1, 1)
    queued = add.enqueue(2, 2)
    run_worker()
    add.enqueue(3, 3)  # queued, never purged
    DBTaskResult.objects.exclude(pk__in=[recent.id, queued.id]).update(
        finished_at=old_slot + timedelta(days=1, minutes=1)
    )
    DBTaskResult.objects.filter(pk=queued.id).update(status=TaskResultStatus.READY)
    actions.beat(worker_id="long-gone", host="old", pid=1, now=old_slot)

    counts = actions.purge_finished(
        by=f.SYSTEM,
        finished_before=old_slot + timedelta(days=30),
        workers_unseen_since=old_slot + timedelta(days=29),
    )

    assert counts["jobs"] == 2 and counts["scheduled_runs"] == 1 and counts["workers"] == 1
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {
        TaskResultStatus.SUCCESSFUL,
        TaskResultStatus.READY,
    }
    assert DBTaskResult.objects.count() == 3
    # The entry's last slot stays, so it is not enqueued again.
    assert list(ScheduledRun.objects.values_list("slot", flat=True)) == [
        old_slot + timedelta(days=1)
    ]
    assert AuditEvent.objects.filter(action="jobs.purged").count() == 1
    # A second purge finds nothing, and records nothing.
    again = actions.purge_finished(
        by=f.SYSTEM,
        finished_before=old_slot + timedelta(days=30),
        workers_unseen_since=old_slot + timedelta(days=29),
    )
    assert (again["jobs"], again["scheduled_runs"], again["workers"]) == (0, 0, 0)
    assert AuditEvent.objects.filter(action="jobs.purged").count() == 1


@pytest.mark.django_db
def test_platform_staff_see_the_jobs_page_and_an_organisation_admin_gets_404(client, cast):
    add.enqueue(1, 2)
    client.force_login(staff_member())
    page = client.get("/platform/jobs")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Background jobs" in html
    assert 'href="/platform/jobs"' in html  # staff have it in the header
    assert "No worker is running" in html
    queued = html[html.index('id="queued"') : html.index('id="running"')]
    assert "add" in queued and "(1, 2)" in queued

    client.force_login(cast.people[Role.ORG_ADMIN])
    assert client.get("/platform/jobs").status_code == 404
    assert 'href="/platform/jobs"' not in client.get("/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_job_that_takes_over_runs_once_for_every_identical_job_waiting_behind_it(client):
    RECOUNTED.clear()
    first, second, third = (recount.enqueue("Ward 7") for _ in range(3))
    other_ward = recount.enqueue("Ward 8")
    plain = [add.enqueue(1, 2), add.enqueue(1, 2)]  # a job without takes_over runs every time

    worker = run_worker()

    assert RECOUNTED == ["Ward 7", "Ward 8"]
    assert row(first).return_value == "counted Ward 7"
    assert row(first).worker_ids == [worker.worker_id]
    for taken in (second, third):
        done = row(taken)
        assert done.status == TaskResultStatus.SUCCESSFUL
        assert done.return_value == {TAKEN_OVER_BY: str(first.id)}
        assert done.worker_ids == []  # never claimed: it was not run itself
        assert done.finished_at is not None
    assert row(other_ward).return_value == "counted Ward 8"
    assert [row(r).return_value for r in plain] == [3, 3]
    assert all(row(r).worker_ids == [worker.worker_id] for r in plain)
    # The jobs page says which job did the work of the ones it took over.
    client.force_login(staff_member())
    html = client.get("/platform/jobs").content.decode()
    succeeded = html[html.index('id="succeeded"') : html.index('id="workers"')]
    assert succeeded.count(f"done by job <code>{str(first.id)[:8]}</code>") == 2


@pytest.mark.django_db(transaction=True)
def test_a_job_waiting_for_its_next_attempt_or_running_elsewhere_is_not_taken_over():
    RECOUNTED.clear()
    now = timezone.now()
    running, retrying, waiting = (recount.enqueue("Ward 7") for _ in range(3))
    actions.beat(worker_id="elsewhere", host="there", pid=1)
    row(running).claim("elsewhere")
    # A retry is a job that was started and failed, put back to wait for its backoff.
    row(retrying).claim("elsewhere")
    DBTaskResult.objects.filter(pk=retrying.id).update(
        status=TaskResultStatus.READY, run_after=now + timedelta(minutes=5)
    )

    assert actions.take_over_waiting(row=row(waiting), now=now) == 0
    assert row(running).status == TaskResultStatus.RUNNING
    assert row(retrying).status == TaskResultStatus.READY

    # Once its backoff has passed, the retry is due like any other and is taken over.
    later = now + timedelta(minutes=6)
    assert actions.take_over_waiting(row=row(waiting), now=later) == 1
    assert row(retrying).return_value == {TAKEN_OVER_BY: str(waiting.id)}
    assert row(running).status == TaskResultStatus.RUNNING


@pytest.mark.django_db(transaction=True)
def test_jobs_that_read_the_newest_figures_take_over_and_others_do_not():
    from flotilla.alerts.tasks import evaluate_alerts, tell_alerts
    from flotilla.escalation.tasks import recompute_levels
    from flotilla.jobs.retry import takes_over
    from flotilla.planning.tasks import forecast_organisations

    for newest in (recompute_levels, forecast_organisations, evaluate_alerts):
        assert takes_over(newest.module_path), newest.module_path
    for each_its_own in (tell_alerts, add):
        assert not takes_over(each_its_own.module_path), each_its_own.module_path


@pytest.mark.django_db(transaction=True)
def test_reports_queued_faster_than_the_worker_runs_are_worked_through_once_each_organisation(
    cast,
):
    at = timezone.now().replace(second=0, microsecond=0) - timedelta(hours=1)
    for minutes in range(3):
        f.report(cast.north, at + timedelta(minutes=minutes), ga_open=100, ga_occupied=90 + minutes)
    queued: dict[str, list] = {}
    for queued_row in DBTaskResult.objects.filter(status=TaskResultStatus.READY):
        queued.setdefault(queued_row.task_path, []).append(queued_row.pk)
    assert {path: len(ids) for path, ids in queued.items()} == dict.fromkeys(queued, 3)
    assert len(queued) == 3  # levels, forecasts, alerts: one of each a report

    run_worker()

    assert not DBTaskResult.objects.exclude(status=TaskResultStatus.SUCCESSFUL).exists()
    for path, ids in queued.items():
        rows = list(DBTaskResult.objects.filter(pk__in=ids))
        ran = [r for r in rows if r.worker_ids]
        assert len(ran) == 1, path
        taken = [r.return_value for r in rows if not r.worker_ids]
        assert taken == [{TAKEN_OVER_BY: str(ran[0].pk)}] * 2, path
    # The one run of each read the newest report: the level is the newest report time's.
    from flotilla.escalation.models import ComputedLevel

    newest = ComputedLevel.objects.filter(organisation=cast.north).order_by("-as_of").first()
    assert newest.as_of == at + timedelta(minutes=2)


def due_at(result) -> datetime | None:
    """When the queued job `result` is due (None: at once)."""
    return row(result).run_after if row(result).run_after != get_date_max() else None


@pytest.mark.django_db(transaction=True)
def test_a_job_that_takes_over_is_queued_to_settle_and_other_jobs_are_due_at_once(settings):
    settings.JOBS_SETTLE_SECONDS = 30
    before = timezone.now()
    settling = recount.enqueue("Ward 7")
    plain = add.enqueue(1, 2)
    after = timezone.now()

    assert before + timedelta(seconds=30) <= due_at(settling) <= after + timedelta(seconds=30)
    assert due_at(plain) is None
    # When told when to run, it runs then.
    told = recount.using(run_after=before + timedelta(hours=2)).enqueue("Ward 9")
    assert due_at(told) == before + timedelta(hours=2)

    RECOUNTED.clear()
    run_worker()
    assert row(plain).status == TaskResultStatus.SUCCESSFUL
    assert row(settling).status == TaskResultStatus.READY and RECOUNTED == []

    settings.JOBS_SETTLE_SECONDS = 0
    assert due_at(recount.enqueue("Ward 8")) is None


@pytest.mark.django_db(transaction=True)
def test_the_first_job_due_takes_over_the_identical_jobs_still_settling_behind_it(settings):
    settings.JOBS_SETTLE_SECONDS = 30
    RECOUNTED.clear()
    first = recount.enqueue("Ward 7")
    # Queued as two transactions that did not see the first would queue them: each its own.
    settling = recount.using(run_after=timezone.now() + timedelta(seconds=30))
    second, third = settling.enqueue("Ward 7"), settling.enqueue("Ward 7")
    other_ward = recount.enqueue("Ward 8")
    # The first one's settling time has passed; the others were queued seconds later.
    DBTaskResult.objects.filter(pk=first.id).update(run_after=timezone.now())

    run_worker()

    assert RECOUNTED == ["Ward 7"]  # once, for the three reports
    assert [row(r).return_value for r in (second, third)] == [{TAKEN_OVER_BY: str(first.id)}] * 2
    assert row(other_ward).status == TaskResultStatus.READY  # its own time has not come


@pytest.mark.django_db(transaction=True)
def test_a_job_like_one_still_waiting_to_start_joins_it_instead_of_being_queued_again(settings):
    settings.JOBS_SETTLE_SECONDS = 30
    RECOUNTED.clear()
    first = recount.enqueue("Ward 7")
    again = [recount.enqueue("Ward 7") for _ in range(3)]
    other_ward = recount.enqueue("Ward 8")

    assert {r.id for r in again} == {first.id}
    assert other_ward.id != first.id
    assert DBTaskResult.objects.count() == 2
    # Joining changes nothing of the waiting job: it runs when it was due, once.
    assert due_at(again[-1]) == due_at(first)
    DBTaskResult.objects.update(run_after=timezone.now())
    run_worker()
    assert sorted(RECOUNTED) == ["Ward 7", "Ward 8"]


@pytest.mark.django_db
def test_no_wanted_job_joins_nothing_and_sends_no_statement(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert actions.join_waiting([], due_by=[]) == []


@pytest.mark.django_db(transaction=True)
def test_a_job_that_was_started_is_never_joined(settings):
    settings.JOBS_SETTLE_SECONDS = 30
    running = recount.enqueue("Ward 7")
    DBTaskResult.objects.filter(pk=running.id).update(
        status=TaskResultStatus.RUNNING, started_at=timezone.now(), worker_ids=["w1"]
    )
    after_running = recount.enqueue("Ward 7")
    assert after_running.id != running.id
    # Put back after a failure, waiting for its backoff: started, so not joined either.
    DBTaskResult.objects.filter(pk=after_running.id).update(
        started_at=timezone.now(), worker_ids=["w1"]
    )
    assert recount.enqueue("Ward 7").id not in {running.id, after_running.id}
    # Queued to run at a time of its own: neither joins nor is joined.
    told = recount.using(run_after=timezone.now() + timedelta(hours=1)).enqueue("Ward 8")
    assert recount.using(run_after=timezone.now()).enqueue("Ward 8").id != told.id
    assert DBTaskResult.objects.count() == 5
    # A settling job does not join one due later than its own settling time would make it.
    DBTaskResult.objects.filter(args_kwargs=row(told).args_kwargs).exclude(pk=told.id).delete()
    assert recount.enqueue("Ward 8").id != told.id


@pytest.mark.skipif(not POSTGRES, reason="row locks: on SQLite the joining writer holds the "
                    "only write lock, so no worker can claim at all")  # fmt: skip
@pytest.mark.django_db(transaction=True)
def test_a_joined_job_is_not_claimed_until_the_transaction_that_joined_it_commits(settings):
    settings.JOBS_SETTLE_SECONDS = 30
    waiting = recount.enqueue("Ward 7")
    DBTaskResult.objects.filter(pk=waiting.id).update(run_after=timezone.now())
    joined, released = threading.Event(), threading.Event()

    def work(i: int) -> str | None:
        if i == 0:  # a report's transaction, queuing the same work
            with transaction.atomic():
                assert recount.enqueue("Ward 7").id == waiting.id
                joined.set()
                released.wait(10)
            return None
        joined.wait(10)
        with transaction.atomic():  # a worker claiming, as django-tasks-db does
            while_held = DBTaskResult.objects.ready().get_locked()
        released.set()
        time.sleep(0.2)
        with transaction.atomic():
            deadline = time.monotonic() + 10
            while (claimed := DBTaskResult.objects.ready().get_locked()) is None:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        return f"{while_held} then {claimed.pk}"

    assert at_once(work)[1] == f"None then {waiting.id}"


@pytest.mark.django_db(transaction=True)
def test_reports_of_one_organisation_within_the_settling_time_queue_each_recompute_once(
    cast, settings
):
    settings.JOBS_SETTLE_SECONDS = 10
    settings.FORECASTS_SETTLE_SECONDS = 60
    at = timezone.now().replace(second=0, microsecond=0) - timedelta(hours=1)
    for minutes in range(3):
        f.report(cast.north, at + timedelta(minutes=minutes), ga_open=100, ga_occupied=90 + minutes)
    paths = list(
        DBTaskResult.objects.filter(status=TaskResultStatus.READY).values_list(
            "task_path", flat=True
        )
    )
    assert sorted(p.rsplit(".", 1)[1] for p in paths) == [
        "evaluate_alerts",
        "forecast_organisations",
        "recompute_levels",
    ]


@pytest.mark.django_db(transaction=True)
def test_jobs_that_take_over_run_after_every_other_job_due(settings):
    RECOUNTED.clear()
    recounted = recount.enqueue("Ward 7")
    plain = add.enqueue(1, 2)
    assert row(recounted).priority == TAKING_OVER_PRIORITY < row(plain).priority

    run_worker()

    assert row(plain).started_at <= row(recounted).started_at
    assert RECOUNTED == ["Ward 7"]


@pytest.mark.django_db(transaction=True)
def test_a_report_queues_its_recomputes_to_settle_for_the_configured_times(cast, settings):
    settings.JOBS_SETTLE_SECONDS = 10
    settings.FORECASTS_SETTLE_SECONDS = 60
    before = timezone.now()
    f.report(cast.north, before.replace(second=0, microsecond=0), ga_open=100, ga_occupied=95)
    after = timezone.now()

    queued = DBTaskResult.objects.filter(status=TaskResultStatus.READY)
    settles = {"recompute_levels": 10, "forecast_organisations": 60, "evaluate_alerts": 10}
    assert {q.task_path.rsplit(".", 1)[1] for q in queued} == set(settles)
    for q in queued:
        wait = timedelta(seconds=settles[q.task_path.rsplit(".", 1)[1]])
        assert before + wait <= q.run_after <= after + wait
        assert q.priority == TAKING_OVER_PRIORITY


@pytest.mark.django_db(transaction=True)
def test_a_report_within_the_forecasts_settling_time_joins_the_forecast_waiting_only(
    cast, settings
):
    settings.JOBS_SETTLE_SECONDS = 10
    settings.FORECASTS_SETTLE_SECONDS = 60
    at = timezone.now().replace(second=0, microsecond=0) - timedelta(hours=1)
    f.report(cast.north, at, ga_open=100, ga_occupied=90)
    # The levels and alerts it queued have run; its forecast still settles.
    DBTaskResult.objects.exclude(task_path__endswith="forecast_organisations").update(
        status=TaskResultStatus.SUCCESSFUL, started_at=timezone.now()
    )
    f.report(cast.north, at + timedelta(minutes=1), ga_open=100, ga_occupied=91)

    waiting = DBTaskResult.objects.filter(status=TaskResultStatus.READY)
    assert sorted(q.task_path.rsplit(".", 1)[1] for q in waiting) == [
        "evaluate_alerts",
        "forecast_organisations",
        "recompute_levels",
    ]
