"""Capacity files in other layouts, read through a declarative mapping (TOML).

A mapping says which column holds the date, which the organisation (and the site), by code
or by name, which columns hold which catalogue measures and in what unit, and which cell
texts are markers for a missing value. `load_mapping` reads one into a frozen `Mapping`,
refusing anything it does not understand with a `MappingError` that names the mapping file
and the line of the fault; `parse` turns a file's text into the `ParsedFile` every format
gives (`flotilla.reporting.imports` stores it). The keys are documented in
docs/interoperability.md ("Capacity files in other layouts: mappings"); the decision in
docs/adr/0035-capacity-files-through-a-declarative-mapping.md.

Cells: empty → this row does not carry the column (nothing stored); a marker → missing with
the mapping's reason (never zero); ``-`` → not reported, ``inf``/``nan`` → invalid (as in
the sitrep); a number → the value, times ``scale``, converted to the measure's unit, rounded
when the mapping says so; anything else → an error naming the row and the column.

Organisations named by name (``match = "name"``) are parsed to a key (`NAME_PREFIX` + the
name's `name_key`) that the import resolves against the registry's names and aliases.
"""

from __future__ import annotations

import calendar
import math
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flotilla import catalogue as catalogue_module
from flotilla.organisations.models import OrganisationKind, name_key
from flotilla.reporting.importers import (
    Accumulator,
    CsvRows,
    NotANumber,
    ParsedFile,
    Reading,
    code_too_long,
    name_too_long,
    parse_number,
)
from flotilla.reporting.models import MissingReason
from flotilla.reporting.validation import Problem, report_time

FORMAT = "mapped"
#: Codes of organisations and sites a file names by name, before the import resolves them.
NAME_PREFIX = "name:"
SEPARATORS = (",", ";", "\t", "|")
#: Units a mapping may give for a measure whose unit is "<things> per day": the file's figure
#: is divided by the days of the period to give the catalogue's daily figure.
PERIOD_DAYS = {
    "per week": lambda d: 7,
    "per month": lambda d: calendar.monthrange(d.year, d.month)[1],
}
ROUNDING = ("none", "nearest")

_KEYS: dict[str, tuple[str, ...]] = {
    "": ("description", "file", "date", "organisation", "site", "markers", "measures", "ignore"),
    "file": ("encoding", "separator"),
    "date": ("column", "formats", "time_of_day", "timezone"),
    "organisation": (
        "column",
        "match",
        "first",
        "prefix",
        "name_column",
        "skip",
        "register",
        "kind",
    ),
    "site": ("column", "match", "first", "prefix", "name_column", "skip", "register"),
    "measures": ("column", "measure", "unit", "scale", "round", "where"),
    "ignore": ("columns",),
}


class MappingError(ValueError):
    """A mapping that cannot be used, located by its file and line."""

    def __init__(self, source: str, line: int | None, message: str):
        self.source, self.line, self.message = source, line, message
        where = f"{source}, line {line}" if line else source
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class KeyColumn:
    """Where the organisation (or site) of a row comes from."""

    column: str
    match: str = "code"  # or "name"
    #: Use only the first N characters of the cell (a Welsh site code's first three are its
    #: health board's code); 0 = all of it.
    first: int = 0
    #: Put before a code to keep it apart from ODS codes ("NY" + "330214").
    prefix: str = ""
    name_column: str = ""
    #: Cell texts meaning "not an organisation" (a national total row): the row is skipped.
    skip: tuple[str, ...] = ()
    #: Register codes the registry does not know (command line only; never on upload).
    register: bool = False
    kind: str = OrganisationKind.ACUTE
    line: int | None = None


@dataclass(frozen=True)
class MeasureColumn:
    column: str
    measure: str
    unit: str
    scale: float = 1.0
    round: str = "none"
    #: (column, accepted values): the row gives this measure only where each column holds
    #: one of its values.
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: Days in the period of the row's date when the file's unit is per week or per month.
    per: str = ""
    kind: str = "count"
    line: int | None = None


@dataclass(frozen=True)
class Mapping:
    source: str
    description: str
    encoding: str
    separator: str
    date_column: str
    date_formats: tuple[str, ...]
    time_of_day: time
    timezone: str
    organisation: KeyColumn
    site: KeyColumn | None
    markers: tuple[tuple[str, str], ...]
    measures: tuple[MeasureColumn, ...]
    ignore: tuple[str, ...]
    #: (table, index, key) → line, for errors found once a file's header is known.
    lines: tuple[tuple[tuple[str, int, str], int], ...] = ()

    def line_of(self, table: str, index: int = 0, key: str = "") -> int | None:
        found = dict(self.lines)
        return found.get((table, index, key)) or found.get((table, index, ""))


_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-]+)\s*\]\]?")
_KEY = re.compile(r"""^\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_\-]+)\s*=""")


def _locate(text: str) -> dict[tuple[str, int, str], int]:
    """(table, index in an array of tables, key) → the line it is on (1-based).

    tomllib gives no positions, so the lines are found here: a table header starts a table
    (an array of tables counts its entries), a `key =` at the start of a line is a key of the
    current table. Keys inside an inline table are found at the line of their table's key.
    """
    where: dict[tuple[str, int, str], int] = {}
    table, counts = "", {"": 0}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0] if not raw.lstrip().startswith(('"', "'")) else raw
        head = _HEADER.match(line)
        if head:
            table = head.group(2)
            if head.group(1) == "[[":
                counts[table] = counts.get(table, -1) + 1
            else:
                counts[table] = 0
            where.setdefault((table, counts[table], ""), number)
            continue
        key = _KEY.match(line)
        if key:
            name = key.group(1)
            if name[:1] in "\"'":
                name = tomllib.loads(f"k = {name}")["k"] if name[0] == '"' else name[1:-1]
            where.setdefault((table, counts.get(table, 0), name), number)
    return where


#: The mappings Flotilla ships, one per published layout (docs/interoperability.md).
SHIPPED_DIR = Path(__file__).resolve().parents[1] / "mappings"


@cache
def shipped() -> MappingProxyType[str, Mapping]:
    """The shipped mappings by name (the file's stem), in name order: what a person may
    choose when uploading a file in one of those layouts. Read once per process: they are
    files of the release, not data that changes while it runs."""
    return MappingProxyType(
        {path.stem: load_mapping(path) for path in sorted(SHIPPED_DIR.glob("*.toml"))}
    )


def load_mapping(path: Path | str) -> Mapping:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(path.name, None, f"cannot be read ({exc})") from None
    return read_mapping(text, source=path.name)


def read_mapping(text: str, *, source: str = "mapping") -> Mapping:
    """A mapping from its TOML text; `MappingError` (with the line) for anything wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        raise MappingError(
            source, int(found.group(1)) if found else None, f"not TOML: {exc}"
        ) from None
    lines = _locate(text)

    def fail(message: str, table: str = "", index: int = 0, key: str = "") -> MappingError:
        line = (
            lines.get((table, index, key))
            or (lines.get((key, 0, "")) if not table else None)  # a table: its header
            or lines.get((table, index, ""))
        )
        return MappingError(source, line, message)

    def check_keys(table: str, values: dict[str, Any], index: int = 0) -> None:
        if table not in _KEYS:  # [markers]: its keys are the cell texts
            return
        for key in values:
            if key not in _KEYS[table]:
                known = ", ".join(_KEYS[table])
                where = f"[{table}]" if table else "the top level"
                raise fail(f"unknown key {key!r} in {where} (known: {known})", table, index, key)

    def text_of(table: str, values: dict[str, Any], key: str, default: str | None = None) -> str:
        value = values.get(key, default)
        if value is None:
            raise fail(f"[{table}] needs {key!r}", table)
        if not isinstance(value, str):
            raise fail(f"{key} must be a text in double quotes", table, 0, key)
        return value

    def table_of(name: str, required: bool = True) -> dict[str, Any]:
        value = data.get(name)
        if value is None:
            if required:
                raise MappingError(source, None, f"the mapping needs a [{name}] table")
            return {}
        if not isinstance(value, dict):
            raise fail(f"{name} must be a table ([{name}])", "", 0, name)
        check_keys(name, value)
        return value

    check_keys("", data)
    file = table_of("file", required=False)
    encoding = text_of("file", file, "encoding", "utf-8")
    try:
        "".encode(encoding)
    except LookupError:
        raise fail(f"unknown encoding {encoding!r}", "file", 0, "encoding") from None
    separator = text_of("file", file, "separator", ",")
    if separator not in SEPARATORS:
        shown = ", ".join(repr(s) for s in SEPARATORS)
        raise fail(f"separator {separator!r} is not one of {shown}", "file", 0, "separator")

    when = table_of("date")
    date_column = text_of("date", when, "column")
    formats = when.get("formats", ["%Y-%m-%d"])
    if isinstance(formats, str):
        formats = [formats]
    if not formats or not all(isinstance(f, str) for f in formats):
        raise fail("formats must be a list of texts", "date", 0, "formats")
    for fmt in formats:
        if not _is_date_format(fmt):
            raise fail(
                f"{fmt!r} is not a date format (strftime codes such as %Y-%m-%d, %B %Y, %b-%y)",
                "date",
                0,
                "formats",
            )
    try:
        at = time.fromisoformat(text_of("date", when, "time_of_day", "08:00"))
    except ValueError:
        raise fail('time_of_day must be a time such as "08:00"', "date", 0, "time_of_day") from None
    zone = text_of("date", when, "timezone", "Europe/London")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise fail(f"unknown timezone {zone!r}", "date", 0, "timezone") from None

    def key_column(table: str) -> KeyColumn:
        values = table_of(table)
        match = text_of(table, values, "match", "code")
        if match not in ("code", "name"):
            raise fail(f'match must be "code" or "name", not {match!r}', table, 0, "match")
        first = values.get("first", 0)
        if not isinstance(first, int) or isinstance(first, bool) or first < 0:
            raise fail("first must be a whole number of characters", table, 0, "first")
        skip = values.get("skip", [])
        if not isinstance(skip, list) or not all(isinstance(s, str) for s in skip):
            raise fail("skip must be a list of texts", table, 0, "skip")
        register = values.get("register", False)
        if not isinstance(register, bool):
            raise fail("register must be true or false", table, 0, "register")
        kind = text_of(table, values, "kind", OrganisationKind.ACUTE)
        if kind not in OrganisationKind.values:
            raise fail(
                f"{kind!r} is not an organisation kind ({', '.join(OrganisationKind.values)})",
                table,
                0,
                "kind",
            )
        name_column = text_of(table, values, "name_column", "")
        return KeyColumn(
            column=text_of(table, values, "column"),
            match=match,
            first=first,
            prefix=text_of(table, values, "prefix", ""),
            name_column=name_column,
            skip=tuple(skip),
            register=register,
            kind=kind,
            line=lines.get((table, 0, "")),
        )

    organisation = key_column("organisation")
    site = key_column("site") if "site" in data else None

    markers_table = table_of("markers", required=False)
    reasons = MissingReason.values
    markers: list[tuple[str, str]] = []
    for marker, reason in markers_table.items():
        if reason not in reasons:
            raise fail(
                f"{reason!r} is not a missing reason ({', '.join(reasons)})", "markers", 0, marker
            )
        if not marker.strip():
            raise fail("an empty cell already means 'not carried'", "markers", 0, marker)
        markers.append((marker.strip(), reason))

    entries = data.get("measures")
    if not isinstance(entries, list) or not entries:
        raise MappingError(source, None, "the mapping needs at least one [[measures]] entry")
    specs = {m.code: m for m in catalogue_module.current().measures}
    measures: list[MeasureColumn] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise fail("measures must be [[measures]] tables", "", 0, "measures")
        check_keys("measures", entry, index)

        def need(key: str, entry: dict[str, Any] = entry, index: int = index) -> str:
            value = entry.get(key)
            if not isinstance(value, str) or not value:
                raise fail(f"[[measures]] needs {key!r} (a text)", "measures", index, key)
            return value

        column, code, unit = need("column"), need("measure"), need("unit")
        spec = specs.get(code)
        if spec is None:
            raise fail(
                f"unknown measure {code!r} (not in the catalogue)", "measures", index, "measure"
            )
        per = ""
        if unit != spec.unit:
            stem = spec.unit.removesuffix(" per day")
            per = next(
                (
                    p
                    for p in PERIOD_DAYS
                    if spec.unit.endswith(" per day") and unit == f"{stem} {p}"
                ),
                "",
            )
            if not per:
                also = (
                    f", or {stem} per week / per month (converted to a daily figure)"
                    if spec.unit.endswith(" per day")
                    else ""
                )
                raise fail(
                    f"unknown unit {unit!r} for {code}: its unit is {spec.unit!r}{also}",
                    "measures",
                    index,
                    "unit",
                )
        scale = entry.get("scale", 1)
        if isinstance(scale, bool) or not isinstance(scale, int | float) or not scale > 0:
            raise fail("scale must be a number above 0", "measures", index, "scale")
        rounding = entry.get("round", "none")
        if rounding not in ROUNDING:
            raise fail(f"round must be one of {', '.join(ROUNDING)}", "measures", index, "round")
        if spec.kind == "text" and (per or scale != 1 or rounding != "none"):
            raise fail(
                f"{code} is a text: no scale, unit conversion or rounding", "measures", index
            )
        where = entry.get("where", {})
        if not isinstance(where, dict):
            raise fail(
                'where must be an inline table: { column = "value" }', "measures", index, "where"
            )
        filters = []
        for wcol, wval in where.items():
            values = [wval] if isinstance(wval, str) else wval
            if (
                not isinstance(values, list)
                or not values
                or not all(isinstance(v, str) for v in values)
            ):
                raise fail(
                    f"where {wcol!r} must be a text or a list of texts", "measures", index, "where"
                )
            filters.append((wcol, tuple(values)))
        measures.append(
            MeasureColumn(
                column=column,
                measure=code,
                unit=unit,
                scale=float(scale),
                round=rounding,
                where=tuple(filters),
                per=per,
                kind=spec.kind,
                line=lines.get(("measures", index, "")),
            )
        )
    ignore_table = table_of("ignore", required=False)
    ignore = ignore_table.get("columns", [])
    if not isinstance(ignore, list) or not all(isinstance(c, str) for c in ignore):
        raise fail("columns must be a list of texts", "ignore", 0, "columns")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise fail("description must be a text", "", 0, "description")
    return Mapping(
        source=source,
        description=description,
        encoding=encoding,
        separator=separator,
        date_column=date_column,
        date_formats=tuple(formats),
        time_of_day=at,
        timezone=zone,
        organisation=organisation,
        site=site,
        markers=tuple(markers),
        measures=tuple(measures),
        ignore=tuple(ignore),
        lines=tuple(lines.items()),
    )


def _is_date_format(fmt: str) -> bool:
    """A strftime format that gives a year and a month (a day defaults to the 1st)."""
    codes = set(re.findall(r"%(.)", fmt))
    if not codes or not codes <= set("YymdbBHMSpIjaAeFT%"):
        return False
    if "F" in codes:
        return True
    return bool(codes & {"Y", "y"}) and bool(codes & {"m", "b", "B", "j"})


def _normal(name: str) -> str:
    return " ".join(name.split()).lower()


def decode(data: bytes, mapping: Mapping) -> str:
    """The file's text in the mapping's encoding (a UTF-8 byte-order mark is dropped)."""
    try:
        text = data.decode(mapping.encoding)
    except UnicodeDecodeError as exc:
        raise ValueError(f"not {mapping.encoding} text (byte {exc.start})") from None
    return text.removeprefix("\ufeff")


def parse(lines: Iterable[str], mapping: Mapping, *, on_conflict: str = "reject") -> ParsedFile:
    """Parse a file (text lines) through `mapping` into cells.

    Raises `MappingError` when the file's header lacks a column the mapping names (the
    mapping is wrong for this file); problems with the file's rows go in `errors`.
    """
    parsed = ParsedFile(format=FORMAT)
    acc = Accumulator(on_conflict)
    rows = CsvRows(lines, parsed, delimiter=mapping.separator)
    header = rows.read_header()
    if header is None:
        return parsed
    at: dict[str, int] = {}
    for i, raw in enumerate(header):
        name = _normal(raw)
        if name in at:
            parsed.errors.append(Problem(f"column {raw.strip()!r} appears twice", raw.strip(), 1))
        elif name:
            at[name] = i

    def index(column: str, table: str, entry: int = 0, key: str = "column") -> int:
        found = at.get(_normal(column))
        if found is None:
            raise MappingError(
                mapping.source,
                mapping.line_of(table, entry, key),
                f"the file has no column {column!r} (its columns: "
                f"{', '.join(h.strip() for h in header)})",
            )
        return found

    date_at = index(mapping.date_column, "date")
    org = mapping.organisation
    org_at = index(org.column, "organisation")
    org_name_at = (
        index(org.name_column, "organisation", 0, "name_column") if org.name_column else None
    )
    site = mapping.site
    site_at = index(site.column, "site") if site else None
    site_name_at = (
        index(site.name_column, "site", 0, "name_column") if site and site.name_column else None
    )
    site_name_column = site.name_column if site else ""
    measures = []
    for n, m in enumerate(mapping.measures):
        where = tuple((index(c, "measures", n, "where"), set(v)) for c, v in m.where)
        measures.append(
            (
                index(m.column, "measures", n),
                m,
                where,
                " ".join(header[at[_normal(m.column)]].split()),
            )
        )
    used = {date_at, org_at, org_name_at, site_at, site_name_at}
    used |= {i for i, *_ in measures} | {i for _, _, w, _ in measures for i, _ in w}
    for column in mapping.ignore:
        i = index(column, "ignore", 0, "columns")
        parsed.ignored_columns.append(" ".join(header[i].split()))
        used.add(i)
    parsed.unknown_columns.extend(
        " ".join(h.split()) for i, h in enumerate(header) if i not in used and h.strip()
    )
    if parsed.errors:
        return parsed

    def column_of(i: int) -> str:
        return " ".join(header[i].split())

    date_column = parsed.time_column = column_of(date_at)
    parsed.code_column = column_of(org_at)
    if site_at is not None:
        parsed.site_column = column_of(site_at)
    zone = ZoneInfo(mapping.timezone)
    markers = dict(mapping.markers)
    moments: dict[str, tuple[datetime, date]] = {}
    width = len(header)
    for line, cells in rows:
        parsed.rows += 1
        if len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        raw_org = cells[org_at].strip()
        if raw_org in org.skip:
            parsed.skipped_rows += 1
            continue
        code = _key(raw_org, org)
        if not code:
            parsed.errors.append(Problem("no organisation", parsed.code_column, line))
            continue
        if too_long := _too_long(code, org):
            parsed.errors.append(Problem(too_long, parsed.code_column, line))
            continue
        site_code = ""
        if site is not None and site_at is not None:
            raw_site = cells[site_at].strip()
            if raw_site in site.skip:
                parsed.skipped_rows += 1
                continue
            site_code = _key(raw_site, site)
            if not site_code:
                parsed.errors.append(Problem("no site", parsed.site_column, line))
                continue
            if too_long := _too_long(site_code, site):
                parsed.errors.append(Problem(too_long, parsed.site_column, line))
                continue
        raw_date = cells[date_at].strip()
        found = moments.get(raw_date)
        if found is None:
            day = _parse_date(raw_date, mapping.date_formats)
            if day is None:
                shown = " or ".join(repr(f) for f in mapping.date_formats)
                parsed.errors.append(
                    Problem(f"{raw_date!r} is not a date in the form {shown}", date_column, line)
                )
                continue
            moment = (
                day if isinstance(day, datetime) else datetime.combine(day, mapping.time_of_day)
            )
            found = moments[raw_date] = (report_time(moment.replace(tzinfo=zone)), moment.date())
        moment, day = found
        parsed.first_row.setdefault(code, line)
        if org_name_at is not None and cells[org_name_at].strip():
            name = " ".join(cells[org_name_at].split())
            if too_long := name_too_long(name):
                parsed.errors.append(Problem(too_long, org.name_column, line))
                continue
            parsed.names.setdefault(code, name)
        elif org.match == "name":
            parsed.names.setdefault(code, " ".join(raw_org.split()))
        if site_code:
            parsed.site_rows.setdefault(site_code, line)
            parsed.site_organisations.setdefault(site_code, code)
            if site_name_at is not None and cells[site_name_at].strip():
                name = " ".join(cells[site_name_at].split())
                if too_long := name_too_long(name):
                    parsed.errors.append(Problem(too_long, site_name_column, line))
                    continue
                parsed.names.setdefault(site_code, name)
            elif site is not None and site.match == "name":
                parsed.names.setdefault(site_code, " ".join(cells[site_at].split()))
        key = (code, site_code, moment)
        acc.add_row(key, line)
        for i, m, where, column in measures:
            if where and not all(cells[w].strip() in values for w, values in where):
                continue
            raw = cells[i].strip()
            if not raw:
                continue
            reading = _reading(raw, m, markers, line, day)
            if isinstance(reading, str):
                parsed.errors.append(Problem(reading, column, line))
                continue
            acc.add((*key, m.measure), column, reading)
    acc.resolve(parsed)
    return parsed


def _too_long(key: str, spec: KeyColumn) -> str:
    """Why a code cannot be a registry code ('' when it can): longer than the registry holds.
    Names used as keys are matched, not stored, so only codes are checked."""
    if key.startswith(NAME_PREFIX):
        return ""
    return code_too_long(
        key, f" (with the mapping's prefix {spec.prefix!r})" if spec.prefix else ""
    )


def _key(raw: str, spec: KeyColumn) -> str:
    if not raw:
        return ""
    if spec.match == "name":
        key = name_key(raw)
        return NAME_PREFIX + key if key else ""
    code = raw[: spec.first] if spec.first else raw
    return (spec.prefix + code).upper()


def _parse_date(text: str, formats: tuple[str, ...]) -> date | datetime | None:
    for fmt in formats:
        try:
            moment = datetime.strptime(text, fmt)
        except ValueError:
            continue
        timed = any(c in fmt for c in ("%H", "%M", "%I", "%T"))
        return moment if timed else moment.date()
    return None


def _reading(
    raw: str, m: MeasureColumn, markers: dict[str, str], row: int, day: date
) -> Reading | str:
    """The reading a cell gives, or the reason it gives none (an error message)."""
    reason = markers.get(raw)
    if reason is not None:
        return Reading(row, missing_reason=reason)
    if m.kind == "text" and raw != "-":
        return Reading(row, text=raw)
    try:
        value, reason = parse_number(raw)
    except NotANumber:
        shown = ", ".join(repr(k) for k in markers)
        also = f" nor a marker ({shown})" if shown else ""
        return f"{raw[:40]!r} is not a number{also}"
    if value is None:
        return Reading(row, missing_reason=reason)
    if m.scale != 1 or m.per:
        value *= m.scale
        if m.per:
            value /= PERIOD_DAYS[m.per](day)
        if abs(value - round(value)) < 1e-9 * max(1.0, abs(value)):
            value = float(round(value))  # 0.1 * 30 is 3.0000000000000004, not a fraction
    if m.round == "nearest":
        value = float(math.floor(value + 0.5))
    return Reading(row, value=value)
