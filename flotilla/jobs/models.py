"""What the worker needs besides django-tasks' own queue table (`DBTaskResult`).

`WorkerHeartbeat`: one row per running worker, refreshed every few seconds, so that a job left
"running" by a worker that died (killed, out of memory, machine lost) can be told apart from
one that is still running, and put back in the queue.

`ScheduledRun`: one row per scheduled job and slot (the cron time it is for). The unique pair
is what stops two schedulers, on one machine or many, from enqueuing the same slot twice.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone


class WorkerHeartbeat(models.Model):
    """A worker process that said it was alive at `beat_at`."""

    worker_id = models.CharField(max_length=64, primary_key=True)
    host = models.CharField(max_length=255)
    pid = models.IntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    beat_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["host", "started_at"]

    def __str__(self) -> str:
        return f"{self.worker_id} on {self.host} (pid {self.pid})"


class ScheduledRun(models.Model):
    """The one enqueuing of a scheduled job for one slot."""

    #: The schedule entry's name (`flotilla.jobs.schedule.SCHEDULE`).
    name = models.CharField(max_length=100)
    #: The cron time this run is for (UTC), not when it was enqueued.
    slot = models.DateTimeField()
    enqueued_at = models.DateTimeField(default=timezone.now)
    #: The queue row; emptied when finished results are purged.
    result = models.ForeignKey(
        "django_tasks_database.DBTaskResult",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["name", "-slot"]
        constraints = [
            models.UniqueConstraint(fields=["name", "slot"], name="scheduled_run_once_per_slot")
        ]

    def __str__(self) -> str:
        return f"{self.name} for {self.slot.isoformat()}"


def lost_after() -> timedelta:
    """How long a worker may go without a heartbeat before its running jobs are put back."""
    return timedelta(seconds=settings.JOBS_WORKER_LOST_AFTER_SECONDS)
