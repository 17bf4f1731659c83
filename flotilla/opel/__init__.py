"""Escalation scoring: OPEL profiles as versioned data, and the engine that scores them.

Plain Python (no Django, mypy strict): the escalation app reads organisations' figures and
asks this package for their levels. A profile (`profiles/*.toml`, read by `load`) names the
parameters an organisation is scored on, their thresholds and weights, the bands that turn
the weighted mean score into a level, and how providers roll up to a system; `score` gives
the level with how each parameter scored and what would move it; `rollup` turns providers'
levels into a system's. See docs/escalation.md.
"""

from __future__ import annotations

from .profile import (
    KINDS,
    PROFILE_DIR,
    RULES,
    SHIPPED,
    Parameter,
    Profile,
    ProfileError,
    Rollup,
    for_kind,
    load,
    load_file,
    shipped,
)
from .scoring import (
    Change,
    ParameterScore,
    Result,
    explain,
    level_of,
    parameter_values,
    points,
    rollup,
    score,
    score_parameters,
    value_of,
)

__all__ = [
    "KINDS",
    "PROFILE_DIR",
    "RULES",
    "SHIPPED",
    "Change",
    "Parameter",
    "ParameterScore",
    "Profile",
    "ProfileError",
    "Result",
    "Rollup",
    "explain",
    "for_kind",
    "level_of",
    "load",
    "load_file",
    "parameter_values",
    "points",
    "rollup",
    "score",
    "score_parameters",
    "shipped",
    "value_of",
]
