"""Reads the API's authentication makes on every request."""

from __future__ import annotations

from typing import Any

from django.db import connections

from flotilla.authz.models import ApiToken
from flotilla.organisations.models import Organisation

#: The organisation's columns come with the token's under these names.
_PREFIX = "_organisation_"


def active_token(secret_sha256: str) -> ApiToken | None:
    """The unrevoked token whose secret has this digest, with its organisation, or None.

    One written-out statement: every API request makes it, and the ORM's `select_related`
    cost 1.98 ms of CPU against 0.63 ms through `raw()`, timed alone (ADR 0046). The
    organisation's values go through the same converters the ORM would use."""
    tokens, organisations = ApiToken._meta, Organisation._meta
    fields = organisations.concrete_fields
    columns = ", ".join(f"o.{f.column} AS {_PREFIX}{f.attname}" for f in fields)
    sql = (
        f"SELECT t.*, {columns} FROM {tokens.db_table} t"
        f" JOIN {organisations.db_table} o ON o.id = t.organisation_id"
        f" WHERE t.secret_sha256 = %s AND t.revoked_at IS NULL"
    )
    found = list(ApiToken.objects.raw(sql, [secret_sha256]))
    if not found:
        return None
    token = found[0]
    connection = connections[token._state.db]
    values = []
    for field in fields:
        value: Any = token.__dict__.pop(f"{_PREFIX}{field.attname}")
        column = field.get_col(organisations.db_table)
        for convert in connection.ops.get_db_converters(column) + column.get_db_converters(
            connection
        ):
            value = convert(value, column, connection)
        values.append(value)
    token.organisation = Organisation.from_db(token._state.db, [f.attname for f in fields], values)
    return token
