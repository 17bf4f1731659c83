"""The metric catalogue: what every measure means, as data (`v1.toml`), read without Django.

The one source for the measures and their cross-field rules, the measure groups a sharing
grant names, the rated indicators with Flotilla's standard thresholds, the dashboard's
columns and the charts of an organisation's page. Code asks `current()`; nothing else
spells out a measure's meaning. The database copy of the measures (`reporting.Measure`,
loaded by `flotilla load-catalogue`) is made from it.

`load(path)` reads another file (a test's variant). Both refuse a catalogue that
contradicts itself, with a `CatalogueError` naming the entry.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

CATALOGUE_FILE = Path(__file__).with_name("v1.toml")

#: The kinds of value code knows how to check, share and show: a count is added up and
#: rounded when banded, a level (the OPEL level) is shown as it is at every detail, a text
#: is shared only exactly.
KINDS = ("count", "level", "text")
#: How an indicator is computed: a reported measure rated as it is, or a bed type's
#: occupancy (occupied ÷ open of the same row).
SOURCES = ("measure", "occupancy")


class CatalogueError(ValueError):
    """The catalogue contradicts itself; the message names the entry."""


@dataclass(frozen=True)
class GroupSpec:
    """A group of measures: what a sharing grant shares."""

    code: str
    label: str
    description: str
    order: int = 0


@dataclass(frozen=True)
class BedTypeSpec:
    code: str
    label: str
    description: str
    #: The label in the dashboard's filter, where the long one would crowd it.
    short_label: str


@dataclass(frozen=True)
class MeasureSpec:
    code: str
    label: str
    description: str
    group: str
    kind: str
    unit: str
    min_value: float | None = None
    max_value: float | None = None
    bed_type: str = ""
    state: str = ""
    level: str = "either"
    order: int = 0


@dataclass(frozen=True)
class IndicatorSpec:
    """A rated indicator: judged red, amber or green against thresholds."""

    code: str
    label: str
    #: "measure" (a reported measure rated as it is) or "occupancy" (occupied ÷ open).
    source: str
    #: The measures it is computed from: the one rated, or the occupied and open counts.
    measures: tuple[str, ...]
    #: Flotilla's standard thresholds: a new collaborative starts with them, and a figure
    #: shared as status only is always judged against them.
    amber: float
    red: float
    higher_is_worse: bool = True
    #: The bed type it concerns, if any (an occupancy's, or its measure's).
    bed_type: str = ""
    order: int = 0

    @property
    def thresholds(self) -> tuple[float, float]:
        return (self.amber, self.red)

    @property
    def derivation(self) -> str:
        """How it is computed, in words with the measure codes."""
        if self.source == "occupancy":
            occupied, open_ = self.measures
            return f"`{occupied}` ÷ `{open_}`, when both are present and open > 0"
        return f"`{self.measures[0]}` as reported"


@dataclass(frozen=True)
class ColumnSpec:
    """A column of the dashboard: a measure as reported, or an indicator computed from some."""

    #: What the column shows (a measure's or an indicator's code); what the table sorts by.
    key: str
    heading: str
    #: The reported measure shown; empty for a computed indicator (an occupancy).
    measure: str
    #: The indicator the cells are rated by; empty when they are not rated.
    indicator: str
    #: Hidden when the table is narrowed to another bed type; empty: always shown.
    bed_type: str = ""
    order: int = 0


@dataclass(frozen=True)
class RuleSpec:
    code: str
    left: str
    op: str
    right: str
    severity: str
    message: str


@dataclass(frozen=True)
class Catalogue:
    version: str
    measures: tuple[MeasureSpec, ...]
    rules: tuple[RuleSpec, ...]
    bed_types: dict[str, BedTypeSpec] = field(default_factory=dict)
    groups: tuple[GroupSpec, ...] = ()
    indicators: tuple[IndicatorSpec, ...] = ()
    columns: tuple[ColumnSpec, ...] = ()
    #: An organisation's or site's page: the measures shown as its latest status, and those
    #: charted over time, in order.
    entity_status: tuple[str, ...] = ()
    entity_charts: tuple[str, ...] = ()
    #: The measures forecast daily (counts), and how many days ahead.
    forecast_measures: tuple[str, ...] = ()
    forecast_days: int = 14
    #: The reporting form: organisation kind → the measures shown first, in order ("" for
    #: any kind not listed).
    form_first: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def first_on_form(self, kind: str) -> tuple[str, ...]:
        """The measures the reporting form shows first for this kind of organisation."""
        return self.form_first.get(kind, self.form_first.get("", ()))

    def measure(self, code: str) -> MeasureSpec:
        for m in self.measures:
            if m.code == code:
                return m
        raise KeyError(code)

    def indicator(self, code: str) -> IndicatorSpec:
        for i in self.indicators:
            if i.code == code:
                return i
        raise KeyError(code)

    @property
    def group_codes(self) -> tuple[str, ...]:
        return tuple(g.code for g in self.groups)

    @property
    def standard_thresholds(self) -> dict[str, tuple[float, float]]:
        """Indicator → (amber, red), in the catalogue's order."""
        return {i.code: i.thresholds for i in self.indicators}

    @property
    def indicator_labels(self) -> dict[str, str]:
        return {i.code: i.label for i in self.indicators}

    def kind_of(self, code: str) -> str:
        """A measure's kind (count, level or text); empty for a code that is not a measure."""
        return next((m.kind for m in self.measures if m.code == code), "")


def _fail(message: str) -> None:
    raise CatalogueError(message)


def _required(entries: list[dict[str, Any]], what: str, keys: tuple[str, ...]) -> None:
    """Each entry has every key it must (a missing one is named, not a bare KeyError)."""
    for n, e in enumerate(entries, 1):
        missing = [k for k in keys if k not in e]
        if missing:
            name = e.get("code") or e.get("shows") or f"number {n}"
            _fail(f"{what} {name} has no {', '.join(missing)}")


def _unique(what: str, codes: list[str]) -> None:
    seen: set[str] = set()
    for code in codes:
        if code in seen:
            _fail(f"{what} {code!r} is declared twice")
        seen.add(code)


def _groups(data: dict[str, Any]) -> tuple[GroupSpec, ...]:
    groups = tuple(
        GroupSpec(code=g["code"], label=g["label"], description=g["description"], order=n)
        for n, g in enumerate(data["groups"], 1)
    )
    _unique("measure group", [g.code for g in groups])
    return groups


def _bed_types(data: dict[str, Any]) -> dict[str, BedTypeSpec]:
    return {
        code: BedTypeSpec(
            code=code,
            label=info["label"],
            description=info["description"],
            short_label=info.get("short_label", info["label"]),
        )
        for code, info in data["bed_types"].items()
    }


def _measures(data: dict[str, Any], groups: tuple[GroupSpec, ...]) -> tuple[MeasureSpec, ...]:
    """The bed-type × state matrix expanded into one measure per pair, then the rest."""
    measures: list[MeasureSpec] = []
    beds = data["bed_measures"]
    for bed, bed_info in data["bed_types"].items():
        for state, state_info in data["states"].items():
            measures.append(
                MeasureSpec(
                    code=f"{bed}_{state}",
                    label=f"{bed_info['label']}: beds {state_info['label']}",
                    description=f"{bed_info['description']} {state_info['description']}",
                    group=beds["group"],
                    kind=beds["kind"],
                    unit=beds["unit"],
                    min_value=beds["min"],
                    max_value=float(beds["max"]),
                    bed_type=bed,
                    state=state,
                    order=len(measures) + 1,
                )
            )
    for m in data["measures"]:
        measures.append(
            MeasureSpec(
                code=m["code"],
                label=m["label"],
                description=m["description"],
                group=m["group"],
                kind=m["kind"],
                unit=m["unit"],
                min_value=m.get("min"),
                max_value=m.get("max"),
                bed_type=m.get("bed_type", ""),
                level=m.get("level", "either"),
                order=len(measures) + 1,
            )
        )
    _unique("measure", [m.code for m in measures])
    known_groups = [g.code for g in groups]
    for m in measures:
        if m.group not in known_groups:
            _fail(
                f"measure {m.code} is in unknown group {m.group!r}: "
                f"use one of {', '.join(known_groups)} or declare it under [[groups]]"
            )
        if m.kind not in KINDS:
            _fail(f"measure {m.code} is of unknown kind {m.kind!r}: use {', '.join(KINDS)}")
        if m.bed_type and m.bed_type not in data["bed_types"]:
            _fail(f"measure {m.code} names unknown bed type {m.bed_type!r}")
    return tuple(measures)


def _rules(data: dict[str, Any], codes: set[str]) -> tuple[RuleSpec, ...]:
    """Rule templates with {bed} expanded to every bed type."""
    rules: list[RuleSpec] = []
    for r in data["rules"]:
        beds = list(data["bed_types"]) if "{bed}" in r["code"] else [None]
        for bed in beds:
            fill = (lambda s, b=bed: s.replace("{bed}", b)) if bed else (lambda s: s)
            rule = RuleSpec(
                code=fill(r["code"]),
                left=fill(r["left"]),
                op=r["op"],
                right=fill(r["right"]),
                severity=r["severity"],
                message=r["message"],
            )
            missing = {rule.left, rule.right} - codes
            if missing:
                _fail(f"rule {rule.code} names unknown measures {sorted(missing)}")
            rules.append(rule)
    return tuple(rules)


def _indicator(
    n: int, i: dict[str, Any], by_code: dict[str, MeasureSpec], bed_types: dict[str, Any]
) -> IndicatorSpec:
    code = i["code"]
    if ("measure" in i) == ("occupancy_of" in i):
        _fail(f"indicator {code} must name either a measure or occupancy_of (a bed type)")
    if "measure" in i:
        measure = by_code.get(i["measure"])
        if measure is None:
            _fail(f"indicator {code} rates unknown measure {i['measure']!r}")
        assert measure is not None
        if measure.kind == "text":
            _fail(f"indicator {code} rates {measure.code}, a text: only numbers are rated")
        # A reported figure's RAG is looked up under its measure's code.
        if code != measure.code:
            _fail(f"indicator {code} rates measure {measure.code}: give it that code")
        source, measures, bed = "measure", (measure.code,), measure.bed_type
    else:
        bed = i["occupancy_of"]
        if bed not in bed_types:
            _fail(f"indicator {code} is the occupancy of unknown bed type {bed!r}")
        measures = (f"{bed}_occupied", f"{bed}_open")
        missing = [m for m in measures if m not in by_code]
        if missing:
            _fail(f"indicator {code} needs measures {missing}, which are not in the catalogue")
        # The sharing policy derives every bed type's occupancy under this name.
        if code != f"{bed}_occupancy":
            _fail(f"indicator {code} is the occupancy of {bed}: code it {bed}_occupancy")
        source = "occupancy"
    amber, red = float(i["amber"]), float(i["red"])
    higher_is_worse = bool(i.get("higher_is_worse", True))
    if not higher_is_worse:
        # RAG bands, the settings form and the database's check all read a higher value as
        # worse; an indicator the other way round needs them changed first.
        _fail(f"indicator {code}: only indicators where higher is worse are supported")
    if red < amber:
        _fail(f"indicator {code}: red ({red:g}) is below amber ({amber:g})")
    return IndicatorSpec(
        code=code,
        label=i["label"],
        source=source,
        measures=measures,
        amber=amber,
        red=red,
        higher_is_worse=higher_is_worse,
        bed_type=bed,
        order=n,
    )


def _column(
    n: int,
    c: dict[str, Any],
    by_code: dict[str, MeasureSpec],
    indicators: dict[str, IndicatorSpec],
) -> ColumnSpec:
    shows, heading = c["shows"], c["heading"]
    rated = indicators.get(shows)
    if shows in by_code:
        measure, bed = shows, by_code[shows].bed_type
    elif rated is not None and rated.source == "occupancy":
        measure, bed = "", rated.bed_type
    else:
        _fail(f"column {heading!r} shows unknown measure or indicator {shows!r}")
    return ColumnSpec(
        key=shows,
        heading=heading,
        measure=measure,
        indicator=rated.code if rated is not None else "",
        bed_type=bed,
        order=n,
    )


def parse(data: dict[str, Any]) -> Catalogue:
    """The catalogue a TOML document describes, every cross-reference checked."""
    _required(data["groups"], "measure group", ("code", "label", "description"))
    measure_keys = ("code", "label", "description", "group", "kind", "unit")
    _required(data["measures"], "measure", measure_keys)
    _required(data["indicators"], "indicator", ("code", "label", "amber", "red"))
    _required(data["columns"], "column", ("shows", "heading"))
    groups = _groups(data)
    measures = _measures(data, groups)
    by_code = {m.code: m for m in measures}
    rules = _rules(data, set(by_code))
    bed_types = _bed_types(data)
    indicators = tuple(
        _indicator(n, i, by_code, bed_types) for n, i in enumerate(data["indicators"], 1)
    )
    _unique("indicator", [i.code for i in indicators])
    by_indicator = {i.code: i for i in indicators}
    columns = tuple(_column(n, c, by_code, by_indicator) for n, c in enumerate(data["columns"], 1))
    _unique("column", [c.key for c in columns])
    page = data["entity_page"]
    for part in ("status", "charts"):
        unknown = [code for code in page[part] if code not in by_code]
        if unknown:
            _fail(f"entity_page.{part} names unknown measures {unknown}")
    forecasts = data.get("forecasts", {})
    forecast_measures = tuple(forecasts.get("measures", ()))
    not_counts = [c for c in forecast_measures if c not in by_code or by_code[c].kind != "count"]
    if not_counts:
        _fail(f"forecasts.measures names measures that are not counts {not_counts}")
    forecast_days = int(forecasts.get("horizon_days", 14))
    if not 1 <= forecast_days <= 14:
        _fail("forecasts.horizon_days is 1 to 14")
    form = data.get("reporting_form", {})
    form_first = {"": tuple(form.get("default", ()))}
    for kind, part in form.items():
        if kind != "default":
            form_first[kind] = tuple(part["first"])
    for kind, codes in form_first.items():
        unknown = [code for code in codes if code not in by_code]
        if unknown:
            _fail(f"reporting_form.{kind or 'default'} names unknown measures {unknown}")
    return Catalogue(
        version=data["version"],
        measures=measures,
        rules=rules,
        bed_types=bed_types,
        groups=groups,
        indicators=indicators,
        columns=columns,
        entity_status=tuple(page["status"]),
        entity_charts=tuple(page["charts"]),
        forecast_measures=forecast_measures,
        forecast_days=forecast_days,
        form_first=form_first,
    )


def load(path: Path) -> Catalogue:
    """The catalogue in a TOML file."""
    with path.open("rb") as f:
        return parse(tomllib.load(f))


@cache
def current() -> Catalogue:
    """The catalogue in force (`v1.toml`), read once."""
    return load(CATALOGUE_FILE)
