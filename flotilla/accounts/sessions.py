"""The session engine: Django's database sessions, read with one written-out statement.

Every signed-in request reads its session first. For statements this small the ORM's
building costs more than running them (ADR 0046), so the read is written out; saving,
creating and deleting sessions are Django's own.
"""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone


class SessionStore(db.SessionStore):
    """`django.contrib.sessions.backends.db` with the read written out."""

    def _get_session_from_db(self) -> Any:
        key = self.session_key
        model = self.model
        connection = connections[router.db_for_read(model)]
        # Django's session model names its columns after its fields.
        sql = (
            f"SELECT session_data FROM {connection.ops.quote_name(model._meta.db_table)}"
            " WHERE session_key = %s AND expire_date > %s"
        )
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(sql, [key, now])
            row = cursor.fetchone()
        if row is None:
            # As Django's: an unknown or expired key is forgotten, and a new one is made on save.
            self._session_key = None
            return None
        return model(session_key=key, session_data=row[0])
