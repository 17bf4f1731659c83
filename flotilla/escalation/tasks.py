"""Escalation's background jobs (see `flotilla.jobs` and `flotilla.jobs.schedule`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flotilla.collaboratives.models import Collaborative
from flotilla.escalation import actions
from flotilla.jobs.retry import job


@job(max_attempts=5, backoff=timedelta(seconds=20), takes_over=True)
def recompute_levels(organisation_ids: list[int]) -> dict[str, Any]:
    """Recompute these organisations' levels from their newest figures, and their
    collaboratives' system levels. Idempotent: a level is stored once per organisation,
    profile version and report time, and a system level only when it changed. Takes over
    the same recompute waiting behind it: it reads the figures they were queued for."""
    return actions.recompute_for(organisation_ids=organisation_ids)


@job(max_attempts=3, backoff=timedelta(minutes=1))
def roll_up_system_levels(slot: str) -> int:
    """Roll every collaborative's members' levels up again, so that a member whose figures
    have grown too old stops counting even when nobody reports. Idempotent: a system level
    is stored only when it changed."""
    now = datetime.fromisoformat(slot)
    return sum(
        actions.roll_up(collaborative=c, now=now) is not None for c in Collaborative.objects.all()
    )
