"""The fan on an organisation's and a site's chart pages: drawn where the viewer may see the
forecast, coarsened as the figures are, and absent where they may not."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from flotilla.planning import actions
from tests import factories as f

pytestmark = pytest.mark.django_db


def days_ago(n: int):
    moment = timezone.localtime() - timedelta(days=n)
    return moment.replace(hour=8, minute=0, second=0, microsecond=0)


def history(org, site=None, days: int = 16) -> None:
    for n in range(days, 0, -1):
        f.report(org, days_ago(n), site=site, ga_occupied=81 + (n % 7) * 3)
    actions.recompute(organisation=org)


def page(client, person, path="/o/RS1/"):
    client.force_login(person)
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


def test_the_organisation_page_draws_the_forecast_as_a_fan_after_the_history(client, cast):
    history(cast.south)
    html = page(client, cast.people["viewer"])
    assert html.count('class="fan95"') == 1 and html.count('class="fan50"') == 1
    assert 'class="median"' in html
    assert "Forecast after the figures, made from 16 days of figures" in html
    assert "Method: ensemble." in html


def test_a_site_page_draws_the_sites_own_forecast(client, aid):
    history(aid.south, site=aid.south_site, days=5)
    html = page(client, aid.people["viewer"], "/o/RS1/s/RS101/")
    assert 'class="fan95"' in html
    # The fallback is said, not hidden.
    assert "Method: short series (5 points): last value." in html
    assert 'class="fan95"' not in page(client, aid.people["viewer"], "/o/RS1/")


def test_a_banded_viewer_sees_the_fan_rounded_and_a_status_only_viewer_none(client, cast):
    history(cast.south)
    grant = f.reshare(f.collaborative_grant(cast.south, cast.collab), detail="banded")
    html = page(client, cast.people["viewer"])
    assert 'class="fan95"' in html
    expected = html.split("Expected on ")[1].split(":")[1].split("(")[0].strip()
    assert int(expected) % 5 == 0
    f.reshare(grant, detail="status")
    html = page(client, cast.people["viewer"])
    assert 'class="fan95"' not in html and "Forecast after the figures" not in html


def test_a_delayed_viewer_sees_no_fan_made_from_figures_too_new(client, cast):
    history(cast.south)
    f.reshare(f.collaborative_grant(cast.south, cast.collab), delay_hours=24 * 3)
    html = page(client, cast.people["viewer"])
    assert 'class="fan95"' not in html
    assert 'class="fan95"' in page(client, cast.people["south_reporter"])
