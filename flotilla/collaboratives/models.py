"""Collaboratives: organisations that chose to act together, who belongs, who was invited,
and where each draws its amber and red lines."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from flotilla.organisations.models import Organisation


class InvitePolicy(models.TextChoices):
    """Whose coordinators may invite organisations into a collaborative."""

    ANY_MEMBER = "any_member", "A coordinator of any member organisation"
    FOUNDER_ONLY = "founder_only", "Only coordinators of the founding organisation"


class Collaborative(models.Model):
    """Organisations that chose to act together, with no agreement beyond a shared purpose."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    purpose = models.TextField()
    created_by_organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    #: How often members are expected to report; figures older than twice this are stale.
    reporting_interval_hours = models.PositiveSmallIntegerField(default=4)
    invite_policy = models.CharField(
        max_length=20, choices=InvitePolicy.choices, default=InvitePolicy.ANY_MEMBER
    )
    #: How long a request for aid waits unmet before its audience widens by one step.
    aid_widen_after_minutes = models.PositiveSmallIntegerField(default=60)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(reporting_interval_hours__gte=1, reporting_interval_hours__lte=168),
                name="collaborative_interval_range",
            ),
            models.CheckConstraint(
                condition=Q(invite_policy__in=["any_member", "founder_only"]),
                name="collaborative_invite_policy_known",
            ),
            models.CheckConstraint(
                condition=Q(aid_widen_after_minutes__gte=15, aid_widen_after_minutes__lte=1440),
                name="collaborative_aid_widen_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def acting_organisation_ids(self) -> models.QuerySet[CollaborativeMembership]:
        """A collaborative is acted for by its active members' people (a subquery of ids)."""
        return self.memberships.filter(left_at__isnull=True).values("organisation_id")


class CollaborativeMembership(models.Model):
    """An organisation's membership of a collaborative. Leaving keeps the row (history)."""

    collaborative = models.ForeignKey(
        Collaborative, on_delete=models.CASCADE, related_name="memberships"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="collaborative_memberships"
    )
    joined_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["collaborative", "organisation"],
                condition=Q(left_at__isnull=True),
                name="one_active_membership",
            )
        ]


class InvitationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    WITHDRAWN = "withdrawn", "Withdrawn"


class Invitation(models.Model):
    """An invitation for an organisation to join a collaborative; accepted in one step."""

    collaborative = models.ForeignKey(
        Collaborative, on_delete=models.CASCADE, related_name="invitations"
    )
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(
        max_length=10, choices=InvitationStatus.choices, default=InvitationStatus.PENDING
    )
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["collaborative", "organisation"],
                condition=Q(status="pending"),
                name="one_pending_invitation",
            )
        ]


class RagThreshold(models.Model):
    """Where a collaborative draws amber and red for one indicator on its dashboard."""

    collaborative = models.ForeignKey(
        Collaborative, on_delete=models.CASCADE, related_name="thresholds"
    )
    indicator = models.CharField(max_length=60)
    amber = models.FloatField()
    red = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["collaborative", "indicator"], name="one_threshold"),
            models.CheckConstraint(condition=Q(red__gte=models.F("amber")), name="red_above_amber"),
        ]
