"""What the picture app keeps: the record of morning summaries sent, so each goes once."""

from __future__ import annotations

from django.db import models


class Summary(models.Model):
    """One collaborative's morning summary, sent to one member organisation's coordinators on
    one day. The unique row makes the job safe to run twice or on two workers."""

    collaborative = models.ForeignKey(
        "collaboratives.Collaborative", on_delete=models.CASCADE, related_name="+"
    )
    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.PROTECT, related_name="+"
    )
    day = models.DateField()
    sent_at = models.DateTimeField()
    text = models.CharField(max_length=500)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["collaborative", "organisation", "day"], name="one_summary_a_day"
            )
        ]
