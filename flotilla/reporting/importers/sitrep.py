"""The published NHS England daily sitrep (long form, one row per trust per day).

Columns are mapped by header name (case-insensitive, whitespace trimmed) through
`COLUMN_MAP`, the one place that says which published column is which measure; it is
documented in docs/import-formats.md. Cell semantics:

- empty: this row does not carry the column; nothing is stored for it;
- ``-``: stored as missing, reason 'not_reported';
- ``inf`` / ``nan``: stored as missing, reason 'invalid';
- a number (``20`` or ``20.0``); anything else is an error naming the file line (the header
  is line 1) and the column.

Rows with Code ``-`` are England totals and are skipped. Each date becomes 08:00
Europe/London that day (the sitrep's morning snapshot), timezone-aware. Duplicate trust-days
are resolved on the source code, before any merger mapping (see `Accumulator`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

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
from flotilla.reporting.validation import Problem

FORMAT = "sitrep"

#: Published column name (lower case, single spaces) → measure code. None: recognised and
#: deliberately not stored (published rates; rates are derived from counts).
COLUMN_MAP: dict[str, str | None] = {
    "g&a beds open": "ga_open",
    "g&a beds occ'd": "ga_occupied",
    "cc adult open": "cc_adult_open",
    "cc adult occ": "cc_adult_occupied",
    "a&e attendances": "ed_attendances",
    "delays30": "handover_30_60",
    "delays60": "handover_over_60",
    "diverts": "ed_diverts",
    "closures": "ed_closures",
    "no. beds closed due to norovirus etc.": "ga_closed",
    "no. unoccupied beds closed due to norovirus etc.": "ga_closed_unoccupied",
    "no. beds occupied by long-stay patients (> 7 days)": "long_stay_7",
    "no. beds occupied by long-stay patients (> 21 days)": "long_stay_21",
    "no. beds occupied by flu patients (g&a)": "ga_flu_occupied",
    "no. beds occupied by flu patients (critical care)": "cc_adult_flu_occupied",
    "occupancy rate": None,
    "critical care beds occupancy rate": None,
}
KEY_COLUMNS = ("code", "name", "date")
ENGLAND_CODE = "-"

LONDON = ZoneInfo("Europe/London")
#: The time of day a sitrep date stands for.
SNAPSHOT_TIME = time(8, 0)


def normalise(header: str) -> str:
    return " ".join(header.split()).lower()


def as_of(day: date) -> datetime:
    """When a sitrep figure for `day` was true: 08:00 Europe/London that day."""
    return datetime.combine(day, SNAPSHOT_TIME, tzinfo=LONDON)


def looks_like(header: Iterable[str]) -> bool:
    names = {normalise(h) for h in header}
    return all(k in names for k in KEY_COLUMNS)


def _parse_date(text: str) -> date:
    text = text.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    for fmt in ("%d/%m/%Y", "%d-%m-%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


def parse(lines: Iterable[str], *, on_conflict: str = "reject") -> ParsedFile:
    """Parse a sitrep CSV (text lines) into cells keyed by the file's own trust codes."""
    parsed = ParsedFile(format=FORMAT)
    acc = Accumulator(on_conflict)
    rows = CsvRows(lines, parsed)
    header = rows.read_header()
    if header is None:
        return parsed
    positions: dict[str, int] = {}
    measures: list[tuple[int, str, str]] = []  # (index, measure, column name as in the file)
    seen_measures: dict[str, str] = {}
    for i, raw in enumerate(header):
        name = normalise(raw)
        column = " ".join(raw.split())
        if name in KEY_COLUMNS:
            if name in positions:
                parsed.errors.append(Problem(f"column {column!r} appears twice", column, 1))
            positions[name] = i
        elif name in COLUMN_MAP:
            measure = COLUMN_MAP[name]
            if measure is None:
                parsed.ignored_columns.append(column)
            elif measure in seen_measures:
                parsed.errors.append(
                    Problem(f"same measure as column {seen_measures[measure]!r}", column, 1)
                )
            else:
                seen_measures[measure] = column
                measures.append((i, measure, column))
        elif name:
            parsed.unknown_columns.append(column)
    absent = [k for k in KEY_COLUMNS if k not in positions]
    if absent:
        parsed.errors.append(
            Problem(f"missing key column(s): {', '.join(k.title() for k in absent)}", row=1)
        )
    if parsed.errors:
        return parsed
    code_at, name_at, date_at = (positions[k] for k in KEY_COLUMNS)
    date_column = " ".join(header[date_at].split())
    parsed.time_column = date_column
    moments: dict[str, datetime] = {}
    add = acc.add
    code_column = " ".join(header[code_at].split())
    for line, cells in rows:
        parsed.rows += 1
        cells = cells + [""] * (len(header) - len(cells))
        code = cells[code_at].strip().upper()
        if code == ENGLAND_CODE:
            parsed.england_rows += 1
            continue
        if not code:
            parsed.errors.append(Problem("no trust code", code_column, line))
            continue
        if too_long := code_too_long(code):
            parsed.errors.append(Problem(too_long, code_column, line))
            continue
        raw_date = cells[date_at].strip()
        moment = moments.get(raw_date)
        if moment is None:
            try:
                moment = moments[raw_date] = as_of(_parse_date(raw_date))
            except ValueError:
                parsed.errors.append(
                    Problem(f"{raw_date!r} is not a date (YYYY-MM-DD)", date_column, line)
                )
                continue
        name = " ".join(cells[name_at].split())
        if too_long := name_too_long(name):
            parsed.errors.append(Problem(too_long, " ".join(header[name_at].split()), line))
            continue
        if name:
            parsed.names[code] = name
        if code not in parsed.first_row:
            parsed.first_row[code] = line
        acc.add_row((code, "", moment), line)
        for index, measure, column in measures:
            raw = cells[index]
            if not raw:
                continue
            try:  # the fast path: a plain finite number
                value = float(raw)
            except ValueError:
                value = None
            if value is not None and value - value == 0:
                reading = Reading(line, value)
            else:
                raw = raw.strip()
                if not raw:
                    continue
                try:
                    number, reason = parse_number(raw)
                except NotANumber:
                    parsed.errors.append(Problem(f"{raw!r} is not a number", column, line))
                    continue
                reading = Reading(line, number, None, reason)
            add((code, "", moment, measure), column, reading)
    acc.resolve(parsed)
    return parsed
