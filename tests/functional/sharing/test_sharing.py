"""An organisation admin narrows what a fellow member sees; the member's dashboard obeys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flotilla.authz.models import Role
from flotilla.sharing.models import Grant
from tests import factories as f
from tests.functional.conftest import axe_violations, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def system(db):
    north = f.OrganisationFactory(code="RN1", name="North Hospitals NHS Trust")
    south = f.OrganisationFactory(code="RS1", name="South Hospitals NHS Trust")
    collab = f.CollaborativeFactory(name="River System", organisation=north)
    f.join(collab, south)
    f.member(f.UserFactory(username="admin"), south, Role.ORG_ADMIN)
    f.member(f.UserFactory(username="viewer"), north, Role.VIEWER)
    f.report(south, datetime.now(UTC) - timedelta(hours=1), ga_open=203, ga_occupied=150, nctr=12)
    return collab


def test_an_admin_narrows_a_grant_and_a_member_sees_rounded_figures_at_once(page, system):
    sign_in(page, "admin")
    grant = Grant.objects.get(owner__code="RS1")
    page.goto("/o/RS1/sharing")
    page.click(f"a[href='/o/RS1/sharing/{grant.pk}']")
    page.uncheck("input[name=groups][value=flow]")
    page.check("input[name=detail][value=banded]")
    page.fill("#id_purpose", "Rounded until the board agrees otherwise.")
    page.click("text=Save the change")
    page.wait_for_selector(".flotilla-message")
    assert "Rounded until the board agrees otherwise." in page.content()
    assert Grant.objects.filter(owner__code="RS1", end_reason="changed").count() == 1

    page.context.clear_cookies()
    sign_in(page, "viewer")
    page.goto(f"/c/{system.slug}/")
    row = page.locator("tr[data-org='RS1']").inner_text()
    assert "≈205" in row and "70–75%" in row
    assert "not shared" in row  # no criteria to reside is flow
    assert "203" not in row


def test_a_grant_with_mistakes_is_explained_and_not_saved(page, system):
    sign_in(page, "admin")
    page.goto("/o/RS1/sharing/new")
    page.check("input[name=audience][value=organisation]")
    page.fill("#id_audience_organisation", "RZZ")
    page.click("text=Add the grant")
    page.wait_for_selector(".nhsuk-error-summary")
    summary = page.inner_text(".nhsuk-error-summary")
    assert "RZZ" in summary
    assert "at least one group" in summary
    assert Grant.objects.filter(owner__code="RS1").count() == 1


@pytest.mark.parametrize("path", ["/o/RS1/sharing", "/o/RS1/sharing/new", "/o/RS1/access"])
def test_the_sharing_pages_have_no_serious_accessibility_violations(page, system, path):
    sign_in(page, "admin")
    page.goto(path)
    if path.endswith("/new"):
        page.click("text=Add the grant")
        page.wait_for_selector(".nhsuk-error-summary")
    violations = axe_violations(page)
    assert not violations, [
        (v["id"], v["help"], [n["target"] for n in v["nodes"]]) for v in violations
    ]
