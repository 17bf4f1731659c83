"""CSV readers and writers for the planning commands.

Every reader validates as it goes and raises ``InputError`` naming the file, the line (the
header is line 1) and the column, so a person can fix the file without reading a traceback.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flotilla import csvsafe
from flotilla.planning.core.errors import InputError
from flotilla.planning.core.forecast import History
from flotilla.planning.core.static import Sites, TravelTimes

SITES_REQUIRED = ("site_id", "lat", "lon", "bed_type", "open_beds", "occupied", "safe_occupancy")
SITES_OPTIONAL = ("surge_beds", "surge_cost")
TRAVEL_REQUIRED = ("from_site", "to_site", "minutes")
HISTORY_REQUIRED = ("site", "measure", "date", "value")
ADMISSIONS_REQUIRED = ("site_id", "date", "admissions")
PMF_REQUIRED = ("days", "probability")


@dataclass(frozen=True)
class _Row:
    line: int
    values: dict[str, str]


def _rows(path: Path, required: Sequence[str]) -> Iterator[_Row]:
    name = str(path)
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot open file: {exc.strerror}", file=name) from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise InputError("file is empty (expected a header row)", file=name) from None
        header = [h.strip() for h in header]
        missing = [c for c in required if c not in header]
        if missing:
            raise InputError(
                f"missing column(s) {', '.join(missing)}; found {', '.join(header)}",
                file=name,
                row=1,
            )
        for values in reader:
            line = reader.line_num
            if not values or all(not v.strip() for v in values):
                continue
            if len(values) != len(header):
                raise InputError(
                    f"expected {len(header)} fields, found {len(values)}", file=name, row=line
                )
            yield _Row(line, {h: v.strip() for h, v in zip(header, values, strict=True)})


def _float(
    path: Path,
    row: _Row,
    column: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    default: float | None = None,
) -> float:
    text = row.values.get(column, "")
    if text == "" and default is not None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise InputError(
            f"expected a number, found {text!r}", file=str(path), row=row.line, column=column
        ) from None
    if not math.isfinite(value):
        raise InputError(
            f"expected a finite number, found {text!r}", file=str(path), row=row.line, column=column
        )
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bounds = f"[{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}]"
        raise InputError(
            f"value {value:g} is outside {bounds}", file=str(path), row=row.line, column=column
        )
    return value


def _int(path: Path, row: _Row, column: str, *, default: int | None = None) -> int:
    value = _float(path, row, column, lo=0, default=None if default is None else float(default))
    if value != int(value):
        raise InputError(
            f"expected a whole number, found {row.values[column]!r}",
            file=str(path),
            row=row.line,
            column=column,
        )
    return int(value)


def _text(path: Path, row: _Row, column: str) -> str:
    text = row.values[column]
    if not text:
        raise InputError("value is empty", file=str(path), row=row.line, column=column)
    return text


def _date(path: Path, row: _Row, column: str) -> np.datetime64:
    text = row.values[column]
    try:
        return np.datetime64(text, "D")
    except ValueError:
        raise InputError(
            f"expected a date YYYY-MM-DD, found {text!r}",
            file=str(path),
            row=row.line,
            column=column,
        ) from None


def read_sites(path: Path) -> Sites:
    """Read ``sites.csv`` (see docs/planning.md for the schema)."""
    ids: list[str] = []
    types: list[str] = []
    cols: dict[str, list[float]] = {c: [] for c in SITES_REQUIRED[1:] if c != "bed_type"}
    surge: list[int] = []
    cost: list[float] = []
    seen: dict[tuple[str, str], int] = {}
    for row in _rows(path, SITES_REQUIRED):
        site = _text(path, row, "site_id")
        bed = _text(path, row, "bed_type")
        if (site, bed) in seen:
            raise InputError(
                f"site {site!r} bed type {bed!r} already given on line {seen[(site, bed)]}",
                file=str(path),
                row=row.line,
                column="site_id",
            )
        seen[(site, bed)] = row.line
        ids.append(site)
        types.append(bed)
        cols["lat"].append(_float(path, row, "lat", lo=-90, hi=90))
        cols["lon"].append(_float(path, row, "lon", lo=-180, hi=180))
        cols["open_beds"].append(_int(path, row, "open_beds"))
        cols["occupied"].append(_int(path, row, "occupied"))
        cols["safe_occupancy"].append(_float(path, row, "safe_occupancy", lo=0, hi=1))
        surge.append(_int(path, row, "surge_beds", default=0))
        cost.append(_float(path, row, "surge_cost", lo=0, default=0.0))
    if not ids:
        raise InputError("no site rows", file=str(path))
    return Sites(
        site_id=tuple(ids),
        bed_type=tuple(types),
        lat=np.array(cols["lat"]),
        lon=np.array(cols["lon"]),
        open_beds=np.array(cols["open_beds"], dtype=np.int64),
        occupied=np.array(cols["occupied"], dtype=np.int64),
        safe_occupancy=np.array(cols["safe_occupancy"]),
        surge_beds=np.array(surge, dtype=np.int64),
        surge_cost=np.array(cost),
    )


def read_travel(path: Path, known_sites: set[str]) -> TravelTimes:
    """Read a travel-time table ``from_site, to_site, minutes`` (sites must exist)."""
    a: list[str] = []
    b: list[str] = []
    m: list[float] = []
    for row in _rows(path, TRAVEL_REQUIRED):
        for column in ("from_site", "to_site"):
            if _text(path, row, column) not in known_sites:
                raise InputError(
                    f"unknown site {row.values[column]!r}",
                    file=str(path),
                    row=row.line,
                    column=column,
                )
        a.append(row.values["from_site"])
        b.append(row.values["to_site"])
        m.append(_float(path, row, "minutes", lo=0))
    return TravelTimes(from_site=tuple(a), to_site=tuple(b), minutes=np.array(m))


def read_history(path: Path) -> History:
    """Read a long history table ``site, measure, date, value`` (blank value = missing)."""
    sites: list[str] = []
    measures: list[str] = []
    dates: list[np.datetime64] = []
    values: list[float] = []
    seen: dict[tuple[str, str, np.datetime64], int] = {}
    for row in _rows(path, HISTORY_REQUIRED):
        key = (_text(path, row, "site"), _text(path, row, "measure"), _date(path, row, "date"))
        if key in seen:
            raise InputError(
                f"duplicate of line {seen[key]}", file=str(path), row=row.line, column="date"
            )
        seen[key] = row.line
        text = row.values["value"]
        value = math.nan if text in ("", "-", "NA", "nan") else _float(path, row, "value", lo=0)
        sites.append(key[0])
        measures.append(key[1])
        dates.append(key[2])
        values.append(value)
    if not sites:
        raise InputError("no history rows", file=str(path))
    return History.from_long(
        sites, measures, np.array(dates, dtype="datetime64[D]"), np.array(values)
    )


@dataclass(frozen=True)
class AdmissionsTable:
    """Admissions per site and day (patients/day), optionally with a robust lower bound."""

    dates: tuple[str, ...]
    admissions: dict[str, list[float]]
    admissions_low: dict[str, list[float]] | None


def read_admissions(path: Path, site_ids: Sequence[str]) -> AdmissionsTable:
    """Read ``site_id, date, admissions[, admissions_low]``; every site needs every date."""
    rows = list(_rows(path, ADMISSIONS_REQUIRED))
    known = set(site_ids)
    all_dates = sorted({str(_date(path, r, "date")) for r in rows})
    index = {d: k for k, d in enumerate(all_dates)}
    adm = {s: [math.nan] * len(all_dates) for s in site_ids}
    has_low = bool(rows) and "admissions_low" in rows[0].values
    low = {s: [math.nan] * len(all_dates) for s in site_ids} if has_low else None
    for r in rows:
        site = _text(path, r, "site_id")
        if site not in known:
            raise InputError(
                f"unknown site {site!r} (not in the sites file)",
                file=str(path),
                row=r.line,
                column="site_id",
            )
        k = index[str(_date(path, r, "date"))]
        adm[site][k] = _float(path, r, "admissions", lo=0)
        if low is not None:
            low[site][k] = _float(path, r, "admissions_low", lo=0, hi=adm[site][k])
    for site, series in adm.items():
        if any(math.isnan(v) for v in series):
            missing = all_dates[next(k for k, v in enumerate(series) if math.isnan(v))]
            raise InputError(
                f"site {site!r} has no admissions for {missing}",
                file=str(path),
                column="admissions",
            )
    return AdmissionsTable(dates=tuple(all_dates), admissions=adm, admissions_low=low)


def write_csv(path: Path, header: Sequence[str], rows: Iterator[Sequence[object]]) -> None:
    """Write a CSV with a header row, through `flotilla.csvsafe`.

    Site ids and measures come from the input files, so text cells that a spreadsheet would
    run as a formula are defused; pass figures as numbers or `csvsafe.Numeral` to keep them
    numbers.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csvsafe.writer(handle)
        writer.writerow(list(header))
        writer.writerows(rows)


def read_pmf(path: Path) -> list[float]:
    """A length-of-stay distribution (`days`, `probability`) as probabilities of 1, 2, ... days;
    days not listed have probability 0."""
    probs: dict[int, float] = {}
    for row in _rows(path, PMF_REQUIRED):
        day = _int(path, row, "days")
        if day < 1:
            raise InputError("days must be 1 or more", file=str(path), row=row.line, column="days")
        probs[day] = _float(path, row, "probability", lo=0)
    if not probs:
        raise InputError("no rows", file=str(path))
    return [probs.get(d, 0.0) for d in range(1, max(probs) + 1)]
