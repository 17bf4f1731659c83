"""Server-rendered SVG line charts: no script, works offline, gaps where data is missing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

WIDTH, HEIGHT, PAD_L, PAD_R, PAD_T, PAD_B = 720, 200, 48, 12, 12, 28
MAX_POINTS = 400


@dataclass(frozen=True)
class Chart:
    title: str
    path: str
    gaps: list[tuple[float, float]]
    y_ticks: list[tuple[float, str]]
    x_ticks: list[tuple[float, str]]
    points: int
    missing: int
    width: int = WIDTH
    height: int = HEIGHT


def _thin(points: list[tuple[datetime, float | None]]) -> list[tuple[datetime, float | None]]:
    """Keep at most MAX_POINTS, taking the last point of each bucket (a missing one included)."""
    if len(points) <= MAX_POINTS:
        return points
    step = len(points) / MAX_POINTS
    return [points[min(len(points) - 1, int((i + 1) * step) - 1)] for i in range(MAX_POINTS)]


def line_chart(
    title: str,
    points: list[tuple[datetime, float | None]],
    since: datetime,
    until: datetime,
    expected_interval: timedelta,
) -> Chart:
    """A line for the values; a shaded band wherever a value is missing or overdue."""
    span = max((until - since).total_seconds(), 1.0)
    values = [v for _, v in points if v is not None]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if hi == lo:
        lo, hi = lo - 1, hi + 1
    lo = min(lo, 0.0) if lo >= 0 and lo < hi * 0.25 else lo

    def x(t: datetime) -> float:
        return PAD_L + (WIDTH - PAD_L - PAD_R) * (t - since).total_seconds() / span

    def y(v: float) -> float:
        return PAD_T + (HEIGHT - PAD_T - PAD_B) * (1 - (v - lo) / (hi - lo))

    path: list[str] = []
    gaps: list[tuple[float, float]] = []
    pen_down = False
    previous: datetime | None = None
    tolerance = expected_interval * 2
    for t, v in _thin(points):
        overdue = previous is not None and t - previous > tolerance
        if overdue:
            assert previous is not None
            gaps.append((x(previous), x(t)))
            pen_down = False
        if v is None:
            gaps.append((x(t) - 2, x(t) + 2))
            pen_down = False
        else:
            path.append(f"{'L' if pen_down else 'M'}{x(t):.1f},{y(v):.1f}")
            pen_down = True
        previous = t
    if not points:
        gaps.append((PAD_L, WIDTH - PAD_R))
    places = 0 if hi - lo >= 10 else 1
    y_ticks = [(y(v), f"{v:,.{places}f}") for v in (lo, (lo + hi) / 2, hi)]
    x_ticks = []
    for i in range(5):
        t = since + (until - since) * i / 4
        fmt = "%H:%M" if span <= 2 * 86400 else "%-d %b"
        x_ticks.append((x(t), t.strftime(fmt)))
    return Chart(
        title=title,
        path=" ".join(path),
        gaps=gaps,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        points=len(values),
        missing=len(points) - len(values),
    )
