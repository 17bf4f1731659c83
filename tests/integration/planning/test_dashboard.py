"""The dashboard shows what a member's forecast expects in 3 days beside today's figure,
where the viewer may see the forecast, and nothing where they may not."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from flotilla.planning import actions
from flotilla.planning.models import Forecast
from tests import factories as f

pytestmark = pytest.mark.django_db


def days_ago(n: int):
    moment = timezone.localtime() - timedelta(days=n)
    return moment.replace(hour=8, minute=0, second=0, microsecond=0)


@pytest.fixture
def forecast(cast):
    """South's forecast from a fortnight of figures up to yesterday."""
    for n in range(15, 0, -1):
        f.report(cast.south, days_ago(n), ga_open=120, ga_occupied=81 + (n % 7) * 3)
    actions.recompute(organisation=cast.south)
    return cast


def south_cell(client, person, slug) -> str:
    client.force_login(person)
    html = client.get(f"/c/{slug}/table").content.decode()
    row = re.search(r'<tr[^>]*data-org="RS1" data-site="">(.*?)</tr>', html, re.S)
    assert row, "South's row"
    cell = re.search(r'<td data-measure="ga_occupied">(.*?)</td>', row.group(1), re.S)
    return cell.group(1)


def in_three_days(cast) -> Forecast:
    target = timezone.localdate() + timedelta(days=3)
    return Forecast.objects.get(organisation=cast.south, target=target)


def test_a_member_sees_what_the_forecast_expects_in_3_days_beside_todays_figure(client, forecast):
    cast = forecast
    cell = south_cell(client, cast.people["viewer"], cast.collab.slug)
    assert f"in 3 days: {round(in_three_days(cast).q50)}" in cell


def test_a_banded_viewer_sees_it_rounded_to_5(client, forecast):
    cast = forecast
    f.reshare(f.collaborative_grant(cast.south, cast.collab), detail="banded")
    cell = south_cell(client, cast.people["viewer"], cast.collab.slug)
    shown = int(re.search(r"in 3 days: (\d+)", cell).group(1))
    assert shown % 5 == 0 and abs(shown - in_three_days(cast).q50) <= 2.5


def test_status_only_a_delay_or_no_capacity_grant_show_no_expectation(client, forecast):
    cast = forecast
    grant = f.reshare(f.collaborative_grant(cast.south, cast.collab), detail="status")
    assert "in 3 days" not in south_cell(client, cast.people["viewer"], cast.collab.slug)
    grant = f.reshare(grant, detail="exact", delay_hours=48)
    assert "in 3 days" not in south_cell(client, cast.people["viewer"], cast.collab.slug)
    f.reshare(grant, delay_hours=0, groups=("flow",))
    assert "in 3 days" not in south_cell(client, cast.people["viewer"], cast.collab.slug)
