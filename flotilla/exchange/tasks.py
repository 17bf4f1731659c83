"""The exchange's scheduled jobs (see `flotilla.jobs.schedule`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flotilla.exchange import actions
from flotilla.jobs.retry import job


@job(max_attempts=3, backoff=timedelta(minutes=1))
def widen_unmet_requests(slot: str) -> int:
    """Widen, by one step, every open request still short after its collaborative's set time.
    Idempotent: a request's clock restarts when it widens, so a retry or a second worker
    finds nothing more to do for that slot."""
    return len(actions.widen_unmet(now=datetime.fromisoformat(slot)))


@job(max_attempts=3, backoff=timedelta(minutes=1))
def expire_aid(slot: str) -> int:
    """Expire offers whose window has closed and requests past their needed-by time.
    Idempotent: only open requests and offers move, each under a row lock."""
    requests, offers = actions.expire_due(now=datetime.fromisoformat(slot))
    return len(requests) + len(offers)
