"""What a viewer may see of one value, given the grant that reaches them. Pure functions.

A grant shares measure groups at a detail (exact, banded, status only) and a delay. When
several grants reach the same viewer for the same group, the viewer gets the finest detail any
of them allows, at the shortest delay among the grants with that detail: every value shown is
one that a single grant allows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

GROUPS = ("capacity", "flow", "workforce", "escalation", "narrative")
EXACT, BANDED, STATUS = "exact", "banded", "status"
#: Finer detail ranks higher.
RANK = {STATUS: 1, BANDED: 2, EXACT: 3}
#: Counts are rounded to this, and occupancy is shown in bands this many points wide.
STEP = 5


@dataclass(frozen=True, order=True)
class Access:
    """How a viewer sees one group of one organisation's data, and under which grant."""

    detail: str
    delay_hours: int = 0
    #: None for the organisation's own people and the platform operator.
    grant_id: int | None = None


#: What an organisation's own people (and the platform operator) see.
FULL = Access(EXACT, 0, None)


def combine(accesses: Iterable[Access]) -> Access | None:
    """The finest detail any access allows, at the shortest delay among those with it."""
    return min(
        accesses, key=lambda a: (-RANK[a.detail], a.delay_hours, a.grant_id or 0), default=None
    )


def round_count(value: float) -> float:
    """A count rounded to the nearest 5 (halves away from zero: 2.5 → 5, 7.5 → 10)."""
    return float(STEP * math.floor(value / STEP + 0.5))


def occupancy_band(occupied: float, open_: float) -> tuple[float, float]:
    """The 5-point band holding occupied / open, as ratios: 453 of 500 → (0.90, 0.95)."""
    # Counts are whole numbers: work in twentieths so that 19/20 lands in 95–100, not 90–95.
    index = math.floor(occupied * (100 // STEP) / open_ + 1e-9)
    return (index * STEP / 100, (index + 1) * STEP / 100)


def rag_band(threshold: tuple[float, float] | None, value: float | None) -> str:
    """'red', 'amber', 'green', or 'none' when there is no value or no threshold."""
    if value is None or threshold is None:
        return "none"
    amber, red = threshold
    if value >= red:
        return "red"
    if value >= amber:
        return "amber"
    return "green"


def shown_value(
    kind: str, value: float | None, text: str | None, detail: str
) -> tuple[bool, float | None, str | None]:
    """(shown at all, value, text) of one reported value at a detail.

    Exact: as reported. Banded: counts rounded to the nearest 5, levels as they are. Status
    only: levels (the OPEL level) as they are, counts not at all (their RAG only). Text is
    shared only exactly. A missing value stays missing at every detail.
    """
    if kind == "text":
        return (detail == EXACT, None, text if detail == EXACT else None)
    if value is None or detail == EXACT or kind == "level":
        return (True, value, text)
    if detail == BANDED:
        return (True, round_count(value), None)
    return (True, None, None)
