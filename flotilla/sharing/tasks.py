"""The sharing app's scheduled jobs (see `flotilla.jobs.schedule`)."""

from __future__ import annotations

from datetime import timedelta

from flotilla.jobs.retry import job
from flotilla.sharing import ledger


@job(max_attempts=3, backoff=timedelta(seconds=20))
def chain_access_record(slot: str) -> int:
    """Move the reads recorded since the last run onto the access chain (`ledger.flush`).
    Idempotent: a read is chained once, in the transaction that removes it from the inbox."""
    return ledger.flush()
