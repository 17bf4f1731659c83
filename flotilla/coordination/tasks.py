"""The coordination app's scheduled job (see `flotilla.jobs.schedule`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from flotilla.coordination import actions
from flotilla.jobs.retry import job


@job(max_attempts=4, backoff=timedelta(minutes=5))
def nudge_due_actions(slot: str) -> int:
    """Remind the owners of actions due by tomorrow, or overdue, once on the slot's day.
    Idempotent: each action records the day its owner was reminded, in the reminder's
    transaction, so a retry reminds only those not yet reminded."""
    return actions.nudge_due(today=timezone.localdate(datetime.fromisoformat(slot)))
