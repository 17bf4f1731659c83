"""Background tasks (django-tasks): send one delivery after its notification commits, and send
everything due (put on the schedule every minute). Both are safe to run twice or at once."""

from __future__ import annotations

from django_tasks import task

from flotilla.notifications import delivery


@task()
def deliver(delivery_id: int) -> str | None:
    return delivery.deliver(delivery_id)


@task()
def deliver_due() -> dict[str, int]:
    return delivery.deliver_due()
