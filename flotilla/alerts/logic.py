"""The decisions of alerting, as pure functions (no database): what one figure does to one
alert (open, re-open, update, resolve, nothing), the default clearing point of a rule, what
a rule's figure is and who may be shown it, what a forecast says of a threshold within a
number of days, and how a storm of alerts becomes one digest.

`flotilla.alerts.actions` reads the figures and the alerts and applies what these decide;
`tests/unit/alerts` checks them on their own.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flotilla import catalogue
from flotilla.sharing.policy import rules as sharing_rules

#: Kinds of rule.
MEASURE, FORECAST, LEVEL, LEVEL_CHANGE, SYSTEM_LEVEL, OVERDUE = (
    "measure",
    "forecast",
    "level",
    "level_change",
    "system_level",
    "overdue",
)
KINDS: dict[str, str] = {
    MEASURE: "A figure is at or above a threshold",
    FORECAST: "A forecast says a figure will reach a threshold within some days",
    LEVEL: "An organisation's computed escalation level is at or above a level",
    LEVEL_CHANGE: "An organisation's computed escalation level changes",
    SYSTEM_LEVEL: "The collaborative's system escalation level is at or above a level",
    OVERDUE: "A member's report is overdue",
}
#: Kinds about one member organisation's figures (the others are about the collaborative).
PER_ORGANISATION = (MEASURE, FORECAST, LEVEL, LEVEL_CHANGE, OVERDUE)
#: Kinds that watch a figure named by the rule's `measure`.
FIGURE_KINDS = (MEASURE, FORECAST)
#: Kinds that read computed escalation levels.
LEVEL_KINDS = (LEVEL, LEVEL_CHANGE, SYSTEM_LEVEL)

OPEN, ACKNOWLEDGED, RESOLVED = "open", "acknowledged", "resolved"
STATES = (OPEN, ACKNOWLEDGED, RESOLVED)

#: The group computed levels are shared as (escalation.queries.GROUP).
ESCALATION_GROUP = "escalation"

#: A storm: more than this many alerts told to one person within `STORM_WINDOW` come as one
#: digest instead.
STORM_LIMIT = 3
STORM_WINDOW = timedelta(minutes=10)
#: How many alerts a digest names before "and N more".
DIGEST_NAMES = 3


class Step(enum.Enum):
    NOTHING = "nothing"
    #: A new alert: told to the people who may see it.
    OPEN = "open"
    #: The same alert again, within the minimum interval of its resolving: not told again.
    REOPEN = "reopen"
    #: Still over (or between the clearing point and the threshold): the latest figure kept.
    UPDATE = "update"
    RESOLVE = "resolve"


@dataclass(frozen=True)
class Current:
    """The alert a rule already has for an organisation (unresolved, or the latest resolved)."""

    state: str
    opened_at: datetime
    resolved_at: datetime | None = None
    last_value: float | None = None
    last_as_of: datetime | None = None


def _recently_resolved(current: Current | None, min_interval: timedelta, now: datetime) -> bool:
    """Whether the rule's alert resolved less than the minimum interval ago."""
    return (
        current is not None
        and current.resolved_at is not None
        and now - current.resolved_at < min_interval
    )


def decide(
    *,
    threshold: float,
    clear_at: float,
    min_interval: timedelta,
    current: Current | None,
    value: float | None,
    now: datetime,
) -> Step:
    """What a figure does to a threshold rule's alert.

    At or above the threshold opens one (or re-opens a resolved one within `min_interval` of
    its resolving, without telling anyone again). An open alert resolves only when the figure
    falls below `clear_at` (hysteresis); between the two it stays open. No figure changes
    nothing: a missing report is not a recovery."""
    if value is None:
        return Step.NOTHING
    unresolved = current is not None and current.state != RESOLVED
    if unresolved:
        return Step.RESOLVE if value < clear_at else Step.UPDATE
    if value < threshold:
        return Step.NOTHING
    if _recently_resolved(current, min_interval, now):
        return Step.REOPEN
    return Step.OPEN


def decide_change(
    *,
    min_interval: timedelta,
    current: Current | None,
    level: float | None,
    previous: float | None,
    as_of: datetime | None,
    now: datetime,
) -> Step:
    """What a computed level does to a "level changes" rule's alert.

    A level different from the one computed before it opens an alert (re-opens one resolved
    within `min_interval`); a further change while it is open updates it without telling
    anyone again, so a level see-sawing between two values is one alert. It resolves once
    the level has held for `min_interval` since it opened. Each computed level is acted on
    once: one no newer than the alert's latest is not a change."""
    if level is None or as_of is None:
        return Step.NOTHING
    fresh = current is None or current.last_as_of is None or as_of > current.last_as_of
    unresolved = current is not None and current.state != RESOLVED
    if unresolved:
        assert current is not None
        if fresh and level != current.last_value:
            return Step.UPDATE
        if now - current.opened_at >= min_interval:
            return Step.RESOLVE
        return Step.UPDATE if fresh else Step.NOTHING
    if not fresh or previous is None or level == previous:
        return Step.NOTHING
    if _recently_resolved(current, min_interval, now):
        return Step.REOPEN
    return Step.OPEN


# ------------------------------------------------------------------ figures


@dataclass(frozen=True)
class Figure:
    """What a rule watches: the measure group it is shared as, and its kind for sharing
    (count and ratio: shown only exactly, since a banded viewer would learn the exact
    crossing; level: at every detail; status: not a figure, seen by every member)."""

    code: str
    label: str
    group: str
    kind: str


def figure_of(kind: str, measure: str = "") -> Figure:
    """The figure a rule of `kind` (on `measure`) watches; KeyError for an unknown measure,
    or one a forecast rule cannot watch. A forecast's figure is shared as the measure it
    forecasts (ADR 0020): the same group, and a count or ratio shown only exactly."""
    if kind in FIGURE_KINDS:
        cat = catalogue.current()
        for i in cat.indicators:
            if i.code == measure and i.source == "occupancy":
                if kind == FORECAST and i.measures[0] not in cat.forecast_measures:
                    raise KeyError(measure)
                group = cat.measure(i.measures[0]).group
                return Figure(measure, _forecast_label(kind, i.label), group, "ratio")
        m = cat.measure(measure)
        if m.kind == "text" or (kind == FORECAST and m.code not in cat.forecast_measures):
            raise KeyError(measure)
        return Figure(m.code, _forecast_label(kind, m.label), m.group, m.kind)
    if kind in (LEVEL, LEVEL_CHANGE):
        return Figure("computed_level", "Computed escalation level", ESCALATION_GROUP, "level")
    if kind == SYSTEM_LEVEL:
        return Figure("system_level", "System escalation level", "", "status")
    if kind == OVERDUE:
        return Figure("hours_since_report", "Hours since the last report", "", "status")
    raise KeyError(kind)


def _forecast_label(kind: str, label: str) -> str:
    """ "Forecast G&A occupancy", "Forecast adult CC occupancy" (an acronym keeps its case)."""
    if kind != FORECAST:
        return label
    return f"Forecast {label if label[:2].isupper() else label[:1].lower() + label[1:]}"


def measures_offered() -> list[tuple[str, str]]:
    """(code, label) of every figure a measure rule may watch: the occupancy indicators and
    the catalogue's counts and levels."""
    cat = catalogue.current()
    out = [(i.code, i.label) for i in cat.indicators if i.source == "occupancy"]
    out += [(m.code, m.label) for m in cat.measures if m.kind in ("count", "level")]
    return out


def forecasts_offered() -> list[tuple[str, str]]:
    """(code, label) of every figure a forecast rule may watch: the counts the catalogue
    forecasts, and the occupancy of each bed type whose occupied count is forecast (the
    forecast count over the bed base last reported)."""
    cat = catalogue.current()
    forecast = set(cat.forecast_measures)
    out = [
        (i.code, i.label)
        for i in cat.indicators
        if i.source == "occupancy" and i.measures[0] in forecast
    ]
    out += [(m.code, m.label) for m in cat.measures if m.code in forecast]
    return out


# ------------------------------------------------------------------ forecasts

#: The quantile a forecast rule may watch → what it means to the person choosing it. The
#: median is what is expected; the upper ends of the fan's bands are how bad it could be.
QUANTILE_CHOICES: dict[float, str] = {
    0.5: "Expected (the median forecast)",
    0.75: "Could well (the top of the 50% band: a 1 in 4 chance of more)",
    0.9: "Might (the 90th centile: a 1 in 10 chance of more)",
    0.975: "Could, at worst (the top of the 95% band: a 1 in 40 chance of more)",
}
#: The quantile in a rule's description.
QUANTILE_WORDS = {0.5: "median", 0.75: "75th centile", 0.9: "90th centile", 0.975: "97.5th centile"}
assert set(QUANTILE_WORDS) == set(QUANTILE_CHOICES)
#: What a forecast rule watches unless it says: the median, three days ahead.
DEFAULT_QUANTILE = 0.5
DEFAULT_WITHIN_DAYS = 3


@dataclass(frozen=True)
class Outlook:
    """What a forecast says of a threshold over the days a rule looks ahead."""

    #: The highest figure forecast on those days (at the rule's quantile): what opens,
    #: holds and resolves the alert.
    value: float
    #: The first of those days forecast at or above the threshold; else the day of `value`.
    target: date


def outlook(
    days: Iterable[tuple[date, float]], *, today: date, within: int, threshold: float
) -> Outlook | None:
    """The forecast figures (target day, value) on the days from `today` to `within` days
    after it, read against a threshold; None when the forecast says nothing of those days
    (none made, or made so long ago that its days have passed): no forecast is not a
    recovery."""
    last = today + timedelta(days=within)
    window = sorted((d, v) for d, v in days if today <= d <= last)
    if not window:
        return None
    peak_day, peak = max(window, key=lambda dv: (dv[1], -dv[0].toordinal()))
    crossing = next((d for d, v in window if v >= threshold), peak_day)
    return Outlook(peak, crossing)


def shown(figure: Figure, accesses: sharing_rules.Accesses, as_of: datetime, now: datetime) -> bool:
    """Whether a viewer holding `accesses` to the figure's group may be shown an alert about
    a figure reported at `as_of`: only once it is old enough for one of them, and for a count
    or a ratio only exactly (a rounded figure would still tell where the threshold was
    crossed). Status alerts (system level, overdue) are for every member: not decided here."""
    if figure.kind == "status":
        return True
    a = sharing_rules.shown_under(accesses, as_of, now, now)
    if a is None:
        return False
    return figure.kind == "level" or a.detail == sharing_rules.EXACT


# ------------------------------------------------------------------ thresholds


def default_threshold(kind: str, reporting_interval_hours: int = 24) -> float | None:
    """The threshold a rule starts with when none is given: a report overdue once the
    collaborative's interval has passed; a level rule at OPEL 3."""
    if kind == OVERDUE:
        return float(reporting_interval_hours)
    if kind in (LEVEL, SYSTEM_LEVEL):
        return 3.0
    return None


def default_clear_at(
    kind: str, threshold: float | None, figure_kind: str = "count"
) -> float | None:
    """Where an open alert resolves, when the rule does not say: a little below the
    threshold, so that a figure hovering on the line does not open and close it.

    Ratios (occupancy): 2 points below. Counts: 5% below, at least 1. Levels: just below the
    level (levels move in whole steps; the minimum interval stops the flapping). Overdue: a
    new report (hours since it are then near nought). Level changes have no threshold."""
    if threshold is None or kind == LEVEL_CHANGE:
        return None
    if kind in (LEVEL, SYSTEM_LEVEL) or figure_kind == "level":
        return threshold - 0.5
    if kind == OVERDUE:
        return threshold / 2
    if figure_kind == "ratio":
        return round(threshold - 0.02, 4)
    return threshold - max(1.0, round(abs(threshold) * 0.05))


def check(
    kind: str,
    threshold: float | None,
    clear_at: float | None,
    min_interval_minutes: int,
    within_days: int | None = None,
    quantile: float | None = None,
    horizon_days: int = 14,
) -> dict[str, str]:
    """Field → what is wrong with a rule's numbers (empty: nothing). A forecast rule looks
    1 to `horizon_days` ahead (as far as forecasts go) at one of `QUANTILE_CHOICES`; no
    other rule looks ahead."""
    errors = {}
    if kind == FORECAST:
        if within_days is None or not 1 <= within_days <= horizon_days:
            errors["within_days"] = f"Enter how many days ahead to look, from 1 to {horizon_days}"
        if quantile not in QUANTILE_CHOICES:
            errors["quantile"] = "Choose how likely the forecast must say it is"
    else:
        if within_days is not None:
            errors["within_days"] = "Only a forecast rule looks days ahead"
        if quantile is not None:
            errors["quantile"] = "Only a forecast rule reads a forecast"
    if kind == LEVEL_CHANGE:
        if threshold is not None or clear_at is not None:
            errors["threshold"] = "A rule on level changes has no threshold"
    elif threshold is None:
        errors["threshold"] = "Enter the threshold"
    elif kind in (LEVEL, SYSTEM_LEVEL) and threshold not in (1, 2, 3, 4):
        errors["threshold"] = "Enter a level from 1 to 4"
    elif kind == OVERDUE and not 1 <= threshold <= 24 * 14:
        errors["threshold"] = "Enter the hours since the last report, from 1 to 336"
    elif clear_at is not None and clear_at >= threshold:
        errors["clear_at"] = "The value an alert clears at must be below the threshold"
    if not 0 <= min_interval_minutes <= 24 * 60:
        errors["min_interval_minutes"] = "Enter a minimum interval from 0 to 1,440 minutes"
    return errors


# ------------------------------------------------------------------ storms


def as_digest(new: int, told_recently: int, limit: int = STORM_LIMIT) -> bool:
    """Whether `new` alerts for one person come as one digest rather than one each: when,
    with the `told_recently` alerts told to them within the storm window, they would be
    more than `limit`."""
    return new > 0 and told_recently + new > limit
