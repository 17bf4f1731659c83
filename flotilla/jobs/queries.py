"""Reads for the jobs page: the queue by state, the workers and the schedule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult, get_date_max

from flotilla.jobs.models import ScheduledRun, WorkerHeartbeat, lost_after
from flotilla.jobs.retry import TAKEN_OVER_BY, rule_for
from flotilla.jobs.schedule import SCHEDULE, Entry

#: How many failed and succeeded jobs the page lists (newest first); counts cover all.
FAILED_SHOWN = 50
SUCCEEDED_SHOWN = 20


@dataclass(frozen=True)
class Job:
    id: str
    name: str
    path: str
    status: str
    arguments: str
    enqueued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    #: None when it may run at once.
    run_after: datetime | None
    attempts: int
    max_attempts: int
    worker: str
    #: The last error, kept while a job waits for its next attempt: class and message line.
    error: str
    traceback: str
    #: The id of the job that did this one's work (`actions.take_over_waiting`), or "".
    taken_over_by: str = ""


def _error_line(traceback: str) -> str:
    lines = [line for line in traceback.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def _arguments(row: DBTaskResult) -> str:
    args = [repr(a) for a in row.args_kwargs.get("args", [])]
    args += [f"{k}={v!r}" for k, v in row.args_kwargs.get("kwargs", {}).items()]
    text = ", ".join(args)
    return text if len(text) <= 120 else text[:119] + "…"


def _job(row: DBTaskResult) -> Job:
    return Job(
        id=str(row.pk),
        name=row.task_path.rsplit(".", 1)[-1],
        path=row.task_path,
        status=row.status,
        arguments=_arguments(row),
        enqueued_at=row.enqueued_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        run_after=None if row.run_after == get_date_max() else row.run_after,
        attempts=len(row.worker_ids),
        max_attempts=rule_for(row.task_path).max_attempts,
        worker=row.worker_ids[-1] if row.worker_ids else "",
        error=_error_line(row.traceback) if row.exception_class_path else "",
        traceback=row.traceback if row.exception_class_path else "",
        taken_over_by=_taken_over_by(row),
    )


def _taken_over_by(row: DBTaskResult) -> str:
    value = row.return_value if row.status == TaskResultStatus.SUCCESSFUL else None
    return str(value.get(TAKEN_OVER_BY, "")) if isinstance(value, dict) else ""


def _jobs(rows: Any) -> list[Job]:
    return [_job(r) for r in rows]


@dataclass(frozen=True)
class Worker:
    worker_id: str
    host: str
    pid: int
    started_at: datetime
    beat_at: datetime
    alive: bool


@dataclass(frozen=True)
class Scheduled:
    entry: Entry
    explained: str
    last_slot: datetime | None
    #: The last run's job state (READY, RUNNING, FAILED, SUCCESSFUL), or "" if purged.
    last_status: str
    last_finished_at: datetime | None
    next_slot: datetime


def schedule(now: datetime) -> list[Scheduled]:
    out = []
    for entry in SCHEDULE:
        last = (
            ScheduledRun.objects.filter(name=entry.name)
            .select_related("result")
            .order_by("-slot")
            .first()
        )
        out.append(
            Scheduled(
                entry=entry,
                explained=entry.explain(),
                last_slot=last.slot if last else None,
                last_status=last.result.status if last and last.result else "",
                last_finished_at=last.result.finished_at if last and last.result else None,
                next_slot=entry.next_slot(now),
            )
        )
    return out


def overview(now: datetime | None = None) -> dict[str, Any]:
    """Everything the jobs page shows."""
    now = now or timezone.now()
    rows = DBTaskResult.objects.all()
    counts = {s: rows.filter(status=s).count() for s in TaskResultStatus.values}
    cutoff = now - lost_after()
    workers = [
        Worker(w.worker_id, w.host, w.pid, w.started_at, w.beat_at, w.beat_at >= cutoff)
        for w in WorkerHeartbeat.objects.order_by("host", "started_at")
    ]
    return {
        "now": now,
        "counts": counts,
        "queued": _jobs(rows.filter(status=TaskResultStatus.READY).order_by("run_after")[:200]),
        "running": _jobs(rows.filter(status=TaskResultStatus.RUNNING).order_by("started_at")),
        "failed": _jobs(
            rows.filter(status=TaskResultStatus.FAILED).order_by("-finished_at")[:FAILED_SHOWN]
        ),
        "succeeded": _jobs(
            rows.filter(status=TaskResultStatus.SUCCESSFUL).order_by("-finished_at")[
                :SUCCEEDED_SHOWN
            ]
        ),
        "workers": workers,
        "live_workers": sum(1 for w in workers if w.alive),
        "schedule": schedule(now),
    }
