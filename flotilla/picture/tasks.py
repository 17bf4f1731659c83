"""The picture's scheduled jobs (see `flotilla.jobs.schedule`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flotilla.jobs.retry import job
from flotilla.picture import summaries


@job(max_attempts=4, backoff=timedelta(minutes=5))
def send_morning_summaries(slot: str) -> int:
    """Send the day's summaries as at the slot. Idempotent: one per collaborative,
    organisation and day (a unique row), so a retry sends only those not yet sent."""
    return len(summaries.send(now=datetime.fromisoformat(slot)))
