"""A coordinator opens the planning page, runs today's plan, and reads the overflow, the
lower bound no plan can beat, the moves on a table and a map, and who was left out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flotilla.authz.models import Role
from flotilla.organisations import actions as organisations_actions
from tests import factories as f
from tests.functional.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def placed(code: str, name: str, lat: float, lon: float):
    org = f.OrganisationFactory(code=code, name=name)
    return organisations_actions.register_organisation(
        by=f.SYSTEM, code=code, name=name, kind=org.kind, latitude=lat, longitude=lon
    )


@pytest.fixture
def system(db):
    at = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    north = placed("RN1", "North Hospitals NHS Trust", 53.80, -1.55)
    south = placed("RS1", "South Hospitals NHS Trust", 53.79, -1.75)
    far = placed("RF1", "Far Hospitals NHS Trust", 51.51, -0.13)
    banded = placed("RB1", "Banded Hospitals NHS Trust", 53.79, -1.70)
    collab = f.CollaborativeFactory(name="River System", organisation=north)
    for org in (south, far, banded):
        f.join(collab, org)
    f.reshare(f.collaborative_grant(banded, collab), detail="banded")
    # North: 120 in 100 beds (safe capacity 92 at 92%): 28 over. South has room for 22,
    # Far has room but is 300 km away, Banded's room is not known to the planner.
    f.report(north, at, ga_open=100, ga_occupied=120)
    f.report(south, at, ga_open=100, ga_occupied=70)
    f.report(far, at, ga_open=100, ga_occupied=10)
    f.report(banded, at, ga_open=100, ga_occupied=10)
    coordinator = f.UserFactory(username="coordinator")
    f.member(coordinator, north, Role.COORDINATOR)
    return collab


def test_a_coordinator_runs_todays_plan_and_reads_the_moves_the_lower_bound_and_who_was_left_out(
    page, system
):
    sign_in(page, "coordinator")
    page.goto(f"/c/{system.slug}/")
    page.click("text=Balance the load")
    page.wait_for_url("**/planning")
    assert page.input_value("#safe_occupancy") == "92"
    page.fill("#radius_km", "60")
    page.click("text=Make the plan")
    page.wait_for_selector("#result")

    assert page.inner_text("#overflow-before") == "28 patients above safe capacity"
    assert page.inner_text("#overflow-after").startswith("6 patients")
    # 200 patients in 276 safe beds: every patient fits somewhere, however far.
    assert page.inner_text("#lower-bound").startswith("0 patients")
    assert "where no place within 60 km has room" in page.inner_text("#lower-bound")
    rows = page.locator("#moves tbody tr")
    assert rows.count() == 1
    assert rows.first.inner_text().split("\t")[-4:] == [
        "North Hospitals NHS Trust",
        "South Hospitals NHS Trust",
        "22",
        "13.2 km",
    ]
    assert page.locator("#plan-map line[marker-end]").count() == 1
    assert page.locator("#plan-map .flotilla-place--over").count() == 1
    assert "Banded Hospitals NHS Trust: shares its bed figures with you only as a band" in (
        page.inner_text("#left-out")
    )

    # The next 7 days: none has a forecast yet (no history), so each is left out and named.
    page.select_option("#days", "7")
    page.click("text=Make the plan")
    page.wait_for_selector("#result")
    assert "the next 7 days" in page.inner_text("#result")
    assert "has no forecast of occupied beds you may see" in page.inner_text("#left-out")


@pytest.fixture
def two_moves(db):
    """North and West overflow; South and East have room nearby: a plan of two moves."""
    at = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    north = placed("RN1", "North Hospitals NHS Trust", 53.80, -1.55)
    west = placed("RW1", "West Hospitals NHS Trust", 53.72, -1.90)
    south = placed("RS1", "South Hospitals NHS Trust", 53.79, -1.75)
    east = placed("RE1", "East Hospitals NHS Trust", 53.80, -1.40)
    collab = f.CollaborativeFactory(name="River System", organisation=north)
    for org in (west, south, east):
        f.join(collab, org)
    f.report(north, at, ga_open=100, ga_occupied=100)  # 8 over
    f.report(west, at, ga_open=100, ga_occupied=97)  # 5 over
    f.report(south, at, ga_open=100, ga_occupied=80)  # room for 12
    f.report(east, at, ga_open=100, ga_occupied=80)  # room for 12
    people = {}
    for org, name in ((north, "coordinator"), (west, "west"), (south, "south"), (east, "east")):
        people[name] = f.UserFactory(username=name)
        f.member(people[name], org, Role.COORDINATOR)
    return collab


def test_two_moves_become_drafts_that_the_organisations_on_each_side_then_see(
    browser, live_server, two_moves
):
    def person(username):
        context = browser.new_context(base_url=live_server.url, locale="en-GB")
        page = context.new_page()
        sign_in(page, username)
        return page

    planner = person("coordinator")
    planner.goto(f"/c/{two_moves.slug}/planning?bed=ga&safe_occupancy=92&radius_km=40")
    moves = planner.locator("#moves tbody tr")
    assert moves.count() == 2
    senders = {row.inner_text().split("\t")[1] for row in moves.all()}
    assert senders == {"North Hospitals NHS Trust", "West Hospitals NHS Trust"}
    planner.check("#move-1")
    planner.check("#move-2")
    planner.click("text=Turn the chosen moves into drafts")
    planner.wait_for_url("**/planning/drafts")
    assert planner.locator("#drafts tbody tr").count() == 4
    planner.context.close()

    receivers = set()
    for who in ("west", "south", "east"):
        page = person(who)
        page.goto(f"/c/{two_moves.slug}/aid")
        if page.locator("#drafts").count():
            text = page.inner_text("#drafts")
            assert "waiting for you to raise or dismiss" in text
            receivers.add(who)
            if who == "west":
                assert "Ask " in text and "patients" in text
            else:
                assert "Offer " in text and "beds" in text
        page.context.close()
    assert "west" in receivers and receivers & {"south", "east"}


@pytest.fixture
def forecast_system(db):
    """North runs near 98 of 100 beds for three weeks, South near 60; both forecast."""
    from flotilla.planning import actions as planning_actions

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    north = placed("RN1", "North Hospitals NHS Trust", 53.80, -1.55)
    south = placed("RS1", "South Hospitals NHS Trust", 53.79, -1.75)
    collab = f.CollaborativeFactory(name="River System", organisation=north)
    f.join(collab, south)
    for n in range(21, 0, -1):
        day = now - timedelta(days=n)
        f.report(north, day, ga_open=100, ga_occupied=95 + n % 7)
        f.report(south, day, ga_open=100, ga_occupied=57 + n % 7)
    f.report(north, now - timedelta(hours=1), ga_open=100, ga_occupied=99)
    f.report(south, now - timedelta(hours=1), ga_open=100, ga_occupied=61)
    for org in (north, south):
        planning_actions.recompute(organisation=org)
    coordinator = f.UserFactory(username="coordinator")
    f.member(coordinator, north, Role.COORDINATOR)
    return collab


def test_a_coordinator_plans_the_next_seven_days_from_the_forecasts(page, forecast_system):
    sign_in(page, "coordinator")
    page.goto(f"/c/{forecast_system.slug}/planning")
    page.select_option("#days", "7")
    page.click("text=Make the plan")
    page.wait_for_selector("#result")
    assert "the next 7 days" in page.inner_text("#result")
    assert "patient-days above safe capacity over the 7 days" in page.inner_text("#overflow-before")
    assert page.inner_text("#lower-bound").startswith("0.0 patient-days")
    (row,) = page.locator("#moves tbody tr").all()
    cells = row.inner_text().split("\t")
    assert cells[1:3] == ["North Hospitals NHS Trust", "South Hospitals NHS Trust"]
    assert float(cells[3]) > 1
    assert page.locator("#plan-map line[marker-end]").count() == 1
