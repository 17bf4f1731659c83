"""Reads of a person's inbox."""

from __future__ import annotations

from typing import Any

from flotilla.notifications.models import Notification

#: The inbox shows this many of the newest notifications.
INBOX_SIZE = 200


def unread_count(person: Any) -> int:
    """How many of `person`'s notifications are unread: one indexed count; 0 when signed out."""
    if not getattr(person, "is_authenticated", False):
        return 0
    return Notification.objects.filter(recipient=person, read_at__isnull=True).count()


def inbox(person: Any) -> list[Notification]:
    """`person`'s newest notifications, newest first."""
    return list(Notification.objects.filter(recipient=person)[:INBOX_SIZE])


def unread(person: Any, limit: int = 5) -> list[Notification]:
    """`person`'s newest unread notifications, newest first (the home page shows a few)."""
    return list(Notification.objects.filter(recipient=person, read_at__isnull=True)[:limit])
