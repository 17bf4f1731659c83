"""Who may act for an organisation: people's roles in it, and its API tokens (hashed)."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models

from flotilla.audit.principals import Principal
from flotilla.organisations.models import Organisation


class Role(models.TextChoices):
    """A person's role in an organisation. What each may do is in authz.permissions."""

    VIEWER = "viewer", "Viewer"
    REPORTER = "reporter", "Reporter"
    COORDINATOR = "coordinator", "Coordinator"
    ORG_ADMIN = "org_admin", "Organisation admin"


class Membership(models.Model):
    """A person's role in one organisation; a person may belong to several."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organisation"], name="one_role_per_org")
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.role} at {self.organisation.code}"


def hash_secret(secret: str) -> str:
    """How a random secret (an API token, an invitation link) is stored: its SHA-256.

    Secrets are 256 random bits, so a fast hash is enough (no dictionary to attack)."""
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenScope(models.TextChoices):
    SUBMIT = "submit", "Submit reports only"
    READ = "read", "Read the picture"
    SHARING = "sharing", "Manage the organisation's sharing grants"
    AID = "aid", "Ask for, offer and take up mutual aid"


class ApiToken(models.Model):
    """A token a system uses to act for one organisation. Only a hash of the secret is kept."""

    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.PROTECT, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=10, choices=TokenScope.choices)
    #: The first characters of the secret, shown so that people can tell tokens apart.
    prefix = models.CharField(max_length=12, db_index=True)
    secret_sha256 = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…, {self.scope})"

    @staticmethod
    def hash_secret(secret: str) -> str:
        return hash_secret(secret)

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def as_principal(self) -> Principal:
        return Principal(
            label=f"token:{self.prefix}@{self.organisation.code}",
            token_id=self.pk,
            organisation_id=self.organisation_id,
        )
