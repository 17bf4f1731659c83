"""Scheduled jobs: what runs, and when.

Each entry names a task and a cron expression (minute hour day-of-month month day-of-week),
read in the platform's time zone (`FLOTILLA_TIME_ZONE`, Europe/London), so "0 9 * * MON-FRI"
is nine o'clock local time all year. Every worker (and `flotilla run-schedule`) enqueues the
latest slot of each entry that has not been enqueued yet; a (name, slot) row in the database
makes that happen once however many schedulers ask (ADR 0015). A slot missed while no worker
ran is run late, once: only the latest missed slot, never a backlog.

The task is called with one keyword argument, `slot`: the ISO time of the slot it runs for,
which makes a good idempotency key ("reminders for the 09:00 slot of 5 January").

To add an entry: write the task with `@job` (see `flotilla.jobs`), make it idempotent, and
add a line below. Names are kept in the database: renaming one starts its history afresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cronsim import CronSim, CronSimError
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks.base import Task


@dataclass(frozen=True)
class Entry:
    #: A short stable name, shown on the jobs page and kept with each run.
    name: str
    #: The task, by its dotted path: the schedule names tasks of apps above this one without
    #: importing them (the layers, docs/architecture.md), and imports each when it is due.
    task: str
    #: A cron expression in local time.
    when: str
    #: One sentence: what it does and why.
    about: str

    def __post_init__(self) -> None:
        try:
            CronSim(self.when, timezone.now())
        except CronSimError as e:
            raise ValueError(f"schedule entry {self.name!r}: {e}") from e

    def resolve(self) -> Task:
        """The task itself."""
        found = import_string(self.task)
        if not isinstance(found, Task):
            raise TypeError(f"schedule entry {self.name!r}: {self.task} is not a task")
        return found

    def latest_slot(self, now: datetime) -> datetime:
        """The latest slot at or before `now` (UTC)."""
        local = timezone.localtime(now) + timedelta(microseconds=1)  # CronSim looks before, not at
        return _utc(next(CronSim(self.when, local, reverse=True)))

    def next_slot(self, now: datetime) -> datetime:
        """The first slot after `now` (UTC)."""
        return _utc(next(CronSim(self.when, timezone.localtime(now))))

    def explain(self) -> str:
        """The expression in words ("At 03:17 every day")."""
        return CronSim(self.when, timezone.localtime()).explain()


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


SCHEDULE: list[Entry] = [
    Entry(
        name="purge-finished-jobs",
        task="flotilla.jobs.tasks.purge_finished_jobs",
        when="17 3 * * *",
        about=(
            "Deletes finished background jobs (succeeded or failed) older than "
            "FLOTILLA_JOBS_KEEP_DAYS days and workers not seen for a day: the database "
            "queue keeps every row until something removes it."
        ),
    ),
    Entry(
        name="deliver-notifications",
        task="flotilla.notifications.tasks.deliver_due_job",
        when="* * * * *",
        about=(
            "Sends the emails and webhook requests that are due: retries after a failure, "
            "emails held by quiet hours, daily digests, and anything whose immediate send "
            "was not queued."
        ),
    ),
    Entry(
        name="chain-audit-record",
        task="flotilla.jobs.tasks.chain_audit_record",
        when="* * * * *",
        about=(
            "Links the audit events recorded in the last minute onto the hash-chained audit "
            "record, in the order they were written (each is recorded whole with its change; "
            "only its place in the chain waits for this)."
        ),
    ),
    Entry(
        name="chain-access-record",
        task="flotilla.sharing.tasks.chain_access_record",
        when="* * * * *",
        about=(
            "Moves the reads of organisations' data recorded in the last minute onto the "
            "hash-chained access record, oldest first (each owner's access record page also "
            "does this before it is shown)."
        ),
    ),
    Entry(
        name="report-reminders",
        task="flotilla.reporting.tasks.send_reminders",
        when="*/5 * * * *",
        about=(
            "Reminds organisations whose report to a collaborative is due (its reporting "
            "interval has passed since their last report), once per due time."
        ),
    ),
    Entry(
        name="morning-summary",
        task="flotilla.picture.tasks.send_morning_summaries",
        when="30 7 * * *",
        about=(
            "Sends each collaborative's picture in a sentence to every member's coordinators, "
            "read as that member through the sharing policy, once a day."
        ),
    ),
    Entry(
        name="nudge-due-actions",
        task="flotilla.coordination.tasks.nudge_due_actions",
        when="0 8 * * *",
        about=(
            "Reminds the owner of each open action from the collaboratives' logs that is due "
            "by tomorrow or overdue, once a day, through the notification layer."
        ),
    ),
    Entry(
        name="widen-unmet-aid-requests",
        task="flotilla.exchange.tasks.widen_unmet_requests",
        when="*/5 * * * *",
        about=(
            "Shows a request for aid one step wider (the collaborative, the region, every "
            "organisation) when it is still short of commitments after its collaborative's "
            "set time, and tells the organisations it newly reaches."
        ),
    ),
    Entry(
        name="expire-aid",
        task="flotilla.exchange.tasks.expire_aid",
        when="*/5 * * * *",
        about=(
            "Expires offers of aid whose window has closed and requests past the time they "
            "were needed by, saying how much was taken up, and tells those concerned."
        ),
    ),
    Entry(
        name="roll-up-system-levels",
        task="flotilla.escalation.tasks.roll_up_system_levels",
        when="*/15 * * * *",
        about=(
            "Rolls each collaborative's members' computed escalation levels up to its system "
            "level again, so that a member whose figures have grown too old stops counting "
            "(and is named as left out) even when nobody reports."
        ),
    ),
    Entry(
        name="forecast-daily",
        task="flotilla.planning.tasks.forecast_everyone",
        when="40 5 * * *",
        about=(
            "Makes every organisation's daily forecasts of its bed counts again from its own "
            "figures, catching up any whose forecast job failed when the figures arrived."
        ),
    ),
    Entry(
        name="evaluate-alerts",
        task="flotilla.alerts.tasks.evaluate_all",
        when="*/5 * * * *",
        about=(
            "Judges every alert rule in force on the newest figures (a report grows overdue "
            "with no report at all; a failed evaluation is caught up) and tells the people "
            "who may see them of alerts opened and not yet told."
        ),
    ),
]


def entry(name: str) -> Entry:
    for e in SCHEDULE:
        if e.name == name:
            return e
    raise KeyError(name)
