"""The on-call directory's API: a read token gets an organisation's entries as its
organisation may see them, the same as its people on the page; a directory not shared says
`withheld` rather than look empty."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from flotilla.authz import actions as authz_actions
from flotilla.authz.models import Role
from flotilla.directory.models import OnCallEntry
from tests import factories as f
from tests.access import recorded

pytestmark = pytest.mark.django_db


def bearer(cast, organisation=None, scope="read") -> dict[str, str]:
    org = organisation or cast.north
    admin = cast.people["outsider"] if org == cast.outside else cast.people[Role.ORG_ADMIN]
    _, secret = authz_actions.issue_token(by=admin, organisation=org, name="t", scope=scope)
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


@pytest.fixture
def south_entries(cast, south_manager):
    site = f.SiteFactory(code="RS101", name="South General", organisation=cast.south)
    old = f.on_call(
        cast.south,
        by=south_manager,
        role="Site manager on call",
        name="A. Jones",
        site=site,
        notes="Ask for the site team",
    )
    OnCallEntry.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(hours=30))
    f.on_call(cast.south, by=south_manager, role="Bed manager", route="bleep", contact="4321")
    return cast


def test_a_read_token_gets_the_entries_its_organisation_may_see(client, south_entries):
    cast = south_entries
    r = client.get("/api/organisations/rs1/on-call", **bearer(cast))
    assert r.status_code == 200
    body = r.json()
    assert (body["organisation"], body["withheld"], body["delay_hours"]) == ("RS1", False, 0)
    first, second = body["entries"]
    assert first["role"] == "Site manager on call" and first["name"] == "A. Jones"
    assert (first["site"], first["site_name"], first["notes"]) == (
        "RS101",
        "South General",
        "Ask for the site team",
    )
    assert (second["route"], second["contact"], second["position"]) == ("bleep", "4321", 1)
    event = recorded().get()
    assert (event.owner, event.groups) == (cast.south, ["contacts"])


def test_a_late_grant_shows_only_entries_old_enough_through_the_api_too(client, south_entries):
    cast = south_entries
    f.reshare(f.collaborative_grant(cast.south, cast.collab), delay_hours=24)
    body = client.get("/api/organisations/RS1/on-call", **bearer(cast)).json()
    assert [e["role"] for e in body["entries"]] == ["Site manager on call"]
    assert body["delay_hours"] == 24


def test_a_directory_not_shared_is_withheld_not_empty(client, south_entries):
    cast = south_entries
    f.reshare(f.collaborative_grant(cast.south, cast.collab), detail="banded")
    body = client.get("/api/organisations/RS1/on-call", **bearer(cast)).json()
    assert (body["withheld"], body["entries"], body["delay_hours"]) == (True, [], None)


def test_an_organisation_sharing_nothing_with_the_token_is_not_found(client, south_entries):
    cast = south_entries
    r = client.get("/api/organisations/RS1/on-call", **bearer(cast, cast.outside))
    assert r.status_code == 404 and r.json()["detail"] == "Not found"
    assert client.get("/api/organisations/ZZZ9/on-call", **bearer(cast)).status_code == 404


def test_its_own_token_sees_every_entry_however_new(client, south_entries):
    cast = south_entries
    admin = f.UserFactory(username="south_admin")
    f.member(admin, cast.south, Role.ORG_ADMIN)
    _, secret = authz_actions.issue_token(by=admin, organisation=cast.south, name="t", scope="read")
    f.reshare(f.collaborative_grant(cast.south, cast.collab), delay_hours=24)
    body = client.get(
        "/api/organisations/RS1/on-call", HTTP_AUTHORIZATION=f"Bearer {secret}"
    ).json()
    assert len(body["entries"]) == 2 and body["delay_hours"] == 0


def test_reading_needs_a_read_token(client, south_entries):
    cast = south_entries
    assert client.get("/api/organisations/RS1/on-call").status_code == 401
    r = client.get("/api/organisations/RS1/on-call", **bearer(cast, scope="aid"))
    assert r.status_code == 403
