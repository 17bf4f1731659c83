"""Reporting's scheduled jobs (see `flotilla.jobs.schedule`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flotilla.jobs.retry import job
from flotilla.reporting import reminders


@job(max_attempts=3, backoff=timedelta(minutes=1))
def send_reminders(slot: str) -> int:
    """Remind whoever is due as at the slot. Idempotent: one reminder per due time (a unique
    row), so a retry or a second worker sends nothing twice."""
    return len(reminders.send_due(now=datetime.fromisoformat(slot)))
