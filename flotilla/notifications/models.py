"""Notifications: a person's in-app inbox, their preferences, organisations' webhooks, and the
outbox of deliveries (email and webhook) that is also the record of what was sent to whom.

This app sits low in the layers: it knows Django, the audit log, the user model and (by name)
the organisation model, and nothing of sharing, reporting or collaboratives. Whoever sends a
notification decides who receives it and writes its words and link.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Notification(models.Model):
    """Something a person should know, with where to go about it; read or not yet."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    text = models.CharField(max_length=500)
    #: A path inside Flotilla ("/o/RN1/sharing"), or empty; never another site's address.
    link = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The unread count runs on every page a signed-in person opens.
            models.Index(
                fields=["recipient"], condition=Q(read_at__isnull=True), name="notification_unread"
            ),
            models.Index(fields=["recipient", "-created_at"], name="notification_inbox"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(text=""), name="notification_has_text"),
            models.CheckConstraint(
                condition=Q(link="") | (Q(link__startswith="/") & ~Q(link__startswith="//")),
                name="notification_link_is_local",
            ),
        ]

    def __str__(self) -> str:
        return self.text

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class Preference(models.Model):
    """How a person wants to hear: the in-app inbox always; email on or off, quiet hours, a
    daily digest. No row means the defaults (email on, no quiet hours, no digest).

    Hours are whole local hours in Europe/London, the time every Flotilla user works in.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="notification_preference",
    )
    email = models.BooleanField(default=True)
    #: Emails due from this hour are held until `quiet_until` (both empty: no quiet hours).
    #: A window may cross midnight (22 to 7).
    quiet_from = models.PositiveSmallIntegerField(null=True, blank=True)
    quiet_until = models.PositiveSmallIntegerField(null=True, blank=True)
    #: One email a day at `digest_hour` gathering everything since the last one.
    digest = models.BooleanField(default=False)
    digest_hour = models.PositiveSmallIntegerField(default=8)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(quiet_from__isnull=True) & Q(quiet_until__isnull=True))
                | (
                    Q(quiet_from__lte=23)
                    & Q(quiet_until__lte=23)
                    & ~Q(quiet_from=models.F("quiet_until"))
                ),
                name="preference_quiet_hours_whole",
            ),
            models.CheckConstraint(
                condition=Q(digest_hour__lte=23), name="preference_digest_hour_in_day"
            ),
        ]

    def __str__(self) -> str:
        return f"Notification preferences of {self.user_id}"

    @property
    def has_quiet_hours(self) -> bool:
        return self.quiet_from is not None and self.quiet_until is not None


class Webhook(models.Model):
    """An organisation's subscription: Flotilla POSTs the events of the chosen kinds to `url`,
    signed with `secret`.

    The secret is kept as it is (not hashed) because Flotilla must sign every request with it;
    it is shown once, when the webhook is added. A removed webhook is kept (with `removed_at`)
    so that its deliveries stay on the record.
    """

    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.CASCADE, related_name="webhooks"
    )
    name = models.CharField(max_length=100)
    url = models.CharField(max_length=500)
    #: The event kinds subscribed to (see `kinds.EVENT_KINDS`).
    kinds = models.JSONField(default=list)
    secret = models.CharField(max_length=100)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(
                fields=["organisation"],
                condition=Q(removed_at__isnull=True),
                name="webhook_active",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.url})"

    @property
    def secret_hint(self) -> str:
        """The start of the secret, so that people can tell which one a receiver holds."""
        return self.secret[:12]

    @property
    def is_active(self) -> bool:
        return self.removed_at is None


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Waiting"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    #: Every attempt failed: a dead letter, which the organisation's admins can replay.
    DEAD = "dead", "Gave up"
    #: Not sent and never will be (email turned off, webhook removed).
    CANCELLED = "cancelled", "Not sent"


class Delivery(models.Model):
    """One message to send over one channel: an email to a person or a POST to a webhook.

    The outbox and the record of what was sent to whom: rows are written in the transaction
    of the notification, sent afterwards, and kept with their attempts and outcome.
    """

    #: The delivery's id as receivers see it (the Flotilla-Delivery header), stable across
    #: retries and replays so that a receiver can ignore one it has already handled.
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    kind = models.CharField(max_length=60, blank=True)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notification_deliveries",
    )
    webhook = models.ForeignKey(
        Webhook, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    organisation = models.ForeignKey(
        "organisations.Organisation",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notification_deliveries",
    )
    text = models.CharField(max_length=500)
    link = models.CharField(max_length=300, blank=True)
    #: A webhook's JSON body, fixed when the event happened so that every attempt sends the
    #: same bytes. Empty for email.
    payload = models.JSONField(default=dict, blank=True)
    #: An email held for the person's daily digest.
    digest = models.BooleanField(default=False)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    #: After this many attempts a failing delivery is given up (a replay allows one more).
    attempt_limit = models.PositiveSmallIntegerField(default=1)
    replays = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    #: Every attempt: {"at", "outcome", "error"}.
    history = models.JSONField(default=list, blank=True)
    #: Who is sending it now: set by the conditional UPDATE that claims it, so that two
    #: workers never send the same attempt.
    claim = models.UUIDField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        indexes = [
            # deliver_due looks for these every minute.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="delivery_due",
            ),
            models.Index(fields=["recipient", "-created_at"], name="delivery_person"),
            models.Index(fields=["organisation", "channel", "status"], name="delivery_org"),
            models.Index(fields=["claim"], name="delivery_claim"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(channel="email", recipient__isnull=False, webhook__isnull=True)
                    | Q(channel="webhook", webhook__isnull=False, recipient__isnull=True)
                ),
                name="delivery_has_one_addressee",
            ),
            models.CheckConstraint(
                condition=~Q(status="pending") | Q(next_attempt_at__isnull=False),
                name="delivery_pending_has_due_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.uuid} ({self.status})"

    @property
    def addressee(self) -> str:
        if self.channel == Channel.EMAIL:
            return self.recipient.get_username() if self.recipient else ""
        return self.webhook.name if self.webhook else ""
