"""The metric catalogue and the append-only store of reported values."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from flotilla import catalogue

#: The measure groups, as the metric catalogue declares them (adding one there changes these
#: choices, which a migration then records).
MEASURE_GROUPS = [(g.code, g.label) for g in catalogue.current().groups]


class MeasureKind(models.TextChoices):
    COUNT = "count", "Count"
    LEVEL = "level", "Level"
    TEXT = "text", "Text"


class Measure(models.Model):
    """One thing an organisation reports, as declared in the catalogue file."""

    code = models.CharField(max_length=60, unique=True)
    label = models.CharField(max_length=200)
    description = models.TextField()
    group = models.CharField(max_length=20, choices=MEASURE_GROUPS)
    kind = models.CharField(max_length=10, choices=MeasureKind.choices)
    bed_type = models.CharField(max_length=40, blank=True)
    #: For bed measures: open, occupied, closed, void, admissible.
    state = models.CharField(max_length=20, blank=True)
    unit = models.CharField(max_length=40)
    min_value = models.FloatField(null=True, blank=True)
    max_value = models.FloatField(null=True, blank=True)
    #: Where it is reported: at organisation level, site level, or either.
    level = models.CharField(max_length=20, default="either")
    order = models.PositiveIntegerField(default=0)
    catalogue_version = models.CharField(max_length=20)

    class Meta:
        ordering = ["order", "code"]

    def __str__(self) -> str:
        return self.code


class RuleSeverity(models.TextChoices):
    WARNING = "warning", "Warning"
    ERROR = "error", "Error"


class MeasureRule(models.Model):
    """A cross-field rule from the catalogue: `left op right` (e.g. occupied ≤ open)."""

    code = models.CharField(max_length=80, unique=True)
    left = models.ForeignKey(Measure, on_delete=models.CASCADE, related_name="+")
    op = models.CharField(max_length=2, choices=[("le", "≤"), ("ge", "≥")])
    right = models.ForeignKey(Measure, on_delete=models.CASCADE, related_name="+")
    severity = models.CharField(max_length=10, choices=RuleSeverity.choices)
    message = models.CharField(max_length=300)
    catalogue_version = models.CharField(max_length=20)


class Series(models.Model):
    """One measure for one organisation (site empty) or one of its sites."""

    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.PROTECT, related_name="series"
    )
    site = models.ForeignKey(
        "organisations.Site", null=True, blank=True, on_delete=models.PROTECT, related_name="series"
    )
    measure = models.ForeignKey(Measure, on_delete=models.PROTECT, related_name="series")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "site", "measure"], name="one_series_per_site_measure"
            ),
            models.UniqueConstraint(
                fields=["organisation", "measure"],
                condition=Q(site__isnull=True),
                name="one_org_series_per_measure",
            ),
        ]


class Source(models.TextChoices):
    FORM = "form", "Web form"
    API = "api", "API"
    IMPORT = "import", "File import"
    DEMO = "demo", "Demo data"


class Submission(models.Model):
    """One act of reporting: who sent it, how, and when it was received."""

    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.PROTECT, related_name="+"
    )
    source = models.CharField(max_length=10, choices=Source.choices)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    token = models.ForeignKey(
        "authz.ApiToken", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    received_at = models.DateTimeField(db_index=True)
    #: File name for imports, free note otherwise.
    reference = models.CharField(max_length=300, blank=True)
    #: "No change since the last report": a confirmation without new figures.
    confirms_no_change = models.BooleanField(default=False)


class MissingReason(models.TextChoices):
    NOT_REPORTED = "not_reported", "Not reported"
    NOT_APPLICABLE = "not_applicable", "Not applicable"
    UNKNOWN = "unknown", "Unknown"
    INVALID = "invalid", "Invalid in source"
    #: The publisher or the source system held the figure back (small numbers suppressed,
    #: `*` or `c` in a published file): it exists, but is not given. Not a sharing state.
    WITHHELD_AT_SOURCE = "withheld_at_source", "Withheld at source"


class Observation(models.Model):
    """A value of a series as true at `as_of`. Never updated: a correction is a new revision."""

    # No index of its own: the partial unique index on (series, as_of) leads with it.
    series = models.ForeignKey(
        Series, on_delete=models.PROTECT, related_name="observations", db_index=False
    )
    as_of = models.DateTimeField()
    value = models.FloatField(null=True, blank=True)
    text = models.TextField(null=True, blank=True)
    #: Why there is no value. Missing is never stored as zero.
    missing_reason = models.CharField(max_length=20, choices=MissingReason.choices, blank=True)
    submission = models.ForeignKey(
        Submission, on_delete=models.PROTECT, related_name="observations"
    )
    revision = models.PositiveIntegerField(default=1)
    #: False once a later revision for the same series and as-of time has superseded it.
    is_current = models.BooleanField(default=True)

    class Meta:
        constraints = [
            # Also the index that answers "the latest value as at T" for each series (both
            # SQLite and PostgreSQL use it for the query in reporting.queries).
            models.UniqueConstraint(
                fields=["series", "as_of"],
                condition=Q(is_current=True),
                name="one_current_value_per_time",
            ),
            models.UniqueConstraint(fields=["series", "as_of", "revision"], name="unique_revision"),
            models.CheckConstraint(
                condition=(
                    Q(value__isnull=False, text__isnull=True, missing_reason="")
                    | Q(value__isnull=True, text__isnull=False, missing_reason="")
                    | Q(value__isnull=True, text__isnull=True) & ~Q(missing_reason="")
                ),
                name="value_text_or_missing_reason",
            ),
        ]

    @property
    def is_missing(self) -> bool:
        return bool(self.missing_reason)


class IdempotencyRecord(models.Model):
    """Makes an API submission safe to retry: one key, one body, one stored result."""

    token = models.ForeignKey("authz.ApiToken", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    body_sha256 = models.CharField(max_length=64)
    response = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["token", "key"], name="one_record_per_key")]


class Reminder(models.Model):
    """A reminder that an organisation's report to a collaborative is due: sent once per due
    time, and cleared by the organisation's next report."""

    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.PROTECT, related_name="+"
    )
    collaborative = models.ForeignKey(
        "collaboratives.Collaborative", on_delete=models.CASCADE, related_name="+"
    )
    #: When the report became due: the last report plus the interval (or joining plus it).
    due_at = models.DateTimeField()
    #: The newest report time when the reminder was sent (None: it had never reported).
    last_report_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField()
    cleared_at = models.DateTimeField(null=True, blank=True)
    #: The inbox notifications it put up, so that the next report can take them down.
    notification_ids = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "collaborative", "due_at"], name="one_reminder_per_due"
            )
        ]
        indexes = [
            models.Index(
                fields=["organisation"],
                condition=models.Q(cleared_at__isnull=True),
                name="reminder_open",
            )
        ]
