"""``flotilla worker [--batch] [--no-schedule] [--queue-name=Q] [--interval=S]``.

Runs background jobs until stopped (Ctrl-C or SIGTERM: the job in hand is finished first; a
second signal stops it, and it is put back in the queue). Run as many as needed, on any
number of machines sharing the database; see docs/deployment.md and ADR 0015.
"""

from __future__ import annotations

import logging
import os
import socket
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand
from django.utils.crypto import get_random_string
from django_tasks import DEFAULT_TASK_QUEUE_NAME

from flotilla.heap import freeze_what_is_loaded
from flotilla.jobs.worker import FlotillaWorker


class Command(BaseCommand):
    help = "Run background jobs (and enqueue scheduled ones) until stopped."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--queue-name",
            default=DEFAULT_TASK_QUEUE_NAME,
            help="queues to take jobs from, comma-separated, or '*' for all (default: default)",
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=1.0,
            help="seconds to wait when the queue is empty before looking again (default 1)",
        )
        parser.add_argument(
            "--batch", action="store_true", help="run every job that is due, then exit"
        )
        parser.add_argument(
            "--no-schedule",
            dest="schedule",
            action="store_false",
            help="do not enqueue scheduled jobs (another worker or `run-schedule` does)",
        )
        parser.add_argument(
            "--max-tasks", type=int, default=None, help="exit after running this many jobs"
        )
        parser.add_argument(
            "--worker-id",
            default=None,
            help="unique across all workers (default: host, process id and a random part)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        level = [logging.WARNING, logging.INFO, logging.DEBUG][min(options["verbosity"], 2)]
        for name in ("django_tasks", "django_tasks_db", "flotilla.jobs"):
            log = logging.getLogger(name)
            log.setLevel(level)
            if not log.handlers:
                handler = logging.StreamHandler(self.stdout)
                handler.setFormatter(logging.Formatter("[worker] %(asctime)s %(message)s"))
                log.addHandler(handler)
                # Not also through the root logger's handler: each line once.
                log.propagate = False
        worker_id = options["worker_id"] or (
            f"{socket.gethostname()[:40]}-{os.getpid()}-{get_random_string(8)}"
        )
        worker = FlotillaWorker(
            schedule=options["schedule"],
            queue_names=options["queue_name"].split(","),
            interval=options["interval"],
            batch=options["batch"],
            backend_name="default",
            startup_delay=not options["batch"],
            max_tasks=options["max_tasks"],
            worker_id=worker_id[:64],
            excluded_queue_names=[],
        )
        worker.configure_signals()
        # What is loaded now lives as long as the worker (ADR 0044).
        frozen = freeze_what_is_loaded()
        logging.getLogger("flotilla.jobs").info(
            "kept %d objects loaded at start out of collections", frozen
        )
        worker.run()
