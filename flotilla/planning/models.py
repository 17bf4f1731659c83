"""What the planning app stores: daily forecasts made from an organisation's own figures,
stored like any derived figure; and the drafts a plan's moves become (`AidDraft`, below).

One row is one forecast: of one measure (a count the metric catalogue declares forecastable)
of one organisation, or of one of its sites, made at the end of its `origin` day for its
`target` day, with its quantiles. The forecasts of one origin are made together from the
same daily history and share its `as_of` (the report time of the newest figure used), its
`method` (which model, or which fallback, said out loud) and its `points`. They are figures
derived from the organisation's data, so others read them only through
`flotilla.sharing.policy.read_derived`, as the measure's group is shared with them
(`flotilla.planning.queries`).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from flotilla import catalogue
from flotilla.collaboratives.models import Collaborative
from flotilla.exchange.models import AidRequest, Offer
from flotilla.organisations.models import Organisation, Site

#: The quantile levels stored, in order, and the field holding each.
QUANTILES: tuple[tuple[float, str], ...] = (
    (0.025, "q025"),
    (0.1, "q10"),
    (0.25, "q25"),
    (0.5, "q50"),
    (0.75, "q75"),
    (0.9, "q90"),
    (0.975, "q975"),
)


class Forecast(models.Model):
    """One day's forecast of one measure of an organisation (site empty) or one of its sites."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="forecasts"
    )
    site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.PROTECT, related_name="forecasts"
    )
    measure = models.CharField(max_length=60)
    #: The last day of the daily history it was made from (local time).
    origin = models.DateField()
    #: The day it forecasts: origin + horizon.
    target = models.DateField()
    horizon = models.PositiveSmallIntegerField()
    #: The report time of the newest figure it was made from: a delayed grant shows it only
    #: once this is old enough.
    as_of = models.DateTimeField()
    computed_at = models.DateTimeField()
    #: Which model made it, or which fallback: "ensemble", "short series (9 points): last
    #: value", "flat series: constant".
    method = models.CharField(max_length=100)
    #: Days with a figure in the history it was made from.
    points = models.PositiveIntegerField()
    q025 = models.FloatField()
    q10 = models.FloatField()
    q25 = models.FloatField()
    q50 = models.FloatField()
    q75 = models.FloatField()
    q90 = models.FloatField()
    q975 = models.FloatField()

    class Meta:
        ordering = ["organisation", "site", "measure", "-origin", "target"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "site", "measure", "origin", "target"],
                name="one_forecast_per_site_day",
            ),
            # The site is empty for the organisation's own series, and NULLs are distinct
            # in a unique index: the organisation's forecasts get a constraint of their own.
            models.UniqueConstraint(
                fields=["organisation", "measure", "origin", "target"],
                condition=Q(site__isnull=True),
                name="one_forecast_per_organisation_day",
            ),
            models.CheckConstraint(
                condition=Q(horizon__gte=1, horizon__lte=14), name="forecast_horizon_range"
            ),
            models.CheckConstraint(
                condition=Q(q025__gte=0)
                & Q(q10__gte=F("q025"))
                & Q(q25__gte=F("q10"))
                & Q(q50__gte=F("q25"))
                & Q(q75__gte=F("q50"))
                & Q(q90__gte=F("q75"))
                & Q(q975__gte=F("q90")),
                name="forecast_quantiles_ordered",
            ),
        ]
        indexes = [models.Index(fields=["organisation", "measure", "as_of"])]

    def __str__(self) -> str:
        return f"{self.measure} of {self.organisation_id} for {self.target} (from {self.origin})"

    @property
    def quantiles(self) -> dict[float, float]:
        return {level: getattr(self, name) for level, name in QUANTILES}


# The trained forecaster (ADR 0026) -----------------------------------------------------


class ForecastModel(models.Model):
    """A gradient-boosted forecaster learnt from published files (`planning.core.gbm`): its
    trees as text, and what it learnt from. Kept for good: a forecast's method names the
    model and calibration that made it."""

    made_at = models.DateTimeField()
    made_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    #: The published files it learnt from: [{"file", "sha256", "first_day", "last_day"}].
    trained_on = models.JSONField()
    #: How the trees were grown (`gbm.Settings`).
    settings = models.JSONField()
    #: The days of the winter (days since 1 November) of the origins it learnt from: it is
    #: used only for forecasts from an origin within them.
    days_from = models.IntegerField()
    days_to = models.IntegerField()
    #: `gbm.Model.to_text()`; and its SHA-256, which the audit record keeps.
    text = models.TextField()
    sha256 = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-made_at", "-pk"]

    def __str__(self) -> str:
        return f"Forecast model {self.pk}"


class ForecastCalibration(models.Model):
    """How much a model's intervals are widened (per horizon and interval), worked out from
    the newest published file (`gbm.calibrate`). The newest calibration is the forecaster in
    use; a model is calibrated again each time a newer file is published."""

    model = models.ForeignKey(ForecastModel, on_delete=models.PROTECT, related_name="calibrations")
    made_at = models.DateTimeField()
    made_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    #: The published file: {"file", "sha256", "first_day", "last_day"}; and its SHA-256,
    #: so that calibrating a model on the same file again changes nothing.
    source = models.JSONField()
    source_sha256 = models.CharField(max_length=64)
    #: The file's last day: its errors are known up to then.
    through = models.DateField()
    #: 14 horizons × 3 intervals (95%, 80%, 50%), log scale, at least nought.
    widening = models.JSONField()

    class Meta:
        ordering = ["-made_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["model", "source_sha256"], name="one_calibration_per_model_and_file"
            ),
        ]

    def __str__(self) -> str:
        return f"Calibration {self.pk} of model {self.model_id} (through {self.through})"


# From plan to aid (ADR 0021) -------------------------------------------------------------


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
