"""Pieces of the few statements written out by hand rather than built by the ORM (ADRs 0045
and 0046: for statements this small, building them cost more than running them).

The statements stay plain SQL the ORM would send; these helpers spell the two parts that
vary by call or by database, so that each is spelt once.
"""

from __future__ import annotations

from collections.abc import Sized

from django.db import connection


def placeholders(values: Sized) -> str:
    """The parameters of an `IN (…)` of these values: `%s, %s, …`, one for each.

    Raises ValueError for none: `IN ()` is an error on PostgreSQL (SQLite takes it), so the
    caller answers an empty question without asking, as the ORM does."""
    if not len(values):
        raise ValueError("an IN (…) needs at least one value")
    return ", ".join(["%s"] * len(values))


def for_update(of: str | None = None) -> str:
    """` FOR UPDATE` (of the table aliased `of` alone, if given) where the database locks rows
    as it reads them, as the ORM's `select_for_update()` does; nothing where it does not
    (SQLite, whose writers are one at a time)."""
    features = connection.features
    if of is None:
        return " FOR UPDATE" if features.has_select_for_update else ""
    return f" FOR UPDATE OF {of}" if features.has_select_for_update_of else ""
