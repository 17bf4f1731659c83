"""A plan drawn as a map: the places at their positions and the moves between them, as
server-rendered SVG (nothing fetched, no script). Positions are projected flat
(equirectangular about the places' mean latitude), which at the size of a region is true to
within a few per cent; the scale bar is in kilometres."""

from __future__ import annotations

import math
from dataclasses import dataclass

from flotilla.planning.balancing import Outlook, Plan

WIDTH = 640
PAD = 28
KM_PER_DEGREE_LAT = 110.574
KM_PER_DEGREE_LON_AT_EQUATOR = 111.320


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    r: float
    #: over (above safe capacity before the plan), receives, sends, or steady.
    state: str
    label: str
    title: str


@dataclass(frozen=True)
class Arrow:
    x1: float
    y1: float
    x2: float
    y2: float
    width: float
    title: str


@dataclass(frozen=True)
class Map:
    width: int
    height: int
    dots: list[Dot]
    arrows: list[Arrow]
    #: The scale bar: its length in pixels and what it stands for.
    scale_px: float
    scale_label: str
    description: str


def _round_km(km: float) -> float:
    """A round distance (1, 2 or 5 times a power of ten) no longer than `km`."""
    power = 10 ** math.floor(math.log10(km))
    return max(m * power for m in (1, 2, 5) if m * power <= km)


def plan_map(plan: Plan | Outlook) -> Map | None:
    """The plan's places and moves on a map; None when there is nothing to draw."""
    if not plan.places:
        return None
    lat0 = sum(p.lat for p in plan.places) / len(plan.places)
    kx = KM_PER_DEGREE_LON_AT_EQUATOR * math.cos(math.radians(lat0))
    xs = [p.lon * kx for p in plan.places]
    ys = [-p.lat * KM_PER_DEGREE_LAT for p in plan.places]
    span_x = max(max(xs) - min(xs), 1.0)
    span_y = max(max(ys) - min(ys), 1.0)
    scale = (WIDTH - 2 * PAD) / max(span_x, span_y * 1.25)  # px per km; not too tall
    height = int(min(max(span_y * scale + 2 * PAD, 240), 560))
    off_x = (WIDTH - span_x * scale) / 2 - min(xs) * scale
    off_y = (height - span_y * scale) / 2 - min(ys) * scale
    where = {
        p.key: (x * scale + off_x, y * scale + off_y)
        for p, x, y in zip(plan.places, xs, ys, strict=True)
    }
    sending = {m.source.key for m in plan.moves}
    receiving = {m.target.key for m in plan.moves}
    biggest = max(p.open_beds for p in plan.places) or 1
    radius_of = {p.key: 4 + 6 * math.sqrt(p.open_beds / biggest) for p in plan.places}
    dots = []
    for p in plan.places:
        x, y = where[p.key]
        over = plan.overflow_of(p, after=False)
        state = (
            "over"
            if over
            else "receives"
            if p.key in receiving
            else "sends"
            if p.key in sending
            else "steady"
        )
        cap = plan.capacity[p.key]
        over_text = f"{over:.0f} patient-days over" if isinstance(over, float) else f"{over} over"
        title = (
            f"{p.name}: {p.occupied} of {p.open_beds} beds occupied, safe capacity {cap}"
            + (f", {over_text}" if over else "")
            + (
                f"; {plan.after[p.key]} after the plan"
                if p.key in sending | receiving and isinstance(plan.after[p.key], int)
                else ""
            )
        )
        dots.append(Dot(x, y, radius_of[p.key], state, p.organisation.code, title))
    heaviest = max((m.patients for m in plan.moves), default=1)
    arrows = []
    for m in plan.moves:
        (x1, y1), (x2, y2) = where[m.source.key], where[m.target.key]
        length = math.hypot(x2 - x1, y2 - y1) or 1.0
        ux, uy = (x2 - x1) / length, (y2 - y1) / length
        start, end = radius_of[m.source.key] + 1, radius_of[m.target.key] + 4
        arrows.append(
            Arrow(
                x1 + ux * start,
                y1 + uy * start,
                x2 - ux * end,
                y2 - uy * end,
                1.5 + 3.5 * m.patients / heaviest,
                f"{m.patients} from {m.source.name} to {m.target.name}, {m.distance_km:.0f} km"
                + (f" over {plan.days} days" if isinstance(plan, Outlook) else ""),
            )
        )
    bar_km = _round_km((WIDTH - 2 * PAD) / scale / 4)
    over = sum(1 for d in dots if d.state == "over")
    description = (
        f"Map of {len(dots)} places, {over} above safe capacity before the plan, "
        f"and {len(arrows)} recommended moves (listed in the table of moves)."
    )
    return Map(WIDTH, height, dots, arrows, bar_km * scale, f"{bar_km:g} km", description)
