"""A coordinator invites an organisation with nobody on Flotilla: its first admin gets a link."""

from __future__ import annotations

import re

import pytest
from django.db import IntegrityError, transaction

from flotilla.accounts import actions
from flotilla.accounts.models import PersonInvitation, PersonInvitationStatus
from flotilla.audit.models import AuditEvent
from flotilla.authz.models import Membership, Role
from flotilla.collaboratives import actions as collaboratives_actions
from flotilla.collaboratives.models import CollaborativeMembership, Invitation, InvitationStatus
from tests import factories as f

pytestmark = pytest.mark.django_db

PASSWORD = "tidal basin lantern 42"


def first_admin_link(page: str) -> str:
    return re.search(r'id="first-admin-link"[^>]*>([^<]+)<', page).group(1)


@pytest.fixture
def newcomer(cast):
    return f.OrganisationFactory(code="RZ9", name="Newcomer Trust")


def test_inviting_an_organisation_with_nobody_on_flotilla_shows_a_link_for_its_first_admin(
    client, cast, newcomer
):
    client.force_login(cast.people[Role.COORDINATOR])
    response = client.post(f"/c/{cast.collab.slug}/invite", {"code": "rz9"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Nobody from Newcomer Trust uses Flotilla yet" in page
    link = first_admin_link(page)
    link_row = PersonInvitation.objects.get(organisation=newcomer)
    assert link_row.first_admin
    assert link_row.role == Role.ORG_ADMIN
    assert link_row.collaborative_invitation == Invitation.objects.get(organisation=newcomer)
    assert link_row.secret_sha256 == PersonInvitation.hash_secret(link.rsplit("/", 1)[1])
    members = client.get(f"/c/{cast.collab.slug}/members").content.decode()
    assert "a first-admin link is waiting" in members
    assert link.rsplit("/", 1)[1] not in members


def test_inviting_an_organisation_that_has_people_makes_no_link(client, cast):
    client.force_login(cast.people[Role.COORDINATOR])
    response = client.post(f"/c/{cast.collab.slug}/invite", {"code": "RX1"})
    assert response.status_code == 302
    assert not PersonInvitation.objects.exists()


def test_the_first_person_becomes_admin_and_answers_the_collaboratives_invitation(
    client, cast, newcomer
):
    client.force_login(cast.people[Role.COORDINATOR])
    page = client.post(f"/c/{cast.collab.slug}/invite", {"code": "RZ9"}).content.decode()
    secret = first_admin_link(page).rsplit("/", 1)[1]
    client.logout()
    client.post(
        f"/join/{secret}", {"username": "first", "password1": PASSWORD, "password2": PASSWORD}
    )
    first = Membership.objects.get(organisation=newcomer)
    assert (first.user.username, first.role) == ("first", Role.ORG_ADMIN)
    home = client.get("/").content.decode()
    assert "Accept and join" in home
    inv = Invitation.objects.get(organisation=newcomer)
    client.post(f"/invitations/{inv.pk}/respond", {"answer": "accept"})
    assert CollaborativeMembership.objects.filter(
        collaborative=cast.collab, organisation=newcomer, left_at__isnull=True
    ).exists()


def test_a_new_link_replaces_a_lost_one(client, cast, newcomer):
    coordinator = cast.people[Role.COORDINATOR]
    inv = collaboratives_actions.invite(
        by=coordinator, collaborative=cast.collab, organisation=newcomer
    )
    old, old_secret = actions.make_first_admin_link(by=coordinator, invitation=inv)
    client.force_login(coordinator)
    members = client.get(f"/c/{cast.collab.slug}/members").content.decode()
    assert "Make a new first-admin link" in members
    page = client.post(f"/c/{cast.collab.slug}/invitations/{inv.pk}/first-admin-link")
    assert "A new link for Newcomer Trust" in page.content.decode()
    old.refresh_from_db()
    assert old.status == PersonInvitationStatus.WITHDRAWN
    assert PersonInvitation.objects.filter(status=PersonInvitationStatus.PENDING).count() == 1
    client.logout()
    assert "withdrawn" in client.get(f"/join/{old_secret}").content.decode()
    actions_logged = list(
        AuditEvent.objects.filter(action__startswith="accounts.invitation_").values_list(
            "action", flat=True
        )
    )
    assert actions_logged == [
        "accounts.invitation_made",
        "accounts.invitation_withdrawn",
        "accounts.invitation_made",
    ]


def test_the_database_keeps_one_pending_first_admin_link_per_organisation(cast, newcomer):
    coordinator = cast.people[Role.COORDINATOR]
    inv = collaboratives_actions.invite(
        by=coordinator, collaborative=cast.collab, organisation=newcomer
    )
    link, _ = actions.make_first_admin_link(by=coordinator, invitation=inv)
    with pytest.raises(IntegrityError), transaction.atomic():
        PersonInvitation.objects.create(
            organisation=newcomer,
            role=Role.ORG_ADMIN,
            first_admin=True,
            secret_sha256="0" * 64,
            expires_at=link.expires_at,
        )


def test_no_new_link_once_the_organisation_has_an_admin(client, cast):
    inv = collaboratives_actions.invite(
        by=cast.people[Role.COORDINATOR], collaborative=cast.collab, organisation=cast.outside
    )
    client.force_login(cast.people[Role.COORDINATOR])
    assert (
        "Make a new first-admin link"
        not in client.get(f"/c/{cast.collab.slug}/members").content.decode()
    )
    page = client.post(f"/c/{cast.collab.slug}/invitations/{inv.pk}/first-admin-link", follow=True)
    assert "Outside Hospitals NHS Trust already has an admin on Flotilla" in page.content.decode()
    assert not PersonInvitation.objects.exists()


def test_a_first_admin_link_stops_working_once_the_organisation_has_an_admin(
    client, cast, newcomer
):
    coordinator = cast.people[Role.COORDINATOR]
    inv = collaboratives_actions.invite(
        by=coordinator, collaborative=cast.collab, organisation=newcomer
    )
    link, secret = actions.make_first_admin_link(by=coordinator, invitation=inv)
    f.member(f.UserFactory(username="meanwhile"), newcomer, Role.ORG_ADMIN)
    page = client.get(f"/join/{secret}")
    assert page.status_code == 410
    assert "has an admin on Flotilla now" in page.content.decode()
    with pytest.raises(actions.AccountsError, match="has an admin on Flotilla now"):
        actions.accept_invitation(by=cast.people["outsider"], invitation=link)


def test_no_link_for_an_invitation_that_was_answered(cast, newcomer):
    coordinator = cast.people[Role.COORDINATOR]
    inv = collaboratives_actions.invite(
        by=coordinator, collaborative=cast.collab, organisation=newcomer
    )
    collaboratives_actions.respond(by=f.SYSTEM, invitation=inv, accept=False)
    with pytest.raises(actions.AccountsError, match="invitation is declined"):
        actions.make_first_admin_link(by=coordinator, invitation=inv)


@pytest.mark.parametrize("who", [Role.VIEWER, Role.REPORTER, "outsider"])
def test_only_the_collaboratives_coordinators_may_make_a_link(client, cast, newcomer, who):
    inv = collaboratives_actions.invite(
        by=cast.people[Role.COORDINATOR], collaborative=cast.collab, organisation=newcomer
    )
    client.force_login(cast.people[who])
    response = client.post(f"/c/{cast.collab.slug}/invitations/{inv.pk}/first-admin-link")
    assert response.status_code == 404
    assert not PersonInvitation.objects.exists()
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        actions.make_first_admin_link(by=cast.people[who], invitation=inv)
    assert Invitation.objects.get(pk=inv.pk).status == InvitationStatus.PENDING


def test_a_first_admin_may_give_an_email_address_for_password_resets(client, cast, newcomer):
    coordinator = cast.people[Role.COORDINATOR]
    inv = collaboratives_actions.invite(
        by=coordinator, collaborative=cast.collab, organisation=newcomer
    )
    _, secret = actions.make_first_admin_link(by=coordinator, invitation=inv)
    form = {"username": "first", "password1": PASSWORD, "password2": PASSWORD}
    assert 'id="id_email"' in client.get(f"/join/{secret}").content.decode()
    page = client.post(f"/join/{secret}", {**form, "email": "not-an-address"}).content.decode()
    assert 'id="email-error"' in page
    client.post(f"/join/{secret}", {**form, "email": "First@Newcomer.nhs.uk"})
    assert Membership.objects.get(organisation=newcomer).user.email == "first@newcomer.nhs.uk"


def test_the_action_checks_a_first_admins_email_address_too(cast, newcomer):
    coordinator = cast.people[Role.COORDINATOR]
    inv = collaboratives_actions.invite(
        by=coordinator, collaborative=cast.collab, organisation=newcomer
    )
    link, _ = actions.make_first_admin_link(by=coordinator, invitation=inv)
    with pytest.raises(actions.AccountsError, match="right format") as caught:
        actions.accept_invitation_as_new_user(
            invitation=link, username="first", password=PASSWORD, email="nope"
        )
    assert caught.value.field == "email"
