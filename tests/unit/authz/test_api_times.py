"""The API's times: what reaches pydantic's parsing of a time (`api_auth.ApiTime`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import TypeAdapter, ValidationError

from flotilla.authz.api_auth import ApiTime

TIME = TypeAdapter(ApiTime)


def test_a_time_given_as_rfc_3339_text_in_the_years_allowed_is_read():
    assert TIME.validate_python("2026-01-05T08:00:00Z") == datetime(2026, 1, 5, 8, tzinfo=UTC)
    kiribati = TIME.validate_python("2026-01-05T22:00:00+14:00")
    assert kiribati == datetime(2026, 1, 5, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("given", "says"),
    [
        (1700000000, "give the time as text"),
        ("2026-01-05", "RFC 3339"),
        ("2026-01-05T08:00Z", "RFC 3339"),
        ("2026-01-05T08:00:00", "with its UTC offset"),
        ("2100-01-01T00:00:00Z", "in the years 2000 to 2099"),
        ("1999-12-31T23:59:59Z", "in the years 2000 to 2099"),
        ("2072-12-30T23:59:00+20:17", "a UTC offset from -14:00 to \\+14:00"),
        ("2026-01-05T08:00:00-14:30", "a UTC offset from -14:00 to \\+14:00"),
    ],
)
def test_anything_else_is_refused_saying_how_to_write_the_time(given, says):
    with pytest.raises(ValidationError, match=says):
        TIME.validate_python(given)


def test_a_time_made_in_python_is_taken_as_it_is_within_the_years_allowed():
    inside = datetime(2026, 1, 5, 8, tzinfo=UTC)
    assert TIME.validate_python(inside) == inside
    with pytest.raises(ValidationError, match="in the years 2000 to 2099"):
        TIME.validate_python(datetime(2150, 1, 1, tzinfo=UTC))
    far = timezone(timedelta(hours=20, minutes=17))
    with pytest.raises(ValidationError, match="offset from -14:00"):
        TIME.validate_python(datetime(2026, 1, 5, 8, tzinfo=far))
    with pytest.raises(ValidationError, match="timezone"):
        TIME.validate_python(datetime(2026, 1, 5, 8))  # naive: pydantic says what is wrong
