"""What people were told of alerts, for the alerts tests."""

from __future__ import annotations

from flotilla.notifications.models import Notification


def notes(person) -> list[str]:
    """What the person was told of alerts, oldest first."""
    told = Notification.objects.filter(recipient=person, link__startswith="/alerts/")
    return list(told.order_by("pk").values_list("text", flat=True))
