"""A reporter submits figures and everyone in the collaborative sees them."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from flotilla.authz.models import Role
from flotilla.reporting.models import Observation
from tests import factories as f
from tests.functional.conftest import axe_violations, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def system(db):
    north = f.OrganisationFactory(code="RN1", name="North Hospitals NHS Trust")
    south = f.OrganisationFactory(code="RS1", name="South Hospitals NHS Trust")
    collab = f.CollaborativeFactory(name="River System", organisation=north)
    f.join(collab, south)
    reporter = f.UserFactory(username="reporter")
    f.member(reporter, north, Role.REPORTER)
    coordinator = f.UserFactory(username="coordinator")
    f.member(coordinator, south, Role.COORDINATOR)
    return collab


def test_a_reporter_submits_a_report_and_sees_it_on_the_dashboard(page, system):
    sign_in(page, "reporter")
    page.goto("/o/RN1/report")
    page.fill("#id_ga_open", "400")
    page.fill("#id_ga_occupied", "388")
    page.fill("#id_handover_over_60", "7")
    page.click("#submit-report")
    page.wait_for_selector(".flotilla-message")
    assert "Report saved: 3 figures" in page.inner_text(".flotilla-message")
    page.goto(f"/c/{system.slug}/")
    row = page.locator("tr[data-org='RN1']")
    assert "97.0%" in row.inner_text()
    assert "388" in row.inner_text()
    assert "1 of 2 organisations" in page.inner_text("#coverage")


def test_a_new_report_appears_on_an_open_dashboard_without_a_reload(page, system, settings):
    sign_in(page, "coordinator")
    page.goto(f"/c/{system.slug}/")
    assert "0 of 2 organisations" in page.inner_text("#coverage")
    # Poll quickly in the test; the page polls every 30 seconds in use.
    page.evaluate(
        "document.getElementById('picture').setAttribute('hx-trigger', 'every 1s');"
        "htmx.process(document.getElementById('picture'));"
    )
    from datetime import UTC, datetime

    north = system.memberships.get(organisation__code="RN1").organisation
    f.report(north, datetime.now(UTC), ga_open=100, ga_occupied=50)
    expect(page.locator("#coverage")).to_contain_text("1 of 2", timeout=10_000)
    assert "50.0%" in page.locator("tr[data-org='RN1']").inner_text()


def test_a_field_error_is_shown_beside_the_field_and_nothing_is_stored(page, system):
    sign_in(page, "reporter")
    page.goto("/o/RN1/report")
    page.fill("#id_ga_open", "lots")
    page.click("#submit-report")
    page.wait_for_selector(".nhsuk-error-summary")
    assert "Enter a number" in page.inner_text("#ga_open-error")
    assert page.input_value("#id_ga_open") == "lots"
    assert not Observation.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "/signin/",
        "/",
        "/c/{slug}/",
        "/o/RN1/",
        "/o/RN1/report",
        "/c/{slug}/members",
        "/collaboratives/",
    ],
)
def test_main_pages_have_no_serious_accessibility_violations(page, system, path):
    if path != "/signin/":
        sign_in(page, "reporter")
    page.goto(path.format(slug=system.slug))
    violations = axe_violations(page)
    assert not violations, [
        (v["id"], v["help"], [n["target"] for n in v["nodes"]]) for v in violations
    ]
