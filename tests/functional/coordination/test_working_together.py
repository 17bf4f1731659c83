"""Working together in a browser: a coordinator sets an objective on a live figure and reads
its progress; runs the daily call from its brief, records an action with an owner and a
decision; and later finds the decision with the picture as it stood, after the figures have
changed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from flotilla.authz.models import Role
from tests import factories as f
from tests.functional.conftest import axe_violations, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def river(db):
    north = f.OrganisationFactory(code="RN1", name="North Hospitals NHS Trust")
    south = f.OrganisationFactory(code="RS1", name="South Hospitals NHS Trust")
    collab = f.CollaborativeFactory(name="River System", organisation=north)
    f.join(collab, south)
    coordinator = f.UserFactory(username="coordinator", full_name="Cora Ward")
    f.member(coordinator, north, Role.COORDINATOR)
    lead = f.UserFactory(username="southlead", full_name="Sam Hale")
    f.member(lead, south, Role.REPORTER)
    earlier = timezone.now() - timedelta(minutes=30)
    f.report(north, earlier, ga_occupied=180, ga_open=200)
    f.report(south, earlier, ga_occupied=475, ga_open=500)
    return collab, north, south


def test_a_coordinator_sets_an_objective_on_a_measure_and_reads_its_progress(page, river):
    collab, _north, _south = river
    sign_in(page, "coordinator")
    page.goto(f"/c/{collab.slug}/objectives/")
    page.fill("#id_statement", "Keep G&A occupancy across the system at or below 92%")
    page.select_option("#id_measure", "ga_occupancy")
    page.select_option("#id_scope", "system")
    page.select_option("#id_comparison", "at_most")
    page.fill("#id_target", "92")
    page.select_option("#id_owner", label="Sam Hale (southlead)")
    page.get_by_role("button", name="Add objective").click()
    # 655 of 700 beds: 93.6%, over the target.
    expect(page.locator("#target")).to_have_text("G&A occupancy at most 92.0% across the system")
    expect(page.locator("#progress")).to_contain_text("Off track")
    expect(page.locator("#progress")).to_contain_text("93.6% now")
    expect(page.locator("#counted")).to_have_text(
        "Worked out from the figures of 2 of 2 members that report it."
    )
    assert not axe_violations(page)
    page.get_by_role("link", name="Objectives", exact=True).click()
    row = page.locator("#objectives tr", has_text="Keep G&A occupancy")
    expect(row).to_contain_text("Off track")
    assert not axe_violations(page)


def test_a_call_records_an_action_and_a_decision_whose_picture_outlasts_the_figures(page, river):
    collab, _north, south = river
    sign_in(page, "coordinator")
    page.goto(f"/c/{collab.slug}/call/brief")
    expect(page.locator("#brief-coverage")).to_have_text("2 of 2 members reported in the last 4 h.")
    expect(page.locator("#brief-trouble")).to_contain_text("South Hospitals NHS Trust")
    assert not axe_violations(page)
    page.get_by_role("button", name="Start today's call").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Minutes of")

    page.fill("#id_title", "Ring round for discharges before noon")
    page.select_option("#id_kind", "action")
    page.select_option("#id_owner", label="Sam Hale (southlead)")
    page.keyboard.press("Enter")
    expect(page.locator("#call-actions")).to_contain_text("A1 Ring round for discharges")
    expect(page.locator("#call-actions")).to_contain_text("Sam Hale")

    page.fill("#id_title", "Open the escalation ward at South")
    page.select_option("#id_kind", "decision")
    page.fill("#id_rationale", "South is at 95% with three ambulances waiting")
    page.fill("#id_decided_by", "System call chair")
    page.get_by_role("button", name="Record").click()
    expect(page.locator("#call-decisions")).to_contain_text("D1 Open the escalation ward")
    assert not axe_violations(page)

    # The figures move on: South reports again, much lower.
    f.report(south, timezone.now() - timedelta(minutes=1), ga_occupied=300, ga_open=500)
    page.goto(f"/c/{collab.slug}/log/?kind=decision&show=all")
    page.get_by_role("link", name="Open the escalation ward at South").click()
    expect(page.locator("#rationale")).to_have_text("South is at 95% with three ambulances waiting")
    snapshot = page.locator("#decision-picture tr[data-org='RS1'][data-site='']")
    expect(snapshot).to_contain_text("475")
    expect(snapshot).not_to_contain_text("300")
    assert not axe_violations(page)
    page.goto(f"/c/{collab.slug}/")
    expect(page.locator("#picture-table tr[data-org='RS1'][data-site='']")).to_contain_text("300")
