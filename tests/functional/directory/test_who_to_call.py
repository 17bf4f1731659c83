"""Who to call, in a real browser: South's coordinator adds an on-call entry (a mistake
first, shown beside its box), and a person at North finds it on the collaborative's Who to
call page, with the number ready to dial; a member that shares no on-call contacts is said
to be not shared. Each page is checked with axe (WCAG 2.2 AA)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from flotilla.authz.models import Role
from tests import factories as f
from tests.functional.conftest import axe_violations, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def river(db):
    north = f.OrganisationFactory(code="RN1", name="North Hospitals NHS Trust")
    south = f.OrganisationFactory(code="RS1", name="South Hospitals NHS Trust")
    east = f.OrganisationFactory(code="RE1", name="East Hospitals NHS Trust")
    f.SiteFactory(code="RS101", name="South General", organisation=south)
    collab = f.CollaborativeFactory(name="River System", organisation=north)
    f.join(collab, south)
    f.join(collab, east)
    # East shares its figures, but not who to call.
    f.reshare(f.collaborative_grant(east, collab), groups=("capacity", "flow"))
    coordinator = f.UserFactory(username="south_coordinator")
    f.member(coordinator, south, Role.COORDINATOR)
    viewer = f.UserFactory(username="north_viewer")
    f.member(viewer, north, Role.VIEWER)
    return collab


def no_violations(page) -> None:
    violations = axe_violations(page)
    assert not violations, [
        (v["id"], v["help"], [n["target"] for n in v["nodes"]]) for v in violations
    ]


def test_a_coordinator_adds_an_entry_and_another_member_finds_who_to_call(open_page, river):
    page = open_page()
    sign_in(page, "south_coordinator")
    page.goto("/o/RS1/on-call")
    expect(page.get_by_text("No entries.")).to_be_visible()
    no_violations(page)
    page.fill("#id_role", "Site manager on call")
    page.select_option("#id_route", "phone")
    page.fill("#id_contact", "call the switchboard")
    page.fill("#id_hours", "24/7")
    page.select_option("#id_site", label="South General")
    page.get_by_role("button", name="Add entry").click()
    expect(page.locator("#contact-error")).to_contain_text("Enter a phone number")
    no_violations(page)
    page.fill("#id_contact", "0191 498 0101 ext 2200")
    page.get_by_role("button", name="Add entry").click()
    expect(page.locator("#directory")).to_contain_text("Site manager on call")
    no_violations(page)

    other = open_page()
    sign_in(other, "north_viewer")
    other.goto(f"/c/{river.slug}/on-call")
    south = other.locator("#org-RS1")
    expect(south).to_contain_text("Site manager on call, South General")
    expect(south.get_by_role("link", name="0191 498 0101 ext 2200")).to_have_attribute(
        "href", "tel:01914980101,2200"
    )
    expect(other.locator("#org-RE1")).to_contain_text("Not shared with you")
    no_violations(other)
    other.goto("/o/RS1/on-call")
    expect(other.get_by_role("button", name="Add entry")).to_have_count(0)
    no_violations(other)


def test_the_change_page_is_accessible_and_removes_an_entry(page, river):
    south = river.memberships.get(organisation__code="RS1").organisation
    coordinator = south.memberships.get().user
    entry = f.on_call(south, by=coordinator, role="Bed manager", route="bleep", contact="4321")
    sign_in(page, "south_coordinator")
    page.goto(f"/o/RS1/on-call/{entry.pk}")
    no_violations(page)
    page.get_by_role("button", name="Remove Bed manager").click()
    expect(page.get_by_text("Removed: Bed manager.")).to_be_visible()
    expect(page.locator("#directory")).to_contain_text("No entries.")
