"""Reports of the same figure for the same minute arriving at the same moment (a trust's
system and a person at the top of the hour): both are stored, one after the other, the later
revising the earlier; neither fails, and there is always exactly one current value."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from flotilla.reporting.actions import record_report
from flotilla.reporting.models import Observation, Source
from flotilla.reporting.validation import CellIn
from tests import factories as f
from tests.concurrency import at_once

pytestmark = pytest.mark.django_db(transaction=True)


def report(org, at, value):
    cells = [CellIn(org.pk, None, "ga_occupied", at, value=float(value))]
    return record_report(by=f.SYSTEM, organisation_id=org.pk, source=Source.API, cells=cells)


@pytest.mark.parametrize("already", [False, True], ids=["a new minute", "a minute reported"])
def test_two_reports_of_one_figure_at_once_are_both_stored_the_later_revising_the_earlier(
    already,
):
    org = f.OrganisationFactory(code="RC1")
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(hours=2)
    for round_ in range(6):
        at = start + timedelta(minutes=round_)
        if already:
            report(org, at, 10)
        results = at_once(lambda i, at=at: report(org, at, 100 + i), threads=2)
        assert sorted((r.created, r.revised) for r in results) == (
            [(0, 1), (0, 1)] if already else [(0, 1), (1, 0)]
        )
        rows = list(
            Observation.objects.filter(series__organisation=org, as_of=at).order_by("revision")
        )
        assert [r.revision for r in rows] == ([1, 2, 3] if already else [1, 2])
        assert [r.is_current for r in rows] == [False] * (len(rows) - 1) + [True]
        assert rows[-1].value in (100, 101) and rows[-2].value in (10, 100, 101)
