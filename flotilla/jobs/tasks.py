"""The platform's own jobs (housekeeping). Other apps keep their jobs in their own `tasks.py`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from flotilla.audit import actions as audit
from flotilla.audit.principals import Principal
from flotilla.jobs import actions
from flotilla.jobs.retry import job


@job(max_attempts=3, backoff=timedelta(minutes=5))
def purge_finished_jobs(slot: str) -> dict[str, Any]:
    """Delete finished jobs older than `JOBS_KEEP_DAYS` before the slot, and workers not seen
    for a day. Idempotent: a second run finds nothing more to delete."""
    at = datetime.fromisoformat(slot)
    return actions.purge_finished(
        by=Principal.system("schedule:purge-finished-jobs"),
        finished_before=at - timedelta(days=settings.JOBS_KEEP_DAYS),
        workers_unseen_since=at - timedelta(days=1),
    )


@job(max_attempts=3, backoff=timedelta(seconds=20))
def chain_audit_record(slot: str) -> int:
    """Link the audit events recorded since the last run onto the audit chain
    (`audit.chain_waiting`, ADR 0040). Idempotent: an event is linked once, under the head's
    lock."""
    return audit.chain_waiting()
