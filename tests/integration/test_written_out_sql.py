"""The pieces of the statements written out by hand (flotilla.sql) say what the ORM would."""

from __future__ import annotations

import pytest
from django.db import connection

from flotilla.organisations.models import Organisation
from flotilla.reporting.models import Reminder, Series
from flotilla.sql import for_update, placeholders
from tests import factories as f

pytestmark = pytest.mark.django_db


def _orm_sql(queryset) -> str:
    sql, _ = queryset.query.sql_with_params()
    return sql


def test_placeholders_give_one_parameter_for_each_value():
    assert placeholders([7]) == "%s"
    assert placeholders({3, 1, 2}) == "%s, %s, %s"


def test_placeholders_refuse_an_empty_in_which_postgresql_cannot_read():
    with pytest.raises(ValueError, match="at least one value"):
        placeholders([])


def test_placeholders_for_an_in_read_what_the_orm_reads():
    organisations = [f.OrganisationFactory() for _ in range(4)]
    ids = [o.pk for o in organisations[:3]]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {Organisation._meta.db_table} WHERE id IN ({placeholders(ids)})",
            ids,
        )
        written = sorted(row[0] for row in cursor.fetchall())
    assert written == sorted(ids)
    assert written == sorted(Organisation.objects.filter(pk__in=ids).values_list("pk", flat=True))


def test_the_row_lock_is_the_clause_the_orm_writes_for_select_for_update():
    orm = _orm_sql(Reminder.objects.select_for_update())
    if connection.features.has_select_for_update:
        assert for_update() == " FOR UPDATE"
        assert orm.endswith(" FOR UPDATE")
    else:
        assert for_update() == ""
        assert "FOR UPDATE" not in orm


def test_a_row_lock_of_one_table_is_the_clause_the_orm_writes_for_of_self():
    orm = _orm_sql(Series.objects.select_related("measure").select_for_update(of=("self",)))
    table = connection.ops.quote_name(Series._meta.db_table)
    if connection.features.has_select_for_update_of:
        assert orm.endswith(f"FOR UPDATE OF {table}")
        assert for_update(of="s") == " FOR UPDATE OF s"
    else:
        assert "FOR UPDATE" not in orm
        assert for_update(of="s") == ""
