"""What the interoperability app keeps: which external EDXL-RM message made which request or
offer, so that importing the same message again changes nothing."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from flotilla.exchange.models import AidRequest, Offer
from flotilla.organisations.models import Organisation


class ImportedMessage(models.Model):
    """One EDXL-RM message imported for an organisation (its `MessageID`, as the sender
    wrote it), and the request or offer it made. Written only by `interop.actions`."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    message_id = models.CharField(max_length=200)
    #: RequestResource or OfferUnsolicitedResource.
    content_type = models.CharField(max_length=40)
    request = models.ForeignKey(
        AidRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    offer = models.ForeignKey(
        Offer, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    imported_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "message_id"], name="one_import_per_rm_message"
            ),
            models.CheckConstraint(
                condition=Q(content_type__in=["RequestResource", "OfferUnsolicitedResource"]),
                name="rm_import_content_type_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.content_type} {self.message_id} for {self.organisation_id}"
