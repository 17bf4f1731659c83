"""Flotilla's own long-format template: one value per row.

Header (any order, case-insensitive): ``org_code, site_code, measure, as_of, value``.

- ``org_code``: the organisation's ODS code (a retired code maps to its successor);
- ``site_code``: a site of that organisation, or empty for an organisation-level value
  (the column itself may be left out);
- ``measure``: a measure code from the catalogue (``ga_occupied``…);
- ``as_of``: ISO 8601 date and time, with a timezone (``2026-01-05T08:00:00+00:00``) or
  without one, read as local time (Europe/London);
- ``value``: a number (a text for text measures such as ``situation``); empty or ``-`` means
  missing ('not_reported'), ``inf``/``nan`` invalid-and-missing.

Other columns are reported and ignored. Duplicate rows are resolved as for the sitrep.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from flotilla import catalogue as catalogue_module
from flotilla.reporting.importers import (
    NOT_REPORTED,
    Accumulator,
    CsvRows,
    NotANumber,
    ParsedFile,
    Reading,
    parse_number,
)
from flotilla.reporting.validation import Problem, report_time

FORMAT = "longform"
COLUMNS = ("org_code", "site_code", "measure", "as_of", "value")
REQUIRED = ("org_code", "measure", "as_of", "value")
LOCAL = ZoneInfo("Europe/London")


def looks_like(header: Iterable[str]) -> bool:
    names = {h.strip().lower() for h in header}
    return all(k in names for k in REQUIRED)


def parse_as_of(text: str, tz: ZoneInfo = LOCAL) -> datetime:
    """ISO 8601 date and time; a naive time is local (`tz`). A date alone is refused."""
    text = text.strip()
    if len(text) <= 10:
        raise ValueError(text)
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def parse(lines: Iterable[str], *, on_conflict: str = "reject", tz: ZoneInfo = LOCAL) -> ParsedFile:
    """Parse a long-format CSV (text lines) into cells."""
    parsed = ParsedFile(format=FORMAT, time_column="as_of")
    acc = Accumulator(on_conflict)
    kinds = {m.code: m.kind for m in catalogue_module.current().measures}
    rows = CsvRows(lines, parsed)
    header = rows.read_header()
    if header is None:
        return parsed
    at: dict[str, int] = {}
    for i, raw in enumerate(header):
        name = raw.strip().lower()
        if name in COLUMNS and name not in at:
            at[name] = i
        elif name:
            parsed.unknown_columns.append(raw.strip())
    absent = [k for k in REQUIRED if k not in at]
    if absent:
        parsed.errors.append(Problem(f"missing column(s): {', '.join(absent)}", row=1))
        return parsed
    for line, cells in rows:
        parsed.rows += 1
        cells = cells + [""] * (len(header) - len(cells))
        code = cells[at["org_code"]].strip().upper()
        site = cells[at["site_code"]].strip().upper() if "site_code" in at else ""
        measure = cells[at["measure"]].strip()
        raw_as_of, raw = cells[at["as_of"]], cells[at["value"]].strip()
        if not code:
            parsed.errors.append(Problem("no organisation code", "org_code", line))
            continue
        if measure not in kinds:
            parsed.errors.append(Problem(f"unknown measure {measure!r}", "measure", line))
            continue
        try:
            # Filed under its minute here already, so that two rows in one minute are
            # duplicates of one key (resolved like any other) rather than two revisions.
            moment = report_time(parse_as_of(raw_as_of, tz))
        except ValueError:
            parsed.errors.append(
                Problem(f"{raw_as_of.strip()!r} is not an ISO 8601 date and time", "as_of", line)
            )
            continue
        parsed.first_row.setdefault(code, line)
        if site:
            parsed.site_rows.setdefault(site, line)
        key = (code, site, moment)
        acc.add_row(key, line)
        if not raw:
            reading = Reading(line, missing_reason=NOT_REPORTED)
        elif kinds[measure] == "text" and raw != "-":
            reading = Reading(line, text=raw)
        else:
            try:
                value, reason = parse_number(raw)
            except NotANumber:
                parsed.errors.append(Problem(f"{raw!r} is not a number", "value", line))
                continue
            reading = Reading(line, value=value, missing_reason=reason)
        acc.add((*key, measure), "value", reading)
    acc.resolve(parsed)
    return parsed
