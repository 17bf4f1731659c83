"""Reading NHS England's published winter sitreps (daily situation reports by trust) into
panels the forecaster learns from and is calibrated on (`flotilla.planning.core.gbm`).

The file is parsed by the reporting app's sitrep importer (`reporting.importers.sitrep`,
the one place that knows the published layout and its columns), without storing anything:
England totals are skipped, `-` is a figure not published (missing, never nought), a trust
reported twice on one day counts its later row, and every error names the row and column.
Only the measures the model knows are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from flotilla.planning.core import gbm
from flotilla.reporting.importers import sitrep


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


def read_sitrep(path: Path) -> Published:
    """The file's G&A and adult critical care beds occupied, one series per trust and
    measure on a consecutive daily grid (a day a trust did not report: missing)."""
    if not path.is_file():
        raise PublishedFileError(f"{path}: no such file")
    with path.open(newline="", encoding="utf-8-sig") as f:
        parsed = sitrep.parse(f, on_conflict="last")
    if parsed.errors:
        shown = "; ".join(str(p) for p in parsed.errors[:5])
        more = f" (and {len(parsed.errors) - 5} more)" if len(parsed.errors) > 5 else ""
        raise PublishedFileError(f"{path.name}: {shown}{more}")
    found: dict[tuple[str, str], dict[date, float]] = {}
    for cell in parsed.cells:
        if cell.measure in gbm.MEASURES:
            value = np.nan if cell.value is None else cell.value
            found.setdefault((cell.code, cell.measure), {})[cell.as_of.date()] = value
    absent = sorted(set(gbm.MEASURES) - {m for _, m in found})
    if absent:
        raise PublishedFileError(
            f"{path.name}: no figures of {', '.join(absent)}: not a winter sitrep with the "
            "measures the forecaster learns"
        )
    days = {d for series in found.values() for d in series}
    first, last = min(days), max(days)
    keys = sorted(found)
    values = np.full((len(keys), (last - first).days + 1), np.nan)
    for i, key in enumerate(keys):
        for day, value in found[key].items():
            values[i, (day - first).days] = value
    measures = np.array([gbm.MEASURES[m] for _, m in keys], dtype=np.int64)
    return Published(path, gbm.Panel(values, measures, first), keys)
