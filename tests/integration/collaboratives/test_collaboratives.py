"""Joining in minutes, leaving at will: collaboratives through their pages and actions."""

from __future__ import annotations

import pytest

from flotilla.audit.models import AuditEvent
from flotilla.authz.models import Role
from flotilla.collaboratives import actions as collaboratives_actions
from flotilla.collaboratives.models import Collaborative, CollaborativeMembership, Invitation
from flotilla.collaboratives.thresholds import STANDARD_THRESHOLDS
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
    assert AuditEvent.objects.filter(action="collaboratives.collaborative_created").exists()


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
    inv = collaboratives_actions.invite(
        by=admin, collaborative=cast.collab, organisation=cast.outside
    )
    collaboratives_actions.respond(by=cast.people["outsider"], invitation=inv, accept=False)
    with pytest.raises(collaboratives_actions.CollaborativeError, match="already declined"):
        collaboratives_actions.respond(by=cast.people["outsider"], invitation=inv, accept=True)


def test_a_member_cannot_be_invited_again_nor_a_retired_code_at_all(cast):
    admin = cast.people[Role.ORG_ADMIN]
    with pytest.raises(collaboratives_actions.CollaborativeError, match="already a member"):
        collaboratives_actions.invite(by=admin, collaborative=cast.collab, organisation=cast.south)
    successor = f.OrganisationFactory(code="RNEW")
    old = f.OrganisationFactory(code="ROLD", successor=successor)
    with pytest.raises(collaboratives_actions.CollaborativeError, match="retired code"):
        collaboratives_actions.invite(by=admin, collaborative=cast.collab, organisation=old)


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
    event = AuditEvent.objects.get(action="collaboratives.left")
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
    event = AuditEvent.objects.get(action="collaboratives.collaborative_updated")
    assert event.before["reporting_interval_hours"] == 4


def test_the_roles_that_may_run_a_collaborative_are_those_authz_lets_manage_it():
    from flotilla.authz.permissions import ROLE_PERMISSIONS, Perm

    managing = {r for r, perms in ROLE_PERMISSIONS.items() if Perm.MANAGE_COLLABORATIVE in perms}
    assert managing == set(collaboratives_actions.MANAGING_ROLES)


def _founder_only(cast) -> None:
    collaboratives_actions.update_collaborative(
        by=cast.people[Role.COORDINATOR],
        collaborative=cast.collab,
        thresholds={},
        reporting_interval_hours=cast.collab.reporting_interval_hours,
        invite_policy="founder_only",
    )
    cast.collab.refresh_from_db()


def test_by_default_a_coordinator_of_any_member_may_invite(cast):
    south_coordinator = f.UserFactory()
    f.member(south_coordinator, cast.south, Role.COORDINATOR)
    assert cast.collab.invite_policy == "any_member"
    collaboratives_actions.invite(
        by=south_coordinator, collaborative=cast.collab, organisation=cast.outside
    )
    assert Invitation.objects.filter(organisation=cast.outside).exists()


def test_when_only_the_founder_may_invite_another_members_coordinator_is_told_why(client, cast):
    south_coordinator = f.UserFactory()
    f.member(south_coordinator, cast.south, Role.COORDINATOR)
    _founder_only(cast)
    with pytest.raises(
        collaboratives_actions.CollaborativeError, match="only coordinators of North Hospitals"
    ):
        collaboratives_actions.invite(
            by=south_coordinator, collaborative=cast.collab, organisation=cast.outside
        )
    assert not Invitation.objects.filter(organisation=cast.outside).exists()

    client.force_login(south_coordinator)
    page = client.get(f"/c/{cast.collab.slug}/members").content.decode()
    assert "Invite an organisation" not in page
    response = client.post(f"/c/{cast.collab.slug}/invite", {"code": "RX1"}, follow=True)
    assert "only coordinators of North Hospitals NHS Trust" in response.content.decode()

    # The founder's coordinator still may.
    client.force_login(cast.people[Role.COORDINATOR])
    assert "Invite an organisation" in client.get(f"/c/{cast.collab.slug}/members").content.decode()
    collaboratives_actions.invite(
        by=cast.people[Role.COORDINATOR], collaborative=cast.collab, organisation=cast.outside
    )


def test_who_may_invite_is_set_on_the_settings_page_with_an_audit_trail(client, cast):
    client.force_login(cast.people[Role.COORDINATOR])
    page = client.get(f"/c/{cast.collab.slug}/settings").content.decode()
    assert "Who may invite organisations" in page
    data = {"reporting_interval_hours": "4", "invite_policy": "founder_only"}
    for indicator, (amber, red) in STANDARD_THRESHOLDS.items():
        data[f"{indicator}_amber"], data[f"{indicator}_red"] = str(amber), str(red)
    assert client.post(f"/c/{cast.collab.slug}/settings", data).status_code == 302
    cast.collab.refresh_from_db()
    assert cast.collab.invite_policy == "founder_only"
    event = AuditEvent.objects.get(action="collaboratives.collaborative_updated")
    assert (event.before["invite_policy"], event.after["invite_policy"]) == (
        "any_member",
        "founder_only",
    )
    data["invite_policy"] = "everyone"
    page = client.post(f"/c/{cast.collab.slug}/settings", data).content.decode()
    assert "Choose who may invite organisations" in page


def test_only_the_founders_coordinators_may_change_who_may_invite(client, cast):
    south_coordinator = f.UserFactory()
    f.member(south_coordinator, cast.south, Role.COORDINATOR)
    _founder_only(cast)
    with pytest.raises(
        collaboratives_actions.CollaborativeError, match="may change who may invite"
    ):
        collaboratives_actions.update_collaborative(
            by=south_coordinator,
            collaborative=cast.collab,
            thresholds={},
            reporting_interval_hours=4,
            invite_policy="any_member",
        )
    client.force_login(south_coordinator)
    page = client.get(f"/c/{cast.collab.slug}/settings").content.decode()
    assert 'name="invite_policy"' not in page
    assert "Only coordinators of North Hospitals NHS Trust" in page
    # Once the founder has left, the members that remain decide.
    north_admin = cast.people[Role.ORG_ADMIN]
    collaboratives_actions.leave(by=north_admin, collaborative=cast.collab, organisation=cast.north)
    assert collaboratives_actions.may_set_invite_policy(
        by=south_coordinator, collaborative=cast.collab
    )


def test_leaving_asks_first_and_says_what_leaving_does(client, cast):
    f.member(cast.people["south_reporter"], cast.south, Role.COORDINATOR)
    client.force_login(cast.people[Role.ORG_ADMIN])
    members = client.get(f"/c/{cast.collab.slug}/members").content.decode()
    assert f"/c/{cast.collab.slug}/leave/RN1" in members
    page = client.get(f"/c/{cast.collab.slug}/leave/RN1").content.decode()
    assert "Leave River System as North Hospitals NHS Trust?" in page
    assert "Yes, leave River System" in page
    assert CollaborativeMembership.objects.get(organisation=cast.north).left_at is None
    # Not a member's organisation, or not yours: not found.
    assert client.get(f"/c/{cast.collab.slug}/leave/RS1").status_code == 404
    assert client.get(f"/c/{cast.collab.slug}/leave/NOPE").status_code == 404


def test_a_collaborative_cannot_be_left_with_nobody_to_run_it(client, cast):
    # South has only a reporter: if North left, nobody could run the collaborative.
    client.force_login(cast.people[Role.ORG_ADMIN])
    page = client.get(f"/c/{cast.collab.slug}/leave/RN1").content.decode()
    assert "cannot leave yet" in page
    assert "Yes, leave" not in page
    response = client.post(
        f"/c/{cast.collab.slug}/leave", {"organisation": cast.north.pk}, follow=True
    )
    assert "give someone the coordinator role first" in response.content.decode()
    assert CollaborativeMembership.objects.get(organisation=cast.north).left_at is None
    assert not AuditEvent.objects.filter(action="collaboratives.left").exists()

    f.member(cast.people["south_reporter"], cast.south, Role.COORDINATOR)
    collaboratives_actions.leave(
        by=cast.people[Role.ORG_ADMIN], collaborative=cast.collab, organisation=cast.north
    )
    assert CollaborativeMembership.objects.get(organisation=cast.north).left_at is not None


def test_the_last_member_may_leave(cast):
    lone = f.CollaborativeFactory(name="Solo", organisation=cast.outside)
    collaboratives_actions.leave(
        by=cast.people["outsider"], collaborative=lone, organisation=cast.outside
    )
    assert not lone.memberships.filter(left_at__isnull=True).exists()


def test_member_counts_read_as_english(client, cast):
    client.force_login(cast.people[Role.VIEWER])
    assert "2 member organisations" in client.get(f"/c/{cast.collab.slug}/members").content.decode()
    lone = f.CollaborativeFactory(name="Solo", organisation=cast.north)
    assert "1 member organisation<" in client.get(f"/c/{lone.slug}/members").content.decode()


def test_settings_errors_name_the_field_in_plain_english(client, cast):
    client.force_login(cast.people[Role.COORDINATOR])
    data = {"reporting_interval_hours": "often"}
    for indicator in STANDARD_THRESHOLDS:
        data[f"{indicator}_amber"], data[f"{indicator}_red"] = "1", "2"
    data["nctr_amber"] = ""
    data["handover_over_60_red"] = "lots"
    page = client.post(f"/c/{cast.collab.slug}/settings", data).content.decode()
    assert "Enter the interval as a whole number of hours" in page
    assert "Enter the amber threshold for No criteria to reside" in page
    assert "Enter the red threshold for Handovers over 60 min as a number" in page
    assert "This field is required" not in page
    assert 'href="#id_nctr_amber"' in page
