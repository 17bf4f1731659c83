"""Alert rules, who subscribes to them, the alerts they raise, and who was told of which.

A rule is never deleted: it is ended, with who and when, so every alert keeps the rule that
raised it. The database keeps one unresolved alert per rule and organisation (two partial
unique constraints, one for alerts about a member and one for the collaborative's own), so
two evaluations at once cannot open the same alert twice; and one `Notice` per alert and
person, so a retried job never tells anyone twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from flotilla.alerts import logic
from flotilla.collaboratives.models import Collaborative
from flotilla.organisations.models import Organisation


class AlertRule(models.Model):
    """What to watch, in one collaborative: a collaborative's rule (no owner; its
    coordinators manage it, its members' people subscribe) or a person's own."""

    collaborative = models.ForeignKey(
        Collaborative, on_delete=models.PROTECT, related_name="alert_rules"
    )
    #: None: the collaborative's rule. Set: the person's own, seen and told to them only.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="alert_rules",
    )
    kind = models.CharField(max_length=20)
    #: For a measure or forecast rule: a catalogue measure or a rated occupancy indicator.
    measure = models.CharField(max_length=60, blank=True, default="")
    #: For a forecast rule: how many days ahead it looks (the forecasts' days from today to
    #: this many days after it), and the quantile of the forecast it reads (0.5: the median).
    within_days = models.PositiveSmallIntegerField(null=True, blank=True)
    quantile = models.FloatField(null=True, blank=True)
    #: One member; None: every member (and the collaborative itself for a system level).
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    #: Opens at or above this (hours since the last report for overdue; none for changes).
    threshold = models.FloatField(null=True, blank=True)
    #: An open alert resolves only once the figure falls below this (hysteresis).
    clear_at = models.FloatField(null=True, blank=True)
    #: A rule's alert re-opening within this many minutes of resolving is the same alert,
    #: and nobody is told again.
    min_interval_minutes = models.PositiveIntegerField(default=60)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["collaborative", "kind", "measure", "threshold", "pk"]
        indexes = [models.Index(fields=["collaborative", "active"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=list(logic.KINDS)), name="alert_rule_known_kind"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=logic.FIGURE_KINDS, measure__gt="")
                | (~Q(kind__in=logic.FIGURE_KINDS) & Q(measure="")),
                name="alert_rule_measure_only_for_figure_rules",
            ),
            models.CheckConstraint(
                condition=Q(
                    kind=logic.FORECAST,
                    within_days__gte=1,
                    quantile__in=list(logic.QUANTILE_CHOICES),
                )
                | (~Q(kind=logic.FORECAST) & Q(within_days__isnull=True, quantile__isnull=True)),
                name="alert_rule_looks_ahead_only_for_forecast_rules",
            ),
            models.CheckConstraint(
                condition=Q(clear_at__isnull=True)
                | Q(threshold__isnull=True)
                | Q(clear_at__lt=models.F("threshold")),
                name="alert_rule_clears_below_threshold",
            ),
            models.CheckConstraint(
                condition=~Q(kind=logic.SYSTEM_LEVEL) | Q(organisation__isnull=True),
                name="alert_rule_system_level_is_the_collaborative",
            ),
            models.CheckConstraint(
                condition=Q(active=True, ended_at__isnull=True)
                | Q(active=False, ended_at__isnull=False),
                name="alert_rule_ended_when_inactive",
            ),
        ]

    def __str__(self) -> str:
        return self.describe()

    @property
    def figure(self) -> logic.Figure:
        return logic.figure_of(self.kind, self.measure)

    def shown_clear_at(self) -> str:
        """Where its alerts clear, as its threshold is written ("94%", "3.5", "–")."""
        kind = self.figure.kind if self.kind in logic.FIGURE_KINDS else "count"
        return _num(self.clear_at, kind)

    def describe(self) -> str:
        """The rule in words: "G&A occupancy at or above 0.95 (clears below 0.93)"."""
        where = self.organisation.name if self.organisation_id else "any member"
        if self.kind == logic.MEASURE:
            f = self.figure
            words = f"{f.label} of {where} at or above {_num(self.threshold, f.kind)}"
        elif self.kind == logic.FORECAST:
            f = self.figure
            days = "1 day" if self.within_days == 1 else f"{self.within_days} days"
            how = logic.QUANTILE_WORDS.get(self.quantile or logic.DEFAULT_QUANTILE, "")
            words = (
                f"{f.label} of {where} at or above {_num(self.threshold, f.kind)} "
                f"within {days} ({how})"
            )
        elif self.kind == logic.LEVEL:
            words = f"Computed OPEL of {where} at {_num(self.threshold, 'level')} or above"
        elif self.kind == logic.LEVEL_CHANGE:
            words = f"Computed OPEL of {where} changes"
        elif self.kind == logic.SYSTEM_LEVEL:
            level = _num(self.threshold, "level")
            words = f"System OPEL of {self.collaborative.name} at {level} or above"
        else:
            words = (
                f"Report of {where} overdue by {_num(self.threshold, 'count')} hours since the last"
            )
        return words


def _num(value: float | None, kind: str) -> str:
    if value is None:
        return "–"
    if kind == "ratio":
        whole = round(value * 100, 6) == round(value * 100)
        return f"{value:.0%}" if whole else f"{value:.1%}"
    return f"{value:g}"


class Subscription(models.Model):
    """A person told of a collaborative rule's alerts (their organisation must be a member)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_subscriptions"
    )
    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="subscriptions")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "rule"], name="one_subscription_per_rule"),
        ]


class Alert(models.Model):
    """A rule's figure crossed its threshold for one organisation (or the collaborative):
    open, acknowledged by someone for the team, and resolved when the figure clears."""

    rule = models.ForeignKey(AlertRule, on_delete=models.PROTECT, related_name="alerts")
    #: The member concerned; None for the collaborative's system level.
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    state = models.CharField(max_length=20, default=logic.OPEN)
    opened_at = models.DateTimeField()
    #: The figure that (last) opened it: what, how much, reported for when.
    measure = models.CharField(max_length=60)
    value = models.FloatField(null=True)
    as_of = models.DateTimeField()
    #: For a forecast rule: the day the forecast that opened it first reaches the threshold.
    target = models.DateField(null=True, blank=True)
    #: The newest figure seen while it was open.
    last_value = models.FloatField(null=True)
    last_as_of = models.DateTimeField()
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_why = models.CharField(max_length=200, blank=True, default="")
    #: The report time of the figure that resolved it.
    resolved_as_of = models.DateTimeField(null=True, blank=True)
    times_reopened = models.PositiveIntegerField(default=0)
    reopened_at = models.DateTimeField(null=True, blank=True)
    #: When the people who may see it were told (or found not to be there); None: not yet.
    told_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-pk"]
        indexes = [
            models.Index(fields=["rule", "organisation", "state"]),
            models.Index(fields=["state", "told_at"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=list(logic.STATES)), name="alert_state"),
            models.UniqueConstraint(
                fields=["rule", "organisation"],
                condition=~Q(state=logic.RESOLVED) & Q(organisation__isnull=False),
                name="one_unresolved_alert_per_rule_and_organisation",
            ),
            models.UniqueConstraint(
                fields=["rule"],
                condition=~Q(state=logic.RESOLVED) & Q(organisation__isnull=True),
                name="one_unresolved_collaborative_alert_per_rule",
            ),
            models.CheckConstraint(
                condition=~Q(state=logic.RESOLVED) | Q(resolved_at__isnull=False),
                name="alert_resolved_has_time",
            ),
            models.CheckConstraint(
                condition=Q(acknowledged_at__isnull=True) | Q(acknowledged_by__isnull=False),
                name="alert_acknowledged_by_someone",
            ),
        ]

    def __str__(self) -> str:
        return f"Alert {self.pk}: {self.rule.describe()} ({self.state})"

    @property
    def figure(self) -> logic.Figure:
        return self.rule.figure

    def shown_value(self, value: float | None = None) -> str:
        """A figure of the alert as people read it (a forecast count as a whole number of
        patients: its fractions are the model's, not a census)."""
        v = self.value if value is None else value
        kind = self.figure.kind
        if self.rule.kind == logic.FORECAST and kind == "count" and v is not None:
            v = round(v)
        return _num(v, kind)


class Notice(models.Model):
    """One person told of one alert, by itself or in a digest: the record that makes telling
    idempotent, and what the storm rule counts."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notices")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    told_at = models.DateTimeField()
    in_digest = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["user", "told_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["alert", "user"], name="one_notice_per_alert_and_person"
            ),
        ]
