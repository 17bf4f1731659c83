"""The after-action replay in a browser: a coordinator chooses a past period, steps forward
with Next and by a step's time, and sees the figures change as they did; with no script of
its own, and no serious accessibility violation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from flotilla.authz.models import Role
from flotilla.formatting import when
from tests import factories as f
from tests.functional.conftest import axe_violations, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

H = timedelta(hours=1)


@pytest.fixture
def morning(db):
    """The six hours to the start of this hour: South's G&A beds occupied 80 an hour in,
    99 two hours in; North calm throughout."""
    north = f.OrganisationFactory(code="RN1", name="North Hospitals NHS Trust")
    south = f.OrganisationFactory(code="RS1", name="South Hospitals NHS Trust")
    collab = f.CollaborativeFactory(name="River System", organisation=north)
    f.join(collab, south)
    coordinator = f.UserFactory(username="coordinator", full_name="Cora Ward")
    f.member(coordinator, north, Role.COORDINATOR)
    start = timezone.localtime().replace(minute=0, second=0, microsecond=0) - 6 * H
    f.report(north, start + H, **f.CALM)
    f.report(south, start + H, **f.CALM)
    f.report(south, start + 2 * H, **f.HOT)
    return collab, start


def _field(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def test_a_coordinator_replays_a_past_period_and_sees_a_figure_change_step_by_step(page, morning):
    collab, start = morning
    sign_in(page, "coordinator")
    page.goto(f"/c/{collab.slug}/work/")
    page.get_by_role("link", name="Replay", exact=True).click()
    expect(page.get_by_role("heading", name="After-action replay")).to_be_visible()

    page.fill("#from", _field(start))
    page.fill("#to", _field(start + 6 * H))
    page.select_option("#step", "1h")
    page.get_by_role("button", name="Replay").click()
    expect(page.locator("#step-heading")).to_contain_text("Step 1 of 7")
    occupied = page.locator("#picture-table tr[data-org='RS1'] td[data-measure='ga_occupied']")
    expect(occupied).to_contain_text("not reported")

    page.locator("#steps").get_by_role("link", name=when(start + H)).click()
    expect(page.locator("#step-heading")).to_contain_text("Step 2 of 7")
    expect(occupied).to_have_text("80")
    expect(page.locator("#steps [aria-current=step]")).to_have_text(when(start + H))
    assert not axe_violations(page)

    page.get_by_role("link", name="Next").click()
    expect(page.locator("#step-heading")).to_contain_text("Step 3 of 7")
    expect(occupied).to_contain_text("99")
    expect(page.locator("#changes")).to_contain_text("80 → 99")
    expect(page.locator("#steps [aria-current=step]")).to_have_text(when(start + 2 * H))

    page.get_by_role("link", name="Previous").click()
    expect(occupied).to_have_text("80")


def test_a_period_with_too_many_steps_is_refused_on_the_page(page, morning):
    collab, start = morning
    sign_in(page, "coordinator")
    page.goto(f"/c/{collab.slug}/replay")
    page.fill("#from", _field(start - timedelta(days=5)))
    page.fill("#to", _field(start))
    page.select_option("#step", "1h")
    page.get_by_role("button", name="Replay").click()
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("a replay has at most 60")
    expect(page.locator("#step-error")).to_be_visible()
    assert not axe_violations(page)
