"""Reads: a person's inbox, preferences and emails; an organisation's webhooks and deliveries."""

from __future__ import annotations

from typing import Any

from flotilla.notifications.models import (
    Channel,
    Delivery,
    DeliveryStatus,
    Notification,
    Preference,
    Webhook,
)

#: The inbox shows this many of the newest notifications.
INBOX_SIZE = 200


#: Set on a person loaded for a request (`accounts.queries.signed_in_person`): their unread
#: count as of that statement. The actions that change it on the person drop it.
UNREAD_LOADED = "_unread_notifications"


def unread_count(person: Any) -> int:
    """How many of `person`'s notifications are unread: as loaded with the person, else one
    indexed count; 0 when signed out."""
    if not getattr(person, "is_authenticated", False):
        return 0
    loaded = getattr(person, UNREAD_LOADED, None)
    if loaded is not None:
        return int(loaded)
    return Notification.objects.filter(recipient=person, read_at__isnull=True).count()


def inbox(person: Any) -> list[Notification]:
    """`person`'s newest notifications, newest first."""
    return list(Notification.objects.filter(recipient=person)[:INBOX_SIZE])


def unread(person: Any, limit: int = 5) -> list[Notification]:
    """`person`'s newest unread notifications, newest first (the home page shows a few)."""
    return list(Notification.objects.filter(recipient=person, read_at__isnull=True)[:limit])


#: The pages of what was sent show this many of the newest deliveries.
DELIVERIES_SHOWN = 100


def preferences_for(person: Any) -> Preference:
    """`person`'s preferences, or the defaults (unsaved) if they never changed them."""
    return Preference.objects.filter(user=person).first() or Preference(user=person)


def deliveries_to(person: Any) -> list[Delivery]:
    """What was sent (or is waiting to be sent) to `person` by email, newest first."""
    rows = Delivery.objects.filter(recipient=person, channel=Channel.EMAIL)
    return list(rows[:DELIVERIES_SHOWN])


def webhooks_of(organisation: Any) -> list[Webhook]:
    """`organisation`'s webhooks in use."""
    return list(Webhook.objects.filter(organisation=organisation, removed_at__isnull=True))


def dead_letters(organisation: Any) -> list[Delivery]:
    """Webhook deliveries of `organisation` that were given up, newest first."""
    rows = Delivery.objects.filter(
        organisation=organisation, channel=Channel.WEBHOOK, status=DeliveryStatus.DEAD
    ).select_related("webhook")
    return list(rows[:DELIVERIES_SHOWN])


def webhook_deliveries(organisation: Any) -> list[Delivery]:
    """Every webhook delivery of `organisation`, newest first (the record of what was sent)."""
    rows = Delivery.objects.filter(
        organisation=organisation, channel=Channel.WEBHOOK
    ).select_related("webhook")
    return list(rows[:DELIVERIES_SHOWN])
