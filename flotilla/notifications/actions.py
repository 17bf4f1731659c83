"""Every write to notifications goes through here: one transaction each, audited.

`notify` is meant to be called inside the transaction of the change it tells people about,
so that the notification (the inbox rows and the outbox of emails and webhook requests to
send) commits or rolls back with that change and is attributed to the same actor. Sending
happens after the commit, in `delivery`.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from flotilla.audit import actions as audit
from flotilla.audit.principals import as_principal
from flotilla.notifications import schedule, webhooks
from flotilla.notifications.kinds import EVENT_KINDS, KIND_PATTERN, TEST_KIND
from flotilla.notifications.models import (
    Channel,
    Delivery,
    DeliveryStatus,
    Notification,
    Preference,
    Webhook,
)
from flotilla.notifications.queries import UNREAD_LOADED

log = logging.getLogger(__name__)

#: Every webhook secret starts with this, so that a leaked one is easy to recognise.
SECRET_PREFIX = "whsec_"
#: Webhooks one organisation may have at once.
MAX_WEBHOOKS = 10
#: The largest `data` a notification may carry to webhooks, as JSON.
MAX_DATA_BYTES = 10_000


class NotificationError(Exception):
    """A notification that cannot be sent or changed, with the reason in words."""


def _enqueue_on_commit(ids: list[int]) -> None:
    """Ask a worker to send these deliveries once the transaction has committed.

    If the queue cannot take them, they are still in the outbox and `deliver_due` (run every
    minute) sends them; so a failure here is logged, never raised.
    """
    if not ids:
        return

    def enqueue() -> None:
        from flotilla.notifications.tasks import deliver

        for pk in ids:
            try:
                deliver.enqueue(pk)
            except Exception:
                log.exception("could not queue delivery %s; deliver_due will send it", pk)

    transaction.on_commit(enqueue)


def _link(path: str) -> str | None:
    return f"{settings.SITE_URL}{path}" if path else None


def _webhook_payload(
    d: Delivery, *, kind: str, at: Any, organisation: Any, text: str, link: str, data: Any
) -> dict[str, Any]:
    return {
        "id": str(d.uuid),
        "kind": kind,
        "occurred_at": at.isoformat(),
        "organisation": {"code": organisation.code, "name": organisation.name},
        "text": text,
        "link": _link(link),
        "data": data,
    }


def notify(
    *,
    by: Any,
    recipients: Iterable[Any],
    text: str,
    link: str = "",
    organisation: Any = None,
    kind: str = "",
    data: Mapping[str, Any] | None = None,
) -> list[Notification]:
    """Put one notification in each recipient's inbox, and queue what else is due: an email to
    each recipient who wants email, and, when the event concerns `organisation`, a request to
    each of its webhooks subscribed to `kind`. Returns the inbox notifications.

    `text` is a plain sentence (whitespace is tidied); `link` is a path inside Flotilla or
    empty. A person listed twice gets one notification. `kind` names the event (one of
    `kinds.EVENT_KINDS`) and is needed with `organisation`; `data` is extra JSON for webhook
    receivers (codes and slugs, never figures: webhooks are outside the sharing policy).
    """
    text = " ".join(text.split())
    if not text:
        raise NotificationError("A notification needs a sentence to show")
    if len(text) > Notification._meta.get_field("text").max_length:
        raise NotificationError("A notification must be 500 characters or fewer")
    if link and (not link.startswith("/") or link.startswith("//")):
        raise NotificationError("A notification can only link to a page inside Flotilla")
    if kind and (not KIND_PATTERN.match(kind) or kind not in EVENT_KINDS):
        raise NotificationError(f"Unknown kind of event {kind!r}: add it to kinds.EVENT_KINDS")
    if organisation is not None and not kind:
        raise NotificationError("A notification about an organisation needs a kind of event")
    data = dict(data or {})
    try:
        encoded = json.dumps(data)
    except (TypeError, ValueError) as exc:
        raise NotificationError(f"A notification's data must be JSON: {exc}") from exc
    if len(encoded) > MAX_DATA_BYTES:
        raise NotificationError("A notification's data must be 10,000 characters or fewer")
    people = list({r.pk: r for r in recipients}.values())
    if not people and organisation is None:
        return []
    with transaction.atomic():
        now = timezone.now()
        hooks = []
        if organisation is not None:
            active = Webhook.objects.filter(organisation=organisation, removed_at__isnull=True)
            hooks = [h for h in active.order_by("pk") if kind in h.kinds]
        if not people and not hooks:
            return []
        sent = Notification.objects.bulk_create(
            Notification(recipient=p, text=text, link=link, created_at=now) for p in people
        )
        no_email = set(
            Preference.objects.filter(user__in=people, email=False).values_list(
                "user_id", flat=True
            )
        )
        emailed = [p for p in people if p.email and p.is_active and p.pk not in no_email]
        limit = schedule.attempt_limit()
        common = {
            "kind": kind,
            "organisation": organisation,
            "text": text,
            "link": link,
            "created_at": now,
            "next_attempt_at": now,
            "attempt_limit": limit,
        }
        outbox = [Delivery(channel=Channel.EMAIL, recipient=p, **common) for p in emailed]
        for hook in hooks:
            d = Delivery(channel=Channel.WEBHOOK, webhook=hook, **common)
            d.payload = _webhook_payload(
                d, kind=kind, at=now, organisation=organisation, text=text, link=link, data=data
            )
            outbox.append(d)
        outbox = Delivery.objects.bulk_create(outbox)
        audit.record(
            by=by,
            action="notifications.sent",
            object_type="notifications.notification",
            organisation_id=organisation.pk if organisation is not None else None,
            after={
                "recipients": sorted(p.get_username() for p in people),
                "text": text,
                "link": link,
                "kind": kind,
                "organisation": organisation.code if organisation is not None else None,
                "email": sorted(p.get_username() for p in emailed),
                "webhooks": [h.pk for h in hooks],
            },
        )
        _enqueue_on_commit([d.pk for d in outbox])
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
    # The count loaded with the person (if this is one) is counted afresh after the change.
    if getattr(recipient, UNREAD_LOADED, None) is not None:
        delattr(recipient, UNREAD_LOADED)
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


# -- preferences ----------------------------------------------------------------------------


def _preference_snapshot(p: Preference) -> dict[str, Any]:
    return {
        "email": p.email,
        "quiet_from": p.quiet_from,
        "quiet_until": p.quiet_until,
        "digest": p.digest,
        "digest_hour": p.digest_hour,
    }


def _hour(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 23:
        raise NotificationError(f"Choose {what} as an hour from 0 to 23")
    return value


def set_preferences(
    *,
    by: Any,
    person: Any,
    email: bool,
    quiet_from: int | None = None,
    quiet_until: int | None = None,
    digest: bool = False,
    digest_hour: int = 8,
) -> Preference:
    """Set how `person` hears about things beyond the inbox (which they always get).

    Quiet hours are both given or both None, and differ; hours are local (Europe/London).
    Emails still waiting are looked at again under the new preferences at once.
    Only the person may change their own (or the platform).
    """
    actor = as_principal(by).user
    if actor is not None and actor.pk != person.pk:
        raise PermissionDenied("People change only their own notification preferences")
    if (quiet_from is None) != (quiet_until is None):
        raise NotificationError("Choose both when quiet hours start and when they end")
    if quiet_from is not None:
        quiet_from = _hour(quiet_from, "when quiet hours start")
        quiet_until = _hour(quiet_until, "when quiet hours end")
        if quiet_from == quiet_until:
            raise NotificationError("Quiet hours must end at a different hour from the start")
    digest_hour = _hour(digest_hour, "the hour of the daily digest")
    with transaction.atomic():
        p = Preference.objects.select_for_update().filter(user=person).first()
        before = _preference_snapshot(p or Preference(user=person))
        p = p or Preference(user=person)
        p.email, p.digest, p.digest_hour = bool(email), bool(digest), digest_hour
        p.quiet_from, p.quiet_until = quiet_from, quiet_until
        after = _preference_snapshot(p)
        if after == before:
            # Nothing changed, nothing written or audited (no row is the defaults).
            return p
        now = timezone.now()
        p.updated_at = now
        p.save()
        # Held emails (for quiet hours or the digest) are due again, to be held or sent
        # under the new rules; none is sent twice, and none waits for an old digest hour.
        Delivery.objects.filter(
            channel=Channel.EMAIL, recipient=person, status=DeliveryStatus.PENDING
        ).update(next_attempt_at=now, digest=False)
        audit.record(
            by=by,
            action="notifications.preferences_changed",
            object_type="notifications.preference",
            object_id=str(person.pk),
            before=before,
            after=after,
        )
    return p


# -- webhooks -------------------------------------------------------------------------------


def _webhook_snapshot(w: Webhook) -> dict[str, Any]:
    return {
        "organisation": w.organisation_id,
        "name": w.name,
        "url": w.url,
        "kinds": list(w.kinds),
        "secret_starts": w.secret_hint,
        "removed_at": w.removed_at.isoformat() if w.removed_at else None,
    }


def add_webhook(
    *, by: Any, organisation: Any, name: str, url: str, kinds: Iterable[str]
) -> tuple[Webhook, str]:
    """Subscribe `url` to `organisation`'s events of `kinds`; returns the webhook and its
    secret, which the admin copies into the receiver now (it is not shown again).

    The URL must be http(s) and reach a public address (see `webhooks`). Whether `by` may
    manage the organisation's webhooks is for the caller (Perm.MANAGE_WEBHOOKS).
    """
    name = " ".join(name.split())
    if not name:
        raise NotificationError("Give the webhook a name: which system receives it")
    if len(name) > 100:
        raise NotificationError("A webhook's name must be 100 characters or fewer")
    try:
        url = webhooks.check_url(url)
    except webhooks.RefusedAddress as exc:
        raise NotificationError(str(exc)) from exc
    chosen = sorted(set(kinds))
    if not chosen:
        raise NotificationError("Choose at least one kind of event to send")
    unknown = [k for k in chosen if k not in EVENT_KINDS]
    if unknown:
        raise NotificationError(f"Unknown kind of event: {', '.join(unknown)}")
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        active = Webhook.objects.select_for_update().filter(
            organisation=organisation, removed_at__isnull=True
        )
        if active.count() >= MAX_WEBHOOKS:
            raise NotificationError(
                f"An organisation can have {MAX_WEBHOOKS} webhooks; remove one first"
            )
        hook = Webhook.objects.create(
            organisation=organisation,
            name=name,
            url=url,
            kinds=chosen,
            secret=secret,
            created_by=as_principal(by).user,
        )
        audit.record(
            by=by,
            action="notifications.webhook_added",
            obj=hook,
            organisation_id=organisation.pk,
            after=_webhook_snapshot(hook),
        )
    return hook, secret


def remove_webhook(*, by: Any, webhook: Webhook) -> Webhook:
    """Stop sending to a webhook; what was still waiting for it is not sent. Its deliveries
    stay on the record. Removing a removed webhook changes nothing."""
    with transaction.atomic():
        hook = Webhook.objects.select_for_update().get(pk=webhook.pk)
        if hook.removed_at is not None:
            return hook
        cancelled = Delivery.objects.filter(webhook=hook, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.CANCELLED,
            next_attempt_at=None,
            last_error="The webhook was removed before it was sent",
        )
        audit.change(
            by=by,
            obj=hook,
            action="notifications.webhook_removed",
            snapshot=_webhook_snapshot,
            changes={"removed_at": timezone.now()},
            organisation_id=hook.organisation_id,
            after_extra={"cancelled_deliveries": cancelled},
        )
    return hook


def send_test(*, by: Any, webhook: Webhook) -> Delivery:
    """Queue a test event to one webhook, so an admin can check the receiver and its secret."""
    with transaction.atomic():
        hook = Webhook.objects.select_related("organisation").get(pk=webhook.pk)
        if hook.removed_at is not None:
            raise NotificationError("This webhook was removed")
        now = timezone.now()
        text = f"A test event from Flotilla for {hook.name}."
        d = Delivery(
            channel=Channel.WEBHOOK,
            webhook=hook,
            kind=TEST_KIND,
            organisation=hook.organisation,
            text=text,
            created_at=now,
            next_attempt_at=now,
            attempt_limit=schedule.attempt_limit(),
        )
        d.payload = _webhook_payload(
            d, kind=TEST_KIND, at=now, organisation=hook.organisation, text=text, link="", data={}
        )
        d.save()
        audit.record(
            by=by,
            action="notifications.webhook_tested",
            obj=d,
            organisation_id=hook.organisation_id,
            after={"webhook": hook.pk, "delivery": str(d.uuid)},
        )
        _enqueue_on_commit([d.pk])
    return d


def _delivery_snapshot(d: Delivery) -> dict[str, Any]:
    return {
        "delivery": str(d.uuid),
        "webhook": d.webhook_id,
        "kind": d.kind,
        "status": d.status,
        "attempts": d.attempts,
        "attempt_limit": d.attempt_limit,
        "last_error": d.last_error,
    }


def replay(*, by: Any, delivery: Delivery) -> Delivery:
    """Give a dead letter (a webhook delivery every attempt of which failed) one more attempt,
    now. The receiver gets the same body and delivery id as before."""
    with transaction.atomic():
        d = Delivery.objects.select_for_update().get(pk=delivery.pk)
        if d.channel != Channel.WEBHOOK or d.status != DeliveryStatus.DEAD:
            raise NotificationError("Only a webhook delivery that was given up can be replayed")
        if d.webhook.removed_at is not None:
            raise NotificationError("This delivery's webhook was removed; it cannot be replayed")
        audit.change(
            by=by,
            obj=d,
            action="notifications.delivery_replayed",
            snapshot=_delivery_snapshot,
            changes={
                "status": DeliveryStatus.PENDING,
                "attempt_limit": d.attempts + 1,
                "next_attempt_at": timezone.now(),
                "replays": d.replays + 1,
            },
            organisation_id=d.organisation_id,
        )
        _enqueue_on_commit([d.pk])
    return d
