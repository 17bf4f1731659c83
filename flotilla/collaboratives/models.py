"""Collaboratives: organisations that chose to act together, who belongs, who was invited,
where each draws its amber and red lines, and how it works while in surge."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from flotilla.organisations.models import Organisation


class InvitePolicy(models.TextChoices):
    """Whose coordinators may invite organisations into a collaborative."""

    ANY_MEMBER = "any_member", "A coordinator of any member organisation"
    FOUNDER_ONLY = "founder_only", "Only coordinators of the founding organisation"


class AidReach(models.IntegerChoices):
    """Who a new request for aid is shown to first. The same numbers and meanings as
    `flotilla.exchange.models.Reach` (the exchange sits above collaboratives, so its choices
    cannot be imported here; a test holds the two together)."""

    ORGANISATION = 1, "Our own organisation's other sites"
    COLLABORATIVE = 2, "The collaborative"
    REGION = 3, "Every organisation in our region"
    PLATFORM = 4, "Every organisation on Flotilla"


#: The system escalation levels (OPEL 1 to 4) at which surge may be set to apply.
SURGE_LEVELS = (2, 3, 4)


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

    # Surge: how the collaborative works while the system is under pressure.
    #: The system escalation level (OPEL) at or above which surge applies.
    surge_level = models.PositiveSmallIntegerField(default=4)
    #: Whether surge switches on (and back off) by itself as the system level moves.
    surge_automatic = models.BooleanField(default=False)
    #: How often members are expected to report in surge; never longer than the usual interval.
    surge_reporting_interval_hours = models.PositiveSmallIntegerField(default=1)
    #: Who a new request for aid is shown to first in surge, unless its author chooses.
    surge_aid_reach = models.PositiveSmallIntegerField(
        choices=AidReach.choices, default=AidReach.REGION
    )
    #: People of member organisations told when surge starts or ends (besides coordinators).
    surge_notify = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    #: When the collaborative went into surge; None when it is not in surge.
    surge_since = models.DateTimeField(null=True, blank=True)
    #: Whether the surge in force was switched on automatically (only then does it switch
    #: itself off); the whole story is in `SurgeSwitch`.
    surge_switched_automatically = models.BooleanField(default=False)

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
            models.CheckConstraint(
                condition=Q(surge_level__gte=2, surge_level__lte=4),
                name="collaborative_surge_level_range",
            ),
            models.CheckConstraint(
                condition=Q(
                    surge_reporting_interval_hours__gte=1,
                    surge_reporting_interval_hours__lte=models.F("reporting_interval_hours"),
                ),
                name="collaborative_surge_interval_range",
            ),
            models.CheckConstraint(
                condition=Q(surge_aid_reach__gte=1, surge_aid_reach__lte=4),
                name="collaborative_surge_reach_range",
            ),
            models.CheckConstraint(
                condition=Q(surge_since__isnull=False) | Q(surge_switched_automatically=False),
                name="collaborative_surge_automatic_only_in_surge",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def acting_organisation_ids(self) -> models.QuerySet[CollaborativeMembership]:
        """A collaborative is acted for by its active members' people (a subquery of ids)."""
        return self.memberships.filter(left_at__isnull=True).values("organisation_id")

    @property
    def in_surge(self) -> bool:
        return self.surge_since is not None

    @property
    def effective_reporting_interval_hours(self) -> int:
        """How often members are expected to report now: the surge interval in surge."""
        if self.in_surge:
            return self.surge_reporting_interval_hours
        return self.reporting_interval_hours

    @property
    def default_aid_reach(self) -> int:
        """Who a new request for aid is shown to first when its author does not choose: the
        surge reach in surge, otherwise the collaborative's members."""
        if self.in_surge:
            return self.surge_aid_reach
        return AidReach.COLLABORATIVE


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


class SurgeSwitch(models.Model):
    """One switch of a collaborative into or out of surge: the collaborative's surge history."""

    collaborative = models.ForeignKey(
        Collaborative, on_delete=models.CASCADE, related_name="surge_switches"
    )
    on = models.BooleanField()
    at = models.DateTimeField()
    #: The person who switched it; None for the platform (an automatic switch).
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    #: Who switched it, as the audit log names them (a username, or the system's job).
    by_label = models.CharField(max_length=150)
    automatic = models.BooleanField(default=False)
    #: The system escalation level that led to the switch, when known.
    level = models.PositiveSmallIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=500)

    class Meta:
        ordering = ["-at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(level__isnull=True) | Q(level__gte=1, level__lte=4),
                name="surge_switch_level_range",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="surge_switch_has_reason"),
        ]
