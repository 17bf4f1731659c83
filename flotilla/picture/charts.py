"""Server-rendered SVG line charts: no script, works offline, gaps where data is missing; a
forecast drawn after the history as a fan (median line, 50% and 95% bands)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

WIDTH, HEIGHT, PAD_L, PAD_R, PAD_T, PAD_B = 720, 200, 48, 12, 12, 28
MAX_POINTS = 400


@dataclass(frozen=True)
class Chart:
    title: str
    path: str
    gaps: list[tuple[float, float]]
    y_ticks: list[tuple[float, str]]
    #: (x, label, text-anchor): the first and last are anchored inside the chart.
    x_ticks: list[tuple[float, str, str]]
    points: int
    missing: int
    width: int = WIDTH
    height: int = HEIGHT
    #: Values with no neighbour to draw a line to, drawn as dots so that none is lost.
    dots: list[tuple[float, float]] = field(default_factory=list)
    #: The forecast after the history: the 95% and 50% bands as polygon points, and the
    #: median as a path (all empty without a forecast).
    band95: str = ""
    band50: str = ""
    median: str = ""
    #: Where the forecast starts (x), to mark it.
    fan_from: float | None = None


@dataclass(frozen=True)
class FanPoint:
    """One forecast day: when, and its 2.5%, 25%, 50%, 75% and 97.5% quantiles."""

    at: datetime
    q025: float
    q25: float
    median: float
    q75: float
    q975: float


def _thin(points: list[tuple[datetime, float | None]]) -> list[tuple[datetime, float | None]]:
    """Keep at most MAX_POINTS, taking the last point of each bucket (a missing one included)."""
    if len(points) <= MAX_POINTS:
        return points
    step = len(points) / MAX_POINTS
    return [points[min(len(points) - 1, int((i + 1) * step) - 1)] for i in range(MAX_POINTS)]


def _step(span: float, whole: bool) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving two to four intervals."""
    raw = span / 3
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return max(step, 1.0) if whole else step


def _y_range(values: list[float], counts: bool) -> tuple[float, float, float]:
    """The axis's bottom, top and tick step, on round numbers that hold every value.

    Counts start at zero when their smallest value is near it, and never go below zero.
    """
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if lo >= 0 and lo < hi * 0.25:
        lo = 0.0
    if hi == lo:
        lo, hi = lo - 1, hi + 1
    if counts:
        lo = max(lo, 0.0)
    step = _step(hi - lo, counts)
    return math.floor(lo / step) * step, math.ceil(hi / step) * step, step


def line_chart(
    title: str,
    points: list[tuple[datetime, float | None]],
    since: datetime,
    until: datetime,
    expected_interval: timedelta,
    counts: bool = True,
    fan: list[FanPoint] | None = None,
) -> Chart:
    """A line for the values; a shaded band wherever a value is missing or overdue; a dot
    for a value standing alone. `counts`: whole-number ticks on an axis that starts at or
    above zero. `fan`: a forecast, drawn after the history (the time axis reaches its last
    day) as a median line inside its 50% and 95% bands."""
    fan = fan or []
    end = max([until, *(p.at for p in fan)])
    history_until = until
    until = end
    span = max((until - since).total_seconds(), 1.0)
    values = [v for _, v in points if v is not None]
    lo, hi, step = _y_range(values + [q for p in fan for q in (p.q025, p.q975)], counts)

    def x(t: datetime) -> float:
        return PAD_L + (WIDTH - PAD_L - PAD_R) * (t - since).total_seconds() / span

    def y(v: float) -> float:
        return PAD_T + (HEIGHT - PAD_T - PAD_B) * (1 - (v - lo) / (hi - lo))

    path: list[str] = []
    gaps: list[tuple[float, float]] = []
    run: list[tuple[float, float]] = []  # the line being drawn
    dots: list[tuple[float, float]] = []
    pen_down = False
    previous: datetime | None = None
    tolerance = expected_interval * 2
    for t, v in _thin(points):
        overdue = previous is not None and t - previous > tolerance
        if overdue:
            assert previous is not None
            gaps.append((x(previous), x(t)))
            pen_down = False
        if not pen_down and len(run) == 1:
            dots.append(run[0])
        if not pen_down:
            run = []
        if v is None:
            gaps.append((x(t) - 2, x(t) + 2))
            pen_down = False
        else:
            path.append(f"{'L' if pen_down else 'M'}{x(t):.1f},{y(v):.1f}")
            run.append((round(x(t), 1), round(y(v), 1)))
            pen_down = True
        previous = t
    if len(run) == 1:
        dots.append(run[0])
    if not points:
        gaps.append((PAD_L, x(history_until)))

    def band(lower: list[float], upper: list[float]) -> str:
        edge = [(x(p.at), y(v)) for p, v in zip(fan, upper, strict=True)]
        edge += [(x(p.at), y(v)) for p, v in reversed(list(zip(fan, lower, strict=True)))]
        return " ".join(f"{a:.1f},{b:.1f}" for a, b in edge)

    median = " ".join(
        f"{'L' if i else 'M'}{x(p.at):.1f},{y(p.median):.1f}" for i, p in enumerate(fan)
    )
    places = 0 if step >= 1 else max(0, -math.floor(math.log10(step)))
    ticks = [lo + step * i for i in range(round((hi - lo) / step) + 1)]
    y_ticks = [(y(v), f"{v:,.{places}f}") for v in ticks]
    x_ticks = []
    fmt = "%H:%M" if span <= 2 * 86400 else "%-d %b"
    for i in range(5):
        t = since + (until - since) * i / 4
        anchor = "start" if i == 0 else "end" if i == 4 else "middle"
        x_ticks.append((x(t), timezone.localtime(t).strftime(fmt), anchor))
    return Chart(
        title=title,
        path=" ".join(path),
        gaps=gaps,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        points=len(values),
        missing=len(points) - len(values),
        dots=dots,
        band95=band([p.q025 for p in fan], [p.q975 for p in fan]) if fan else "",
        band50=band([p.q25 for p in fan], [p.q75 for p in fan]) if fan else "",
        median=median,
        fan_from=round(x(fan[0].at), 1) if fan else None,
    )
