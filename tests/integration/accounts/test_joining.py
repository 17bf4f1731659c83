"""Opening an invitation link: a new person sets up an account, an existing one accepts in a
click; used, withdrawn, expired and unknown links say so in words."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from flotilla.accounts import actions
from flotilla.accounts.models import PersonInvitation, PersonInvitationStatus
from flotilla.audit.models import AuditEvent
from flotilla.authz.models import Membership, Role
from tests import factories as f

pytestmark = pytest.mark.django_db

PASSWORD = "tidal basin lantern 42"


def invite(cast, who: str = "new.person@example.nhs.uk", role: str = Role.REPORTER):
    return actions.invite_person(
        by=cast.people[Role.ORG_ADMIN],
        organisation=cast.north,
        who=who,
        role=role,
        base_url="http://testserver/",
    )


def new_account(username: str = "newperson", password: str = PASSWORD, again: str | None = None):
    return {"username": username, "password1": password, "password2": again or password}


def test_a_new_person_chooses_a_password_is_signed_in_and_lands_on_the_home_page(client, cast):
    inv, secret = invite(cast)
    page = client.get(f"/join/{secret}").content.decode()
    assert "Join North Hospitals NHS Trust on Flotilla" in page
    assert 'value="new.person"' in page  # the username is suggested from the address
    response = client.post(f"/join/{secret}", {**new_account(), "full_name": "New Person"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    user = get_user_model().objects.get(username="newperson")
    assert user.email == "new.person@example.nhs.uk"
    assert user.get_full_name() == "New Person"
    assert Membership.objects.get(user=user).role == Role.REPORTER
    home = client.get("/").content.decode()
    assert "You are now reporter at North Hospitals NHS Trust" in home
    inv.refresh_from_db()
    assert (inv.status, inv.responded_by) == (PersonInvitationStatus.ACCEPTED, user)
    accepted = AuditEvent.objects.get(action="accounts.invitation_accepted")
    assert accepted.actor_label == "newperson"
    created = AuditEvent.objects.filter(action="authz.user_created").latest("id")
    assert created.actor_label == f"anonymous:invitation {inv.pk}"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (new_account(password="short"), "password1", "This password is too short"),
        (new_account(password="password123"), "password1", "This password is too common"),
        (new_account(again="something else"), "password2", "The two passwords are different"),
        (new_account(username="north_viewer"), "username", "The username north_viewer is taken"),
        (new_account(username="NORTH_VIEWER"), "username", "is taken"),
        (new_account(username="no spaces"), "username", "Use only letters, numbers"),
        (new_account(username=""), "username", "Choose a username"),
        ({"username": "ok", "password1": "", "password2": ""}, "password1", "Choose a password"),
    ],
)
def test_a_bad_username_or_password_is_explained_beside_its_box_and_nothing_is_stored(
    client, cast, data, field, message
):
    _, secret = invite(cast)
    users = get_user_model().objects.count()
    page = client.post(f"/join/{secret}", data).content.decode()
    assert "There is a problem" in page
    assert f'id="{field}-error"' in page
    assert message in page
    assert get_user_model().objects.count() == users
    assert PersonInvitation.objects.get().status == PersonInvitationStatus.PENDING


def test_the_action_checks_the_new_account_too(cast):
    inv, _ = invite(cast)
    with pytest.raises(actions.AccountsError, match="too short") as caught:
        actions.accept_invitation_as_new_user(invitation=inv, username="ok", password="short")
    assert caught.value.field == "password"


def test_a_used_link_says_when_it_was_used_and_cannot_be_used_again(client, cast):
    _, secret = invite(cast)
    client.post(f"/join/{secret}", new_account())
    client.logout()
    page = client.get(f"/join/{secret}")
    assert page.status_code == 410
    assert "This invitation was used on" in page.content.decode()
    again = client.post(f"/join/{secret}", new_account(username="someoneelse"))
    assert again.status_code == 410
    assert not get_user_model().objects.filter(username="someoneelse").exists()


def test_an_expired_link_says_when_it_expired(client, cast):
    inv, secret = invite(cast)
    # Eight days pass.
    PersonInvitation.objects.filter(pk=inv.pk).update(
        created_at=inv.created_at - timedelta(days=8),
        expires_at=timezone.now() - timedelta(days=1),
    )
    page = client.get(f"/join/{secret}")
    assert page.status_code == 410
    assert "This invitation expired on" in page.content.decode()
    assert client.post(f"/join/{secret}", new_account()).status_code == 410
    assert not get_user_model().objects.filter(username="newperson").exists()


def test_links_last_as_many_days_as_the_setting_says(cast, settings):
    settings.INVITATION_DAYS = 2
    inv, _ = invite(cast)
    assert inv.expires_at - inv.created_at == timedelta(days=2)


def test_an_unknown_link_says_so_in_words(client, cast):
    page = client.get("/join/not-a-real-secret")
    assert page.status_code == 404
    assert "This is not a working invitation link" in page.content.decode()


def test_a_signed_in_person_named_by_the_invitation_accepts_in_one_click(client, cast):
    person = f.UserFactory(username="jsmith", email="J.Smith@example.nhs.uk")
    inv, secret = invite(cast, who="j.smith@example.nhs.uk", role=Role.VIEWER)
    client.force_login(person)
    page = client.get(f"/join/{secret}").content.decode()
    assert "Accept and join as jsmith" in page
    response = client.post(f"/join/{secret}")
    assert response["Location"] == "/"
    assert Membership.objects.get(user=person).role == Role.VIEWER
    inv.refresh_from_db()
    assert inv.status == PersonInvitationStatus.ACCEPTED


def test_someone_else_signed_in_cannot_accept(client, cast):
    inv, secret = invite(cast, who="j.smith@example.nhs.uk")
    intruder = cast.people["outsider"]
    client.force_login(intruder)
    page = client.get(f"/join/{secret}").content.decode()
    assert "This invitation is for j.smith@example.nhs.uk, not for you (outsider)" in page
    client.post(f"/join/{secret}")
    assert not Membership.objects.filter(user=intruder, organisation=cast.north).exists()
    with pytest.raises(actions.AccountsError, match="not for outsider"):
        actions.accept_invitation(by=intruder, invitation=inv)
    inv.refresh_from_db()
    assert inv.status == PersonInvitationStatus.PENDING


def test_an_invitation_for_an_existing_username_asks_them_to_sign_in(client, cast):
    f.UserFactory(username="jsmith", email="")
    _, secret = invite(cast, who="jsmith")
    page = client.get(f"/join/{secret}").content.decode()
    assert "Sign in to accept" in page
    assert 'id="join-form"' not in page
    client.post(f"/join/{secret}", new_account())
    assert not get_user_model().objects.filter(username="newperson").exists()


def test_someone_who_already_has_a_role_is_told_rather_than_changed(client, cast):
    person = f.UserFactory(username="jsmith")
    _, secret = invite(cast, who="jsmith", role=Role.ORG_ADMIN)
    # Given a role another way after the invitation was sent.
    f.member(person, cast.north, Role.VIEWER)
    client.force_login(person)
    page = client.post(f"/join/{secret}").content.decode()
    assert "You are already viewer at North Hospitals NHS Trust" in page
    assert Membership.objects.get(user=person, organisation=cast.north).role == Role.VIEWER


def test_accepting_needs_a_person(cast):
    inv, _ = invite(cast)
    with pytest.raises(actions.AccountsError, match="Sign in"):
        actions.accept_invitation(by=f.SYSTEM, invitation=inv)


@pytest.mark.parametrize(
    ("username", "password", "field", "message"),
    [
        ("", PASSWORD, "username", "Choose a username"),
        ("x" * 151, PASSWORD, "username", "at most 150 characters"),
        ("ok", "", "password", "Choose a password"),
    ],
)
def test_the_action_itself_refuses_a_bad_new_account_naming_the_field(
    cast, username, password, field, message
):
    inv, _ = invite(cast)
    with pytest.raises(actions.AccountsError, match=message) as caught:
        actions.accept_invitation_as_new_user(invitation=inv, username=username, password=password)
    assert caught.value.field == field
    assert PersonInvitation.objects.get().status == PersonInvitationStatus.PENDING


@pytest.mark.parametrize(
    ("who", "role", "message"),
    [(" ", Role.VIEWER, "Enter the person"), ("x@example.nhs.uk", "emperor", "Choose the role")],
)
def test_the_invite_action_itself_refuses_bad_input(cast, who, role, message):
    with pytest.raises(actions.AccountsError, match=message):
        invite(cast, who=who, role=role)


def test_anyone_signed_in_may_take_up_a_first_admin_link(client, cast):
    from flotilla.collaboratives import actions as collaboratives_actions

    newcomer = f.OrganisationFactory(code="RZ9", name="Newcomer Trust")
    inv = collaboratives_actions.invite(
        by=cast.people[Role.COORDINATOR], collaborative=cast.collab, organisation=newcomer
    )
    _, secret = actions.make_first_admin_link(by=cast.people[Role.COORDINATOR], invitation=inv)
    person = f.UserFactory(username="already_here")
    client.force_login(person)
    assert "Accept and join as already_here" in client.get(f"/join/{secret}").content.decode()
    client.post(f"/join/{secret}")
    assert Membership.objects.get(user=person, organisation=newcomer).role == Role.ORG_ADMIN
