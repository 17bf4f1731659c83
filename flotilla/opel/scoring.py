"""Scoring an organisation against a profile, and rolling providers' levels up to a system's.

Each parameter with a value scores 1 to 4: 1 below its first threshold, and 2, 3 or 4 at or
above the first, second or third (higher is always worse). The level comes from the weighted
mean of those scores over the parameters that have a value, sum(weight × score) ÷
sum(weight), banded by the profile's `bands`: a missing parameter is left out of both sums,
never scored as 1, so it neither pulls the level down nor up. With fewer parameters than the
profile's `min_parameters` there is no level at all.

Comparisons are exact: figures and thresholds are compared as the decimals they are written
as, so 95 occupied of 100 open beds is at a threshold of 0.95, not a rounding error below it.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction

from .profile import HIGHEST, LOWEST, Parameter, Profile, Rollup

MISSING = "–"


@dataclass(frozen=True)
class ParameterScore:
    code: str
    label: str
    unit: str
    #: The parameter's value (a ratio as a fraction: 0.961); None when a measure it needs is
    #: missing or a ratio's denominator is 0.
    value: float | None
    #: 1 to 4; None when the value is missing.
    score: int | None
    weight: float
    #: The threshold the value must reach for the score to go up; None at 4 or when missing.
    next_threshold: float | None
    #: How far the value is below it.
    to_next: float | None
    #: The threshold the value must drop under to lose a point; None at 1 or when missing.
    floor: float | None
    #: The value as people read it ("96.1%", "12 patients", "–" when missing).
    shown: str


@dataclass(frozen=True)
class Change:
    """One parameter brought below a threshold."""

    code: str
    label: str
    value: float
    #: The value must drop under this.
    below: float
    #: How many points the parameter's score drops by.
    points: int
    #: "G&A occupancy from 96.1% to below 95%"
    text: str


@dataclass(frozen=True)
class Result:
    profile: Profile
    #: The OPEL level, 1 to 4; None when too few parameters have a value.
    level: int | None
    #: The weighted mean score, 1 to 4; None when there is no level.
    score: float | None
    parameters: tuple[ParameterScore, ...]
    #: The parameters without a value, in the profile's order.
    missing: tuple[str, ...]
    #: How much the weighted mean must rise for the level to go up; None at 4 or no level.
    to_next_level: float | None
    #: A smallest set of changes that would bring the level down by one; empty at level 1.
    to_lower: tuple[Change, ...]


def _exact(x: float) -> Fraction:
    """A number as the decimal it is written as (0.95 is 19/20, not the nearest binary)."""
    return Fraction(repr(float(x)))


def _figure(values: Mapping[str, float | None], measure: str) -> float | None:
    value = values.get(measure)
    if value is None:
        return None
    if not math.isfinite(value):
        raise ValueError(f"{measure} is {value}: give a number or None")
    return float(value)


def value_of(parameter: Parameter, values: Mapping[str, float | None]) -> float | None:
    """A parameter's value from the measures' figures; None when it cannot be known (a
    measure missing, a ratio's denominator missing or not above 0). Missing is not zero."""
    figures = [_figure(values, m) for m in parameter.measures]
    if any(f is None for f in figures):
        return None
    known = [f for f in figures if f is not None]
    if parameter.kind == "ratio":
        numerator, denominator = known
        if not denominator > 0:
            return None
        # A denominator near zero (not a real bed count) may overflow: as large as a float
        # goes, which is at the top of any scale.
        return min(numerator / denominator, sys.float_info.max)
    return min(float(sum(known)), sys.float_info.max)


def parameter_values(
    profile: Profile, values: Mapping[str, float | None]
) -> dict[str, float | None]:
    """Each parameter's value, by parameter code."""
    return {p.code: value_of(p, values) for p in profile.parameters}


def points(parameter: Parameter, value: float) -> int:
    """A value's score: 1, and one more for each threshold it is at or above."""
    v = _exact(value)
    return LOWEST + sum(v >= _exact(t) for t in parameter.thresholds)


def level_of(profile: Profile, mean: Fraction | float) -> int:
    """The level a weighted mean score falls in."""
    m = Fraction(mean) if isinstance(mean, Fraction) else _exact(mean)
    return LOWEST + sum(m >= _exact(b) for b in profile.bands)


def _parameter_score(p: Parameter, value: float | None) -> ParameterScore:
    if value is None:
        return ParameterScore(
            p.code, p.label, p.unit, None, None, p.weight, None, None, None, MISSING
        )
    s = points(p, value)
    above = p.thresholds[s - 1] if s < HIGHEST else None
    return ParameterScore(
        code=p.code,
        label=p.label,
        unit=p.unit,
        value=value,
        score=s,
        weight=p.weight,
        next_threshold=above,
        to_next=float(_exact(above) - _exact(value)) if above is not None else None,
        floor=p.thresholds[s - 2] if s > LOWEST else None,
        shown=p.show(value),
    )


def score(profile: Profile, values: Mapping[str, float | None]) -> Result:
    """An organisation's level from its latest figures (catalogue measure code → figure, None
    or absent when not reported)."""
    return score_parameters(profile, parameter_values(profile, values))


def score_parameters(profile: Profile, values: Mapping[str, float | None]) -> Result:
    """The level from the parameters' values (parameter code → value; see `parameter_values`)."""
    for code, value in values.items():
        if value is not None and not math.isfinite(value):
            raise ValueError(f"{code} is {value}: give a number or None")
    scores = tuple(_parameter_score(p, values.get(p.code)) for p in profile.parameters)
    missing = tuple(s.code for s in scores if s.score is None)
    present = [
        (p, s) for p, s in zip(profile.parameters, scores, strict=True) if s.score is not None
    ]
    if len(present) < profile.min_parameters:
        return Result(profile, None, None, scores, missing, None, ())
    total_weight = sum((_exact(p.weight) for p, _ in present), Fraction(0))
    weighted = sum((_exact(p.weight) * (s.score or 0) for p, s in present), Fraction(0))
    mean = weighted / total_weight
    level = level_of(profile, mean)
    to_next = float(_exact(profile.bands[level - 1]) - mean) if level < HIGHEST else None
    return Result(
        profile=profile,
        level=level,
        score=float(mean),
        parameters=scores,
        missing=missing,
        to_next_level=to_next,
        to_lower=_to_lower(profile, present, weighted, total_weight, level),
    )


def _to_lower(
    profile: Profile,
    present: list[tuple[Parameter, ParameterScore]],
    weighted: Fraction,
    total_weight: Fraction,
    level: int,
) -> tuple[Change, ...]:
    """A smallest set of parameters whose fall would bring the weighted mean under the floor
    of the current band, each asked to fall no further than needed.

    Fewest parameters first: those that could take the most off the weighted sum (weight ×
    the points above 1) are chosen, in that order, until together they could do it. Then each
    in turn is asked for the fewest points that still leave the rest able to finish the job.
    """
    if level == LOWEST:
        return ()
    floor = _exact(profile.bands[level - 2])
    # The weighted sum must fall by more than this for the mean to go under the floor.
    excess = weighted - floor * total_weight
    able = [(p, s) for p, s in present if (s.score or 0) > LOWEST]
    order = {p.code: n for n, p in enumerate(profile.parameters)}

    def most(item: tuple[Parameter, ParameterScore]) -> Fraction:
        p, s = item
        return _exact(p.weight) * ((s.score or 0) - LOWEST)

    able.sort(key=lambda item: (-most(item), order[item[0].code]))
    chosen: list[tuple[Parameter, ParameterScore]] = []
    could = Fraction(0)
    for item in able:
        if could > excess:
            break
        chosen.append(item)
        could += most(item)
    changes = []
    left = excess
    for n, (p, s) in enumerate(chosen):
        rest = sum((most(item) for item in chosen[n + 1 :]), Fraction(0))
        weight = _exact(p.weight)
        current = s.score or 0
        # The fewest points k with k × weight + rest > left.
        k = max(1, math.floor((left - rest) / weight) + 1)
        k = min(k, current - LOWEST)
        left -= k * weight
        below = p.thresholds[current - k - 1]
        value = s.value if s.value is not None else 0.0
        changes.append(
            Change(
                code=p.code,
                label=p.label,
                value=value,
                below=below,
                points=k,
                text=f"{p.label} from {_plain(p, value)} to below {p.show_threshold(below)}",
            )
        )
    return tuple(changes)


def _plain(p: Parameter, value: float) -> str:
    """A value without its unit unless it is a percentage ("96.1%", "7")."""
    return p.show(value) if p.unit == "%" else p.show(value).removesuffix(p.unit).strip()


def rollup(
    rule: Rollup | str, levels: Iterable[int | None], *, share: float | None = None
) -> int | None:
    """A system's level from its providers' levels (None for a provider without one, left out).

    - "highest": the highest provider level.
    - "mean": the mean of the levels, rounded half up (2.5 is 3).
    - "share": the highest level L such that at least `share` (0–1) of the providers with a
      level are at L or above.

    None when no provider has a level.
    """
    if isinstance(rule, Rollup):
        name, share = rule.rule, rule.share
    else:
        name = rule
    known = [level for level in levels if level is not None]
    if not known:
        return None
    if name == "highest":
        return max(known)
    if name == "mean":
        return math.floor(Fraction(sum(known), len(known)) + Fraction(1, 2))
    if name == "share":
        if share is None or not 0 < share <= 1:
            raise ValueError("the share rule needs a share above 0 and at most 1")
        needed = _exact(share) * len(known)
        return max(
            level
            for level in range(LOWEST, HIGHEST + 1)
            if sum(k >= level for k in known) >= needed
        )
    raise ValueError(f'unknown rollup rule "{name}": use highest, mean or share')


def explain(result: Result) -> list[str]:
    """The result in plain sentences, one a line."""
    profile = result.profile
    lines = []
    have = len(profile.parameters) - len(result.missing)
    if result.level is None or result.score is None:
        lines.append(
            f"No level: {have} of {len(profile.parameters)} parameters have a value, and "
            f"{profile.label} needs at least {profile.min_parameters}."
        )
    else:
        line = f"OPEL {result.level}: weighted mean score {result.score:.2f} (from 1 to 4)"
        if result.to_next_level is not None:
            band = profile.bands[result.level - 1]
            line += f"; OPEL {result.level + 1} from {band:g}, {result.to_next_level:.2f} higher"
        lines.append(line + ".")
    for s in result.parameters:
        if s.score is None:
            lines.append(f"{s.label}: no value, so left out (not scored as 1).")
            continue
        p = profile.parameter(s.code)
        line = f"{s.label} is {s.shown}: scores {s.score}"
        if s.next_threshold is not None:
            line += f" ({s.score + 1} from {p.show_threshold(s.next_threshold)})"
        lines.append(line + ".")
    if result.to_lower and result.level is not None:
        changes = "; ".join(c.text for c in result.to_lower)
        lines.append(f"To come down to OPEL {result.level - 1}: {changes}.")
    return lines
