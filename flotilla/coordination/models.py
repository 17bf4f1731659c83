"""How a collaborative works together: its shared objectives, the workstreams that serve
them, who holds which role, the RAID log (risks, actions, issues and decisions), the
picture as it stood when a decision was taken, and the daily system call.

Nothing here is deleted. An objective, a workstream or a log item is closed, with who,
when and why; every change is an audit event (`coordination.actions`).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from flotilla.collaboratives.models import Collaborative
from flotilla.organisations.models import Organisation

USER = settings.AUTH_USER_MODEL


class RoleKind(models.TextChoices):
    """Roles at collaborative level, beside each person's role in their organisation."""

    CONVENOR = "convenor", "Convenor"
    SPONSOR = "sponsor", "Executive sponsor"
    LEAD = "lead", "Lead"
    TEAM = "team", "Dedicated team"


class CollaborativeRole(models.Model):
    """A person's role in a collaborative, held for their organisation. Ending it keeps the
    row, with when."""

    collaborative = models.ForeignKey(Collaborative, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=RoleKind.choices)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["collaborative", "user", "kind"],
                condition=Q(ended_at__isnull=True),
                name="one_current_role_of_a_kind",
            )
        ]

    def acting_organisation_ids(self) -> Any:
        return self.collaborative.acting_organisation_ids()


class Comparison(models.TextChoices):
    AT_MOST = "at_most", "at most"
    AT_LEAST = "at_least", "at least"


class Scope(models.TextChoices):
    #: The figure for the whole collaborative: the total of a count, or the system occupancy.
    SYSTEM = "system", "across the system"
    #: Every member's own figure must meet the target.
    EVERY_MEMBER = "every_member", "for every member"


class Objective(models.Model):
    """A shared challenge everyone can see: a statement, an owner, and a measurable target
    on a live figure from the catalogue (a count measure or a rated occupancy indicator).
    Its progress is computed from the picture as each viewer may see it, never stored."""

    collaborative = models.ForeignKey(
        Collaborative, on_delete=models.PROTECT, related_name="objectives"
    )
    statement = models.CharField(max_length=300)
    owner = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    measure = models.CharField(max_length=60)
    scope = models.CharField(max_length=20, choices=Scope.choices)
    comparison = models.CharField(max_length=10, choices=Comparison.choices)
    #: In the figure's own unit; occupancy as a ratio (0.85 for 85%).
    target = models.FloatField()
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_reason = models.CharField(max_length=500, blank=True)

    def acting_organisation_ids(self) -> Any:
        return self.collaborative.acting_organisation_ids()


class WorkstreamStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    CLOSED = "closed", "Closed"


class Workstream(models.Model):
    """A piece of shared work: the objectives it serves, an executive sponsor who unblocks,
    leads and members from any member organisation."""

    collaborative = models.ForeignKey(
        Collaborative, on_delete=models.PROTECT, related_name="workstreams"
    )
    name = models.CharField(max_length=200)
    purpose = models.TextField(blank=True)
    objectives = models.ManyToManyField(Objective, blank=True, related_name="workstreams")
    sponsor = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    leads = models.ManyToManyField(USER, blank=True, related_name="+")
    members = models.ManyToManyField(USER, blank=True, related_name="+")
    status = models.CharField(
        max_length=10, choices=WorkstreamStatus.choices, default=WorkstreamStatus.ACTIVE
    )
    closed_reason = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["collaborative", "name"], name="workstream_name_once")
        ]

    def acting_organisation_ids(self) -> Any:
        return self.collaborative.acting_organisation_ids()


class Snapshot(models.Model):
    """The collaborative's figures as they stood at one moment: each series' newest value
    as reported by then, exact, as the store held it.

    Kept so that a decision can be read later with the picture its deciders had, after the
    figures have moved on. It is never shown as stored: `sharing.policy.read_frozen` shows
    each viewer only what their grants let them see of it (ADR 0027).
    """

    collaborative = models.ForeignKey(Collaborative, on_delete=models.PROTECT, related_name="+")
    taken_at = models.DateTimeField()
    #: The member organisations at that moment (ids), so that a row is kept for each.
    member_ids = models.JSONField()
    #: The values: the store's rows as `reporting.queries.latest_as_at` gives them.
    values = models.JSONField()


class ItemKind(models.TextChoices):
    RISK = "risk", "Risk"
    ACTION = "action", "Action"
    ISSUE = "issue", "Issue"
    DECISION = "decision", "Decision"


class ItemStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    CLOSED = "closed", "Closed"


#: A log item's reference starts with its kind's letter: R4, A12, I2, D7.
PREFIX = {"risk": "R", "action": "A", "issue": "I", "decision": "D"}


class LogItem(models.Model):
    """One entry in a RAID log: of a workstream, or of the collaborative as a whole.

    Risks carry a likelihood and an impact (1–5 each), a mitigation and a review date;
    actions an owner and a due date; issues an owner; decisions their rationale, who
    decided, and the snapshot of the picture when they were taken. Items are numbered per
    collaborative and kind, and never deleted: closed with a reason.
    """

    collaborative = models.ForeignKey(
        Collaborative, on_delete=models.PROTECT, related_name="log_items"
    )
    workstream = models.ForeignKey(
        Workstream, null=True, blank=True, on_delete=models.PROTECT, related_name="items"
    )
    kind = models.CharField(max_length=10, choices=ItemKind.choices)
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=300)
    detail = models.TextField(blank=True)
    owner = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    #: Actions: when it is due. Risks: when it is next reviewed. Decisions: when one is due.
    due_on = models.DateField(null=True, blank=True)
    likelihood = models.PositiveSmallIntegerField(null=True, blank=True)
    impact = models.PositiveSmallIntegerField(null=True, blank=True)
    mitigation = models.TextField(blank=True)
    rationale = models.TextField(blank=True)
    decided_by = models.CharField(max_length=300, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    snapshot = models.ForeignKey(
        Snapshot, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=12, choices=ItemStatus.choices, default=ItemStatus.OPEN)
    closed_reason = models.CharField(max_length=500, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    escalated_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    escalation_note = models.CharField(max_length=500, blank=True)
    #: The daily call it was recorded in, if any.
    call = models.ForeignKey(
        "SystemCall", null=True, blank=True, on_delete=models.PROTECT, related_name="items"
    )
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    #: When an action's owner was last reminded that it is due (one nudge a day at most).
    nudged_on = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["collaborative", "kind", "number"], name="log_item_numbered_once"
            ),
            models.CheckConstraint(
                condition=Q(likelihood__isnull=True) | Q(likelihood__gte=1, likelihood__lte=5),
                name="likelihood_1_to_5",
            ),
            models.CheckConstraint(
                condition=Q(impact__isnull=True) | Q(impact__gte=1, impact__lte=5),
                name="impact_1_to_5",
            ),
        ]

    @property
    def reference(self) -> str:
        return f"{PREFIX[self.kind]}{self.number}"

    @property
    def is_closed(self) -> bool:
        return self.status in (ItemStatus.DONE, ItemStatus.CLOSED)

    @property
    def score(self) -> int | None:
        """A risk's likelihood × impact (1–25)."""
        if self.likelihood is None or self.impact is None:
            return None
        return self.likelihood * self.impact

    def acting_organisation_ids(self) -> Any:
        return self.collaborative.acting_organisation_ids()


class SystemCall(models.Model):
    """One daily system call of a collaborative: who attended, what was recorded in it (its
    actions and decisions are log items pointing here), and when its minutes went out."""

    collaborative = models.ForeignKey(Collaborative, on_delete=models.PROTECT, related_name="calls")
    held_on = models.DateField()
    started_at = models.DateTimeField()
    note_taker = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    attendees = models.ManyToManyField(Organisation, blank=True, related_name="+")
    notes = models.TextField(blank=True)
    minutes_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["collaborative", "held_on"], name="one_call_a_day")
        ]

    def acting_organisation_ids(self) -> Any:
        return self.collaborative.acting_organisation_ids()


class Allocation(models.Model):
    """Hours of one dedicated team member's week given to one workstream. The current
    figure only; every change is an audit event, which is its history."""

    workstream = models.ForeignKey(Workstream, on_delete=models.PROTECT, related_name="allocations")
    user = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    #: The Monday of the week.
    week = models.DateField()
    hours = models.DecimalField(max_digits=4, decimal_places=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workstream", "user", "week"], name="one_allocation_a_week"
            ),
            models.CheckConstraint(
                condition=Q(hours__gte=0, hours__lte=80), name="allocation_hours_in_range"
            ),
        ]


class Ask(models.Model):
    """How many hours of the dedicated team a workstream asks for in one week."""

    workstream = models.ForeignKey(Workstream, on_delete=models.PROTECT, related_name="asks")
    #: The Monday of the week.
    week = models.DateField()
    hours = models.DecimalField(max_digits=5, decimal_places=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workstream", "week"], name="one_ask_a_week"),
            models.CheckConstraint(condition=Q(hours__gte=0), name="ask_hours_not_negative"),
        ]
