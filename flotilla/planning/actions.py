"""Every write of the planning app: daily forecasts made from an organisation's own figures.

`recompute` forecasts each measure the metric catalogue declares forecastable
(`[forecasts]` in `flotilla/catalogue/v1.toml`), for the organisation and for each of its
sites, from the daily history of its own figures read through the sharing policy as itself
(`policy.acting_for`). One value a day: the last figure reported that day, in local time; a
day with none, or with only "missing", is a gap (carried over by the core, never counted as
zero). A series with no figure in the window gets no forecast. The core's fallbacks (short
series, flat series) are stored as the forecast's `method`.

The `forecast_organisations` job (`tasks.py`) runs it when figures arrive (queued inside the
report's transaction by `after_report`) and the daily `forecast-daily` schedule runs it for
everyone. It is idempotent: the forecasts of one series and origin day are written as a
state (replaced only when what they say changed, each change with its audit event in the
same transaction), keyed by organisation, site, measure, origin and target.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from django.db import IntegrityError, transaction
from django.utils import timezone

from flotilla import catalogue
from flotilla.audit import actions as audit
from flotilla.audit.principals import Principal
from flotilla.organisations.models import Organisation, Site
from flotilla.planning.core.forecast import forecast_array
from flotilla.planning.core.scoring import QUANTILES as CORE_QUANTILES
from flotilla.planning.models import QUANTILES, Forecast
from flotilla.sharing import policy

#: Who makes forecasts: the platform, on the owners' behalf, from their own figures.
FORECASTER = Principal.system("forecasts")
#: How many days of history a forecast is made from (ending at its origin day).
HISTORY_DAYS = 120
#: Quantiles are stored to this many decimal places (patients): a recompute that changes
#: nothing beyond them stores nothing.
PLACES = 3

assert tuple(level for level, _ in QUANTILES) == CORE_QUANTILES, "the core's quantile levels"


@dataclass(frozen=True)
class Daily:
    """One series' daily history: a value per day from its first to its last figure."""

    site: Site | None
    measure: str
    first: date
    #: NaN where the day had no figure.
    values: list[float]
    #: The report time of the newest figure (on the last day).
    as_of: datetime

    @property
    def origin(self) -> date:
        return self.first + timedelta(days=len(self.values) - 1)

    @property
    def points(self) -> int:
        return sum(1 for v in self.values if not np.isnan(v))


def daily_history(
    organisation: Organisation, site: Site | None, measures: Iterable[str], until: datetime
) -> list[Daily]:
    """The organisation's (or its site's) own daily history of each measure up to `until`:
    the last figure reported each day (local time), read as itself through the policy."""
    viewer = policy.acting_for(organisation, "forecasts")
    since = until - timedelta(days=HISTORY_DAYS + 1)
    history = policy.read_history(viewer, organisation, site, list(measures), since, until)
    last: dict[str, dict[date, tuple[float, datetime]]] = {}
    for code, as_of, value in history.rows:  # oldest first: a later figure wins its day
        if value is not None:
            last.setdefault(code, {})[timezone.localtime(as_of).date()] = (value, as_of)
    out = []
    for code, days in last.items():
        first, end = min(days), max(days)
        first = max(first, end - timedelta(days=HISTORY_DAYS - 1))
        span = (end - first).days + 1
        values = [float("nan")] * span
        for day, (value, _) in days.items():
            if day >= first:
                values[(day - first).days] = value
        out.append(Daily(site, code, first, values, days[end][1]))
    return out


def _rounded(x: float) -> float:
    return round(float(x), PLACES)


def _made(series: list[Daily], horizon: int) -> list[tuple[str, list[list[float]]]]:
    """The core's forecasts of several series ending on the same origin day, in one pass
    (the core is vectorised over series): each one's method, and each day's quantiles.
    Shorter series are padded at the start with gaps (never counted as figures), and each
    series is its own group, so none borrows another's errors."""
    first = min(x.first for x in series)
    span = max(len(x.values) + (x.first - first).days for x in series)
    grid = np.full((len(series), span), np.nan)
    for i, x in enumerate(series):
        grid[i, (x.first - first).days :] = x.values
    values, methods = forecast_array(grid, np.arange(len(series), dtype=np.int64), horizon)
    return [
        (methods[i], [[_rounded(q) for q in day] for day in values[i]]) for i in range(len(series))
    ]


def _snapshot(series: Daily, method: str, medians: list[float]) -> dict[str, Any]:
    return {
        "site": series.site.code if series.site else None,
        "measure": series.measure,
        "origin": series.origin.isoformat(),
        "as_of": series.as_of.isoformat(),
        "method": method,
        "points": series.points,
        "median": medians,
    }


def _store(
    organisation: Organisation, series: Daily, method: str, days: list[list[float]], now: datetime
) -> tuple[list[Forecast], audit.Event | None]:
    """Store one series' forecasts from its origin day, unless the same are stored already."""
    stored = list(
        Forecast.objects.select_for_update()
        .filter(
            organisation=organisation,
            site=series.site,
            measure=series.measure,
            origin=series.origin,
        )
        .order_by("horizon")
    )
    points = series.points
    said = [(f.as_of, f.method, f.points, [getattr(f, n) for _, n in QUANTILES]) for f in stored]
    wanted = [(series.as_of, method, points, day) for day in days]
    if said == wanted:
        return [], None  # stored already: a retry, a second worker, or nothing new
    rows = [
        Forecast(
            organisation=organisation,
            site=series.site,
            measure=series.measure,
            origin=series.origin,
            target=series.origin + timedelta(days=h),
            horizon=h,
            as_of=series.as_of,
            computed_at=now,
            method=method,
            points=points,
            **{name: q for (_, name), q in zip(QUANTILES, day, strict=True)},
        )
        for h, day in enumerate(days, 1)
    ]
    try:
        with transaction.atomic():  # the one savepoint: inserts that may clash
            Forecast.objects.filter(pk__in=[f.pk for f in stored]).delete()
            made = Forecast.objects.bulk_create(rows)
    except IntegrityError:
        return [], None  # another worker stored them a moment ago
    medians = [day[3] for day in days]
    event = audit.Event(
        "planning.forecast_computed",
        made[0],
        organisation_id=organisation.pk,
        before=_snapshot(series, stored[0].method, [f.q50 for f in stored])
        | {"as_of": stored[0].as_of.isoformat(), "points": stored[0].points}
        if stored
        else None,
        after=_snapshot(series, method, medians),
    )
    return made, event


def _reporting(
    organisation: Organisation, measures: tuple[str, ...], now: datetime
) -> list[Site | None]:
    """The organisation (None) and those of its sites that have a figure of any of these
    measures as at `now`: the series worth reading the history of (one query, through the
    policy as itself, rather than one per site: a trust may have dozens of sites)."""
    viewer = policy.acting_for(organisation, "forecasts")
    reading = policy.read_latest(viewer, now, {organisation.pk}, list(measures))
    site_ids = {v.site_id for v in reading.values}
    sites: list[Site | None] = [None] if None in site_ids else []
    ids = site_ids - {None}
    return sites + list(Site.objects.filter(pk__in=ids).order_by("code")) if ids else sites


def _compute(organisation: Organisation, now: datetime) -> tuple[list[Forecast], list[audit.Event]]:
    """`recompute`'s work inside the caller's transaction: the forecasts stored, and the
    audit events the caller records (in the same transaction)."""
    cat = catalogue.current()
    by_origin: dict[date, list[Daily]] = {}
    for site in _reporting(organisation, cat.forecast_measures, now):
        for series in daily_history(organisation, site, cat.forecast_measures, now):
            by_origin.setdefault(series.origin, []).append(series)
    made, changes = [], []
    for group in by_origin.values():
        for series, (method, days) in zip(group, _made(group, cat.forecast_days), strict=True):
            rows, event = _store(organisation, series, method, days, now)
            made += rows
            if event is not None:
                changes.append(event)
    return made, changes


def recompute(*, organisation: Organisation, now: datetime | None = None) -> list[Forecast]:
    """Forecast each forecastable measure of the organisation and its sites from their
    newest figures, storing any forecast not stored yet (or changed), each series' set with
    its audit event, in one transaction. Idempotent."""
    with transaction.atomic():
        made, changes = _compute(organisation, now or timezone.now())
        audit.record_many(by=FORECASTER, events=changes)
    return made


def recompute_for(
    *, organisation_ids: Iterable[int], now: datetime | None = None
) -> dict[str, int]:
    """The job's body: every organisation's forecasts in one transaction and one append to
    the audit chain."""
    now = now or timezone.now()
    made, changes = [], []
    with transaction.atomic():
        for org in Organisation.objects.filter(pk__in=set(organisation_ids)).order_by("pk"):
            rows, events = _compute(org, now)
            made += rows
            changes += events
        audit.record_many(by=FORECASTER, events=changes)
    return {"forecasts": len(made), "series": len(changes)}


def backfill(*, organisation: Organisation, days: int, now: datetime | None = None) -> int:
    """The forecasts the job would have made at this time of day on each of the last `days`
    days (from the figures up to then), and now: after loading history, so that a viewer
    whose grant is a day or two late has a forecast to see. Idempotent like `recompute`."""
    now = now or timezone.now()
    return sum(
        len(recompute(organisation=organisation, now=now - timedelta(days=d)))
        for d in range(days, -1, -1)
    )


def _enqueue(organisation_ids: list[int]) -> None:
    from flotilla.planning.tasks import forecast_organisations

    if organisation_ids:
        forecast_organisations.enqueue(organisation_ids=sorted(set(organisation_ids)))


def after_report(*, newest: dict[int, datetime], **_: Any) -> None:
    """Receiver of `reporting.events.report_recorded`: queue the forecasts inside the
    report's transaction, so a report rolled back queues nothing."""
    _enqueue(list(newest))
