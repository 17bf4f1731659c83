"""Every write the jobs app makes to the queue and its own tables.

Queue bookkeeping (a heartbeat, a failed attempt put back, a slot enqueued) is not audited:
the rows are themselves the record, and a job that runs every few minutes would bury the
audit chain. What an operator would want to find afterwards is: a lost worker's jobs put back
or given up on (`jobs.worker_lost`) and finished jobs deleted (`jobs.purged`). A job's own
changes are audited by the actions it calls, as anywhere else.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django_tasks import TaskResult, TaskResultStatus
from django_tasks.utils import normalize_json
from django_tasks_db.models import DBTaskResult, get_date_max

from flotilla.audit import actions as audit
from flotilla.jobs.models import ScheduledRun, WorkerHeartbeat, lost_after
from flotilla.jobs.retry import TAKEN_OVER_BY, Wanted, rule_for
from flotilla.sql import for_update

if TYPE_CHECKING:
    from flotilla.jobs.schedule import Entry

#: A job whose worker was lost is put back until it has been claimed this many times (or its
#: own `max_attempts`, if more): a job that kills its worker every time must not loop forever.
LOST_LIMIT = 3

#: What a job that was stopped part-way by its worker's shutdown (a second Ctrl-C, or SIGTERM
#: while it ran) failed with: the worker's fault, not the job's, so it is put back at once.
STOPPED = {"builtins.SystemExit", "builtins.KeyboardInterrupt"}


class WorkerLost(Exception):
    """The worker running a job stopped without finishing it (killed, out of memory, gone)."""


WORKER_LOST = f"{WorkerLost.__module__}.{WorkerLost.__qualname__}"


def beat(*, worker_id: str, host: str, pid: int, now: datetime | None = None) -> None:
    """Say that worker `worker_id` is alive (first call: register it)."""
    now = now or timezone.now()
    with transaction.atomic():
        if not WorkerHeartbeat.objects.filter(pk=worker_id).update(beat_at=now):
            WorkerHeartbeat.objects.create(
                worker_id=worker_id, host=host[:255], pid=pid, started_at=now, beat_at=now
            )


def forget_worker(*, worker_id: str) -> None:
    """A worker that stops cleanly leaves no running job behind: it is forgotten at once."""
    with transaction.atomic():
        WorkerHeartbeat.objects.filter(pk=worker_id).delete()


def _requeue(row: DBTaskResult, *, run_after: datetime, **error: str) -> None:
    # The last error stays on the row (django-tasks clears it on success), so the jobs page
    # can say why a job waiting for its next attempt failed the last one.
    DBTaskResult.objects.filter(pk=row.pk).update(
        status=TaskResultStatus.READY, run_after=run_after, finished_at=None, **error
    )


def retry_failed(*, result_id: Any, now: datetime | None = None) -> bool:
    """Put a job whose attempt just failed back in the queue, if its retry rule allows.

    Exponential backoff from its `@job` rule; a job stopped by its worker's shutdown is put
    back at once. Returns whether it was put back; if not, it stays failed with its error.
    """
    now = now or timezone.now()
    with transaction.atomic():
        row = (
            DBTaskResult.objects.select_for_update()
            .filter(pk=result_id, status=TaskResultStatus.FAILED)
            .first()
        )
        if row is None:
            return False
        attempts = len(row.worker_ids)
        rule = rule_for(row.task_path)
        if row.exception_class_path in STOPPED:
            if attempts >= max(rule.max_attempts, LOST_LIMIT):
                return False
            run_after = now
        elif attempts < rule.max_attempts:
            run_after = now + rule.delay_after(attempts)
        else:
            return False
        _requeue(row, run_after=run_after)
    return True


def recover_lost(*, by: Any, now: datetime | None = None) -> dict[str, list[str]]:
    """Put back the running jobs of workers that stopped beating; give up on those already
    claimed too often. Returns the ids put back and given up on.

    A job is lost when it has been running for longer than `lost_after()` and the worker that
    claimed it has not beaten for that long (or is not registered at all). Every worker calls
    this; rows are locked (skipping those another worker holds) so each is handled once.
    """
    now = now or timezone.now()
    cutoff = now - lost_after()
    put_back: list[str] = []
    given_up: list[str] = []
    with transaction.atomic():
        alive = set(
            WorkerHeartbeat.objects.filter(beat_at__gte=cutoff).values_list("pk", flat=True)
        )
        running = DBTaskResult.objects.select_for_update(skip_locked=True).filter(
            status=TaskResultStatus.RUNNING, started_at__lt=cutoff
        )
        workers = set()
        for row in running:
            worker = row.worker_ids[-1] if row.worker_ids else ""
            if worker in alive:
                continue
            workers.add(worker)
            attempts = len(row.worker_ids)
            text = (
                f"{WORKER_LOST}: worker {worker} stopped without finishing attempt {attempts} "
                f"(no heartbeat since before {cutoff.isoformat()})\n"
            )
            if attempts >= max(rule_for(row.task_path).max_attempts, LOST_LIMIT):
                DBTaskResult.objects.filter(pk=row.pk).update(
                    status=TaskResultStatus.FAILED,
                    finished_at=now,
                    exception_class_path=WORKER_LOST,
                    traceback=text,
                    return_value=None,
                )
                given_up.append(str(row.pk))
            else:
                _requeue(row, run_after=now, exception_class_path=WORKER_LOST, traceback=text)
                put_back.append(str(row.pk))
        if put_back or given_up:
            audit.record(
                by=by,
                action="jobs.worker_lost",
                object_type="django_tasks_database.dbtaskresult",
                after={"workers": sorted(workers), "put_back": put_back, "failed": given_up},
            )
    return {"put_back": put_back, "failed": given_up}


def take_over_waiting(*, row: DBTaskResult, now: datetime | None = None) -> int:
    """Mark every job waiting behind `row` for the same work as done by `row`; how many.

    For a job that works from the newest state of what its arguments name (`@job(takes_over=
    True)`), run by a worker that has just claimed `row`. A job "waiting for the same work" has
    the same task, queue and arguments, and has never been started (however long it was
    queued to settle for, ADR 0037) or is due now; not one waiting for a retry's backoff, nor
    one running. Each was queued in a transaction that has committed (it is visible
    here), so the reads `row` makes after this see everything it was queued for; running it
    as well would do the same work again. They end as succeeded, their return value naming
    `row`. Not audited, like the rest of the queue's bookkeeping: the rows are the record.

    On PostgreSQL a job another worker is claiming at this moment is locked: the update waits
    for the claim, then finds it running and leaves it to that worker.
    """
    now = now or timezone.now()
    with transaction.atomic():
        return (
            DBTaskResult.objects.filter(
                status=TaskResultStatus.READY,
                task_path=row.task_path,
                queue_name=row.queue_name,
                backend_name=row.backend_name,
                args_kwargs=row.args_kwargs,
            )
            .filter(
                Q(started_at__isnull=True) | Q(run_after=get_date_max()) | Q(run_after__lte=now)
            )
            .exclude(pk=row.pk)
            .update(
                status=TaskResultStatus.SUCCESSFUL,
                started_at=now,
                finished_at=now,
                return_value={TAKEN_OVER_BY: str(row.pk)},
            )
        )


def join_waiting(
    wanted: Sequence[Wanted], *, due_by: Sequence[datetime]
) -> list[TaskResult | None]:  # type: ignore[type-arg]
    """For each wanted job, the job already queued for the same work and never started,
    locked until the caller's transaction ends; None where there is none (ADR 0041). One
    statement for them all (ADR 0042).

    For a job that works from the newest state of what its arguments name (`@job(takes_over=
    True)`): queuing it again would only queue work that the waiting one will do, because the
    waiting one cannot start before the caller's transaction ends. On PostgreSQL a worker
    claims with SKIP LOCKED, so it passes over the locked row until then, and a job taking
    over waits for the lock; on SQLite the caller holds the only write lock, so no worker can
    claim at all. Either way, the job reads what the caller wrote. A job waiting for a
    retry's backoff or put back after a lost worker was started, so it is never joined; nor
    is one due after the wanted job's own `due_by` (queued for a later time of its own),
    which would hold the caller's work back past its settling time. The rows are locked in
    id order, as every caller locks them, so two callers never wait on each other crosswise.
    """

    def key(path: str, queue: str, backend: str, args_kwargs: Any) -> str:
        return json.dumps([path, queue, backend, args_kwargs], sort_keys=True)

    if not wanted:
        return []
    keys = []
    params: list[Any] = []
    never_due = _field_value("run_after", get_date_max())
    for w, due in zip(wanted, due_by, strict=True):
        args_kwargs = normalize_json({"args": list(w.args), "kwargs": w.kwargs})
        keys.append(key(w.task.module_path, w.task.queue_name, w.task.backend, args_kwargs))
        params += [
            w.task.module_path,
            w.task.queue_name,
            w.task.backend,
            _field_value("args_kwargs", args_kwargs),
            never_due,
            _field_value("run_after", due),
        ]
    # Written out rather than built by the ORM: this runs inside every report, and building
    # the OR of its filters took most of its time (ADR 0045). The same statement as
    # `DBTaskResult.objects.select_for_update().filter(...).order_by("id")`, but for the
    # status, written into the text so that a plan PostgreSQL keeps for the statement can
    # still use the queue's index of the jobs ready.
    sql = (
        f"SELECT * FROM {_QUEUE} WHERE status = '{TaskResultStatus.READY.value}'"
        " AND started_at IS NULL AND ("
        + " OR ".join([_SAME_WORK] * len(wanted))
        + ") ORDER BY id"
        + for_update()
    )
    found: dict[str, DBTaskResult] = {}
    for row in DBTaskResult.objects.raw(sql, params):
        found.setdefault(key(row.task_path, row.queue_name, row.backend_name, row.args_kwargs), row)
    return [found[k].task_result if k in found else None for k in keys]


#: The queue's table, and one wanted job's filter in `join_waiting`.
_QUEUE = connection.ops.quote_name(DBTaskResult._meta.db_table)
_SAME_WORK = (
    "(task_path = %s AND queue_name = %s AND backend_name = %s AND args_kwargs = %s"
    " AND (run_after = %s OR run_after <= %s))"
)


def _field_value(name: str, value: Any) -> Any:
    """`value` as the queue's column `name` is sent to this database (JSON, times)."""
    return DBTaskResult._meta.get_field(name).get_db_prep_value(value, connection)


def enqueue_slot(*, entry: Entry, slot: datetime) -> ScheduledRun | None:
    """Enqueue `entry`'s task for `slot`, unless that slot was enqueued already (None).

    The (name, slot) row and the queue row are written in one transaction: a second
    scheduler's insert waits for the first to commit and then fails on the unique
    constraint, so two schedulers never enqueue the same slot, and a crash never leaves a
    slot marked as enqueued with nothing in the queue.
    """
    with transaction.atomic():
        try:
            with transaction.atomic():
                run = ScheduledRun.objects.create(name=entry.name, slot=slot)
        except IntegrityError:
            return None
        result = entry.resolve().enqueue(slot=slot.isoformat())
        run.result_id = result.id
        run.save(update_fields=["result"])
    return run


def enqueue_due(
    *, now: datetime | None = None, entries: list[Entry] | None = None
) -> list[ScheduledRun]:
    """Enqueue the latest slot of every schedule entry not enqueued yet; returns the new runs."""
    if entries is None:
        from flotilla.jobs.schedule import SCHEDULE

        entries = SCHEDULE
    now = now or timezone.now()
    made = []
    for entry in entries:
        slot = entry.latest_slot(now)
        # Cheap look first: nearly every call finds the slot already enqueued.
        if ScheduledRun.objects.filter(name=entry.name, slot=slot).exists():
            continue
        run = enqueue_slot(entry=entry, slot=slot)
        if run is not None:
            made.append(run)
    return made


def purge_finished(
    *, by: Any, finished_before: datetime, workers_unseen_since: datetime
) -> dict[str, Any]:
    """Delete jobs finished before `finished_before` (their schedule rows too, except each
    entry's latest, which keeps its slot from being enqueued again) and workers not seen
    since `workers_unseen_since`. Audited when anything was deleted."""
    with transaction.atomic():
        names = ScheduledRun.objects.values_list("name", flat=True).distinct()
        latest = [
            ScheduledRun.objects.filter(name=n).order_by("-slot").values_list("pk", flat=True)[0]
            for n in names
        ]
        runs, _ = (
            ScheduledRun.objects.filter(slot__lt=finished_before).exclude(pk__in=latest).delete()
        )
        results, _ = DBTaskResult.objects.filter(
            status__in=[TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED],
            finished_at__lt=finished_before,
        ).delete()
        workers, _ = WorkerHeartbeat.objects.filter(beat_at__lt=workers_unseen_since).delete()
        counts = {"jobs": results, "scheduled_runs": runs, "workers": workers}
        if any(counts.values()):
            audit.record(
                by=by,
                action="jobs.purged",
                object_type="django_tasks_database.dbtaskresult",
                after={**counts, "finished_before": finished_before.isoformat()},
            )
    return {**counts, "finished_before": finished_before.isoformat()}
