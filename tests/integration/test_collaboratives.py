"""Joining in minutes, leaving at will: collaboratives through their pages and actions."""

from __future__ import annotations

import pytest

from flotilla.audit.models import AuditEvent
from flotilla.registry import actions
from flotilla.registry.models import Collaborative, CollaborativeMembership, Invitation, Role
from flotilla.registry.thresholds import STANDARD_THRESHOLDS
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_an_admin_starts_a_collaborative_and_is_its_first_member(client, cast):
    client.force_login(cast.people["outsider"])
    response = client.post(
        "/collaboratives/new",
        {
            "name": "Coast Network",
            "purpose": "Share critical care beds.",
            "reporting_interval_hours": "6",
        },
    )
    collab = Collaborative.objects.get(name="Coast Network")
    assert response.status_code == 302
    assert collab.memberships.get().organisation == cast.outside
    assert collab.thresholds.count() == len(STANDARD_THRESHOLDS)
    assert AuditEvent.objects.filter(action="registry.collaborative_created").exists()


def test_starting_a_collaborative_without_a_purpose_says_what_is_missing(client, cast):
    client.force_login(cast.people["outsider"])
    page = client.post(
        "/collaboratives/new", {"name": "X", "purpose": "", "reporting_interval_hours": "4"}
    ).content.decode()
    assert "Enter the shared purpose" in page
    assert not Collaborative.objects.filter(name="X").exists()


def test_an_invited_organisation_joins_in_one_step_and_then_sees_the_picture(client, cast):
    client.force_login(cast.people[Role.COORDINATOR])
    client.post(f"/c/{cast.collab.slug}/invite", {"code": "rx1"})
    inv = Invitation.objects.get(organisation=cast.outside)
    client.force_login(cast.people["outsider"])
    assert client.get(f"/c/{cast.collab.slug}/").status_code == 404
    assert "Accept and join" in client.get("/").content.decode()
    response = client.post(f"/invitations/{inv.pk}/respond", {"answer": "accept"})
    assert response.status_code == 302
    assert client.get(f"/c/{cast.collab.slug}/").status_code == 200


def test_an_invitation_cannot_be_answered_twice(cast):
    admin = cast.people[Role.ORG_ADMIN]
    inv = actions.invite(by=admin, collaborative=cast.collab, organisation=cast.outside)
    actions.respond(by=cast.people["outsider"], invitation=inv, accept=False)
    with pytest.raises(actions.RegistryError, match="already declined"):
        actions.respond(by=cast.people["outsider"], invitation=inv, accept=True)


def test_a_member_cannot_be_invited_again_nor_a_retired_code_at_all(cast):
    admin = cast.people[Role.ORG_ADMIN]
    with pytest.raises(actions.RegistryError, match="already a member"):
        actions.invite(by=admin, collaborative=cast.collab, organisation=cast.south)
    successor = f.OrganisationFactory(code="RNEW")
    old = f.OrganisationFactory(code="ROLD", successor=successor)
    with pytest.raises(actions.RegistryError, match="retired code"):
        actions.invite(by=admin, collaborative=cast.collab, organisation=old)


def test_inviting_an_unknown_code_says_so(client, cast):
    client.force_login(cast.people[Role.COORDINATOR])
    response = client.post(f"/c/{cast.collab.slug}/invite", {"code": "NOPE"}, follow=True)
    assert "No organisation has the code NOPE" in response.content.decode()


def test_leaving_is_recorded_and_can_be_followed_by_rejoining(client, cast):
    client.force_login(cast.people["south_reporter"])
    admin = f.UserFactory()
    f.member(admin, cast.south, Role.ORG_ADMIN)
    client.force_login(admin)
    client.post(f"/c/{cast.collab.slug}/leave", {"organisation": cast.south.pk})
    m = CollaborativeMembership.objects.get(organisation=cast.south)
    assert m.left_at is not None
    event = AuditEvent.objects.get(action="registry.left")
    assert event.before["left_at"] is None
    assert event.after["left_at"] is not None
    f.join(cast.collab, cast.south)
    assert CollaborativeMembership.objects.filter(organisation=cast.south).count() == 2


def test_coordinators_change_thresholds_and_the_interval_with_an_audit_trail(client, cast):
    client.force_login(cast.people[Role.COORDINATOR])
    data = {"reporting_interval_hours": "12"}
    for indicator in STANDARD_THRESHOLDS:
        data[f"{indicator}_amber"] = "1"
        data[f"{indicator}_red"] = "2"
    data["ga_occupancy_amber"], data["ga_occupancy_red"] = "0.9", "0.8"
    page = client.post(f"/c/{cast.collab.slug}/settings", data).content.decode()
    assert "Red must be at or above amber" in page
    data["ga_occupancy_red"] = "0.97"
    assert client.post(f"/c/{cast.collab.slug}/settings", data).status_code == 302
    cast.collab.refresh_from_db()
    assert cast.collab.reporting_interval_hours == 12
    assert cast.collab.thresholds.get(indicator="ga_occupancy").red == 0.97
    event = AuditEvent.objects.get(action="registry.collaborative_updated")
    assert event.before["reporting_interval_hours"] == 4
