"""Reading NHS England's published winter sitreps (daily situation reports by trust) into
panels the forecaster learns from and is calibrated on (`flotilla.planning.core.gbm`).

A file has one row per trust and day (`Code`, `Date`, and a column per figure; the England
totals have the code `-`); a figure published as `-` is missing, never nought. Only the
columns of the measures the model knows are read. Errors name the file, the row (as a
spreadsheet numbers it, the header being row 1) and the column.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from flotilla.planning.core import gbm

#: Published column → the measure the model knows it as.
COLUMNS = {"G&A beds occ'd": "ga_occupied", "CC Adult Occ": "cc_adult_occupied"}
#: What the files write for a figure not published.
MISSING = {"", "-", "inf", "nan"}


class PublishedFileError(ValueError):
    """A published file that cannot be read: which file, row and column, and why."""


@dataclass(frozen=True)
class Published:
    """One file's panel, the (trust code, measure) of each series, and its last day."""

    path: Path
    panel: gbm.Panel
    series: list[tuple[str, str]]

    @property
    def last_day(self) -> date:
        return self.panel.first_day + timedelta(days=self.panel.values.shape[1] - 1)


def _number(text: str, where: str) -> float:
    if text.strip().lower() in MISSING:
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise PublishedFileError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise PublishedFileError(f"{where}: {text!r} is not a count of beds")
    return value


def read_sitrep(path: Path) -> Published:
    """The file's G&A and adult critical care beds occupied, one series per trust and
    measure on a consecutive daily grid (a day a trust did not report: missing). A trust
    reported twice on one day (a renamed trust, a resubmission): the later row counts."""
    if not path.is_file():
        raise PublishedFileError(f"{path}: no such file")
    found: dict[tuple[str, str], dict[date, float]] = {}
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        absent = [c for c in ("Code", "Date", *COLUMNS) if c not in (reader.fieldnames or [])]
        if absent:
            raise PublishedFileError(
                f"{path.name}: not a winter sitrep: no column {', '.join(map(repr, absent))}"
            )
        for n, row in enumerate(reader, start=2):
            code = (row["Code"] or "").strip()
            if code in ("", "-"):
                continue  # the England totals
            try:
                day = date.fromisoformat((row["Date"] or "").strip())
            except ValueError:
                raise PublishedFileError(
                    f"{path.name} row {n}, column 'Date': {row['Date']!r} is not a date "
                    "(YYYY-MM-DD)"
                ) from None
            for column, measure in COLUMNS.items():
                where = f"{path.name} row {n}, column {column!r}"
                found.setdefault((code, measure), {})[day] = _number(row[column] or "", where)
    days = {d for series in found.values() for d in series}
    if not days:
        raise PublishedFileError(f"{path.name}: no trust's figures in the file")
    first, last = min(days), max(days)
    keys = sorted(found)
    values = np.full((len(keys), (last - first).days + 1), np.nan)
    for i, key in enumerate(keys):
        for day, value in found[key].items():
            values[i, (day - first).days] = value
    measures = np.array([gbm.MEASURES[m] for _, m in keys], dtype=np.int64)
    return Published(path, gbm.Panel(values, measures, first), keys)
