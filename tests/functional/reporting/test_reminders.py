"""A missed report, end to end: the reporter is reminded in the inbox and by email, the
coordinators see the organisation overdue, and reporting takes the reminder down."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from flotilla.authz.models import Role
from flotilla.notifications.delivery import deliver_due
from flotilla.notifications.models import Channel, Delivery
from flotilla.reporting import reminders
from tests import factories as f
from tests.functional.conftest import axe_violations, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def system(db):
    now = timezone.now()
    north = f.OrganisationFactory(code="RN1", name="North Hospitals NHS Trust")
    south = f.OrganisationFactory(code="RS1", name="South Hospitals NHS Trust")
    collab = f.CollaborativeFactory(name="River System", organisation=north)
    f.join(collab, south)
    # Every 4 hours is expected; North last reported 9 hours ago (overdue after 8).
    f.report(north, now - timedelta(hours=9), ga_open=100, ga_occupied=90)
    f.report(south, now - timedelta(minutes=20), ga_open=80, ga_occupied=60)
    reporter = f.UserFactory(username="north_reporter", email="beds@north.example")
    f.member(reporter, north, Role.REPORTER)
    coordinator = f.UserFactory(username="south_coordinator")
    f.member(coordinator, south, Role.COORDINATOR)
    return collab


def test_a_missed_report_is_reminded_seen_overdue_and_cleared_by_reporting(page, system):
    [reminder] = reminders.send_due()
    assert reminder.organisation.code == "RN1"

    # The email waits in the outbox and goes when the worker sends what is due.
    [email] = Delivery.objects.filter(channel=Channel.EMAIL)
    assert email.recipient.username == "north_reporter"
    mail.outbox.clear()
    deliver_due()
    [message] = mail.outbox
    assert message.to == ["beds@north.example"]
    assert "report to River System was due at" in message.body

    sign_in(page, "north_reporter")
    assert "Inbox (1 unread)" in page.inner_text("header")
    page.goto("/inbox")
    assert "North Hospitals NHS Trust's report to River System was due at" in page.inner_text(
        "main"
    )
    violations = axe_violations(page)
    assert not violations, [(v["id"], [n["target"] for n in v["nodes"]]) for v in violations]

    coordinator = page.context.browser.new_context(base_url=page.url.rsplit("/inbox", 1)[0])
    other = coordinator.new_page()
    sign_in(other, "south_coordinator")
    other.goto(f"/c/{system.slug}/")
    north_row = other.locator("#picture-table tbody tr[data-org='RN1']")
    assert "Overdue" in north_row.inner_text()
    south_row = other.locator("#picture-table tbody tr[data-org='RS1']")
    assert "Overdue" not in south_row.inner_text()
    assert "1 organisation not reported for 8 h" in other.inner_text("#trouble")
    coordinator.close()

    page.goto("/o/RN1/report")
    page.fill("#id_ga_open", "100")
    page.fill("#id_ga_occupied", "91")
    page.click("#submit-report")
    page.wait_for_selector(".nhsuk-notification-banner, .nhsuk-panel, h1")
    page.goto("/inbox")
    assert "Nothing unread." in page.inner_text("main")
    assert "Inbox (" not in page.inner_text("header")
    reminder.refresh_from_db()
    assert reminder.cleared_at is not None
