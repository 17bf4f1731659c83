"""Every write to the inbox goes through here: one transaction each, audited.

`notify` is meant to be called inside the transaction of the change it tells people about,
so that the notification commits (or rolls back) with that change and is attributed to the
same actor.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from flotilla.audit import actions as audit
from flotilla.notifications.models import Notification


class NotificationError(Exception):
    """A notification that cannot be sent or changed, with the reason in words."""


def notify(*, by: Any, recipients: Iterable[Any], text: str, link: str = "") -> list[Notification]:
    """Put one notification in each recipient's inbox; returns them (none for no recipients).

    `text` is a plain sentence (whitespace is tidied); `link` is a path inside Flotilla or
    empty. A person listed twice gets one notification.
    """
    text = " ".join(text.split())
    if not text:
        raise NotificationError("A notification needs a sentence to show")
    if len(text) > Notification._meta.get_field("text").max_length:
        raise NotificationError("A notification must be 500 characters or fewer")
    if link and (not link.startswith("/") or link.startswith("//")):
        raise NotificationError("A notification can only link to a page inside Flotilla")
    people = list({r.pk: r for r in recipients}.values())
    if not people:
        return []
    with transaction.atomic():
        now = timezone.now()
        sent = Notification.objects.bulk_create(
            Notification(recipient=p, text=text, link=link, created_at=now) for p in people
        )
        audit.record(
            by=by,
            action="notifications.sent",
            object_type="notifications.notification",
            after={
                "recipients": sorted(p.get_username() for p in people),
                "text": text,
                "link": link,
            },
        )
    return sent


def _snapshot(n: Notification) -> dict[str, Any]:
    return {
        "id": n.pk,
        "text": n.text,
        "link": n.link,
        "created_at": n.created_at.isoformat(),
        "read_at": n.read_at.isoformat() if n.read_at else None,
    }


def _theirs(recipient: Any, ids: Iterable[int] | None) -> Any:
    rows = Notification.objects.select_for_update().filter(recipient=recipient)
    return rows if ids is None else rows.filter(pk__in=list(ids))


def mark_read(*, by: Any, recipient: Any, ids: Iterable[int] | None = None) -> int:
    """Mark `recipient`'s unread notifications (those in `ids`, or all) read; returns how many.

    Only the recipient's own notifications are touched. Nothing changed, nothing audited.
    """
    with transaction.atomic():
        unread = list(_theirs(recipient, ids).filter(read_at__isnull=True).order_by("pk"))
        if not unread:
            return 0
        now = timezone.now()
        Notification.objects.filter(pk__in=[n.pk for n in unread]).update(read_at=now)
        audit.record(
            by=by,
            action="notifications.read",
            object_type="notifications.notification",
            before={"unread": [n.pk for n in unread]},
            after={"read": [n.pk for n in unread], "read_at": now.isoformat()},
        )
    return len(unread)


def clear(*, by: Any, recipient: Any, ids: Iterable[int] | None = None) -> int:
    """Remove `recipient`'s notifications (those in `ids`, or all); returns how many.

    Only the recipient's own notifications are removed; the audit event keeps what they said.
    """
    with transaction.atomic():
        gone = list(_theirs(recipient, ids).order_by("pk"))
        if not gone:
            return 0
        Notification.objects.filter(pk__in=[n.pk for n in gone]).delete()
        audit.record(
            by=by,
            action="notifications.cleared",
            object_type="notifications.notification",
            before={"notifications": [_snapshot(n) for n in gone]},
            after=None,
        )
    return len(gone)
