"""Machine principals: scoped API tokens per organisation, stored hashed."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models

from flotilla.audit.principals import Principal


def hash_secret(secret: str) -> str:
    """How a random secret (an API token, an invitation link) is stored: its SHA-256.

    Secrets are 256 random bits, so a fast hash is enough (no dictionary to attack)."""
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenScope(models.TextChoices):
    SUBMIT = "submit", "Submit reports only"
    READ = "read", "Read the picture"
    SHARING = "sharing", "Manage the organisation's sharing grants"


class ApiToken(models.Model):
    """A token a system uses to act for one organisation. Only a hash of the secret is kept."""

    organisation = models.ForeignKey(
        "registry.Organisation", on_delete=models.PROTECT, related_name="api_tokens"
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
