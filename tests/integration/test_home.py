"""The home page says what needs you now: reports due, what just changed, invitations."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from flotilla.accounts import actions as accounts
from flotilla.audit.principals import Principal
from flotilla.authz.models import Role
from flotilla.collaboratives import actions as collaboratives_actions
from flotilla.formatting import when
from flotilla.notifications import actions as notifications
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def now():
    return timezone.now().replace(microsecond=0)


def home(client, user) -> str:
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 200
    return response.content.decode()


def due_item(page: str, code: str) -> str:
    found = re.search(rf'<li class="flotilla-due__item" data-org="{code}"(.*?)</li>', page, re.S)
    assert found, f"{code} is not in the reports due"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found[0]))


def changes(page: str) -> list[str]:
    listed = re.search(
        r'<ul class="nhsuk-list nhsuk-list--bullet" id="changes">(.*?)</ul>', page, re.S
    )
    if not listed:
        return []
    items = re.findall(r"<li[^>]*>(.*?)</li>", listed[1], re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", i)).strip() for i in items]


def test_a_report_older_than_twice_the_interval_is_overdue_with_its_time_and_a_link(
    client, cast, now
):
    f.report(cast.north, now - timedelta(hours=9), ga_open=100)  # River System: every 4 h
    page = home(client, cast.people[Role.REPORTER])
    item = due_item(page, "RN1")
    assert "Overdue" in item
    assert f"last report {when(now - timedelta(hours=9))} (9 h ago)" in item
    assert "River System, every 4 h: overdue, its figures are marked stale" in item
    assert 'href="/o/RN1/report"' in page


def test_a_report_older_than_one_interval_is_due_and_a_recent_one_says_when_next(client, cast, now):
    f.report(cast.north, now - timedelta(hours=5), ga_open=100)
    assert "Due now" in due_item(home(client, cast.people[Role.REPORTER]), "RN1")
    f.report(cast.north, now - timedelta(hours=1), ga_open=100)
    item = due_item(home(client, cast.people[Role.REPORTER]), "RN1")
    assert "Up to date" in item
    assert f"next due by {when(now + timedelta(hours=3))}" in item


def test_each_collaboratives_interval_is_judged_on_its_own(client, cast, now):
    daily = f.CollaborativeFactory(name="Winter Daily", organisation=cast.north)
    collaboratives_actions.update_collaborative(
        by=f.SYSTEM, collaborative=daily, thresholds={}, reporting_interval_hours=24
    )
    f.report(cast.north, now - timedelta(hours=5), ga_open=100)
    item = due_item(home(client, cast.people[Role.REPORTER]), "RN1")
    assert "Due now" in item
    assert "River System, every 4 h: due now" in item
    assert f"Winter Daily, every 24 h: next due by {when(now + timedelta(hours=19))}" in item


def test_an_organisation_that_never_reported_is_overdue(client, cast):
    item = due_item(home(client, cast.people["south_reporter"]), "RS1")
    assert "Overdue" in item and "no report yet" in item
    assert "River System, every 4 h: overdue" in item


def test_the_most_pressing_organisation_comes_first(client, cast, now):
    f.member(cast.people[Role.REPORTER], cast.south, Role.REPORTER)
    f.report(cast.north, now - timedelta(hours=1), ga_open=100)
    page = home(client, cast.people[Role.REPORTER])
    assert re.findall(r'data-org="(\w+)" data-state="(\w+)"', page) == [
        ("RS1", "overdue"),
        ("RN1", "ok"),
    ]


def test_people_who_do_not_report_see_no_reports_due(client, cast):
    page = home(client, cast.people[Role.VIEWER])
    assert "Reports due" not in page
    assert "River System" in page


def test_a_commissioner_is_not_asked_to_report(client, cast):
    icb = f.OrganisationFactory(code="QXX", name="River Integrated Care Board", kind="commissioner")
    f.join(cast.collab, icb)
    planner = f.UserFactory(username="icb_planner")
    f.member(planner, icb, Role.ORG_ADMIN)
    page = home(client, planner)
    assert "Reports due" not in page
    assert "River System" in page


def test_organisations_that_joined_or_left_in_the_last_day_are_listed(client, cast):
    east = f.OrganisationFactory(code="RE1", name="East Hospitals NHS Trust")
    f.join(cast.collab, east)
    collaboratives_actions.leave(by=f.SYSTEM, collaborative=cast.collab, organisation=east)
    listed = changes(home(client, cast.people[Role.VIEWER]))
    assert any(c.startswith("East Hospitals NHS Trust left River System") for c in listed)
    assert any(c.startswith("East Hospitals NHS Trust joined River System") for c in listed)
    assert any(c.startswith("South Hospitals NHS Trust joined River System") for c in listed)


def test_opel_levels_that_went_up_or_down_in_the_last_day_are_listed(client, cast, now):
    f.report(cast.south, now - timedelta(hours=30), opel_declared=2)
    f.report(cast.south, now - timedelta(hours=2), opel_declared=4)
    f.report(cast.north, now - timedelta(hours=30), opel_declared=3)
    f.report(cast.north, now - timedelta(hours=1), opel_declared=2)
    listed = changes(home(client, cast.people[Role.VIEWER]))
    north, south = when(now - timedelta(hours=1)), when(now - timedelta(hours=2))
    assert f"North Hospitals NHS Trust went down to OPEL 2 (from OPEL 3) · {north}" in listed
    assert f"South Hospitals NHS Trust went up to OPEL 4 (from OPEL 2) · {south}" in listed
    # Newest first.
    assert listed.index(
        f"North Hospitals NHS Trust went down to OPEL 2 (from OPEL 3) · {north}"
    ) < (listed.index(f"South Hospitals NHS Trust went up to OPEL 4 (from OPEL 2) · {south}"))


def test_a_level_that_did_not_change_or_changed_long_ago_is_not_listed(client, cast, now):
    f.report(cast.south, now - timedelta(hours=50), opel_declared=2)
    f.report(cast.south, now - timedelta(hours=40), opel_declared=3)
    f.report(cast.south, now - timedelta(hours=2), opel_declared=3)
    assert not any("OPEL" in c for c in changes(home(client, cast.people[Role.VIEWER])))


def test_a_level_first_declared_in_the_last_day_is_listed(client, cast, now):
    f.report(cast.south, now - timedelta(hours=3), opel_declared=3)
    listed = changes(home(client, cast.people[Role.VIEWER]))
    assert any(c.startswith("South Hospitals NHS Trust declared OPEL 3") for c in listed)


def test_changes_are_read_only_as_the_owner_shares_them(client, cast, now):
    f.report(cast.south, now - timedelta(hours=30), opel_declared=2)
    f.report(cast.south, now - timedelta(hours=2), opel_declared=4)
    f.unshare(f.collaborative_grant(cast.south, cast.collab))
    assert not any("OPEL" in c for c in changes(home(client, cast.people[Role.VIEWER])))


def test_a_level_shared_late_is_compared_as_the_viewer_saw_it(client, cast, now):
    f.reshare(f.collaborative_grant(cast.south, cast.collab), delay_hours=6)
    f.report(cast.south, now - timedelta(hours=40), opel_declared=2)
    f.report(cast.south, now - timedelta(hours=10), opel_declared=4)
    f.report(cast.south, now - timedelta(hours=1), opel_declared=1)  # not yet shared
    listed = changes(home(client, cast.people[Role.VIEWER]))
    assert any(
        c.startswith("South Hospitals NHS Trust went up to OPEL 4 (from OPEL 2)") for c in listed
    )
    assert not any("OPEL 1" in c for c in listed)


def test_pending_invitations_stay_on_the_home_page(client, cast):
    collaboratives_actions.invite(
        by=cast.people[Role.COORDINATOR], collaborative=cast.collab, organisation=cast.outside
    )
    page = home(client, cast.people["outsider"])
    assert "Outside Hospitals NHS Trust</strong> is invited to join <strong>River System" in page


def test_many_organisations_joining_at_once_are_said_as_a_number(client, cast):
    for code in ("RE1", "RW1"):
        f.join(cast.collab, f.OrganisationFactory(code=code))
    listed = changes(home(client, cast.people[Role.VIEWER]))
    assert len(listed) == 1
    assert listed[0].startswith("4 organisations joined River System · ")


def test_an_admin_sees_access_requests_waiting_for_their_answer_first(client, cast):
    accounts.request_access(
        by=Principal(label="anonymous:ada@example.org"),
        organisation=cast.north,
        name="Ada Lovelace",
        email="ada@example.org",
        reason="New bed manager on nights",
    )
    page = home(client, cast.people[Role.ORG_ADMIN])
    assert 'id="access-requests"' in page
    assert "Ada Lovelace (ada@example.org) asks for access to North Hospitals NHS Trust" in page
    assert page.index('id="access-requests"') < page.index("Your collaboratives")
    assert 'id="access-requests"' not in home(client, cast.people[Role.REPORTER])


def test_unread_notifications_are_on_the_home_page_until_read(client, cast):
    admin = cast.people[Role.ORG_ADMIN]
    notifications.notify(by=admin, recipients=[admin], text="South joined River System.", link="/")
    assert "South joined River System." in home(client, admin)
    notifications.mark_read(by=admin, recipient=admin)
    assert "South joined River System." not in home(client, admin)
