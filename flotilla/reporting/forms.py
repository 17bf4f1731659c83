"""The reporting form: which measures it asks for, and how typed text becomes cells."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flotilla.catalogue import Catalogue, MeasureSpec
from flotilla.reporting.validation import CellIn, Problem

#: The figures asked for first, by organisation kind; everything else is one click away.


@dataclass(frozen=True)
class Section:
    title: str
    measures: tuple[MeasureSpec, ...]


def sections(catalogue: Catalogue, kind: str) -> tuple[list[Section], list[Section]]:
    """(primary sections, further sections), each grouped by measure group, catalogue order."""
    primary_codes = catalogue.first_on_form(kind)
    titles = {
        "capacity": "Beds",
        "flow": "Flow",
        "workforce": "Workforce",
        "escalation": "Escalation",
        "narrative": "Situation",
    }

    def group(specs: list[MeasureSpec]) -> list[Section]:
        out = []
        for g, title in titles.items():
            ms = tuple(m for m in specs if m.group == g)
            if ms:
                out.append(Section(title, ms))
        return out

    first = [catalogue.measure(c) for c in primary_codes]
    rest = [m for m in catalogue.measures if m.code not in primary_codes]
    return group(first), group(rest)


def cells_from_post(
    data: dict[str, str],
    catalogue: Catalogue,
    organisation_id: int,
    site_id: int | None,
    as_of: datetime,
) -> tuple[list[CellIn], list[Problem]]:
    """Turn form fields into cells. Blank means 'not reported this time' (nothing stored)."""
    cells, problems = [], []
    for m in catalogue.measures:
        raw = (data.get(m.code) or "").strip()
        if not raw:
            continue
        if m.kind == "text":
            cells.append(CellIn(organisation_id, site_id, m.code, as_of, text=raw, field=m.code))
            continue
        try:
            value = float(raw.replace(",", ""))
        except ValueError:
            problems.append(Problem(f"Enter a number for {m.label.lower()}", m.code))
            continue
        cells.append(CellIn(organisation_id, site_id, m.code, as_of, value=value, field=m.code))
    return cells, problems
