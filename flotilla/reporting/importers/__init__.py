"""File formats we import, parsed without touching the database.

Each format module turns a CSV text stream into a `ParsedFile`: one `ParsedCell` per
(organisation code, site code, as-of time, measure), with duplicates already resolved, plus
everything a person needs to know about what happened (errors with row and column, conflicts,
unknown columns, skipped rows). `flotilla.reporting.imports` resolves the codes against the
registry and stores the cells.

Formats: `sitrep` (the published NHS England daily sitrep, see `sitrep.py`), `longform`
(our own template, see `longform.py`), both described in docs/import-formats.md, and
`mapped` (other layouts, read through a declarative mapping, see `mapped.py` and
docs/interoperability.md).
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, NamedTuple

from flotilla.organisations.models import Organisation, Site
from flotilla.reporting.models import MissingReason
from flotilla.reporting.validation import Problem

#: The longest code and name the registry holds (organisations' and sites' alike): a file
#: that would register one longer is refused at its row and column, never by the database.
CODE_LENGTH = Organisation._meta.get_field("code").max_length
NAME_LENGTH = Organisation._meta.get_field("name").max_length
assert (
    Site._meta.get_field("code").max_length,
    Site._meta.get_field("name").max_length,
) == (CODE_LENGTH, NAME_LENGTH)


def code_too_long(code: str, made: str = "") -> str:
    """Why `code` cannot be a registry code ('' when it can). `made`: how the file's cell
    became the code, said after it (a mapping's prefix)."""
    if len(code) <= CODE_LENGTH:
        return ""
    return (
        f"the code {code!r}{made} is longer than the {CODE_LENGTH} characters a code in the "
        "registry may have"
    )


def name_too_long(name: str) -> str:
    """Why `name` cannot be a registry name ('' when it can)."""
    if len(name) <= NAME_LENGTH:
        return ""
    return (
        f"the name is {len(name):,} characters long, longer than the {NAME_LENGTH} a name in "
        "the registry may have"
    )


#: How conflicting duplicates are handled: reject the file, or keep the last in file order.
ON_CONFLICT_CHOICES = ("reject", "last")

NOT_REPORTED = MissingReason.NOT_REPORTED.value
#: PostgreSQL cannot store this character in text, so no file may bring one in.
NUL = "\x00"
INVALID = MissingReason.INVALID.value


class NotANumber(ValueError):
    """A cell that is neither a number nor one of the recognised missing markers."""


def parse_number(raw: str) -> tuple[float | None, str]:
    """`(value, missing_reason)` for a non-empty cell: `-` → not reported, `inf`/`nan` → invalid.

    Raises `NotANumber` for anything else that does not parse.
    """
    text = raw.strip()
    if text == "-":
        return None, NOT_REPORTED
    try:
        value = float(text.replace(",", "")) if text else math.nan
    except ValueError:
        raise NotANumber(text) from None
    if not math.isfinite(value):
        return None, INVALID
    return value, ""


def show(value: float | None, text: str | None = None, missing_reason: str = "") -> str:
    """A value as a person reads it in a message."""
    if missing_reason:
        return "-" if missing_reason == NOT_REPORTED else missing_reason
    if text is not None:
        return repr(text)
    return f"{value:g}" if value is not None else "(none)"


class Reading(NamedTuple):
    """One value as one file row gives it (a tuple: cheap, files hold 200k of them)."""

    row: int
    value: float | None = None
    text: str | None = None
    missing_reason: str = ""

    @property
    def is_missing(self) -> bool:
        return bool(self.missing_reason)

    def same_value(self, other: Reading) -> bool:
        return self[1:] == other[1:]

    def __str__(self) -> str:
        return show(self.value, self.text, self.missing_reason)


@dataclass(slots=True)
class ParsedCell:
    """One value to store: organisation (and site) code, time, measure, and where it came from.

    `earlier` is the value this one superseded when conflicting rows were resolved with
    `on_conflict='last'`; it is stored first, as an earlier revision. `parts` names the
    source codes whose values were summed into this cell (merged trusts).
    """

    code: str
    site_code: str
    as_of: datetime
    measure: str
    column: str
    row: int
    value: float | None = None
    text: str | None = None
    missing_reason: str = ""
    earlier: Reading | None = None
    parts: tuple[str, ...] = ()

    @property
    def reading(self) -> Reading:
        return Reading(self.row, self.value, self.text, self.missing_reason)


@dataclass(frozen=True)
class Conflict:
    """Rows of one file that give different values for the same cell."""

    code: str
    site_code: str
    as_of: datetime
    measure: str
    column: str
    readings: tuple[Reading, ...]
    #: The value kept (the last in file order) when resolved; None when the file is rejected.
    kept: Reading | None = None

    def describe(self) -> str:
        where = f"{self.code}{'/' + self.site_code if self.site_code else ''}"
        said = ", ".join(f"row {r.row} says {r}" for r in self.readings)
        text = f"{where} {self.as_of:%Y-%m-%d %H:%M} {self.column}: {said}"
        if self.kept is not None:
            text += f"; kept {self.kept} (row {self.kept.row})"
        return text

    def problem(self) -> Problem:
        last = self.readings[-1]
        others = ", ".join(f"{r} in row {r.row}" for r in self.readings[:-1])
        return Problem(
            f"{self.code} on {self.as_of:%Y-%m-%d}: {last} here but {others} "
            "(duplicate rows disagree)",
            self.column,
            last.row,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "site_code": self.site_code,
            "as_of": self.as_of.isoformat(),
            "measure": self.measure,
            "column": self.column,
            "values": [{"row": r.row, "value": str(r)} for r in self.readings],
            "kept": None if self.kept is None else {"row": self.kept.row, "value": str(self.kept)},
        }


@dataclass
class ParsedFile:
    """Everything a parser found in one file."""

    format: str
    cells: list[ParsedCell] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    #: Header names we do not know: reported and ignored.
    unknown_columns: list[str] = field(default_factory=list)
    #: Header names we know and deliberately do not store (published rates).
    ignored_columns: list[str] = field(default_factory=list)
    #: Data rows read (not counting the header or blank lines).
    rows: int = 0
    #: Rows with Code `-`: England totals, not a trust.
    england_rows: int = 0
    #: Extra rows for an already-seen key that added values the first did not carry.
    duplicate_rows_merged: int = 0
    #: Extra rows for an already-seen key that repeated it exactly.
    duplicate_rows_collapsed: int = 0
    #: Extra rows for an already-seen key that disagreed on at least one value.
    duplicate_rows_conflicting: int = 0
    #: Organisation code → name as the file gives it (the last name seen).
    names: dict[str, str] = field(default_factory=dict)
    #: Organisation code → first file row that carries it (for messages).
    first_row: dict[str, int] = field(default_factory=dict)
    #: (site code → first row), for formats with sites.
    site_rows: dict[str, int] = field(default_factory=dict)
    #: The column the times come from, as the file names it (for problems with a time).
    time_column: str = ""
    #: The columns organisation and site codes come from, as the file names them (for
    #: problems with a code; empty: the format's usual names).
    code_column: str = ""
    site_column: str = ""
    #: Rows a mapping marks as totals (not an organisation), skipped.
    skipped_rows: int = 0
    #: Site code → the organisation code of the first row that named it (mapped files).
    site_organisations: dict[str, str] = field(default_factory=dict)


CellKey = tuple[str, str, datetime, str]  # (code, site code, as_of, measure)
GroupKey = tuple[str, str, datetime]  # (code, site code, as_of): one file row's worth


class Accumulator:
    """Collects readings per cell and resolves duplicate rows.

    Rows that complement each other (each carries different cells) merge; rows repeating a
    value collapse; a `-` against a number is not a conflict (the number is kept); different
    numbers are a conflict — reported as an error (`reject`) or resolved to the last value in
    file order, the one before it kept as the earlier revision (`last`).
    """

    def __init__(self, on_conflict: str):
        if on_conflict not in ON_CONFLICT_CHOICES:
            raise ValueError(f"on_conflict must be one of {ON_CONFLICT_CHOICES}")
        self.on_conflict = on_conflict
        #: cell → (column, readings in file order)
        self.cells: dict[CellKey, tuple[str, list[Reading]]] = {}
        #: group → the rows that carried it
        self.group_rows: dict[GroupKey, list[int]] = defaultdict(list)

    def add_row(self, key: GroupKey, row: int) -> None:
        self.group_rows[key].append(row)

    def add(self, key: CellKey, column: str, r: Reading) -> None:
        slot = self.cells.get(key)
        if slot is None:
            self.cells[key] = (column, [r])
        else:
            slot[1].append(r)

    def resolve(self, parsed: ParsedFile) -> None:
        """Fill `parsed.cells`, `conflicts`, duplicate counts and conflict errors."""
        out = parsed.cells
        dup_groups = {k: len(set(rows)) for k, rows in self.group_rows.items() if len(rows) > 1}
        conflicting: set[GroupKey] = set()
        unlike: set[GroupKey] = set()
        for key, (column, readings) in self.cells.items():
            code, site, as_of, measure = key
            if len(readings) == 1:
                r = readings[0]
                out.append(ParsedCell(code, site, as_of, measure, column, *r))
            else:
                cell, conflict = self._one(key, column, readings)
                if conflict is not None:
                    conflicting.add(key[:3])
                    parsed.conflicts.append(conflict)
                    if self.on_conflict == "reject":
                        parsed.errors.append(conflict.problem())
                if cell is not None:
                    out.append(cell)
            group = key[:3]
            if group in dup_groups and (
                len(readings) != dup_groups[group]
                or any(not r.same_value(readings[0]) for r in readings[1:])
            ):
                unlike.add(group)
        for group, n in dup_groups.items():
            if group in conflicting:
                parsed.duplicate_rows_conflicting += n - 1
            elif group in unlike:
                parsed.duplicate_rows_merged += n - 1
            else:
                parsed.duplicate_rows_collapsed += n - 1

    def _one(
        self, key: CellKey, column: str, readings: list[Reading]
    ) -> tuple[ParsedCell | None, Conflict | None]:
        code, site, as_of, measure = key
        present = [r for r in readings if not r.missing_reason]
        if not present:  # only missing markers: the first one stands
            return ParsedCell(code, site, as_of, measure, column, *readings[0]), None
        last = present[-1]
        if all(r.same_value(last) for r in present):
            return ParsedCell(code, site, as_of, measure, column, *present[0]), None
        if self.on_conflict == "reject":
            return None, Conflict(code, site, as_of, measure, column, tuple(present))
        earlier = next(r for r in reversed(present) if not r.same_value(last))
        conflict = Conflict(code, site, as_of, measure, column, tuple(present), kept=last)
        cell = ParsedCell(code, site, as_of, measure, column, *last, earlier=earlier)
        return cell, conflict


@dataclass
class CombineReport:
    """What mapping retired codes to their successors did."""

    #: Retired code → the code that holds its history now (only codes present in the file).
    mapped: dict[str, str] = field(default_factory=dict)
    #: Rows (code-days) of predecessors summed together with another code on the same day.
    combined_rows: int = 0
    #: Rows (code-days) of predecessors re-labelled to a successor absent that day.
    relabelled_rows: int = 0


def combine_into_successors(
    cells: Iterable[ParsedCell], successor_of: Mapping[str, str]
) -> tuple[list[ParsedCell], CombineReport]:
    """Re-key cells from retired codes to their successor; sum parts that land on one cell.

    `successor_of` maps a code to the code that holds its history now (codes absent map to
    themselves). Where several codes land on the same (successor, site, time, measure), their
    values are summed: these were different trusts whose activity now belongs to one. If any
    part is missing, the sum is missing: 'not_reported' (or, when every part is missing for the
    same reason, that reason) — missing is not zero. A part that does not carry the column at
    all is not a part of that cell.
    Text values cannot be summed and are not combined: the successor's own text wins.
    """
    report = CombineReport()
    groups: dict[tuple[str, str, datetime, str], list[ParsedCell]] = defaultdict(list)
    for c in cells:
        target = successor_of.get(c.code, c.code)
        if target != c.code:
            report.mapped[c.code] = target
        groups[(target, c.site_code, c.as_of, c.measure)].append(c)
    combined_days: set[tuple[str, str, datetime]] = set()
    relabelled_days: set[tuple[str, str, datetime]] = set()
    out: list[ParsedCell] = []
    for (target, site, as_of, _measure), parts in groups.items():
        if len(parts) == 1:
            c = parts[0]
            if c.code != target:
                relabelled_days.add((c.code, site, as_of))
                c = replace(c, code=target, parts=(c.code,))
            out.append(c)
            continue
        for c in parts:
            if c.code != target:
                combined_days.add((c.code, site, as_of))
        out.append(_sum(target, parts))
    report.combined_rows = len(combined_days)
    report.relabelled_rows = len(relabelled_days - combined_days)
    return out, report


def _sum(target: str, parts: list[ParsedCell]) -> ParsedCell:
    own = next((c for c in parts if c.code == target), None)
    anchor = own or min(parts, key=lambda c: c.row)
    codes = tuple(sorted(c.code for c in parts))
    if any(c.text is not None for c in parts):
        return replace(anchor, code=target, parts=codes)
    final = _total([c.reading for c in parts])
    earlier = None
    if any(c.earlier is not None for c in parts):
        before = _total([c.earlier or c.reading for c in parts])
        if not before.same_value(final):
            earlier = before._replace(row=min(c.earlier.row for c in parts if c.earlier))
    return replace(
        anchor,
        code=target,
        value=final.value,
        text=None,
        missing_reason=final.missing_reason,
        earlier=earlier,
        parts=codes,
    )


def _total(readings: list[Reading]) -> Reading:
    row = min(r.row for r in readings)
    missing = {r.missing_reason for r in readings if r.is_missing}
    if missing:
        # All parts missing for one reason keep it; otherwise the total was not reported.
        alike = len(missing) == 1 and all(r.is_missing for r in readings)
        return Reading(row, missing_reason=missing.pop() if alike else NOT_REPORTED)
    return Reading(row, value=sum(r.value or 0.0 for r in readings))


def column_name(header: list[str], index: int) -> str:
    """How messages name the column at `index`: its header text, or else its spreadsheet
    letter (A, B, … Z, AA…), which is what a person sees when they open the file."""
    name = " ".join(header[index].split()) if index < len(header) else ""
    if name and NUL not in name:
        return name
    letters = ""
    n = index + 1
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


class _Lines:
    """The text lines a csv reader takes, remembering those of the record being read.

    A record can span lines (a quoted cell may hold line breaks); the lines are kept so that
    a cell the reader refused can be found, and a NUL noticed without looking at every cell.
    """

    __slots__ = ("_lines", "nul", "record")

    def __init__(self, lines: Iterable[str]):
        self._lines = iter(lines)
        self.record: list[str] = []
        self.nul = False

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.record.append(line)
        if NUL in line:
            self.nul = True
        return line

    def start_record(self) -> None:
        self.record = []
        self.nul = False


class CsvRows:
    """A CSV file read row by row, refusing what cannot be read whole or stored.

    Every problem is added to `parsed.errors` with the file line (the header is line 1) and
    the column: a NUL character in a cell (PostgreSQL cannot store one), a cell longer than
    the csv module's field limit (usually a quote mark that is never closed: the rest of the
    file becomes one cell; reading stops there), and a row with more cells than the header
    has columns (an extra cell would belong to no column; even empty ones, from commas at the
    end of a row, say the file is not what its header says). Such rows are not yielded,
    so a file with any of them is rejected whole by the callers' error check.
    """

    def __init__(self, lines: Iterable[str], parsed: ParsedFile, *, delimiter: str = ","):
        self._lines = _Lines(lines)
        self._reader = csv.reader(self._lines, delimiter=delimiter)
        self._delimiter = delimiter
        self._parsed = parsed
        self.header: list[str] = []

    def read_header(self) -> list[str] | None:
        """The header row without a byte-order mark, or None (and an error) if unreadable."""
        header = self._next()
        if header is None:
            if not self._parsed.errors:
                self._parsed.errors.append(Problem("the file is empty", row=1))
            return None
        if header and header[0].startswith("\ufeff"):
            header[0] = header[0][1:]
        self.header = header
        if self._lines.nul:
            self._report_nul(header, 1)
            return None
        return header

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        """(file line, cells) for each row that has something in it."""
        width = len(self.header)
        reader = self._reader
        while (cells := self._next()) is not None:
            line = reader.line_num
            if self._lines.nul:
                self._report_nul(cells, line)
                continue
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > width:
                filled = [i for i in range(width, len(cells)) if cells[i].strip()]
                extra = filled[0] if filled else width
                why = (
                    f"so {cells[extra].strip()[:40]!r} belongs to no column: a comma in a "
                    'text needs the text in double quotes ("…"), or name the extra column '
                    "in the header"
                    if filled
                    else "(empty cells after the last column: remove the commas at the end "
                    "of the row)"
                )
                self._parsed.errors.append(
                    Problem(
                        f"this row has {len(cells)} cells but the header has {width} columns, "
                        + why,
                        column_name(self.header, extra),
                        line,
                    )
                )
                continue
            yield line, cells

    def _next(self) -> list[str] | None:
        """The next record, or None at the end or when the rest cannot be read (reported)."""
        start = self._reader.line_num + 1
        self._lines.start_record()
        try:
            return next(self._reader)
        except StopIteration:
            return None
        except csv.Error as exc:
            self._parsed.errors.append(self._unreadable(exc, start))
            return None

    def _unreadable(self, exc: csv.Error, start: int) -> Problem:
        limit = csv.field_size_limit()
        index = _long_cell("".join(self._lines.record), limit, self._delimiter)
        if index is None:
            return Problem(f"cannot be read as CSV from this line on ({exc})", row=start)
        return Problem(
            f"a cell is longer than {limit:,} characters, the most a cell may hold; often a "
            'quote mark (") opens a cell and is never closed, so the rest of the file runs '
            "into it. Nothing after this line was read",
            column_name(self.header, index),
            start,
        )

    def _report_nul(self, cells: list[str], line: int) -> None:
        for index, cell in enumerate(cells):
            if NUL in cell:
                self._parsed.errors.append(
                    Problem(
                        "contains a NUL character (a zero byte), which cannot be stored: "
                        "remove it, or save the file again as 'CSV UTF-8'",
                        column_name(self.header, index),
                        line,
                    )
                )


def _long_cell(text: str, limit: int, delimiter: str = ",") -> int | None:
    """The index of the first cell of a CSV record (Excel dialect) longer than `limit`."""
    index = length = 0
    quoted, at_start = False, True
    i, end = 0, len(text)
    while i < end:
        ch = text[i]
        i += 1
        if quoted:
            if ch == '"':
                if text.startswith('"', i):
                    i += 1
                else:
                    quoted = False
                    continue
        elif ch == '"' and at_start:
            quoted, at_start = True, False
            continue
        elif ch == delimiter:
            index, length, at_start = index + 1, 0, True
            continue
        elif ch in "\r\n":
            return None
        at_start = False
        length += 1
        if length > limit:
            return index
    return None
