"""The picture's scheduled jobs (see `flotilla.jobs.schedule`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from flotilla.jobs.retry import job
from flotilla.picture import summaries

#: A morning summary that would arrive later than this after its time is not sent: after a
#: night with no worker, a summary of yesterday morning's picture helps nobody.
TOO_LATE = timedelta(hours=2)


@job(max_attempts=4, backoff=timedelta(minutes=5))
def send_morning_summaries(slot: str) -> int:
    """Send the day's summaries as at the slot, unless the slot is more than `TOO_LATE` ago.
    Idempotent: one per collaborative, organisation and day (a unique row), so a retry sends
    only those not yet sent."""
    at = datetime.fromisoformat(slot)
    if timezone.now() - at > TOO_LATE:
        return 0
    return len(summaries.send(now=at))
