"""Check reported values against the catalogue: kinds, ranges and cross-field rules."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from django.utils import timezone

from flotilla.catalogue import Catalogue

#: No report is dated before this: earlier dates are typing slips (and arithmetic on times far
#: outside the span overflows).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
#: How far ahead of the clock a report may be dated: enough for a reporting system's clock
#: running a little fast, not enough for a figure about a day that has not happened.
AHEAD = timedelta(hours=1)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located precisely enough to fix it."""

    message: str
    field: str = ""
    row: int | None = None
    severity: str = "error"

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field:
            where.append(f"column {self.field!r}" if self.row is not None else self.field)
        return f"{', '.join(where)}: {self.message}" if where else self.message


class ReportRejected(Exception):
    """The input has errors; nothing was stored."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems[:5]))


class CellIn(NamedTuple):
    """One reported value before it is stored.

    Exactly one of `value`, `text` or `missing_reason` is set. `row` and `field` say where it
    came from (a CSV row and column, or a form field) so that problems can point at it. A
    named tuple rather than a dataclass: a winter file makes 200,000 of them.
    """

    organisation_id: int
    site_id: int | None
    measure: str
    as_of: datetime
    value: float | None = None
    text: str | None = None
    missing_reason: str = ""
    row: int | None = None
    field: str = ""
    #: Where the as-of time came from (a column or an API field), for problems with the time.
    time_field: str = ""


def report_time(as_of: datetime) -> datetime:
    """The time a report is filed under: its as-of truncated to the minute.

    Seconds and microseconds are dropped (counted in UTC, so an offset with seconds cannot move
    a report into another minute) and the time zone is kept. Every path that stores a report
    (form, "no change", API, uploads, the import command) goes through `record_report`, which
    files each value under this time: two reports in the same minute are revisions of one
    another, and the later received wins.
    """
    offset = as_of.utcoffset()
    if offset is None or not offset % timedelta(minutes=1):
        return as_of.replace(second=0, microsecond=0)
    utc = as_of.astimezone(UTC).replace(second=0, microsecond=0)
    return utc.astimezone(as_of.tzinfo)


class ReportTimes:
    """`report_time` for many cells: each distinct time is rounded once, and cells that share
    their time object with the cell before (every cell of a file row does) cost one identity
    check. A winter file has 200,000 cells but about 125 times."""

    def __init__(self) -> None:
        self._filed: dict[datetime, datetime] = {}
        self._last_in: datetime | None = None
        self._last_out: datetime | None = None

    def __call__(self, as_of: datetime) -> datetime:
        if as_of is not self._last_in:
            filed = self._filed.get(as_of)
            if filed is None:
                filed = self._filed[as_of] = report_time(as_of)
            self._last_in, self._last_out = as_of, filed
        assert self._last_out is not None
        return self._last_out


def time_problem(as_of: datetime, now: datetime) -> str:
    """Why a report may not be dated `as_of` (empty when it may)."""
    if timezone.is_naive(as_of):
        return "give the time with its time zone"
    shown = f"{timezone.localtime(as_of):%Y-%m-%d %H:%M}"
    if as_of > now + AHEAD:
        return f"{shown} is more than an hour ahead of now"
    if as_of < EARLIEST:
        return f"{shown} is before 1 January 2000"
    return ""


def check_cells(cells: Iterable[CellIn], catalogue: Catalogue) -> list[Problem]:
    """Every problem with the cells, errors and warnings, in input order.

    A time is judged once however many cells share it (a winter file has 200,000 values but
    about 125 times), and once per row and time field. Cross-field rules compare the values of
    one organisation or site filed under the same report time (`report_time`).
    """
    specs = {m.code: m for m in catalogue.measures}
    problems: list[Problem] = []
    groups: dict[tuple[int, int | None, datetime], dict[str, CellIn]] = defaultdict(dict)
    now = timezone.now()
    #: as of → (why it is refused, the report time)
    times: dict[datetime, tuple[str, datetime]] = {}
    told: set[tuple[int | None, str, datetime]] = set()
    # Cells of one row share their time: comparing identity first saves hashing it each time.
    last: datetime | None = None
    why, filed = "", datetime.min
    for cell in cells:
        field = cell.field or cell.measure
        if cell.as_of is not last:
            last = cell.as_of
            judged = times.get(last)
            if judged is None:
                refused = time_problem(last, now)
                judged = times[last] = (refused, last if refused else report_time(last))
            why, filed = judged
        if why:
            where = (cell.row, cell.time_field or "as_of", filed)
            if where not in told:
                told.add(where)
                problems.append(Problem(why, where[1], cell.row))
            continue
        spec = specs.get(cell.measure)
        if spec is None:
            problems.append(Problem(f"unknown measure {cell.measure!r}", field, cell.row))
            continue
        if cell.missing_reason:
            continue
        if spec.kind == "text":
            if cell.text is None:
                problems.append(Problem("expected text", field, cell.row))
            continue
        if cell.value is None:
            problems.append(Problem("expected a number", field, cell.row))
            continue
        if not math.isfinite(cell.value):
            problems.append(Problem("not a finite number", field, cell.row))
            continue
        if spec.kind in ("count", "level") and not float(cell.value).is_integer():
            problems.append(
                Problem(f"{cell.value:g} is not a whole number of {spec.unit}", field, cell.row)
            )
            continue
        if spec.min_value is not None and cell.value < spec.min_value:
            problems.append(
                Problem(f"{cell.value:g} is below the minimum {spec.min_value:g}", field, cell.row)
            )
            continue
        if spec.max_value is not None and cell.value > spec.max_value:
            problems.append(
                Problem(f"{cell.value:g} is above the maximum {spec.max_value:g}", field, cell.row)
            )
            continue
        groups[(cell.organisation_id, cell.site_id, filed)][cell.measure] = cell
    for rule in catalogue.rules:
        for values in groups.values():
            left, right = values.get(rule.left), values.get(rule.right)
            if left is None or right is None:
                continue
            assert left.value is not None and right.value is not None
            ok = left.value <= right.value if rule.op == "le" else left.value >= right.value
            if not ok:
                problems.append(
                    Problem(
                        f"{rule.message} ({rule.left} {left.value:g}, {rule.right} "
                        f"{right.value:g})",
                        left.field or left.measure,
                        left.row,
                        rule.severity,
                    )
                )
    return problems
