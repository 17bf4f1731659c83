"""Escalation profiles: versioned TOML data, checked on load, with errors that name the line.

A profile names the parameters an organisation is scored on (each a catalogue measure, a sum
of measures or a ratio of two), the thresholds at which each parameter's score rises from 1 to
2, 3 and 4, the weights, the bands that turn the weighted mean score into an OPEL level, how
many parameters must have a value for a level to be given at all, and how providers' levels
roll up to a system's. `docs/escalation.md` describes the file; `profiles/` holds the ones we
ship. A local variant (`extends = "acute"`) changes a shipped profile's numbers without
copying it.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any, NoReturn, TypeGuard

from flotilla.catalogue import current as catalogue

from .locate import Locator
from .locate import Path as KeyPath

PROFILE_DIR = Path(__file__).with_name("profiles")
#: The profiles we ship, one file each (`profiles/<code>.toml`).
SHIPPED = ("acute", "mental_health", "community")
#: The kinds of organisation a profile may apply to (`organisations.Organisation.kind`).
KINDS = ("acute", "mental_health", "community")
#: How providers' levels become a system's (see `scoring.rollup`).
RULES = ("highest", "mean", "share")
#: The lowest and highest OPEL levels, and so the range of scores and of the weighted mean.
LOWEST, HIGHEST = 1, 4

_CODE = re.compile(r"^[a-z][a-z0-9_]*$")
_TOP_KEYS = frozenset(
    {
        "code",
        "version",
        "label",
        "applies_to",
        "source",
        "parameters",
        "bands",
        "min_parameters",
        "rollup",
    }
)
_VARIANT_KEYS = (_TOP_KEYS - {"parameters"}) | {"extends", "drop", "parameters"}
_PARAMETER_KEYS = frozenset(
    {"code", "label", "measure", "ratio", "sum", "unit", "thresholds", "weight", "origin"}
)
#: What a variant may change of a base parameter (a new parameter is a new profile).
_OVERRIDE_KEYS = frozenset({"code", "thresholds", "weight", "origin"})
_ROLLUP_KEYS = frozenset({"rule", "share"})


class ProfileError(ValueError):
    """A profile file Flotilla cannot use; the message names the file and the line."""


@dataclass(frozen=True)
class Parameter:
    """One thing an organisation is scored on."""

    code: str
    label: str
    #: "measure" (one catalogue measure as reported), "sum" (measures added up) or "ratio"
    #: (the first measure divided by the second).
    kind: str
    measures: tuple[str, ...]
    #: How the value is shown: "%" (a ratio shown as a percentage) or a noun ("patients").
    unit: str
    #: The values at which the score becomes 2, 3 and 4; higher is always worse.
    thresholds: tuple[float, float, float]
    weight: float
    #: Which of this comes from NHS England's framework and which is Flotilla's configuration.
    origin: str

    def show(self, value: float) -> str:
        """A value as people read it: a ratio as a percentage with one decimal ("96.1%"), a
        count with its unit ("12 patients", "2.5 patients")."""
        if self.unit == "%":
            return f"{value * 100:.1f}%"
        shown = _trimmed(value, 1)
        # One handover, one bed: a plural unit reads singular for exactly one.
        unit = self.unit[:-1] if shown == "1" and self.unit.endswith("s") else self.unit
        return f"{shown} {unit}"

    def show_threshold(self, threshold: float) -> str:
        """A threshold without its unit, as written: "95%", "92.5%", "10"."""
        if self.unit == "%":
            return f"{_trimmed(threshold * 100, 3)}%"
        return _trimmed(threshold, 3)


def _trimmed(value: float, places: int) -> str:
    """At most `places` decimals, and no trailing zeros: "95", "96.1", "12"."""
    text = f"{value:,.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True)
class Rollup:
    """How providers' levels roll up to a system's level."""

    #: "highest", "mean" (the mean level, rounded half up) or "share" (the highest level
    #: that at least `share` of providers are at or above).
    rule: str
    share: float | None = None


@dataclass(frozen=True)
class Profile:
    code: str
    version: str
    label: str
    applies_to: tuple[str, ...]
    source: str
    parameters: tuple[Parameter, ...]
    #: The weighted mean scores at which the level becomes 2, 3 and 4.
    bands: tuple[float, float, float]
    #: Fewer parameters with a value than this, and no level is given.
    min_parameters: int
    rollup: Rollup
    #: The profile this one varies ("acute 2026.1"), empty for one written whole.
    extends: str = ""

    def parameter(self, code: str) -> Parameter:
        for p in self.parameters:
            if p.code == code:
                return p
        raise KeyError(code)

    @property
    def measures(self) -> tuple[str, ...]:
        """Every catalogue measure the profile reads, once each, in order."""
        return tuple(dict.fromkeys(m for p in self.parameters for m in p.measures))


class _Doc:
    """One file being read: its name and layout, to say where something is wrong."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = text
        self._locator: Locator | None = None

    def fail(self, path: KeyPath, message: str) -> NoReturn:
        if self._locator is None:
            self._locator = Locator(self.text)
        line = self._locator.line(path)
        where = f"{self.name} line {line}" if line is not None else self.name
        raise ProfileError(f"{where}: {message}")


def _syntax_error(name: str, text: str, error: tomllib.TOMLDecodeError) -> ProfileError:
    """tomllib's message ("Invalid value (at line 3, column 9)") with the file name first."""
    message = str(error)
    found = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if found:
        what = message[: found.start()]
        return ProfileError(f"{name} line {found.group(1)}: {what} (column {found.group(2)})")
    if message.endswith("(at end of document)"):
        what = message.removesuffix("(at end of document)").strip()
        last = max(1, len(text.splitlines()))
        return ProfileError(f"{name} line {last}: {what} (at the end of the file)")
    return ProfileError(f"{name}: {message}")


def load(
    text: str, *, name: str = "<profile>", bases: Mapping[str, Profile] | None = None
) -> Profile:
    """The profile a TOML text describes, every value checked.

    `name` is the file's name, for error messages. A variant (`extends = "<code>"`) is read
    against `bases` (the shipped profiles when not given).
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise _syntax_error(name, text, error) from None
    doc = _Doc(name, text)
    if "extends" in data:
        return _variant(doc, data, shipped() if bases is None else bases)
    return _whole(doc, data)


def load_file(path: Path, *, bases: Mapping[str, Profile] | None = None) -> Profile:
    """The profile in a file; errors name the file by its name."""
    return load(path.read_text(encoding="utf-8"), name=path.name, bases=bases)


@cache
def _shipped() -> tuple[Profile, ...]:
    profiles = []
    for code in SHIPPED:
        path = PROFILE_DIR / f"{code}.toml"
        profile = load_file(path, bases={})
        if profile.code != code:
            raise ProfileError(f'{path.name}: its code is "{profile.code}", not "{code}"')
        profiles.append(profile)
    return tuple(profiles)


def shipped() -> dict[str, Profile]:
    """The profiles Flotilla ships, by code (read once)."""
    return {p.code: p for p in _shipped()}


def for_kind(kind: str, profiles: Mapping[str, Profile] | None = None) -> Profile | None:
    """The first profile (of `profiles`, or the shipped ones) that applies to a kind of
    organisation; None when none does."""
    found = shipped() if profiles is None else profiles
    return next((p for p in found.values() if kind in p.applies_to), None)


# -- checking values -------------------------------------------------------------------------


def _unknown_keys(
    doc: _Doc, table: Mapping[str, Any], known: frozenset[str], at: KeyPath, what: str = ""
) -> None:
    for key in table:
        if key not in known:
            keys = ", ".join(sorted(known))
            doc.fail((*at, key), f'{what}unknown key "{key}" (the keys are {keys})')


def _text(doc: _Doc, table: Mapping[str, Any], key: str, at: KeyPath, what: str) -> str:
    if key not in table:
        doc.fail(at, f"{what} has no {key}")
    value = table[key]
    if not isinstance(value, str) or not value.strip():
        doc.fail((*at, key), f"{what}: {key} must be some text")
    return value.strip()


def _code(doc: _Doc, table: Mapping[str, Any], at: KeyPath, what: str) -> str:
    code = _text(doc, table, "code", at, what)
    if not _CODE.match(code):
        doc.fail((*at, "code"), f'{what}: code "{code}" must be lower case letters, digits and _')
    return code


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _three_rising(doc: _Doc, value: object, at: KeyPath, what: str) -> tuple[float, float, float]:
    key = at[-1]
    if not isinstance(value, list) or len(value) != 3 or not all(_is_number(v) for v in value):
        doc.fail(at, f"{what}{key} must be three numbers (where 2, 3 and 4 begin)")
    a, b, c = (float(v) for v in value)
    for low, high in ((a, b), (b, c)):
        if not high > low:
            doc.fail(at, f"{what}{key} must rise ({low:g} then {high:g})")
    return (a, b, c)


def _thresholds(doc: _Doc, value: object, at: KeyPath, code: str) -> tuple[float, float, float]:
    return _three_rising(doc, value, at, f'parameter "{code}": ')


def _weight(doc: _Doc, value: object, at: KeyPath, code: str) -> float:
    if not _is_number(value) or not value > 0:
        doc.fail(at, f'parameter "{code}": weight must be a number above 0')
    return float(value)


def _bands(doc: _Doc, value: object) -> tuple[float, float, float]:
    bands = _three_rising(doc, value, ("bands",), "")
    if not (bands[0] > LOWEST and bands[2] <= HIGHEST):
        doc.fail(
            ("bands",),
            f"bands must lie above {LOWEST} and at most {HIGHEST} "
            f"(the weighted mean score runs from {LOWEST} to {HIGHEST})",
        )
    return bands


def _min_parameters(doc: _Doc, value: object, at: KeyPath, count: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        doc.fail(at, "min_parameters must be a whole number, at least 1")
    if value > count:
        doc.fail(at, f"min_parameters is {value} but the profile has {count} parameters")
    return value


def _rollup(doc: _Doc, value: object) -> Rollup:
    at: KeyPath = ("rollup",)
    if not isinstance(value, dict):
        doc.fail(at, 'rollup must be a table: [rollup] rule = "highest"')
    _unknown_keys(doc, value, _ROLLUP_KEYS, at, "rollup: ")
    rule = value.get("rule")
    if rule not in RULES:
        doc.fail((*at, "rule"), f'rollup rule must be one of {", ".join(RULES)}, not "{rule}"')
    share = value.get("share")
    if rule == "share":
        if not _is_number(share) or not 0 < share <= 1:
            # With no share at all, the line to change is the rule's.
            where = (*at, "share" if "share" in value else "rule")
            doc.fail(where, "rollup rule share needs a share above 0 and at most 1")
        return Rollup(rule, float(share))
    if share is not None:
        doc.fail((*at, "share"), f"rollup share is only for rule share, not {rule}")
    return Rollup(str(rule))


def _measures(
    doc: _Doc, p: Mapping[str, Any], at: KeyPath, code: str
) -> tuple[str, tuple[str, ...]]:
    given = [k for k in ("measure", "ratio", "sum") if k in p]
    if len(given) != 1:
        where = (*at, given[1]) if given else at
        doc.fail(where, f'parameter "{code}" must give one of measure, ratio or sum, not {given}')
    kind = given[0]
    value = p[kind]
    if kind == "measure":
        if not isinstance(value, str):
            doc.fail((*at, kind), f'parameter "{code}": measure must be a measure\'s code')
        measures: tuple[str, ...] = (value,)
    else:
        size = (
            "two measures [numerator, denominator]" if kind == "ratio" else "two or more measures"
        )
        if (
            not isinstance(value, list)
            or not all(isinstance(m, str) for m in value)
            or (len(value) != 2 if kind == "ratio" else len(value) < 2)
        ):
            doc.fail((*at, kind), f'parameter "{code}": {kind} must be {size}')
        measures = tuple(value)
        if len(set(measures)) != len(measures):
            doc.fail((*at, kind), f'parameter "{code}": {kind} names a measure twice')
    cat = catalogue()
    for m in measures:
        kind_of = cat.kind_of(m)
        if not kind_of:
            near = difflib.get_close_matches(m, [s.code for s in cat.measures], n=1)
            hint = f' (did you mean "{near[0]}"?)' if near else ""
            doc.fail(
                (*at, kind),
                f'parameter "{code}": unknown measure "{m}": not in the metric catalogue '
                f"{cat.version}{hint}",
            )
        if kind_of != "count":
            doc.fail((*at, kind), f'parameter "{code}": {m} is a {kind_of}; only counts are scored')
    return kind, measures


def _parameter(doc: _Doc, p: object, n: int) -> Parameter:
    at: KeyPath = ("parameters", n)
    if not isinstance(p, dict):
        doc.fail(("parameters",), "parameters must be tables: [[parameters]]")
    what = f"parameter number {n + 1}"
    code = _code(doc, p, at, what)
    what = f'parameter "{code}"'
    _unknown_keys(doc, p, _PARAMETER_KEYS, at, f"{what}: ")
    kind, measures = _measures(doc, p, at, code)
    unit = _text(doc, p, "unit", at, what)
    if unit == "%" and kind != "ratio":
        doc.fail((*at, "unit"), f"{what}: only a ratio is shown in %")
    for key in ("thresholds", "weight"):
        if key not in p:
            doc.fail(at, f"{what} has no {key}")
    return Parameter(
        code=code,
        label=_text(doc, p, "label", at, what),
        kind=kind,
        measures=measures,
        unit=unit,
        thresholds=_thresholds(doc, p["thresholds"], (*at, "thresholds"), code),
        weight=_weight(doc, p["weight"], (*at, "weight"), code),
        origin=_text(doc, p, "origin", at, what),
    )


def _applies_to(doc: _Doc, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(v in KINDS for v in value):
        doc.fail(("applies_to",), f"applies_to must list kinds of organisation: {', '.join(KINDS)}")
    return tuple(value)


def _required(doc: _Doc, data: Mapping[str, Any], keys: tuple[str, ...]) -> None:
    for key in keys:
        if key not in data:
            doc.fail((), f"the profile has no {key}")


def _whole(doc: _Doc, data: dict[str, Any]) -> Profile:
    _unknown_keys(doc, data, _TOP_KEYS, ())
    _required(doc, data, tuple(sorted(_TOP_KEYS)))
    raw = data["parameters"]
    if not isinstance(raw, list) or not raw:
        doc.fail(("parameters",), "parameters must be one or more [[parameters]] tables")
    parameters = tuple(_parameter(doc, p, n) for n, p in enumerate(raw))
    seen: set[str] = set()
    for n, p in enumerate(parameters):
        if p.code in seen:
            doc.fail(("parameters", n, "code"), f'parameter "{p.code}" is declared twice')
        seen.add(p.code)
    return Profile(
        code=_code(doc, data, (), "the profile"),
        version=_text(doc, data, "version", (), "the profile"),
        label=_text(doc, data, "label", (), "the profile"),
        applies_to=_applies_to(doc, data["applies_to"]),
        source=_text(doc, data, "source", (), "the profile"),
        parameters=parameters,
        bands=_bands(doc, data["bands"]),
        min_parameters=_min_parameters(
            doc, data["min_parameters"], ("min_parameters",), len(parameters)
        ),
        rollup=_rollup(doc, data["rollup"]),
    )


def _variant(doc: _Doc, data: dict[str, Any], bases: Mapping[str, Profile]) -> Profile:
    """A base profile with some numbers changed and perhaps some parameters dropped."""
    _unknown_keys(doc, data, _VARIANT_KEYS, ())
    _required(doc, data, ("code", "version", "label"))
    extends = data["extends"]
    base = bases.get(extends) if isinstance(extends, str) else None
    if base is None:
        known = ", ".join(sorted(bases)) or "none"
        doc.fail(("extends",), f'extends unknown profile "{extends}" (known: {known})')
    parameters = {p.code: p for p in base.parameters}
    drop = data.get("drop", [])
    if not isinstance(drop, list) or not all(isinstance(d, str) for d in drop):
        doc.fail(("drop",), "drop must list parameter codes")
    for code in drop:
        if code not in parameters:
            doc.fail(("drop",), f'drop names "{code}", which is not a parameter of {base.code}')
        del parameters[code]
    if not parameters:
        doc.fail(("drop",), "drop leaves the profile with no parameters")
    raw = data.get("parameters", [])
    if not isinstance(raw, list):
        doc.fail(("parameters",), "parameters must be [[parameters]] tables")
    changed: set[str] = set()
    for n, p in enumerate(raw):
        at: KeyPath = ("parameters", n)
        if not isinstance(p, dict):
            doc.fail(("parameters",), "parameters must be tables: [[parameters]]")
        code = _code(doc, p, at, f"parameter number {n + 1}")
        for key in p:
            if key not in _OVERRIDE_KEYS:
                doc.fail(
                    (*at, key),
                    f'parameter "{code}": a variant may change only thresholds, weight and '
                    f"origin, not {key} (to score something else, write a profile of its own)",
                )
        if code in drop:
            doc.fail((*at, "code"), f'parameter "{code}" is dropped and changed at once')
        if code not in parameters:
            doc.fail(
                (*at, "code"),
                f'parameter "{code}" is not a parameter of {base.code} '
                f"(its parameters: {', '.join(p.code for p in base.parameters)})",
            )
        if code in changed:
            doc.fail((*at, "code"), f'parameter "{code}" is changed twice')
        changed.add(code)
        old = parameters[code]
        parameters[code] = replace(
            old,
            thresholds=(
                _thresholds(doc, p["thresholds"], (*at, "thresholds"), code)
                if "thresholds" in p
                else old.thresholds
            ),
            weight=_weight(doc, p["weight"], (*at, "weight"), code)
            if "weight" in p
            else old.weight,
            origin=(
                _text(doc, p, "origin", at, f'parameter "{code}"')
                if "origin" in p
                else f"{old.origin} Varied locally in {doc.name}."
                if "thresholds" in p or "weight" in p
                else old.origin
            ),
        )
    kept = tuple(parameters.values())
    if "min_parameters" not in data and base.min_parameters > len(kept):
        doc.fail(
            ("drop",),
            f"drop leaves {len(kept)} parameters, fewer than {base.code}'s min_parameters "
            f"({base.min_parameters}): give min_parameters too",
        )
    return Profile(
        code=_code(doc, data, (), "the profile"),
        version=_text(doc, data, "version", (), "the profile"),
        label=_text(doc, data, "label", (), "the profile"),
        applies_to=_applies_to(doc, data["applies_to"])
        if "applies_to" in data
        else base.applies_to,
        source=_text(doc, data, "source", (), "the profile") if "source" in data else base.source,
        parameters=kept,
        bands=_bands(doc, data["bands"]) if "bands" in data else base.bands,
        min_parameters=_min_parameters(
            doc, data.get("min_parameters", base.min_parameters), ("min_parameters",), len(kept)
        ),
        rollup=_rollup(doc, data["rollup"]) if "rollup" in data else base.rollup,
        extends=f"{base.code} {base.version}",
    )
