"""What the planning app stores: the moves of a plan put to organisations as draft aid."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from flotilla import catalogue
from flotilla.collaboratives.models import Collaborative
from flotilla.exchange.models import AidRequest, Offer
from flotilla.organisations.models import Organisation, Site


class DraftSide(models.TextChoices):
    #: The sending organisation asks for its patients to be taken.
    REQUEST = "request", "request"
    #: The receiving organisation offers the beds.
    OFFER = "offer", "offer"


class DraftState(models.TextChoices):
    WAITING = "waiting", "waiting for the organisation"
    RAISED = "raised", "raised on the aid board"
    DISMISSED = "dismissed", "dismissed"


class AidDraft(models.Model):
    """One side of a plan's move, put to the organisation on that side: the sender's draft
    request for its patients to be taken, or the receiver's draft offer of beds. The plan
    recommends; the organisation decides, by raising it on the aid board (as it is or
    changed) or dismissing it with a reason. Nothing is promised until then."""

    collaborative = models.ForeignKey(
        Collaborative, on_delete=models.PROTECT, related_name="aid_drafts"
    )
    #: The drafts made from one plan at one moment share it.
    plan = models.UUIDField(db_index=True)
    made_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    made_at = models.DateTimeField()
    side = models.CharField(max_length=10, choices=DraftSide.choices)
    #: Who decides: the sender for a request, the receiver for an offer.
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    #: The place in the plan when it was a site (else the organisation as a whole).
    site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    counterpart = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    counterpart_site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    #: The move, as the plan names its places: "RN1>RS1/RS101" (sender > receiver).
    move = models.CharField(max_length=100)
    #: The catalogue's bed type the plan balanced.
    bed_type = models.CharField(max_length=40)
    patients = models.PositiveIntegerField()
    distance_km = models.FloatField()
    state = models.CharField(max_length=10, choices=DraftState.choices, default=DraftState.WAITING)
    request = models.ForeignKey(
        AidRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    offer = models.ForeignKey(
        Offer, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-made_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(patients__gte=1), name="aid_draft_patients"),
            models.CheckConstraint(
                condition=Q(side__in=DraftSide.values), name="aid_draft_side_known"
            ),
            models.CheckConstraint(
                condition=Q(state__in=DraftState.values), name="aid_draft_state_known"
            ),
            # Raised means raised as what the side says; dismissed needs a reason.
            models.CheckConstraint(
                condition=~Q(state=DraftState.RAISED)
                | Q(side=DraftSide.REQUEST, request__isnull=False)
                | Q(side=DraftSide.OFFER, offer__isnull=False),
                name="aid_draft_raised_as_its_side",
            ),
            models.CheckConstraint(
                condition=~Q(state=DraftState.DISMISSED) | ~Q(reason=""),
                name="aid_draft_dismissed_with_reason",
            ),
            # One draft per side of a move of a plan.
            models.UniqueConstraint(
                fields=["plan", "side", "move"], name="aid_draft_once_per_move"
            ),
        ]

    def __str__(self) -> str:
        return f"Draft {self.side} {self.pk}: {self.patients} {self.bed_type}"

    @property
    def beds(self) -> str:
        """The bed type as people say it (the catalogue's short label: "G&A")."""
        spec = catalogue.current().bed_types.get(self.bed_type)
        return (spec.short_label or spec.label) if spec else self.bed_type

    def acting_organisation_ids(self) -> list[int]:
        """A draft is decided by the organisation it is put to."""
        return [self.organisation_id]
