"""The worker: django-tasks' database worker, plus what it lacks for running unattended.

Beside the worker loop a housekeeping thread, every `lost_after / 6` seconds:
- beats: refreshes this worker's `WorkerHeartbeat` row;
- recovers: puts back the running jobs of workers that stopped beating (`recover_lost`);
- schedules: enqueues due slots of the schedule (`enqueue_due`), unless told not to.

The loop itself (claiming rows with `select_for_update(skip_locked=True)` on PostgreSQL, an
exclusive transaction on SQLite) is django-tasks-db's, unchanged. Between the claim and the
run, a job made with `@job(takes_over=True)` takes over the identical jobs waiting behind it
(`actions.take_over_waiting`, ADR 0036).
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from django.db import close_old_connections, connection
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from flotilla.audit.principals import Principal
from flotilla.jobs import actions
from flotilla.jobs.retry import takes_over

logger = logging.getLogger("flotilla.jobs")


class Housekeeping:
    """One worker's heartbeat, lost-job recovery and schedule ticks."""

    def __init__(self, *, worker_id: str, schedule: bool) -> None:
        self.worker_id = worker_id
        self.schedule = schedule
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def once(self) -> None:
        actions.beat(worker_id=self.worker_id, host=self.host, pid=self.pid)
        recovered = actions.recover_lost(by=Principal.system(f"worker {self.worker_id}"))
        for key, ids in recovered.items():
            if ids:
                logger.warning("Lost worker's jobs %s: %s", key.replace("_", " "), ", ".join(ids))
        if self.schedule:
            for run in actions.enqueue_due():
                logger.info("Scheduled %s for %s", run.name, run.slot.isoformat())

    def _loop(self, every: float) -> None:
        try:
            while not self.stopping.wait(every):
                close_old_connections()
                try:
                    self.once()
                except Exception:
                    # A database hiccup must not stop the heartbeat for good: another worker
                    # would then take this one's running jobs for lost.
                    logger.exception("housekeeping failed; trying again in %.1f s", every)
        finally:
            connection.close()

    def start(self) -> None:
        every = max(actions.lost_after().total_seconds() / 6, 0.2)
        self.thread = threading.Thread(
            target=self._loop, args=(every,), name="flotilla-housekeeping", daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=5)


class FlotillaWorker(Worker):
    """django-tasks-db's worker with housekeeping around its loop."""

    def __init__(self, *, schedule: bool, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.housekeeping = Housekeeping(worker_id=self.worker_id, schedule=schedule)

    def run_task(self, db_task_result: DBTaskResult) -> None:
        if takes_over(db_task_result.task_path):
            try:
                taken = actions.take_over_waiting(row=db_task_result)
            except Exception:
                # Taking over saves work; failing to is no reason not to do this job's own.
                logger.exception("job %s could not take over its duplicates", db_task_result.pk)
            else:
                if taken:
                    logger.info("Job %s took over %d waiting like it", db_task_result.pk, taken)
        super().run_task(db_task_result)

    def run(self) -> None:
        try:
            # Once before the first claim, in this thread: the heartbeat exists before this
            # worker holds any job, and a --batch run (tests, cron) needs no thread at all.
            self.housekeeping.once()
            if not self.batch:
                self.housekeeping.start()
            super().run()
        finally:
            self.housekeeping.stop()
            actions.forget_worker(worker_id=self.worker_id)
            logger.info("Worker %s stopped", self.worker_id)


def run_batch(*, worker_id: str, schedule: bool = False) -> FlotillaWorker:
    """Run every job that is due in this process, the jobs they queue too, then return the
    worker (as `flotilla worker --batch` does, without its logging and signal handling)."""
    worker = FlotillaWorker(
        schedule=schedule,
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id=worker_id,
        excluded_queue_names=[],
    )
    worker.run()
    return worker
