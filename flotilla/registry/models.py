"""Who is who: geography, organisations, sites, collaboratives and people's roles."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Region(models.Model):
    """An NHS England region (ODS code Y56–Y63)."""

    code = models.CharField(max_length=10, unique=True)
    name = models.CharField(max_length=200)

    def __str__(self) -> str:
        return self.name


class IntegratedCareSystem(models.Model):
    """An integrated care system, identified by its ICB (or former STP) code."""

    code = models.CharField(max_length=10, unique=True)
    name = models.CharField(max_length=200)
    region = models.ForeignKey(Region, null=True, blank=True, on_delete=models.PROTECT)

    def __str__(self) -> str:
        return self.name


class OrganisationKind(models.TextChoices):
    ACUTE = "acute", "Acute trust"
    MENTAL_HEALTH = "mental_health", "Mental health"
    COMMUNITY = "community", "Community"
    AMBULANCE = "ambulance", "Ambulance service"
    INDEPENDENT = "independent", "Independent sector"
    SOCIAL_CARE = "social_care", "Social care"
    #: An ICB or other commissioner: a member of collaboratives that does not report beds.
    COMMISSIONER = "commissioner", "Commissioner (ICB)"
    OTHER = "other", "Other"


class Organisation(models.Model):
    """A provider (trust or similar) with its ODS code. Retired codes point at a successor."""

    code = models.CharField(max_length=10, unique=True)
    name = models.CharField(max_length=300)
    kind = models.CharField(max_length=20, choices=OrganisationKind.choices)
    region = models.ForeignKey(Region, null=True, blank=True, on_delete=models.PROTECT)
    ics = models.ForeignKey(IntegratedCareSystem, null=True, blank=True, on_delete=models.PROTECT)
    postcode = models.CharField(max_length=10, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    successor = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="predecessors"
    )
    closed_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(successor=models.F("id")), name="organisation_not_own_successor"
            ),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True) | Q(latitude__gte=-90, latitude__lte=90),
                name="organisation_latitude_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def is_retired(self) -> bool:
        return self.successor_id is not None or self.closed_on is not None

    def current(self) -> Organisation:
        """Follow the merger chain to the organisation that holds this code's history now."""
        org, seen = self, {self.pk}
        while org.successor_id and org.successor_id not in seen:
            seen.add(org.successor_id)
            org = org.successor
        return org


class Site(models.Model):
    """A hospital or other site of an organisation (5-character site code)."""

    code = models.CharField(max_length=10, unique=True)
    name = models.CharField(max_length=300)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="sites")
    postcode = models.CharField(max_length=10, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Role(models.TextChoices):
    """A person's role in an organisation. What each may do is in authz.permissions."""

    VIEWER = "viewer", "Viewer"
    REPORTER = "reporter", "Reporter"
    COORDINATOR = "coordinator", "Coordinator"
    ORG_ADMIN = "org_admin", "Organisation admin"


class Membership(models.Model):
    """A person's role in one organisation; a person may belong to several."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organisation"], name="one_role_per_org")
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.role} at {self.organisation.code}"


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
        ]

    def __str__(self) -> str:
        return self.name


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
