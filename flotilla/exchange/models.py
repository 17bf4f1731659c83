"""Requests for help, offers of help, and commitments of part of an offer.

The states and the moves between them are in `lifecycle`; the details of each kind of aid in
`kinds`. The database itself refuses what must never happen: an offer promised beyond its
quantity (`remaining` can neither go below 0 nor above `quantity`), a commitment of nothing,
or a thing ended without its reason.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from flotilla.collaboratives.models import Collaborative
from flotilla.exchange import kinds, lifecycle
from flotilla.organisations.models import Organisation, Site


class Reach(models.IntegerChoices):
    """How widely help is sought or offered: the sourcing ladder, narrowest first."""

    ORGANISATION = 1, "Our own organisation's other sites"
    COLLABORATIVE = 2, "The collaborative"
    REGION = 3, "Every organisation in our region"
    PLATFORM = 4, "Every organisation on Flotilla"


class Urgency(models.TextChoices):
    IMMEDIATE = "immediate", "Immediate"
    WITHIN_4H = "within_4h", "Within 4 hours"
    WITHIN_24H = "within_24h", "Within 24 hours"
    PLANNED = "planned", "Planned"


#: Most urgent first, for ordering boards.
URGENCY_RANK = {u: i for i, u in enumerate(Urgency.values)}


class Transport(models.TextChoices):
    OFFERER = "offerer", "We transport"
    REQUESTER = "requester", "You transport"
    SHARED = "shared", "Shared or to agree"
    NOT_NEEDED = "not_needed", "No transport needed"


class CostRecovery(models.TextChoices):
    NONE = "none", "No charge"
    AT_COST = "at_cost", "At cost"
    TARIFF = "tariff", "At tariff"
    TO_AGREE = "to_agree", "To agree afterwards"


def _choice(field: str, values: list[str] | tuple[str, ...], name: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=Q(**{f"{field}__in": list(values)}), name=name)


def _ended_with_reason(states: tuple[str, ...], name: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=~Q(state__in=states) | ~Q(reason=""), name=name)


class AidRequest(models.Model):
    """An organisation asking for help, seen by a widening audience (`reach`)."""

    collaborative = models.ForeignKey(
        Collaborative, on_delete=models.PROTECT, related_name="aid_requests"
    )
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20)
    details = models.JSONField(default=dict)
    quantity = models.PositiveIntegerField()
    urgency = models.CharField(max_length=20, choices=Urgency.choices)
    needed_by = models.DateTimeField()
    max_distance_km = models.PositiveIntegerField(null=True, blank=True)
    note = models.TextField(blank=True, max_length=1000)
    reach = models.PositiveSmallIntegerField(choices=Reach.choices, default=Reach.COLLABORATIVE)
    #: When the audience last widened (or the request was raised): the ladder's clock.
    reach_since = models.DateTimeField()
    state = models.CharField(max_length=20, default="open")
    reason = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="aid_request_quantity"),
            _choice("kind", list(kinds.KINDS), "aid_request_kind_known"),
            _choice("state", lifecycle.REQUEST_STATES, "aid_request_state_known"),
            _choice("urgency", Urgency.values, "aid_request_urgency_known"),
            models.CheckConstraint(condition=Q(reach__gte=1, reach__lte=4), name="aid_reach"),
            _ended_with_reason(("withdrawn", "expired"), "aid_request_reason"),
        ]
        indexes = [models.Index(fields=["state", "reach"])]

    def __str__(self) -> str:
        return f"Request {self.pk}: {self.summary}"

    @property
    def summary(self) -> str:
        return kinds.describe(self.kind, self.quantity, self.details)

    def acting_organisation_ids(self) -> list[int]:
        """A request is acted for by the organisation that raised it."""
        return [self.organisation_id]


class Offer(models.Model):
    """Help put forward with its own terms: in answer to a request, or unsolicited."""

    collaborative = models.ForeignKey(
        Collaborative, on_delete=models.PROTECT, related_name="aid_offers"
    )
    request = models.ForeignKey(
        AidRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="offers"
    )
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20)
    details = models.JSONField(default=dict)
    quantity = models.PositiveIntegerField()
    #: What can still be committed. Only `actions.commit` and releases move it.
    remaining = models.PositiveIntegerField()
    available_from = models.DateTimeField()
    available_until = models.DateTimeField()
    #: For an unsolicited offer, who sees it (an answer is seen by the two parties).
    reach = models.PositiveSmallIntegerField(choices=Reach.choices, default=Reach.COLLABORATIVE)
    # The terms, which stand in for an agreement nobody has time to sign.
    duration_hours = models.PositiveIntegerField(null=True, blank=True)
    transport = models.CharField(max_length=20, choices=Transport.choices)
    cost_recovery = models.CharField(max_length=20, choices=CostRecovery.choices)
    conditions = models.TextField(blank=True, max_length=1000)
    note = models.TextField(blank=True, max_length=1000)
    state = models.CharField(max_length=20, default="offered")
    reason = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="offer_quantity"),
            # Never promised twice: the database refuses a commitment beyond what is left.
            models.CheckConstraint(
                condition=Q(remaining__gte=0, remaining__lte=models.F("quantity")),
                name="offer_remaining_within_quantity",
            ),
            models.CheckConstraint(
                condition=Q(available_until__gt=models.F("available_from")),
                name="offer_window_forwards",
            ),
            _choice("kind", list(kinds.KINDS), "offer_kind_known"),
            _choice("state", lifecycle.OFFER_STATES, "offer_state_known"),
            _choice("transport", Transport.values, "offer_transport_known"),
            _choice("cost_recovery", CostRecovery.values, "offer_cost_recovery_known"),
            models.CheckConstraint(condition=Q(reach__gte=1, reach__lte=4), name="offer_reach"),
            _ended_with_reason(("withdrawn", "declined", "expired"), "offer_reason"),
        ]
        indexes = [models.Index(fields=["state", "available_until"])]

    def __str__(self) -> str:
        return f"Offer {self.pk}: {self.summary}"

    @property
    def summary(self) -> str:
        return kinds.describe(self.kind, self.quantity, self.details)

    def acting_organisation_ids(self) -> list[int]:
        """An offer is acted for by the organisation that made it."""
        return [self.organisation_id]


class Commitment(models.Model):
    """Part of an offer taken up by an organisation that needs it (partial is normal)."""

    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="commitments")
    request = models.ForeignKey(
        AidRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="commitments"
    )
    #: The organisation receiving the help.
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    state = models.CharField(max_length=20, default="committed")
    reason = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="commitment_quantity"),
            _choice("state", lifecycle.COMMITMENT_STATES, "commitment_state_known"),
            # A release before fulfilment (the help did not happen) says why.
            models.CheckConstraint(
                condition=~Q(state="released", fulfilled_at__isnull=True) | ~Q(reason=""),
                name="commitment_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"Commitment {self.pk}: {self.quantity} of offer {self.offer_id}"


class IdempotencyRecord(models.Model):
    """Makes an API creation safe to retry: one token, one key, one body, one answer."""

    token = models.ForeignKey("authz.ApiToken", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    body_sha256 = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "key"], name="one_aid_answer_per_key")
        ]
