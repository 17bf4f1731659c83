"""``flotilla run-schedule``: enqueue the scheduled jobs that are due, then exit.

Workers do this themselves every few seconds; this command is for running the schedule from
cron or a systemd timer instead (workers started with --no-schedule), and for checking the
schedule by hand. Running it twice, or beside workers, enqueues nothing twice (ADR 0015).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from flotilla.jobs import actions
from flotilla.jobs.schedule import SCHEDULE


class Command(BaseCommand):
    help = "Enqueue the scheduled jobs that are due (each slot once), then exit."

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        made = {run.name: run for run in actions.enqueue_due(now=now)}
        for entry in SCHEDULE:
            slot = timezone.localtime(entry.latest_slot(now)).strftime("%d %b %Y %H:%M")
            state = "enqueued now" if entry.name in made else "already enqueued"
            nxt = timezone.localtime(entry.next_slot(now)).strftime("%d %b %Y %H:%M")
            self.stdout.write(f"{entry.name}: slot {slot} {state}; next {nxt}")
