"""`reporting.queries.latest_as_at`: the newest current value of each series as at a moment."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import Case, DateTimeField, Q, Value, When
from django.utils import timezone

from flotilla.reporting import queries
from flotilla.reporting.models import Series
from tests import factories as f

pytestmark = pytest.mark.django_db


def hours_ago(n: float):
    return (timezone.now() - timedelta(hours=n)).replace(second=0, microsecond=0)


def test_each_series_gives_its_newest_value_not_after_the_moment(cast):
    f.report(cast.north, hours_ago(3), ga_open=100, ga_occupied=90)
    f.report(cast.north, hours_ago(1), ga_open=110, ga_occupied=None)
    series = Series.objects.filter(organisation=cast.north)
    now = {(v.measure, v.value, v.missing_reason) for v in queries.latest_as_at(series, None)}
    assert now == {("ga_open", 110, ""), ("ga_occupied", None, "not_reported")}
    then = {(v.measure, v.value) for v in queries.latest_as_at(series, hours_ago(2))}
    assert then == {("ga_open", 100), ("ga_occupied", 90)}
    assert queries.latest_as_at(series, hours_ago(5)) == []


def test_a_moment_per_series_reads_each_as_at_its_own(cast):
    f.report(cast.north, hours_ago(3), ga_open=100)
    f.report(cast.north, hours_ago(1), ga_open=110)
    f.report(cast.south, hours_ago(3), ga_open=200)
    f.report(cast.south, hours_ago(1), ga_open=210)
    cutoff = Case(
        When(Q(organisation=cast.north), then=Value(hours_ago(2))),
        default=Value(timezone.now()),
        output_field=DateTimeField(),
    )
    series = Series.objects.filter(organisation__in=[cast.north, cast.south])
    got = {(v.organisation_id, v.value) for v in queries.latest_as_at(series, cutoff)}
    assert got == {(cast.north.pk, 100), (cast.south.pk, 210)}


def test_more_series_than_one_statement_asks_for_are_read_in_batches(cast, monkeypatch):
    f.report(cast.north, hours_ago(1), ga_open=100, ga_occupied=90, cc_adult_open=8)
    f.report(cast.south, hours_ago(1), ga_open=200)
    series = Series.objects.filter(organisation__in=[cast.north, cast.south])
    whole = sorted(queries.latest_as_at(series, None))
    monkeypatch.setattr(queries, "ID_BATCH", 2)
    assert sorted(queries.latest_as_at(series, None)) == whole
    assert len(whole) == 4
