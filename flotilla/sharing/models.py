"""The access record: who read which organisation's data, when, and what kind of data."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AccessEvent(models.Model):
    """One request's reads of one organisation's data by someone outside it.

    One row per request and data owner (not per value), so the record stays cheap when a
    dashboard of forty organisations is refreshed every thirty seconds.
    """

    at = models.DateTimeField(db_index=True)
    owner = models.ForeignKey(
        "registry.Organisation", on_delete=models.PROTECT, related_name="access_events"
    )
    reader_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reader_token = models.ForeignKey(
        "authz.ApiToken", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    #: Who read, as shown at the time (a username, a token, or the platform and why).
    reader_label = models.CharField(max_length=200)
    #: The reader's own organisations when they read.
    reader_organisations = models.JSONField(default=list)
    #: The measure groups read (capacity, flow, workforce, escalation, narrative).
    groups = models.JSONField(default=list)
    #: Where: the page or API path, or the command.
    what = models.CharField(max_length=300)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["owner", "-at"], name="access_owner_recent")]
