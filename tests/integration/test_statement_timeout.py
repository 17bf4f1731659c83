"""On PostgreSQL a statement that runs too long is cancelled with an error, not left to hold
its locks (FLOTILLA_STATEMENT_TIMEOUT_MS)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import OperationalError, connection, transaction

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL setting"),
]


def test_every_connection_has_the_statement_timeout_in_force():
    with connection.cursor() as c:
        c.execute("SHOW statement_timeout")
        (shown,) = c.fetchone()
    assert settings.STATEMENT_TIMEOUT_MS == 30000
    assert shown == "30s"


def test_a_statement_over_the_timeout_is_cancelled_with_an_error():
    def sleep_past_a_short_timeout() -> None:
        with transaction.atomic(), connection.cursor() as c:
            c.execute("SET LOCAL statement_timeout = 50")  # 50 ms, so the test is quick
            c.execute("SELECT pg_sleep(2)")

    with pytest.raises(OperationalError, match="statement timeout"):
        sleep_past_a_short_timeout()
