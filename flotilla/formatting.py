"""How figures and times are written on pages and in exports."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

MISSING = "–"


def local(value: datetime | None) -> datetime | None:
    return timezone.localtime(value) if value else None


def when(value: datetime | None) -> str:
    """A time as a bed manager reads it: '26 Nov 14:05'."""
    if value is None:
        return MISSING
    return timezone.localtime(value).strftime("%-d %b %H:%M")


def number(value: float | None, places: int = 0) -> str:
    if value is None:
        return MISSING
    if places == 0 and float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{places}f}"


def percent(value: float | None) -> str:
    if value is None:
        return MISSING
    return f"{value * 100:.1f}%"


def ago(value: datetime | None, now: datetime | None = None) -> str:
    if value is None:
        return "never"
    seconds = int(((now or timezone.now()) - value).total_seconds())
    if seconds < 0:
        return "in the future"
    if seconds < 90:
        return "just now"
    minutes = seconds // 60
    if minutes < 90:
        return f"{minutes} min ago"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h ago"
    return f"{hours // 24} days ago"
