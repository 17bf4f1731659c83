"""People getting in: invitations to an organisation, access requests, sign-in throttling."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from flotilla.authz.models import Role, hash_secret


class PersonInvitationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    WITHDRAWN = "withdrawn", "Withdrawn"


class PersonInvitation(models.Model):
    """A one-time, expiring link that gives whoever opens it a role in one organisation.

    Only the SHA-256 of the link's secret is kept, so a copy of the database cannot be used to
    join. An invitation names a person (a username or an email address) who alone may accept
    it when signed in; a first-admin link names nobody and is passed on by hand.
    """

    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.PROTECT, related_name="person_invitations"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    #: Who it is for: an existing person's username, an email address, both or (for a
    #: first-admin link) neither.
    username = models.CharField(max_length=150, blank=True)
    email = models.EmailField(blank=True)
    secret_sha256 = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    #: A first admin's invitation (made by a coordinator who is not in the organisation): it
    #: works only while the organisation has no admin, so it cannot be used to take one over.
    first_admin = models.BooleanField(default=False)
    #: The collaborative invitation that prompted a first-admin link, if one did.
    collaborative_invitation = models.ForeignKey(
        "collaboratives.Invitation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="first_admin_links",
    )
    status = models.CharField(
        max_length=10,
        choices=PersonInvitationStatus.choices,
        default=PersonInvitationStatus.PENDING,
    )
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=Role.values), name="person_invitation_role_known"
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")),
                name="person_invitation_expires_after_made",
            ),
            # A first-admin link names nobody; every other invitation names someone.
            models.CheckConstraint(
                condition=Q(first_admin=True) | ~Q(username="") | ~Q(email=""),
                name="person_invitation_names_someone",
            ),
            models.CheckConstraint(
                condition=Q(first_admin=False) | Q(role=Role.ORG_ADMIN),
                name="first_admin_invitation_is_for_an_admin",
            ),
            # A lost first-admin link is replaced, never doubled: one pending per organisation.
            models.UniqueConstraint(
                fields=["organisation"],
                condition=Q(status="pending", first_admin=True, username="", email=""),
                name="one_pending_first_admin_link",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()} at {self.organisation.code} for {self.for_whom}"

    @staticmethod
    def hash_secret(secret: str) -> str:
        return hash_secret(secret)

    @property
    def for_whom(self) -> str:
        return self.username or self.email or "whoever has the link"

    def is_expired(self, now=None) -> bool:
        return (now or timezone.now()) >= self.expires_at

    @property
    def is_open(self) -> bool:
        """Pending and not yet expired: the link still works."""
        return self.status == PersonInvitationStatus.PENDING and not self.is_expired()


class AccessRequestStatus(models.TextChoices):
    PENDING = "pending", "Waiting for a decision"
    APPROVED = "approved", "Approved"
    DECLINED = "declined", "Declined"


class AccessRequest(models.Model):
    """Someone without a role asks to be let into an organisation; its admin decides."""

    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.PROTECT, related_name="access_requests"
    )
    name = models.CharField(max_length=200)
    #: Stored in lower case, so that one address has one pending request per organisation.
    email = models.EmailField()
    reason = models.TextField(max_length=500)
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=10, choices=AccessRequestStatus.choices, default=AccessRequestStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.TextField(blank=True)
    invitation = models.OneToOneField(
        PersonInvitation,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="access_request",
    )

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "email"],
                condition=Q(status="pending"),
                name="one_pending_access_request",
            ),
            models.CheckConstraint(
                condition=Q(email=Lower("email")),
                name="access_request_email_lower_case",
            ),
            models.CheckConstraint(
                condition=~Q(status="declined") | ~Q(decline_reason=""),
                name="declined_access_request_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(status="approved") | Q(invitation__isnull=False),
                name="approved_access_request_has_invitation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}> for {self.organisation.code}"


class ThrottleKind(models.TextChoices):
    ACCOUNT = "account", "Account"
    ADDRESS = "address", "Client address"
    #: Forms that send an email to an address someone typed (access requests, password
    #: resets), counted per client address so they cannot be used to flood inboxes.
    MAIL = "mail", "Emails asked for from a client address"


class SignInThrottle(models.Model):
    """Failed sign-ins for one account name (as typed) or client address, and any lock; also
    the emails asked for from one client address (kind `mail`).

    Kept in the database so that every web worker sees the same count. The row is also what
    concurrent failures for the same key queue on, so the count is exact.
    """

    kind = models.CharField(max_length=10, choices=ThrottleKind.choices)
    #: The username as typed, in lower case, or the client's IP address.
    key = models.CharField(max_length=150)
    last_failure_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "key"], name="one_throttle_per_key"),
        ]
        indexes = [models.Index(fields=["last_failure_at"])]


class SignInFailure(models.Model):
    """One failed sign-in, counted against its throttle while it is inside the window."""

    throttle = models.ForeignKey(SignInThrottle, on_delete=models.CASCADE, related_name="failures")
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["throttle", "at"])]


class RequestCount(models.Model):
    """Requests counted against one subject (an API token, by the hash of its secret, or a
    client address) in one minute, for the rate limits (`flotilla.middleware`).

    Kept in the database, like the sign-in throttle, so that every web worker and machine
    counts together; one atomic upsert per request keeps the count exact under concurrency.
    Bookkeeping, not audited. Rows of past minutes are deleted as new minutes start.
    """

    #: "token:<sha-256 of the secret, first 32 hex>" or "address:<client IP>".
    subject = models.CharField(max_length=160)
    #: Minutes since the Unix epoch (UTC).
    minute = models.BigIntegerField()
    count = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subject", "minute"], name="one_count_per_minute"),
        ]
        indexes = [models.Index(fields=["minute"])]


class OidcIdentity(models.Model):
    """A person's account at an OpenID Connect provider, linked to their Flotilla account.

    The provider names the account by `subject` (the ID token's `sub`), unique within its
    `issuer`; once linked, signing in finds the person by it alone, whatever email the
    provider says later (ADR 0029). Made only by `flotilla.accounts.actions.link_identity`.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oidc_identities"
    )
    issuer = models.CharField(max_length=300)
    subject = models.CharField(max_length=255)
    linked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["issuer", "subject"], name="one_person_per_oidc_subject"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"
