"""When an email may go out and when a failed delivery is tried again: pure rules on times.

Quiet hours and the digest hour are whole hours of the day in Europe/London, whatever the
server's zone, because that is where every Flotilla user works; the clocks changing moves them
with local time.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from django.conf import settings

LONDON = ZoneInfo("Europe/London")


class Hours(Protocol):
    quiet_from: int | None
    quiet_until: int | None
    digest_hour: int


def _next_local_hour(hour: int, after: datetime) -> datetime:
    """The first moment strictly after `after` at which London's clock shows `hour`:00."""
    local = after.astimezone(LONDON)
    day = local.date()
    for offset in range(3):
        candidate = datetime.combine(day + timedelta(days=offset), time(hour), tzinfo=LONDON)
        if candidate > after:
            # In UTC: a local time the clocks skip (01:30 on the day they go forward) then
            # compares equal to the moment it stands for, which Python refuses across zones.
            return candidate.astimezone(UTC)
    raise AssertionError("unreachable: an hour of the day recurs within two days")


def in_quiet_hours(p: Hours, at: datetime) -> bool:
    if p.quiet_from is None or p.quiet_until is None:
        return False
    hour = at.astimezone(LONDON).hour
    if p.quiet_from < p.quiet_until:
        return p.quiet_from <= hour < p.quiet_until
    # The window crosses midnight (22 to 7).
    return hour >= p.quiet_from or hour < p.quiet_until


def quiet_end(p: Hours, at: datetime) -> datetime:
    """When the quiet hours that `at` falls in end (the next `quiet_until`:00)."""
    assert p.quiet_until is not None
    return _next_local_hour(p.quiet_until, at)


def next_digest(p: Hours, after: datetime) -> datetime:
    """When the next daily digest goes: the digest hour, moved to the end of quiet hours if it
    falls inside them."""
    at = _next_local_hour(p.digest_hour, after)
    return quiet_end(p, at) if in_quiet_hours(p, at) else at


def retry_minutes() -> list[int]:
    """The waits between attempts, in minutes (FLOTILLA_NOTIFICATION_RETRY_MINUTES)."""
    return list(settings.NOTIFICATION_RETRY_MINUTES)


def attempt_limit() -> int:
    """How many attempts a delivery gets: the first, then one after each wait."""
    return 1 + len(retry_minutes())


def retry_after(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt (the last wait repeats)."""
    waits = retry_minutes() or [1]
    return timedelta(minutes=waits[min(attempts, len(waits)) - 1])
