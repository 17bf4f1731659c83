"""A coordinator asks to be warned days ahead: they add a forecast rule on the collaborative's
alert rules page, and once the member's forecasts are judged, the alert page says how high the
forecast goes, from which day it is over the line, what it was made from, and links to the
forecast itself."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from flotilla.alerts.models import Alert
from flotilla.authz.models import Role
from flotilla.planning import actions as planning
from flotilla.planning.models import Forecast
from tests import factories as f
from tests.functional.conftest import axe_violations, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def forecast_world(db):
    north = f.OrganisationFactory(code="RN1", name="North Hospitals NHS Trust")
    south = f.OrganisationFactory(code="RS1", name="South Hospitals NHS Trust")
    collab = f.CollaborativeFactory(name="River System", organisation=north)
    f.join(collab, south)
    coordinator = f.UserFactory(username="coordinator")
    f.member(coordinator, north, Role.COORDINATOR)
    morning = timezone.localtime().replace(hour=8, minute=0, second=0, microsecond=0)
    for n in range(21, 0, -1):
        f.report(south, morning - timedelta(days=n), ga_open=200, ga_occupied=150 + n % 5)
    planning.recompute(organisation=south)
    f.run_alert_jobs()
    return collab, south


def test_a_coordinator_adds_a_forecast_rule_and_reads_the_alert_it_opens(page, forecast_world):
    collab, south = forecast_world
    today = timezone.localdate()
    medians = Forecast.objects.filter(
        organisation=south, measure="ga_occupied", target__lte=today + timedelta(days=2)
    ).values_list("q50", flat=True)
    threshold = math.floor(max(medians)) - 2

    sign_in(page, "coordinator")
    page.goto(f"/c/{collab.slug}/alerts/")
    page.select_option("#id_kind", "forecast")
    page.select_option("#id_measure", "ga_occupied")
    page.select_option("#id_organisation", label="South Hospitals NHS Trust")
    page.fill("#id_threshold", str(threshold))
    page.fill("#id_within_days", "2")
    page.get_by_role("button", name="Add rule").click()
    described = (
        f"Forecast general & acute (all ages): beds occupied of South Hospitals NHS Trust "
        f"at or above {threshold} within 2 days (median)"
    )
    expect(page.get_by_role("cell", name=described, exact=True)).to_be_visible()

    f.run_alert_jobs()  # as the worker would, on the rule just added
    alert = Alert.objects.get()
    page.goto("/alerts/")
    page.get_by_role("link", name=described).click()
    figure = page.locator("#alert-figure")
    expect(figure).to_contain_text(f"{round(alert.value)} at the highest within 2 days")
    expect(figure).to_contain_text("at or above the threshold from")
    page.get_by_role("link", name="See South Hospitals NHS Trust's forecast").click()
    page.wait_for_url(f"**/o/{south.code}/")
    page.go_back()
    assert not axe_violations(page)
