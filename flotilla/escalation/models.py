"""Escalation levels computed from the figures, beside the levels organisations declare.

A scoring profile (`flotilla.opel`) is versioned data: each version a collaborative can use
is stored here whole (`ProfileVersion.text`), so a level computed last winter can always be
explained by the profile that produced it, even after the profile changed. A collaborative
adopts one profile per kind of organisation (`Adoption`, with history). The recompute job
stores one `ComputedLevel` per organisation, profile version and report time: the level, the
score and the whole explanation (each parameter's value, score and thresholds). These are
figures derived from the organisation's data, so others read them only through
`flotilla.sharing.policy.read_derived`, under the owner's escalation grant.

The system level of a collaborative (`SystemLevel`) is rolled up from its members' levels as
the collaborative sees them as a body (`policy.collaborative_body`): what every member may
see. Members left out are named, with why.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from flotilla.collaboratives.models import Collaborative
from flotilla.organisations.models import Organisation


class ProfileVersion(models.Model):
    """One version of a scoring profile: shipped with Flotilla, or a collaborative's variant."""

    code = models.SlugField(max_length=60)
    version = models.CharField(max_length=40)
    label = models.CharField(max_length=200)
    #: The TOML source, exactly as loaded: the profile is this text.
    text = models.TextField()
    #: The shipped profile a variant extends (None for a shipped profile itself).
    based_on = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="variants"
    )
    #: The collaborative whose local variant this is (None: shipped with Flotilla).
    collaborative = models.ForeignKey(
        Collaborative, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["code", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="profile_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.code} {self.version})"


class Adoption(models.Model):
    """The profile a collaborative scores one kind of organisation with, from when to when."""

    collaborative = models.ForeignKey(
        Collaborative, on_delete=models.CASCADE, related_name="escalation_adoptions"
    )
    organisation_kind = models.CharField(max_length=20)
    profile = models.ForeignKey(ProfileVersion, on_delete=models.PROTECT, related_name="+")
    adopted_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["organisation_kind", "-adopted_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["collaborative", "organisation_kind"],
                condition=Q(ended_at__isnull=True),
                name="one_adoption_per_kind",
            ),
        ]


class ComputedLevel(models.Model):
    """An organisation's level under one profile version, from its figures at `as_of`."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="computed_levels"
    )
    profile = models.ForeignKey(ProfileVersion, on_delete=models.PROTECT, related_name="levels")
    #: The report time of the newest figure it was computed from.
    as_of = models.DateTimeField()
    computed_at = models.DateTimeField()
    #: 1–4, or None when too few parameters had a figure (missing is never scored as calm).
    level = models.PositiveSmallIntegerField(null=True)
    score = models.FloatField(null=True)
    #: The explanation: every parameter's value, score, weight and thresholds, what is
    #: missing, how far to the next level and what would bring the level down.
    explanation = models.JSONField()

    class Meta:
        ordering = ["organisation", "-as_of"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "profile", "as_of"], name="one_level_per_report_time"
            ),
            models.CheckConstraint(
                condition=Q(level__isnull=True) | Q(level__gte=1, level__lte=4),
                name="computed_level_range",
            ),
        ]
        indexes = [models.Index(fields=["organisation", "as_of"])]

    def __str__(self) -> str:
        return f"{self.organisation} OPEL {self.level or '–'} at {self.as_of:%Y-%m-%d %H:%M}"


class DifferenceNote(models.Model):
    """Why an organisation's declared level differs from its computed one, in its words."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    computed = models.ForeignKey(ComputedLevel, on_delete=models.PROTECT, related_name="notes")
    declared_level = models.PositiveSmallIntegerField()
    reason = models.TextField(max_length=1000)
    written_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    written_at = models.DateTimeField()

    class Meta:
        ordering = ["-written_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(declared_level__gte=1, declared_level__lte=4),
                name="declared_level_range",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="difference_note_has_reason"),
        ]


class SystemLevel(models.Model):
    """A collaborative's level, rolled up from the members' levels it sees as a body."""

    collaborative = models.ForeignKey(
        Collaborative, on_delete=models.CASCADE, related_name="system_levels"
    )
    computed_at = models.DateTimeField()
    #: None when no member's level could be counted.
    level = models.PositiveSmallIntegerField(null=True)
    #: The roll-up rule, in words ("the highest member level").
    rule = models.CharField(max_length=200)
    #: [{"organisation": id, "name": ..., "level": n, "profile": "acute 2026.1"}, ...]: a new
    #: row is stored only when the level, a member's level or who counts changes.
    counted: Any = models.JSONField(default=list)
    #: [{"organisation": id, "why": "..."}, ...]: members whose level was not counted.
    left_out: Any = models.JSONField(default=list)

    class Meta:
        ordering = ["collaborative", "-computed_at", "-id"]
        indexes = [models.Index(fields=["collaborative", "computed_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(level__isnull=True) | Q(level__gte=1, level__lte=4),
                name="system_level_range",
            ),
        ]


class SystemDeclaration(models.Model):
    """The level a collaborative's coordinators declare for the system, beside the computed
    one (a system coordination centre's call), with why."""

    collaborative = models.ForeignKey(
        Collaborative, on_delete=models.CASCADE, related_name="system_declarations"
    )
    level = models.PositiveSmallIntegerField()
    reason = models.TextField(max_length=1000, blank=True)
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    declared_at = models.DateTimeField()

    class Meta:
        ordering = ["collaborative", "-declared_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(level__gte=1, level__lte=4), name="system_declaration_range"
            ),
        ]
