"""Check reported values against the catalogue: kinds, ranges and cross-field rules."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from flotilla.reporting.catalogue import Catalogue


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


def check_cells(cells: Iterable[CellIn], catalogue: Catalogue) -> list[Problem]:
    """Every problem with the cells, errors and warnings, in input order."""
    specs = {m.code: m for m in catalogue.measures}
    problems: list[Problem] = []
    groups: dict[tuple[int, int | None, datetime], dict[str, CellIn]] = defaultdict(dict)
    for cell in cells:
        field = cell.field or cell.measure
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
        groups[(cell.organisation_id, cell.site_id, cell.as_of)][cell.measure] = cell
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
