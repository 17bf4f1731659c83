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
from django_tasks.base import Task

from flotilla.jobs import tasks


@dataclass(frozen=True)
class Entry:
    #: A short stable name, shown on the jobs page and kept with each run.
    name: str
    task: Task
    #: A cron expression in local time.
    when: str
    #: One sentence: what it does and why.
    about: str

    def __post_init__(self) -> None:
        try:
            CronSim(self.when, timezone.now())
        except CronSimError as e:
            raise ValueError(f"schedule entry {self.name!r}: {e}") from e

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
        task=tasks.purge_finished_jobs,
        when="17 3 * * *",
        about=(
            "Deletes finished background jobs (succeeded or failed) older than "
            "FLOTILLA_JOBS_KEEP_DAYS days and workers not seen for a day: the database "
            "queue keeps every row until something removes it."
        ),
    ),
]


def entry(name: str) -> Entry:
    for e in SCHEDULE:
        if e.name == name:
            return e
    raise KeyError(name)
