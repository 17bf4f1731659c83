"""The working-together pages through the Django client: what they show, and how they answer
bad input (the fields named, nothing stored)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from flotilla.authz.models import Role
from flotilla.coordination.models import LogItem, Objective, Workstream
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def coordinator(client, cast):
    person = cast.people[Role.COORDINATOR]
    client.force_login(person)
    return person


def test_adding_an_objective_takes_an_occupancy_as_a_percentage(client, cast, coordinator):
    response = client.post(
        f"/c/{cast.collab.slug}/objectives/",
        {
            "statement": "Hold G&A below 92%",
            "measure": "ga_occupancy",
            "scope": "system",
            "comparison": "at_most",
            "target": "92",
        },
    )
    made = Objective.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/objectives/{made.pk}")
    assert made.target == pytest.approx(0.92)


def test_a_bad_objective_shows_each_problem_beside_its_box_and_stores_nothing(
    client, cast, coordinator
):
    response = client.post(
        f"/c/{cast.collab.slug}/objectives/",
        {
            "statement": "",
            "measure": "opel_declared",
            "scope": "system",
            "comparison": "at_most",
            "target": "x",
        },
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "There is a problem" in page
    assert "Say what the objective is" in page and "Give the target as a number" in page
    assert not Objective.objects.exists()


def test_a_reporter_without_a_role_reads_but_cannot_add(client, cast):
    client.force_login(cast.people[Role.REPORTER])
    page = client.get(f"/c/{cast.collab.slug}/objectives/").content.decode()
    assert "Add an objective" not in page
    response = client.post(f"/c/{cast.collab.slug}/objectives/", {"statement": "x"})
    assert response.status_code == 404


def test_the_log_filters_by_what_needs_attention(client, cast, coordinator):
    today = timezone.localdate()
    f.log_item(
        by=coordinator,
        collaborative=cast.collab,
        title="Late thing",
        owner=coordinator,
        due_on=today - timedelta(days=2),
    )
    f.log_item(by=coordinator, collaborative=cast.collab, kind="issue", title="Nobody's issue")
    overdue = client.get(f"/c/{cast.collab.slug}/log/?only=overdue").content.decode()
    assert "Late thing" in overdue and "Nobody&#39;s issue" not in overdue
    unowned = client.get(f"/c/{cast.collab.slug}/log/?only=unowned").content.decode()
    assert "Nobody&#39;s issue" in unowned and "Late thing" not in unowned
    risks = client.get(f"/c/{cast.collab.slug}/log/?kind=risk").content.decode()
    assert 'id="no-items"' in risks


def test_a_bad_log_item_names_its_fields_and_stores_nothing(client, cast, coordinator):
    response = client.post(
        f"/c/{cast.collab.slug}/log/",
        {"kind": "risk", "title": "Flooding", "likelihood": "9", "due_on": "2026-02-31"},
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "Give the likelihood from 1 (low) to 5 (high)" in page
    assert "Enter the date as a real date" in page
    assert not LogItem.objects.exists()


def test_closing_an_item_from_its_page_needs_a_reason_and_says_so(client, cast, coordinator):
    item = f.log_item(by=coordinator, collaborative=cast.collab)
    url = f"/c/{cast.collab.slug}/log/{item.pk}"
    response = client.post(f"{url}/status", {"status": "closed", "reason": ""}, follow=True)
    assert "Say why it is closed" in response.content.decode()
    item.refresh_from_db()
    assert item.status == "open"
    client.post(f"{url}/status", {"status": "closed", "reason": "Done another way"})
    item.refresh_from_db()
    assert (item.status, item.closed_reason) == ("closed", "Done another way")


def test_a_workstream_is_added_with_its_people_and_closed_with_a_reason(client, cast, coordinator):
    sponsor = cast.people[Role.ORG_ADMIN]
    response = client.post(
        f"/c/{cast.collab.slug}/workstreams/",
        {
            "name": "Discharge",
            "sponsor": str(sponsor.pk),
            "leads": [str(cast.people["south_reporter"].pk)],
            "status": "active",
        },
    )
    w = Workstream.objects.get()
    assert response.status_code == 302
    assert (w.sponsor, list(w.leads.all())) == (sponsor, [cast.people["south_reporter"]])
    url = f"/c/{cast.collab.slug}/workstreams/{w.pk}"
    refused = client.post(url, {"name": "Discharge", "status": "closed", "closed_reason": ""})
    assert "Say why it is closed" in refused.content.decode()
    client.post(url, {"name": "Discharge", "status": "closed", "closed_reason": "Merged"})
    w.refresh_from_db()
    assert (w.status, w.closed_reason, w.sponsor) == ("closed", "Merged", None)


def test_a_coordinator_gives_a_role_for_a_member_and_ends_it(client, cast, coordinator):
    reporter = cast.people["south_reporter"]
    client.post(
        f"/c/{cast.collab.slug}/roles",
        {"person": f"{reporter.pk}:{cast.south.pk}", "kind": "sponsor"},
    )
    page = client.get(f"/c/{cast.collab.slug}/roles").content.decode()
    assert "Executive sponsor" in page and "south_reporter" in page
    from flotilla.coordination.models import CollaborativeRole

    role = CollaborativeRole.objects.get()
    client.post(f"/c/{cast.collab.slug}/roles/{role.pk}/end")
    role.refresh_from_db()
    assert role.ended_at is not None


def test_the_brief_pdf_is_a_pdf_named_for_its_day(client, cast, coordinator):
    response = client.get(f"/c/{cast.collab.slug}/call/brief.pdf")
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    day = timezone.localdate().isoformat()
    assert (
        response["Content-Disposition"] == f'inline; filename="{cast.collab.slug}-brief-{day}.pdf"'
    )


def test_a_call_that_was_not_held_is_not_found(client, cast, coordinator):
    assert client.get(f"/c/{cast.collab.slug}/calls/2026-01-05").status_code == 404
    assert client.get(f"/c/{cast.collab.slug}/calls/2026-02-31").status_code == 404
