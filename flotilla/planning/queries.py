"""Reading forecasts (what a viewer may see of an organisation's forecasts) and drafts (who
sees which: the organisation it is put to, and the person who made it).

A forecast is a figure derived from the organisation's data: whoever is not one of its
people sees it only through `policy.read_derived`, under the owner's grant of the measure's
group (capacity for bed counts), at that grant's delay (the forecast's `as_of` is the time of
the newest figure it was made from, so a delayed grant shows only forecasts made from
figures old enough) and at its detail: each quantile is coarsened as the policy coarsens a
count (`rules.shown_value`: banded rounds to the nearest 5). Status only shows no number, so
a forecast shared as status only is left out altogether. Pages, API and CSV ask here and
never filter by viewer themselves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import reduce
from operator import or_
from typing import Any

from django.db.models import Max, Q, QuerySet
from django.http import Http404

from flotilla import catalogue
from flotilla.authz.checks import organisations_where
from flotilla.authz.permissions import Perm
from flotilla.organisations.models import Organisation, Site
from flotilla.planning.core import gbm
from flotilla.planning.models import (
    QUANTILES,
    AidDraft,
    DraftState,
    Forecast,
    ForecastCalibration,
    ForecastModel,
)
from flotilla.sharing import policy
from flotilla.sharing.policy import rules

#: Every site of the organisation, and the organisation's own series.
ALL_SITES = "all"


def forecast_measures() -> tuple[str, ...]:
    """The measures forecast, as the metric catalogue declares them."""
    return catalogue.current().forecast_measures


def _groups(measures: Iterable[str]) -> dict[str, list[str]]:
    """Measure group → the measures of it asked for."""
    group_of = {m.code: m.group for m in catalogue.current().measures}
    out: dict[str, list[str]] = defaultdict(list)
    for code in measures:
        if code in group_of:
            out[group_of[code]].append(code)
    return out


@dataclass(frozen=True)
class Day:
    """One target day of a forecast as the viewer may see it: quantile level → value."""

    target: date
    horizon: int
    values: dict[float, float]

    @property
    def median(self) -> float:
        return self.values[0.5]


@dataclass(frozen=True)
class Seen:
    """The forecasts of one series from one origin day, as one viewer may see them."""

    organisation: Organisation
    site_id: int | None
    measure: str
    origin: date
    as_of: datetime
    computed_at: datetime
    method: str
    points: int
    #: How the owner shares the measure's group with the viewer (detail and delay).
    access: rules.Access
    days: tuple[Day, ...]

    def day(self, horizon: int) -> Day | None:
        return next((d for d in self.days if d.horizon == horizon), None)


def _shown(f: Forecast, detail: str) -> dict[float, float] | None:
    """The quantiles of one forecast at a detail, coarsened by the policy's own rule for a
    count; None when that detail shows no number."""
    out = {}
    for level, name in QUANTILES:
        _, value, _ = rules.shown_value("count", getattr(f, name), None, detail)
        if value is None:
            return None
        out[level] = value
    return out


def _series(
    found: list[tuple[Forecast, rules.Access]], orgs: dict[int, Organisation]
) -> list[Seen]:
    by_series: dict[tuple[int, int | None, str], list[tuple[Forecast, rules.Access]]] = {}
    for f, a in found:
        by_series.setdefault((f.organisation_id, f.site_id, f.measure), []).append((f, a))
    out = []
    for (org_id, site_id, measure), pairs in by_series.items():
        f0, a = pairs[0]
        days = []
        for f, _ in sorted(pairs, key=lambda p: p[0].horizon):
            values = _shown(f, a.detail)
            if values is not None:
                days.append(Day(f.target, f.horizon, values))
        if days:
            out.append(
                Seen(
                    orgs[org_id], site_id, measure, f0.origin, f0.as_of, f0.computed_at,
                    f0.method, f0.points, a, tuple(days),
                )
            )  # fmt: skip
    return out


def forecasts_seen_by(
    viewer: policy.Viewer,
    organisations: Iterable[Organisation],
    *,
    site: Site | str | None = ALL_SITES,
    measures: Iterable[str] | None = None,
    at: datetime | None = None,
    target: date | None = None,
) -> list[Seen]:
    """The newest forecast of each series (organisation or site, and measure) of these
    organisations that the viewer may see as at `at` (None: now), its quantiles coarsened
    to the viewer's detail. `site`: one site's series, None for the organisations' own, or
    `ALL_SITES`. Series whose group is not shared with the viewer, shared as status only,
    or with no forecast made from figures old enough for the viewer, are absent.

    `target`: only that day of each newest forecast (a series whose newest forecast does not
    reach it is absent), for a page that shows one day: a fourteenth of the rows read."""
    orgs = {o.pk: o for o in organisations}
    wanted = list(measures) if measures is not None else list(forecast_measures())
    out: list[Seen] = []
    for group, codes in _groups(wanted).items():

        def fetch(cutoffs: dict[int, datetime], codes: list[str] = codes) -> list[Forecast]:
            # Owners alike in cutoff (most are: live grants) share one condition.
            alike: dict[datetime, list[int]] = defaultdict(list)
            for o, cutoff in cutoffs.items():
                if o in orgs:
                    alike[cutoff].append(o)
            reach = [
                Q(organisation_id__in=owners, as_of__lte=cutoff) for cutoff, owners in alike.items()
            ]
            if not reach:
                return []
            rows = Forecast.objects.filter(reduce(or_, reach), measure__in=codes)
            if site is None:
                rows = rows.filter(site__isnull=True)
            elif site != ALL_SITES:
                rows = rows.filter(site=site)
            newest = {
                (n["organisation_id"], n["site_id"], n["measure"]): n["origin"]
                for n in rows.values("organisation_id", "site_id", "measure").annotate(
                    origin=Max("origin")
                )
            }
            if not newest:
                return []
            # The rows of those origins, kept where the origin is its own series' newest (one
            # IN over the few origins, rather than an OR of every series' key).
            chosen = rows.filter(origin__in=set(newest.values()))
            if target is not None:
                chosen = chosen.filter(target=target)
            return [
                f
                for f in chosen
                if newest.get((f.organisation_id, f.site_id, f.measure)) == f.origin
            ]

        found = policy.read_derived(viewer, group, orgs, fetch, at=at)
        out += _series(found, orgs)
    order = {code: n for n, code in enumerate(wanted)}
    out.sort(key=lambda s: (s.organisation.name, s.site_id or 0, order.get(s.measure, 0)))
    return out


def forecast_of(
    viewer: policy.Viewer,
    organisation: Organisation,
    site: Site | None,
    measure: str,
    at: datetime | None = None,
) -> Seen | None:
    """The newest forecast of one series the viewer may see (None: none)."""
    found = forecasts_seen_by(viewer, [organisation], site=site, measures=[measure], at=at)
    return found[0] if found else None


# The trained forecaster (ADR 0026) ------------------------------------------------------

#: Models read from the database, by the SHA-256 of their text: a model's trees are parsed
#: once per process (and a row id reused by another database never finds the wrong one).
_LOADED: dict[str, gbm.Model] = {}


@dataclass(frozen=True)
class Forecaster:
    """The gradient-boosted forecaster in use: the newest calibration and its model."""

    model: gbm.Model
    calibration: ForecastCalibration

    @property
    def method(self) -> str:
        """How a forecast it made says so (`Forecast.method`)."""
        c = self.calibration
        return f"gradient-boosted model {c.model_id}, calibrated to {c.through.isoformat()}"


def forecaster_in_use() -> Forecaster | None:
    """The newest calibration's model with its widening, or None (no model trained: the
    ensemble forecasts alone). One query, and the model's trees read and parsed only the
    first time this process meets them."""
    newest = ForecastCalibration.objects.select_related("model").defer("model__text")
    c = newest.order_by("-made_at", "-pk").first()
    if c is None:
        return None
    loaded = forecaster_model(c.model)
    model = gbm.Model(loaded.boosters, loaded.days, loaded.settings)
    model.widening = gbm.check_widening(c.widening)
    return Forecaster(model, c)


def forecaster_model(stored: ForecastModel) -> gbm.Model:
    """A stored model's trees (no widening), parsed once per process; its text is read
    only then."""
    if stored.sha256 not in _LOADED:
        text = ForecastModel.objects.values_list("text", flat=True).get(pk=stored.pk)
        _LOADED[stored.sha256] = gbm.Model.from_text(text)
    return _LOADED[stored.sha256]


# Drafts from plans ----------------------------------------------------------------------


def _seen_by(user: Any) -> Q:
    own = organisations_where(user, Perm.VIEW_PICTURE)
    return Q(organisation_id__in=own) | Q(made_by=user)


def drafts_waiting_for(user: Any) -> QuerySet[AidDraft]:
    """Drafts waiting for a decision at the organisations where `user` arranges aid."""
    orgs = organisations_where(user, Perm.ARRANGE_AID)
    return (
        AidDraft.objects.filter(organisation_id__in=orgs, state=DraftState.WAITING)
        .select_related("organisation", "counterpart", "site", "collaborative")
        .order_by("-made_at", "pk")
    )


def drafts_made_by(user: Any, collaborative: Any) -> QuerySet[AidDraft]:
    """The drafts `user` made for this collaborative, newest plan first."""
    return (
        AidDraft.objects.filter(made_by=user, collaborative=collaborative)
        .select_related("organisation", "counterpart", "request", "offer")
        .order_by("-made_at", "move", "-side")
    )


def get_draft(user: Any, pk: int) -> AidDraft:
    """A draft its organisation's people or its maker may see; 404 for anyone else."""
    found = (
        AidDraft.objects.filter(_seen_by(user), pk=pk)
        .select_related("organisation", "counterpart", "site", "counterpart_site", "collaborative")
        .first()
    )
    if found is None:
        raise Http404("Not found")
    return found
