"""The directory pages through the Django client: a coordinator keeps the organisation's
directory (mistakes beside their boxes), others read it as it is shared with them, a
collaborative's Who to call page says "not shared with you" rather than show nothing, its
CSV is safe to open, and the aid board and an alert's page lead to it."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from flotilla.authz.models import Role
from flotilla.directory.models import OnCallEntry
from tests import factories as f

pytestmark = pytest.mark.django_db

NEW = {
    "role": "Critical care consultant on call",
    "route": "bleep",
    "contact": "1234",
    "hours": "24/7",
    "name": "",
    "site": "",
    "notes": "",
    "position": "",
}


def signed_in(client, person):
    client.force_login(person)
    return client


def test_a_coordinator_adds_an_entry_and_a_mistake_is_shown_beside_its_box(client, cast):
    c = signed_in(client, cast.people[Role.COORDINATOR])
    r = c.post("/o/RN1/on-call", {**NEW, "contact": "bleep me", "hours": ""})
    html = r.content.decode()
    assert r.status_code == 200 and not OnCallEntry.objects.exists()
    assert "Error: Who to call" in html
    assert 'href="#id_contact"' in html and "Enter the bleep number in digits" in html
    assert 'href="#id_hours"' in html and "Enter when they can be reached" in html
    r = c.post("/o/RN1/on-call", NEW)
    assert r.status_code == 302 and r["Location"] == "/o/RN1/on-call"
    page = c.get("/o/RN1/on-call").content.decode()
    assert "Critical care consultant on call" in page and "Entry added" in page


def test_a_viewer_reads_the_directory_but_gets_no_form_and_may_not_add(client, cast):
    f.on_call(cast.north, by=cast.people[Role.COORDINATOR], role="Bed manager")
    c = signed_in(client, cast.people[Role.VIEWER])
    html = c.get("/o/RN1/on-call").content.decode()
    assert "Bed manager" in html and "Add an entry" not in html and "Change" not in html
    assert c.post("/o/RN1/on-call", NEW).status_code == 404
    assert OnCallEntry.objects.count() == 1


def test_a_phone_number_dials_and_an_email_address_writes(client, cast):
    by = cast.people[Role.COORDINATOR]
    f.on_call(cast.north, by=by, contact="0113 243 3144 ext 5678")
    f.on_call(cast.north, by=by, role="Duty manager", route="email", contact="duty@nhs.example")
    html = signed_in(client, cast.people[Role.VIEWER]).get("/o/RN1/on-call").content.decode()
    assert 'href="tel:01132433144,5678"' in html
    assert 'href="mailto:duty@nhs.example"' in html


def test_a_coordinator_changes_an_entry_keeping_its_place_when_left_blank(client, cast):
    by = cast.people[Role.COORDINATOR]
    f.on_call(cast.north, by=by, role="First")
    entry = f.on_call(cast.north, by=by, role="Second")
    c = signed_in(client, by)
    form = c.get(f"/o/RN1/on-call/{entry.pk}").content.decode()
    assert 'value="Second"' in form and 'value="1"' in form
    r = c.post(f"/o/RN1/on-call/{entry.pk}", {**NEW, "role": "Second, renamed", "position": ""})
    assert r.status_code == 302
    entry.refresh_from_db()
    assert (entry.role, entry.position, entry.route) == ("Second, renamed", 1, "bleep")
    r = c.post(f"/o/RN1/on-call/{entry.pk}", {**NEW, "contact": ""})
    assert r.status_code == 200 and "Enter the number, bleep, address" in r.content.decode()


def test_a_coordinator_removes_an_entry(client, cast):
    entry = f.on_call(cast.north, by=cast.people[Role.COORDINATOR], role="Bed manager")
    c = signed_in(client, cast.people[Role.COORDINATOR])
    r = c.post(f"/o/RN1/on-call/{entry.pk}/end")
    assert r.status_code == 302
    html = c.get("/o/RN1/on-call").content.decode()
    assert "Removed: Bed manager." in html and "No entries." in html
    assert c.get(f"/o/RN1/on-call/{entry.pk}").status_code == 404  # gone from the list


def test_an_entry_is_changed_only_through_its_own_organisations_address(
    client, cast, south_manager
):
    entry = f.on_call(cast.south, by=south_manager)
    c = signed_in(client, cast.people[Role.COORDINATOR])
    assert c.get(f"/o/RN1/on-call/{entry.pk}").status_code == 404
    assert c.get(f"/o/RS1/on-call/{entry.pk}").status_code == 404
    assert c.post(f"/o/RS1/on-call/{entry.pk}/end").status_code == 404


def test_outsiders_get_not_found_and_strangers_are_asked_to_sign_in(client, cast):
    assert client.get("/o/RS1/on-call")["Location"].startswith("/signin/")
    c = signed_in(client, cast.people["outsider"])
    assert c.get("/o/RS1/on-call").status_code == 404
    assert c.get(f"/c/{cast.collab.slug}/on-call").status_code == 404


def test_a_directory_not_shared_says_so(client, cast, south_manager):
    f.on_call(cast.south, by=south_manager, role="Site manager on call")
    f.reshare(f.collaborative_grant(cast.south, cast.collab), detail="banded")
    html = signed_in(client, cast.people[Role.VIEWER]).get("/o/RS1/on-call").content.decode()
    assert "Not shared with you" in html
    assert "Site manager on call" not in html and "No entries" not in html


def test_a_late_grant_is_said(client, cast, south_manager):
    entry = f.on_call(cast.south, by=south_manager, role="Site manager on call")
    OnCallEntry.objects.filter(pk=entry.pk).update(updated_at=timezone.now() - timedelta(hours=30))
    f.on_call(cast.south, by=south_manager, role="Bed manager")
    f.reshare(f.collaborative_grant(cast.south, cast.collab), delay_hours=24)
    html = signed_in(client, cast.people[Role.VIEWER]).get("/o/RS1/on-call").content.decode()
    assert "Shared with you 24 hours late" in html
    assert "Site manager on call" in html and "Bed manager" not in html


def test_who_to_call_lists_every_member_and_says_which_are_not_shared(client, cast, south_manager):
    f.on_call(cast.north, by=cast.people[Role.COORDINATOR], role="North site manager")
    f.on_call(cast.south, by=south_manager, role="South site manager")
    c = signed_in(client, cast.people[Role.VIEWER])
    html = c.get(f"/c/{cast.collab.slug}/on-call").content.decode()
    assert "North site manager" in html and "South site manager" in html
    f.unshare(f.collaborative_grant(cast.south, cast.collab))
    html = c.get(f"/c/{cast.collab.slug}/on-call").content.decode()
    assert "South site manager" not in html
    assert "Not shared with you: South Hospitals NHS Trust does not share" in html


def test_who_to_call_exports_as_csv_that_is_safe_to_open(client, cast, south_manager):
    f.on_call(
        cast.north, by=cast.people[Role.COORDINATOR], role="Bed manager", notes="=HYPERLINK(1)"
    )
    f.on_call(cast.south, by=south_manager)
    f.reshare(f.collaborative_grant(cast.south, cast.collab), detail="status")
    c = signed_in(client, cast.people[Role.VIEWER])
    r = c.get(f"/c/{cast.collab.slug}/on-call.csv")
    assert r["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode())))
    assert rows[0][:3] == ["organisation", "organisation_name", "status"]
    assert [(row[0], row[2], row[5], row[10]) for row in rows[1:]] == [
        ("RN1", "listed", "Bed manager", "'=HYPERLINK(1)"),
        ("RS1", "not shared with you", "", ""),
    ]


def test_the_aid_board_and_a_request_lead_to_who_to_call(client, aid):
    cast = aid
    request = f.aid_request(
        by=cast.people["south_coordinator"],
        organisation=cast.south,
        collaborative=cast.collab,
        site=cast.south_site,
    )
    c = signed_in(client, cast.people[Role.VIEWER])
    board = c.get(f"/c/{cast.collab.slug}/aid").content.decode()
    assert f'href="/c/{cast.collab.slug}/on-call"' in board
    page = c.get(f"/aid/requests/{request.pk}").content.decode()
    assert 'href="/o/RS1/on-call">Who to call at South Hospitals NHS Trust</a>' in page


def test_an_alert_about_a_member_leads_to_who_to_call_there(client, cast):
    f.report(cast.south, timezone.now() - timedelta(hours=5), ga_open=50)
    rule = f.alert_rule(
        by=cast.people[Role.COORDINATOR],
        collaborative=cast.collab,
        kind="overdue",
        organisation=cast.south,
        threshold=1,
    )
    f.run_alert_jobs()
    alert = rule.alerts.get()
    html = signed_in(client, cast.people[Role.COORDINATOR]).get(f"/alerts/{alert.pk}")
    assert (
        'href="/o/RS1/on-call">Who to call at South Hospitals NHS Trust</a>'
        in html.content.decode()
    )


def test_the_owners_people_are_told_who_decides_who_sees_it(client, cast):
    html = signed_in(client, cast.people[Role.ORG_ADMIN]).get("/o/RN1/on-call").content.decode()
    assert 'href="/o/RN1/sharing">Who can see our data</a>' in html
    assert f'href="/c/{cast.collab.slug}/on-call">Who to call across River System</a>' in html
    html = signed_in(client, cast.people[Role.VIEWER]).get("/o/RN1/on-call").content.decode()
    assert "on Who can see our data." in html and 'href="/o/RN1/sharing"' not in html
