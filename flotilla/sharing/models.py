"""The access record: who read which organisation's data, when, and what kind of data.

Access events are the hash chain "access" (ADR 0008), checked by `flotilla verify-audit`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from flotilla.audit.models import ChainedRecord

#: The recorded fields covered by an access event's hash, besides seq and prev_hash. Frozen:
#: migration 0002 keeps its own copy, and changing this list would fail every existing event.
CHAINED_FIELDS = (
    "at",
    "owner_id",
    "reader_user_id",
    "reader_token_id",
    "reader_label",
    "reader_organisations",
    "groups",
    "what",
)


class AccessEvent(ChainedRecord):
    """One request's reads of one organisation's data by someone outside it.

    One row per request and data owner (not per value), so the record stays cheap when a
    dashboard of forty organisations is refreshed every thirty seconds.
    """

    #: The chain name of access events in `ChainHead`.
    CHAIN = "access"
    CHAINED_FIELDS = CHAINED_FIELDS

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

    class Meta(ChainedRecord.Meta):
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["owner", "-at"], name="access_owner_recent")]
