"""The dedicated team in a browser: a coordinator moves a person's hours from one workstream
to another in one step, and sees both workstreams' allocations change against what each
asked for, the person's week stay whole, and the move in the history."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from flotilla.authz.models import Role
from flotilla.coordination import queries
from tests import factories as f
from tests.functional.conftest import axe_violations, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def team(db):
    north = f.OrganisationFactory(code="RN1", name="North Hospitals NHS Trust")
    collab = f.CollaborativeFactory(name="River System", organisation=north)
    coordinator = f.UserFactory(username="coordinator", full_name="Cora Ward")
    f.member(coordinator, north, Role.COORDINATOR)
    alex = f.UserFactory(username="alex", full_name="Alex Reed")
    f.member(alex, north, Role.VIEWER)
    f.role(alex, collab, north, "team", by=coordinator)
    discharge = f.workstream(by=coordinator, collaborative=collab, name="Discharge")
    flow = f.workstream(by=coordinator, collaborative=collab, name="Flow")
    week = queries.monday_of(timezone.localdate())
    f.ask(discharge, week, 6, by=coordinator)
    f.ask(flow, week, 4, by=coordinator)
    f.allocate(alex, discharge, week, 10, by=coordinator)
    return collab, alex, discharge, flow, week


def test_a_coordinator_moves_hours_from_one_workstream_to_another_and_sees_both_change(page, team):
    collab, alex, discharge, flow, week = team
    cell = f"{week.isoformat()}"
    sign_in(page, "coordinator")
    page.goto(f"/c/{collab.slug}/team")
    expect(page.locator(f"#allocated-{discharge.pk}-{cell}")).to_have_text("10")
    expect(page.locator(f"#allocated-{flow.pk}-{cell}")).to_have_text("0")
    grid = page.locator("#team-grid")
    expect(grid.locator("tr", has_text="Discharge")).to_contain_text("Over by 4")
    expect(grid.locator("tr", has_text="Flow")).to_contain_text("Short by 4")
    assert not axe_violations(page)

    page.select_option("#id_move_person", label="Alex Reed (alex)")
    expect(page.locator("#id_move_week")).to_have_value(week.isoformat())
    page.select_option("#id_from_workstream", label="Discharge")
    page.select_option("#id_to_workstream", label="Flow")
    page.fill("#id_move_hours", "4")
    page.get_by_role("button", name="Move hours").click()

    expect(page.get_by_text("Moved 4 hours of alex's week")).to_be_visible()
    expect(page.locator(f"#allocated-{discharge.pk}-{cell}")).to_have_text("6")
    expect(page.locator(f"#allocated-{flow.pk}-{cell}")).to_have_text("4")
    expect(grid.locator("tr", has_text="Discharge")).to_contain_text("As asked")
    expect(grid.locator("tr", has_text="Flow")).to_contain_text("As asked")
    expect(page.locator(f"#total-{alex.pk}-{cell}")).to_have_text("10")
    expect(page.locator("#team-history")).to_contain_text(
        "alex on Discharge: 10 → 6 hours (4 moved to Flow)"
    )
    assert not axe_violations(page)


def test_moving_more_hours_than_a_person_has_is_refused_beside_the_box(page, team):
    collab, _alex, discharge, _flow, week = team
    sign_in(page, "coordinator")
    page.goto(f"/c/{collab.slug}/team")
    page.select_option("#id_move_person", label="Alex Reed (alex)")
    page.select_option("#id_from_workstream", label="Discharge")
    page.select_option("#id_to_workstream", label="Flow")
    page.fill("#id_move_hours", "12")
    page.get_by_role("button", name="Move hours").click()
    summary = page.locator(".nhsuk-error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("alex has 10 hours on Discharge")
    expect(page.locator("#move_hours-error")).to_contain_text("you cannot move 12")
    expect(page.locator(f"#allocated-{discharge.pk}-{week.isoformat()}")).to_have_text("10")
    assert not axe_violations(page)
