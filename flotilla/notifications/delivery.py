"""Sending what the outbox holds: `deliver(id)` for one delivery, `deliver_due()` for everything
due. Both are safe to run twice or at the same time as each other.

A delivery is claimed by one conditional UPDATE (pending and due -> sending, with a fresh
claim id) before anything is sent; whoever's UPDATE changed the row owns that attempt, and
every later write is conditional on the claim, so an attempt is made at most once. Nothing is
sent inside a transaction: a slow receiver holds no lock. A claim older than `LEASE` (a worker
that died mid-attempt) is released by `deliver_due` and counts as a failed attempt; the
receiver may then see the delivery twice, and recognises it by its Flotilla-Delivery id.

These are not audited actions: the deliveries are themselves the record of every attempt
(times, outcome, last error), and writing an audit event per attempt would flood the chain.
What people decide (preferences, webhooks, replays) is audited in `actions`.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.urls import reverse
from django.utils import timezone

from flotilla.notifications import schedule, webhooks
from flotilla.notifications.models import Channel, Delivery, DeliveryStatus
from flotilla.notifications.queries import preferences_for

log = logging.getLogger(__name__)

#: How long a claim holds before deliver_due takes it for a worker that died. Far longer than
#: any attempt can take (the webhook timeout, or the SMTP timeout of 10 s).
LEASE = timedelta(minutes=10)
#: Deliveries looked at per query in deliver_due.
BATCH = 200

PENDING, SENDING = DeliveryStatus.PENDING, DeliveryStatus.SENDING


def deliver(delivery_id: int, now: datetime | None = None) -> str | None:
    """Make the next attempt at one delivery if it is due and nobody else is making it.

    Returns what happened ("sent", "failed", "dead", "held", "cancelled") or None when there
    was nothing to do (not due, already sent, or claimed by another worker).
    """
    now = now or timezone.now()
    claim = uuid.uuid4()
    claimed = Delivery.objects.filter(
        pk=delivery_id, status=PENDING, next_attempt_at__lte=now
    ).update(status=SENDING, claim=claim, claimed_at=now)
    if not claimed:
        return None
    d = Delivery.objects.select_related("recipient", "webhook", "organisation").get(pk=delivery_id)
    if d.channel == Channel.EMAIL:
        return _email(d, claim, now)
    return _webhook(d, claim, now)


def deliver_due(now: datetime | None = None) -> dict[str, int]:
    """Attempt every delivery that is due; returns how many ended each way.

    Idempotent: what is sent is no longer pending, and what failed waits for its next time,
    so a second run at the same moment finds nothing to do.
    """
    now = now or timezone.now()
    outcomes: Counter[str] = Counter(_release_stale(now))
    seen: set[int] = set()
    while True:
        due = list(
            Delivery.objects.filter(status=PENDING, next_attempt_at__lte=now)
            .exclude(pk__in=seen)
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)[:BATCH]
        )
        if not due:
            return dict(outcomes)
        for pk in due:
            seen.add(pk)
            outcome = deliver(pk, now)
            if outcome:
                outcomes[outcome] += 1


def _release_stale(now: datetime) -> Counter[str]:
    outcomes: Counter[str] = Counter()
    for d in Delivery.objects.filter(status=SENDING, claimed_at__lt=now - LEASE):
        began = d.last_attempt_at is not None and d.last_attempt_at >= d.claimed_at
        if began:
            error = "An attempt was interrupted before it finished"
            outcomes[_failed([d], d.claim, now, error)] += 1
        else:
            # Claimed but never tried (the worker died while deciding): simply due again.
            _settle(d, d.claim, status=PENDING, next_attempt_at=now)
    return outcomes


# -- the writes of one attempt, each conditional on holding the claim ---------------------


def _settle(d: Delivery, claim: Any, **fields: Any) -> bool:
    return bool(
        Delivery.objects.filter(pk=d.pk, status=SENDING, claim=claim).update(
            claim=None, claimed_at=None, **fields
        )
    )


def _hold(d: Delivery, claim: Any, until: datetime, *, digest: bool) -> str:
    """Put a claimed email back, untried, to go at `until` (quiet hours, the digest)."""
    _settle(d, claim, status=PENDING, next_attempt_at=until, digest=digest)
    return "held"


def _cancel(d: Delivery, claim: Any, reason: str) -> str:
    _settle(d, claim, status=DeliveryStatus.CANCELLED, next_attempt_at=None, last_error=reason)
    return "cancelled"


def _begin(batch: list[Delivery], now: datetime) -> None:
    for d in batch:
        d.attempts += 1
        Delivery.objects.filter(pk=d.pk).update(attempts=d.attempts, last_attempt_at=now)


def _sent(batch: list[Delivery], claim: Any, now: datetime) -> str:
    for d in batch:
        entry = {"at": now.isoformat(), "outcome": "sent", "error": ""}
        _settle(
            d,
            claim,
            status=DeliveryStatus.SENT,
            sent_at=now,
            next_attempt_at=None,
            last_error="",
            history=[*d.history, entry],
        )
    return "sent"


def _failed(batch: list[Delivery], claim: Any, now: datetime, error: str) -> str:
    """Record a failed attempt: try again after the next wait, or give up after the last."""
    error = error[:500]
    outcome = "failed"
    for d in batch:
        entry = {"at": now.isoformat(), "outcome": "failed", "error": error}
        if d.attempts >= d.attempt_limit:
            outcome = "dead"
            fields: dict[str, Any] = {"status": DeliveryStatus.DEAD, "next_attempt_at": None}
        else:
            retry = now + schedule.retry_after(d.attempts)
            fields = {"status": PENDING, "next_attempt_at": retry}
        _settle(d, claim, last_error=error, history=[*d.history, entry], **fields)
    return outcome


# -- email ----------------------------------------------------------------------------------


def _link(path: str) -> str:
    return f"{settings.SITE_URL}{path}" if path else ""


def _email(d: Delivery, claim: Any, now: datetime) -> str:
    person = d.recipient
    p = preferences_for(person)
    # Preferences are read again at sending, so a change applies to what is still waiting.
    if not p.email:
        return _cancel(d, claim, "Email was turned off before it was sent")
    if not person.email or not person.is_active:
        return _cancel(d, claim, "The person has no email address or cannot sign in")
    if p.digest and not d.digest:
        return _hold(d, claim, schedule.next_digest(p, now), digest=True)
    if schedule.in_quiet_hours(p, now):
        return _hold(d, claim, schedule.quiet_end(p, now), digest=d.digest and p.digest)
    batch = [d]
    if d.digest and p.digest:
        # Everything else waiting for this person's digest goes in the same message.
        Delivery.objects.filter(
            channel=Channel.EMAIL,
            recipient=person,
            digest=True,
            status=PENDING,
            next_attempt_at__lte=now,
        ).update(status=SENDING, claim=claim, claimed_at=now)
        batch = list(Delivery.objects.filter(claim=claim, status=SENDING).order_by("created_at"))
    _begin(batch, now)
    try:
        _message(person, batch, digest=d.digest and p.digest).send(fail_silently=False)
    except Exception as exc:
        log.warning("email to %s failed: %s", person.get_username(), exc)
        return _failed(batch, claim, now, f"The mail server refused it: {exc}")
    return _sent(batch, claim, now)


def _message(person: Any, batch: list[Delivery], *, digest: bool) -> EmailMessage:
    footer = (
        f"Choose which emails Flotilla sends you: {_link(reverse('notifications:preferences'))}\n"
    )
    if digest:
        subject = f"Flotilla: {len(batch)} notification{'s' if len(batch) != 1 else ''}"
        lines = []
        for d in batch:
            when = timezone.localtime(d.created_at, schedule.LONDON).strftime("%-d %b %H:%M")
            lines.append(f"- {when}: {d.text}" + (f"\n  {_link(d.link)}" if d.link else ""))
        body = "Since your last digest:\n\n" + "\n".join(lines) + "\n\n" + footer
    else:
        (d,) = batch
        subject = "Flotilla: " + (d.text if len(d.text) <= 90 else d.text[:89] + "…")
        body = d.text + "\n\n" + (f"Open it in Flotilla: {_link(d.link)}\n\n" if d.link else "")
        body += footer
    return EmailMessage(
        subject=subject,
        body=body,
        to=[person.email],
        # Tells mail servers and auto-responders that no person sent this.
        headers={"Auto-Submitted": "auto-generated"},
    )


# -- webhooks -------------------------------------------------------------------------------


def _webhook(d: Delivery, claim: Any, now: datetime) -> str:
    hook = d.webhook
    if hook.removed_at is not None:
        return _cancel(d, claim, "The webhook was removed before it was sent")
    _begin([d], now)
    body = webhooks.body_bytes(d.payload)
    # The wall clock, not `now`: receivers compare the timestamp with their own clock to
    # refuse old requests replayed by someone else.
    stamp = str(int(time.time()))
    answer = webhooks.post(
        hook.url,
        body,
        {
            webhooks.EVENT_HEADER: d.kind,
            webhooks.DELIVERY_HEADER: str(d.uuid),
            webhooks.TIMESTAMP_HEADER: stamp,
            webhooks.SIGNATURE_HEADER: "sha256=" + webhooks.signature(hook.secret, stamp, body),
        },
        timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
    )
    if answer.ok:
        return _sent([d], claim, now)
    return _failed([d], claim, now, answer.error)
