"""The access record: who read which organisation's data, when, and what kind of data.

Access events are the hash chain "access" (ADR 0008), checked by `flotilla verify-audit`.
"""

from __future__ import annotations

from typing import Any

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


class Reader(models.Model):
    """Who read, when and where: what an access event and a request's pending reads share."""

    #: When the data was read.
    at = models.DateTimeField(db_index=True)
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
    #: Where: the page or API path, or the command.
    what = models.CharField(max_length=300)

    class Meta:
        abstract = True


class Reading(Reader):
    """Who read an organisation's data, when, and what kind: what an access event records."""

    #: The measure groups read (capacity, flow, workforce, escalation, narrative).
    groups = models.JSONField(default=list)

    class Meta:
        abstract = True


class AccessEvent(ChainedRecord, Reading):
    """One request's reads of one organisation's data by someone outside it.

    One row per request and data owner (not per value), so the record stays cheap when a
    dashboard of forty organisations is refreshed every thirty seconds. Reads are first
    written as `PendingAccess` rows and chained here in batches (`ledger.flush`, ADR 0022):
    `seq` is the order they were chained in, `at` the time of the read.
    """

    #: The chain name of access events in `ChainHead`.
    CHAIN = "access"
    CHAINED_FIELDS = CHAINED_FIELDS
    #: The inbox holds one row per request, whatever the number of owners it read.
    WAITING = ("more request's reads", "more requests' reads")

    #: Indexed by `access_owner_recent` (owner, newest first), not by an index of its own:
    #: one index fewer to write for each of the many rows.
    owner = models.ForeignKey(
        "organisations.Organisation",
        on_delete=models.PROTECT,
        related_name="access_events",
        db_index=False,
    )

    class Meta(ChainedRecord.Meta):
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["owner", "-at"], name="access_owner_recent")]

    @classmethod
    def waiting(cls) -> tuple[int, Any]:
        """The requests whose reads wait in the inbox, and the time of the oldest."""
        inbox = PendingAccess.objects.aggregate(n=models.Count("id"), oldest=models.Min("at"))
        return inbox["n"], inbox["oldest"]


class PendingAccess(Reader):
    """One request's reads, recorded but not yet chained: the access record's inbox (ADR 0022).

    One row per request that read others' data, whatever the number of owners, written with
    one INSERT and no lock; moved onto the "access" chain, oldest first, one access event per
    owner, by `ledger.flush` (every minute on the schedule, and before anyone reads an access
    record), in the transaction that deletes it here.
    """

    #: [owner organisation id, [measure groups read from it]] for each owner, by owner id.
    #: Ids, not keys: the organisation is checked when the event is chained (organisations
    #: are never deleted; an access event's owner is protected).
    reads = models.JSONField(default=list)

    class Meta:
        ordering = ["id"]


class AudienceKind(models.TextChoices):
    """Who a grant shares with."""

    COLLABORATIVE = "collaborative", "A collaborative"
    ORGANISATION = "organisation", "A named organisation"
    EVERYONE = "everyone", "Every organisation on Flotilla"
    PUBLIC = "public", "The public"


class Detail(models.TextChoices):
    """How finely a grant shares values, finest first."""

    EXACT = "exact", "Exact"
    BANDED = "banded", "Banded"
    STATUS = "status", "Status only"


class EndReason(models.TextChoices):
    REVOKED = "revoked", "Revoked"
    CHANGED = "changed", "Changed"
    LEFT = "left", "Left the collaborative"


class Grant(models.Model):
    """An organisation shares some of its data with an audience, at a detail and a delay.

    Grants are never edited in place: a change ends the grant (reason "changed") and starts
    its successor, which points back at it, so the history of who could see what is kept.
    """

    owner = models.ForeignKey(
        "organisations.Organisation", on_delete=models.PROTECT, related_name="grants"
    )
    audience = models.CharField(max_length=20, choices=AudienceKind.choices)
    collaborative = models.ForeignKey(
        "collaboratives.Collaborative",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="grants",
    )
    audience_organisation = models.ForeignKey(
        "organisations.Organisation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="grants_received",
    )
    #: Measure groups shared: capacity, flow, workforce, escalation, narrative.
    groups = models.JSONField()
    detail = models.CharField(max_length=10, choices=Detail.choices)
    #: Values are shown only once they are this many hours old (0: real time).
    delay_hours = models.PositiveIntegerField(default=0)
    purpose = models.CharField(max_length=300)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    created_by_label = models.CharField(max_length=200)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by_label = models.CharField(max_length=200, blank=True)
    end_reason = models.CharField(max_length=10, choices=EndReason.choices, blank=True)
    replaces = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by"
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["owner", "ended_at"], name="grant_owner_live")]
        constraints = [
            models.CheckConstraint(
                name="grant_audience_target",
                condition=(
                    models.Q(
                        audience="collaborative",
                        collaborative__isnull=False,
                        audience_organisation__isnull=True,
                    )
                    | models.Q(
                        audience="organisation",
                        collaborative__isnull=True,
                        audience_organisation__isnull=False,
                    )
                    | models.Q(
                        audience__in=["everyone", "public"],
                        collaborative__isnull=True,
                        audience_organisation__isnull=True,
                    )
                ),
            ),
            models.CheckConstraint(
                name="grant_detail_known", condition=models.Q(detail__in=Detail.values)
            ),
        ]

    def __str__(self) -> str:
        return f"grant {self.pk} of {self.owner_id} to {self.audience_label}"

    @property
    def audience_label(self) -> str:
        if self.audience == AudienceKind.COLLABORATIVE:
            return self.collaborative.name
        if self.audience == AudienceKind.ORGANISATION:
            return self.audience_organisation.name
        return self.get_audience_display()

    def in_force(self, now) -> bool:
        return self.ended_at is None and (self.expires_at is None or self.expires_at > now)


class PolicyVersion(models.Model):
    """One row whose number is raised, in the same transaction, by every change of who may see
    what: a grant added, changed or ended, an organisation joining or leaving a collaborative
    (`sharing.actions`). An answer the policy shares between viewers (`policy.shared_answer`)
    keeps the number it was worked out under and is never served once it has changed
    (ADR 0038)."""

    version = models.BigIntegerField(default=0)
