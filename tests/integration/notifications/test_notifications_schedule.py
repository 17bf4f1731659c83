"""The time rules of email and retries: quiet hours, the digest hour, backoff. UK local time,
whatever the server's zone, through the clocks changing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flotilla.notifications import schedule
from flotilla.notifications.models import Preference
from flotilla.notifications.schedule import LONDON


def prefs(**kw) -> Preference:
    return Preference(**kw)


def test_quiet_hours_may_cross_midnight_and_end_on_the_hour():
    night = prefs(quiet_from=22, quiet_until=7)
    day = datetime(2026, 6, 10, tzinfo=LONDON)
    quiet = {h: schedule.in_quiet_hours(night, day.replace(hour=h)) for h in range(24)}
    assert [h for h, q in quiet.items() if q] == [0, 1, 2, 3, 4, 5, 6, 22, 23]
    assert schedule.quiet_end(night, day.replace(hour=23, minute=30)) == datetime(
        2026, 6, 11, 7, tzinfo=LONDON
    )
    assert schedule.quiet_end(night, day.replace(hour=3)) == day.replace(hour=7)
    afternoon = prefs(quiet_from=13, quiet_until=14)
    assert schedule.in_quiet_hours(afternoon, day.replace(hour=13, minute=59))
    assert not schedule.in_quiet_hours(afternoon, day.replace(hour=14))
    assert not schedule.in_quiet_hours(prefs(), day)


def test_quiet_hours_follow_uk_time_when_the_clocks_go_back():
    night = prefs(quiet_from=22, quiet_until=7)
    # 23:30 BST on Saturday 24 October 2026; the clocks go back at 02:00 that night.
    late = datetime(2026, 10, 24, 22, 30, tzinfo=UTC)
    assert schedule.in_quiet_hours(night, late)
    assert schedule.quiet_end(night, late) == datetime(2026, 10, 25, 7, tzinfo=UTC)  # 07:00 GMT


def test_the_digest_goes_at_the_next_digest_hour_in_uk_time():
    p = prefs(digest=True, digest_hour=8)
    summer_morning = datetime(2026, 7, 1, 6, 59, tzinfo=UTC)  # 07:59 BST
    assert schedule.next_digest(p, summer_morning) == datetime(2026, 7, 1, 7, tzinfo=UTC)
    just_after = datetime(2026, 7, 1, 7, 0, 1, tzinfo=UTC)
    assert schedule.next_digest(p, just_after) == datetime(2026, 7, 2, 7, tzinfo=UTC)
    winter = datetime(2026, 12, 1, 12, tzinfo=UTC)
    assert schedule.next_digest(p, winter) == datetime(2026, 12, 2, 8, tzinfo=UTC)


def test_a_digest_hour_the_clocks_skip_goes_at_the_first_moment_after_it():
    # 01:00 does not happen in the UK on 29 March 2026: the clocks go from 01:00 GMT to 02:00 BST.
    p = prefs(digest=True, digest_hour=1)
    at = schedule.next_digest(p, datetime(2026, 3, 29, 0, 30, tzinfo=UTC))
    assert at == datetime(2026, 3, 29, 1, tzinfo=UTC)
    assert at.astimezone(LONDON).hour == 2


def test_retries_wait_longer_each_time_as_configured(settings):
    settings.NOTIFICATION_RETRY_MINUTES = [1, 5, 30, 120]
    assert schedule.attempt_limit() == 5
    waits = [schedule.retry_after(n) for n in range(1, 5)]
    assert waits == [timedelta(minutes=m) for m in (1, 5, 30, 120)]
    # Beyond the list (only after a replay) the last wait repeats.
    assert schedule.retry_after(9) == timedelta(minutes=120)
