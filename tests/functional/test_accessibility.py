"""Every page a person can reach, in a real browser, checked with axe (WCAG 2.2 AA).

Add a page with one line in `PAGES`: who visits (a role below, or None for a visitor who is
not signed in), the address (``{slug}`` and ``{grant}`` are filled in), and optionally the
text of a button to press first (to see the page with its errors). Pages reached only by a
one-time link (joining, a first-admin link, deciding an access request, a paused form) are
checked where those links are made, in tests/functional/accounts/test_onboarding.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from flotilla.alerts.models import Alert
from flotilla.authz.models import Role
from flotilla.exchange import actions as exchange_actions
from flotilla.notifications import actions as notifications
from flotilla.notifications.models import Notification
from flotilla.sharing.models import Grant
from tests import factories as f
from tests.functional.conftest import axe_violations, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@dataclass(frozen=True)
class Visit:
    who: str | None
    path: str = ""
    press: str = ""
    fill: tuple[tuple[str, str], ...] = ()
    #: A named route instead of a path, for pages whose address is not fixed here.
    route: str = ""
    args: tuple[str, ...] = ()


PAGES: dict[str, Visit] = {
    "sign in": Visit(None, "/signin/"),
    "not found, signed out": Visit(None, "/no-such-page"),
    "password reset": Visit(None, route="accounts:password_reset"),
    "request access": Visit(None, route="accounts:find_organisation"),
    "request access to one organisation, with errors": Visit(
        None, route="accounts:request_access", args=("RN1",), press="Send"
    ),
    "home": Visit("admin", "/"),
    "collaboratives": Visit("admin", "/collaboratives/"),
    "new collaborative": Visit("admin", "/collaboratives/new"),
    "new collaborative, with errors": Visit("admin", "/collaboratives/new", "Start the"),
    "members": Visit("coordinator", "/c/{slug}/members"),
    "leave, asking first": Visit("admin", "/c/{slug}/leave/RN1"),
    "settings": Visit("coordinator", "/c/{slug}/settings"),
    "settings, with errors": Visit(
        "coordinator", "/c/{slug}/settings", "Save", (("#id_nctr_amber", "lots"),)
    ),
    "dashboard": Visit("viewer", "/c/{slug}/"),
    "dashboard, filtered and sorted": Visit(
        "viewer", "/c/{slug}/?bed=ga&rag=red&stale=no&sort=ga_occupancy&order=desc"
    ),
    "dashboard, a filter it cannot use": Visit("viewer", "/c/{slug}/?rag=purple"),
    "balance the load": Visit("coordinator", "/c/{slug}/planning", "Make the plan"),
    "balance the load, the next 7 days": Visit(
        "coordinator", "/c/{slug}/planning?bed=ga&safe_occupancy=92&radius_km=50&days=7"
    ),
    "balance the load, with errors": Visit(
        "coordinator", "/c/{slug}/planning", "Make the plan", (("#radius_km", "far"),)
    ),
    "organisation": Visit("viewer", "/o/RS1/"),
    "site": Visit("viewer", "/o/RS1/s/RS101/"),
    "report form": Visit("reporter", "/o/RN1/report"),
    "report form, with errors": Visit(
        "reporter", "/o/RN1/report", "Submit report", (("#id_ga_open", "lots"),)
    ),
    "upload": Visit("reporter", "/o/RN1/import"),
    "upload, with errors": Visit("reporter", "/o/RN1/import", "Upload"),
    "tokens": Visit("admin", "/o/RN1/tokens"),
    "tokens, with errors": Visit("admin", "/o/RN1/tokens", "Issue token"),
    "who can see our data": Visit("admin", "/o/RN1/sharing"),
    "new sharing grant": Visit("admin", "/o/RN1/sharing/new"),
    "new sharing grant, with errors": Visit("admin", "/o/RN1/sharing/new", "Add the grant"),
    "change a sharing grant": Visit("admin", "/o/RN1/sharing/{grant}"),
    "access record": Visit("admin", "/o/RN1/access"),
    "inbox": Visit("admin", "/inbox"),
    "not found, signed in": Visit("admin", "/c/no-such-collaborative/"),
    "people": Visit("admin", route="accounts:people", args=("RN1",)),
    "aid board": Visit("viewer", "/c/{slug}/aid"),
    "ask for help": Visit("coordinator", "/c/{slug}/aid/ask?kind=transfer"),
    "aid request, as the organisation that asked": Visit(
        "coordinator", "/aid/requests/{aid_request}"
    ),
    "offer help": Visit("coordinator", "/aid/requests/{aid_request}/offer"),
    "offer help, with errors": Visit(
        "coordinator",
        "/aid/requests/{aid_request}/offer",
        "Make the offer",
        (("#id_quantity", "lots"),),
    ),
    "aid ledger": Visit("viewer", "/c/{slug}/aid/ledger"),
    "after-action replay": Visit("viewer", "/c/{slug}/replay"),
    "dedicated team": Visit("coordinator", "/c/{slug}/team"),
    "drafts from plans": Visit("coordinator", "/c/{slug}/planning/drafts"),
    "a draft from a plan": Visit("coordinator", "/plans/drafts/{north_draft}"),
    "a draft from a plan, with errors": Visit(
        "coordinator", "/plans/drafts/{north_draft}", "Raise the request", (("#quantity", "lots"),)
    ),
    "aid board with drafts waiting": Visit("coordinator", "/c/{slug}/aid"),
    "your alerts": Visit("coordinator", "/alerts/"),
    "an alert": Visit("coordinator", "/alerts/{alert}"),
    "alert rules": Visit("coordinator", "/c/{slug}/alerts/"),
    "alert rules, with errors": Visit(
        "coordinator", "/c/{slug}/alerts/", "Add rule", (("#id_threshold", "lots"),)
    ),
    "your own rules": Visit("viewer", "/alerts/rules"),
}

PASSWORD = "correct horse battery staple"


@pytest.fixture
def world(db):
    """Two trusts in a collaborative, a site each, figures, and a person in every role."""
    north = f.OrganisationFactory(code="RN1", name="North Hospitals NHS Trust")
    south = f.OrganisationFactory(code="RS1", name="South Hospitals NHS Trust")
    north_site = f.SiteFactory(code="RN101", name="North General", organisation=north)
    south_site = f.SiteFactory(code="RS101", name="South General", organisation=south)
    collab = f.CollaborativeFactory(name="River System", organisation=north)
    f.join(collab, south)
    people = {}
    for role, name in [
        (Role.VIEWER, "viewer"),
        (Role.REPORTER, "reporter"),
        (Role.COORDINATOR, "coordinator"),
        (Role.ORG_ADMIN, "admin"),
    ]:
        people[name] = f.UserFactory(username=name)
        f.member(people[name], north, role)
    south_coordinator = f.UserFactory(username="south_coordinator")
    f.member(south_coordinator, south, Role.COORDINATOR)
    east = f.OrganisationFactory(code="RE1", name="East Hospitals NHS Trust")
    f.join(collab, east)
    now = datetime.now(UTC)
    # Every way a figure can look: red, amber, green, stale, missing, rounded, late, status
    # only and not shared, so that the colours of each are checked against their background.
    for hours_ago in (30, 2):
        at = now - timedelta(hours=hours_ago)
        f.report(north, at, ga_open=400, ga_occupied=395, opel_declared=3, nctr=None)
        f.report(south, at, ga_open=200, ga_occupied=195, handover_over_60=12)
        f.report(south, at, site=south_site, ga_open=200, ga_occupied=186)
    f.report(east, now - timedelta(hours=30), ga_open=300, ga_occupied=280, nctr=120)
    f.report(north, now - timedelta(hours=30), cc_adult_open=20, cc_adult_occupied=19)
    f.reshare(f.collaborative_grant(south, collab), detail="status")
    f.reshare(
        f.collaborative_grant(east, collab), groups=("capacity",), detail="banded", delay_hours=4
    )
    notifications.notify(
        by=f.SYSTEM,
        recipients=[people["admin"]],
        text="South Hospitals NHS Trust joined River System.",
        link="/o/RN1/sharing",
    )
    grant = Grant.objects.filter(owner=north, ended_at__isnull=True).first()
    # Mutual aid: North asks; South offers for it and North takes up one, which is given.
    aid_request = f.aid_request(
        by=people["coordinator"],
        organisation=north,
        collaborative=collab,
        site=north_site,
        quantity=3,
    )
    offer = f.offer(
        by=south_coordinator, organisation=south, site=south_site, request=aid_request, quantity=2
    )
    taken = exchange_actions.commit(by=people["coordinator"], offer=offer, quantity=1)
    for to in ("in_progress", "fulfilled"):
        exchange_actions.move_commitment(by=south_coordinator, commitment=taken, to=to)
    # A plan's move from North to South, put to both as drafts.
    north_draft, _ = f.draft(
        by=people["coordinator"], collaborative=collab, sender=north, receiver=south
    )
    # An alert: North's G&A beds occupied at or above 300, told to its coordinator.
    f.alert_rule(
        by=people["coordinator"],
        collaborative=collab,
        measure="ga_occupied",
        organisation=north,
        threshold=300,
    )
    f.run_alert_jobs()
    return {
        "slug": collab.slug,
        "grant": grant.pk,
        "aid_request": aid_request.pk,
        "north_draft": north_draft.pk,
        "alert": Alert.objects.get().pk,
    }


def _address(visit: Visit, world: dict) -> str:
    if not visit.route:
        return visit.path.format(**world)
    return reverse(visit.route, args=visit.args)


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_has_no_serious_accessibility_violations(page, world, name):
    visit = PAGES[name]
    address = _address(visit, world)
    if visit.who:
        sign_in(page, visit.who, PASSWORD)
    page.goto(address)
    for selector, text in visit.fill:
        page.fill(selector, text)
    if visit.press:
        page.get_by_role("button", name=visit.press).first.click()
        page.wait_for_load_state()
    violations = axe_violations(page)
    assert not violations, [
        (v["id"], v["help"], [n["target"] for n in v["nodes"]]) for v in violations
    ]


def test_the_error_summary_takes_focus_so_a_screen_reader_reads_it_first(page, world):
    sign_in(page, "admin", PASSWORD)
    page.goto("/collaboratives/new")
    page.get_by_role("button", name="Start the collaborative").click()
    page.wait_for_selector(".nhsuk-error-summary")
    expect(page.locator(".nhsuk-error-summary")).to_be_focused()
    assert "Enter a name for the collaborative" in page.inner_text(".nhsuk-error-summary")


def test_the_header_menu_and_components_are_started(page, world):
    sign_in(page, "admin", PASSWORD)
    page.goto("/")
    # NHS.UK frontend marks each component it starts.
    page.wait_for_selector("[data-nhsuk-header-init]", state="attached")
    unread = Notification.objects.filter(recipient__username="admin").count()
    assert unread >= 2  # the one above, and East joining the collaborative
    assert f"Inbox ({unread} unread)" in page.inner_text("header")
