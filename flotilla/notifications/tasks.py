"""Background tasks (django-tasks): send one delivery after its notification commits, and send
everything due (put on the schedule every minute). Both are safe to run twice or at once."""

from __future__ import annotations

from datetime import timedelta

from django_tasks import task

from flotilla.jobs.retry import job
from flotilla.notifications import delivery


@task()
def deliver(delivery_id: int) -> str | None:
    return delivery.deliver(delivery_id)


@task()
def deliver_due() -> dict[str, int]:
    return delivery.deliver_due()


@job(max_attempts=3, backoff=timedelta(seconds=20))
def deliver_due_job(slot: str) -> dict[str, int]:
    """The scheduled run (every minute): everything due at that moment. Sending is claimed
    delivery by delivery, so an overlap with the next minute's run sends nothing twice."""
    return delivery.deliver_due()
