"""What a viewer may see of one value, given the grants that reach them. Pure functions.

A grant shares measure groups at a detail (exact, banded, status only) and a delay. When
several grants reach the same viewer for the same group, the viewer holds all of them: each
figure is shown at the finest detail of the grants under which it is already old enough to
be seen (`shown_under`), so a fresh figure may be coarse while an older one is exact. Every
value shown is one that a single grant allows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flotilla import catalogue

#: The measure groups a grant may share, in order: data, in the metric catalogue.
GROUPS: tuple[str, ...] = catalogue.current().group_codes
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


#: Every access a viewer holds to one group, finest first and each fresher than the one
#: before (see `combine`). Empty: not shared with the viewer.
Accesses = tuple[Access, ...]

#: What an organisation's own people (and the platform operator) see.
FULL = Access(EXACT, 0, None)
OWN: Accesses = (FULL,)


def combine(accesses: Iterable[Access]) -> Accesses:
    """The accesses worth holding, finest first, each strictly fresher than the one before.

    An access no finer and no fresher than another would never be the one a figure is shown
    under, so it is dropped (of two alike, the older grant is kept). What remains reads like
    "exact 24 hours late, banded 3 hours late, status in real time".
    """
    kept: list[Access] = []
    for a in sorted(accesses, key=lambda a: (-RANK[a.detail], a.delay_hours, a.grant_id or 0)):
        if not kept or a.delay_hours < kept[-1].delay_hours:
            kept.append(a)
    return tuple(kept)


def showing(accesses: Accesses, kind: str) -> Accesses:
    """The accesses under which a measure of this kind is shown at all (text: exact only)."""
    if kind == "text":
        return tuple(a for a in accesses if a.detail == EXACT)
    return accesses


def cutoff(access: Access, moment: datetime, now: datetime) -> datetime:
    """The newest as-of time `access` shows when looking at `moment`: never after it, and
    never less than the delay before now."""
    return min(moment, now - timedelta(hours=access.delay_hours))


def shown_under(
    accesses: Accesses, as_of: datetime, moment: datetime, now: datetime
) -> Access | None:
    """The access a figure of `as_of` is shown under: the finest whose cutoff it has reached.

    None when no access shows it yet (or ever: none at all)."""
    for a in accesses:
        if as_of <= cutoff(a, moment, now):
            return a
    return None


def coarser(a: Access, b: Access) -> Access:
    """The access with the coarser detail (of two alike, the later): a figure computed from
    two others is shown no finer, and no fresher, than either allows."""
    return min((a, b), key=lambda x: (RANK[x.detail], -x.delay_hours))


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


@dataclass(frozen=True)
class Viewer:
    """Whoever is reading: a person with their organisations, or an organisation's token."""

    label: str
    organisation_ids: frozenset[int]
    user_id: int | None = None
    token_id: int | None = None
    #: The platform operator reads every organisation's data and owns none of it.
    platform: bool = False
    #: A collaborative as a body (its system escalation level, its alerts): reached only by
    #: grants every member holds alike (to the collaborative, to everyone, to the public),
    #: so what it sees any member may see. It owns no data, not even its members'.
    collaborative_id: int | None = None
