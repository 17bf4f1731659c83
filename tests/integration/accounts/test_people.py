"""An organisation's admin manages its people: invitations, roles, removal, the last admin."""

from __future__ import annotations

import re

import pytest

from flotilla.accounts import actions
from flotilla.accounts.models import PersonInvitation, PersonInvitationStatus
from flotilla.audit.models import AuditEvent
from flotilla.authz import actions as authz_actions
from flotilla.authz.models import Membership, Role
from tests import factories as f

pytestmark = pytest.mark.django_db


def link_on(page: str, id_: str = "invitation-link") -> str:
    return re.search(rf'id="{id_}"[^>]*>([^<]+)<', page).group(1)


def secret_of(link: str) -> str:
    return link.rstrip("/").rsplit("/", 1)[1]


def test_an_admin_sees_who_has_which_role(client, cast):
    client.force_login(cast.people[Role.ORG_ADMIN])
    page = client.get("/o/RN1/people").content.decode()
    for role in Role.values:
        assert f'data-person="north_{role}"' in page
    assert "south_reporter" not in page
    assert "outsider" not in page


@pytest.mark.parametrize("who", [Role.VIEWER, Role.REPORTER, Role.COORDINATOR, "outsider"])
def test_nobody_but_the_organisations_admins_sees_its_people(client, cast, who):
    client.force_login(cast.people[who])
    assert client.get("/o/RN1/people").status_code == 404
    assert (
        client.post("/o/RN1/people", {"who": "x@example.nhs.uk", "role": "viewer"}).status_code
        == 404
    )
    assert not PersonInvitation.objects.exists()


def test_an_anonymous_visitor_is_sent_to_sign_in(client, cast):
    response = client.get("/o/RN1/people")
    assert response.status_code == 302
    assert "/signin/" in response["Location"]


def test_an_invitation_by_email_is_shown_once_emailed_and_stored_only_as_a_hash(
    client, cast, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(cast.people[Role.ORG_ADMIN])
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(
            "/o/RN1/people", {"who": "New.Person@Example.NHS.uk", "role": "reporter"}
        ).content.decode()
    link = link_on(page)
    inv = PersonInvitation.objects.get()
    assert inv.email == "new.person@example.nhs.uk"
    assert inv.role == Role.REPORTER
    assert inv.secret_sha256 == PersonInvitation.hash_secret(secret_of(link))
    assert secret_of(link) not in str(PersonInvitation.objects.values().get())
    assert link.startswith("http://testserver/join/")
    (mail,) = mailoutbox
    assert mail.to == ["new.person@example.nhs.uk"]
    assert link in mail.body
    assert "North Hospitals NHS Trust" in mail.subject
    assert secret_of(link) not in client.get("/o/RN1/people").content.decode()
    event = AuditEvent.objects.get(action="accounts.invitation_made")
    assert event.actor_label == "north_org_admin"
    assert event.after["role"] == "reporter"


def test_an_invitation_is_not_emailed_when_the_change_rolls_back(
    cast, mailoutbox, django_capture_on_commit_callbacks
):
    from django.db import transaction

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        actions.invite_person(
            by=cast.people[Role.ORG_ADMIN],
            organisation=cast.north,
            who="someone@example.nhs.uk",
            role=Role.VIEWER,
            base_url="http://testserver/",
        )
        transaction.set_rollback(True)
    assert not mailoutbox
    assert not PersonInvitation.objects.exists()


def test_an_invitation_by_username_is_for_that_person_and_uses_their_email(
    client, cast, mailoutbox, django_capture_on_commit_callbacks
):
    f.UserFactory(username="jsmith", email="j.smith@example.nhs.uk")
    client.force_login(cast.people[Role.ORG_ADMIN])
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/o/RN1/people", {"who": "JSmith", "role": "viewer"})
    inv = PersonInvitation.objects.get()
    assert (inv.username, inv.email) == ("jsmith", "j.smith@example.nhs.uk")
    assert mailoutbox[0].to == ["j.smith@example.nhs.uk"]


@pytest.mark.parametrize(
    ("who", "role", "message"),
    [
        ("", "viewer", "Enter the person&#39;s username or email address"),
        ("nobody_here", "viewer", "Nobody on Flotilla has the username nobody_here"),
        ("not@an@address", "viewer", "Enter an email address in the right format"),
        ("north_viewer", "viewer", "north_viewer is already viewer at North Hospitals NHS Trust"),
        ("x@example.nhs.uk", "", "Choose the role they will have"),
        ("x@example.nhs.uk", "emperor", "Choose one of the roles listed"),
    ],
)
def test_a_bad_invitation_says_what_is_wrong_beside_the_field_and_stores_nothing(
    client, cast, who, role, message
):
    client.force_login(cast.people[Role.ORG_ADMIN])
    page = client.post("/o/RN1/people", {"who": who, "role": role}).content.decode()
    assert "There is a problem" in page
    assert message in page
    field = "role" if "role" in message else "who"
    assert f'id="{field}-error"' in page
    assert not PersonInvitation.objects.exists()


def test_a_second_invitation_for_the_same_person_waits_for_the_first_to_be_withdrawn(cast):
    admin = cast.people[Role.ORG_ADMIN]
    kw = {"organisation": cast.north, "role": Role.VIEWER, "base_url": "http://testserver/"}
    first, _ = actions.invite_person(by=admin, who="x@example.nhs.uk", **kw)
    with pytest.raises(actions.AccountsError, match="already has an invitation waiting"):
        actions.invite_person(by=admin, who="X@example.nhs.uk", **kw)
    actions.withdraw_invitation(by=admin, invitation=first)
    actions.invite_person(by=admin, who="x@example.nhs.uk", **kw)
    assert PersonInvitation.objects.filter(status=PersonInvitationStatus.PENDING).count() == 1


def test_only_an_admin_may_invite_even_through_the_action(cast):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        actions.invite_person(
            by=cast.people[Role.COORDINATOR],
            organisation=cast.north,
            who="x@example.nhs.uk",
            role=Role.ORG_ADMIN,
            base_url="http://testserver/",
        )


def test_an_admin_withdraws_an_invitation_and_its_link_then_says_so(client, cast):
    admin = cast.people[Role.ORG_ADMIN]
    inv, secret = actions.invite_person(
        by=admin,
        organisation=cast.north,
        who="x@example.nhs.uk",
        role=Role.VIEWER,
        base_url="http://testserver/",
    )
    client.force_login(admin)
    assert "x@example.nhs.uk" in client.get("/o/RN1/people").content.decode()
    response = client.post(f"/o/RN1/people/invitations/{inv.pk}/withdraw")
    assert response.status_code == 302
    inv.refresh_from_db()
    assert inv.status == PersonInvitationStatus.WITHDRAWN
    assert AuditEvent.objects.filter(action="accounts.invitation_withdrawn").exists()
    client.logout()
    page = client.get(f"/join/{secret}")
    assert page.status_code == 410
    assert "This invitation was withdrawn" in page.content.decode()
    with pytest.raises(actions.AccountsError, match="already withdrawn"):
        actions.withdraw_invitation(by=admin, invitation=inv)


def test_an_admin_cannot_withdraw_another_organisations_invitation(client, cast):
    inv, _ = actions.invite_person(
        by=cast.people["outsider"],
        organisation=cast.outside,
        who="x@example.nhs.uk",
        role=Role.VIEWER,
        base_url="http://testserver/",
    )
    client.force_login(cast.people[Role.ORG_ADMIN])
    assert client.post(f"/o/RN1/people/invitations/{inv.pk}/withdraw").status_code == 404
    assert client.post(f"/o/RX1/people/invitations/{inv.pk}/withdraw").status_code == 404
    inv.refresh_from_db()
    assert inv.status == PersonInvitationStatus.PENDING


def test_an_admin_changes_a_role_and_the_change_is_audited(client, cast):
    viewer = cast.people[Role.VIEWER]
    m = Membership.objects.get(user=viewer, organisation=cast.north)
    client.force_login(cast.people[Role.ORG_ADMIN])
    response = client.post(f"/o/RN1/people/{m.pk}/role", {"role": "reporter"})
    assert response.status_code == 302
    m.refresh_from_db()
    assert m.role == Role.REPORTER
    event = AuditEvent.objects.filter(action="authz.membership_set").latest("id")
    assert event.before == {"user": "north_viewer", "role": "viewer"}
    assert event.after == {"user": "north_viewer", "role": "reporter"}


def test_an_unknown_role_is_refused_in_words(client, cast):
    m = Membership.objects.get(user=cast.people[Role.VIEWER], organisation=cast.north)
    client.force_login(cast.people[Role.ORG_ADMIN])
    page = client.post(f"/o/RN1/people/{m.pk}/role", {"role": "emperor"}, follow=True)
    assert "Choose one of the roles listed" in page.content.decode()
    m.refresh_from_db()
    assert m.role == Role.VIEWER


def test_a_removed_person_loses_the_organisations_pages_at_once(client, cast):
    reporter = cast.people[Role.REPORTER]
    m = Membership.objects.get(user=reporter, organisation=cast.north)
    client.force_login(cast.people[Role.ORG_ADMIN])
    page = client.post(f"/o/RN1/people/{m.pk}/remove", follow=True).content.decode()
    assert "north_reporter no longer has a role at North Hospitals NHS Trust" in page
    assert not Membership.objects.filter(pk=m.pk).exists()
    event = AuditEvent.objects.get(action="authz.membership_removed")
    assert event.before == {"user": "north_reporter", "role": "reporter"}
    client.force_login(reporter)
    assert client.get("/o/RN1/report").status_code == 404


def test_an_admin_cannot_change_people_of_another_organisation(client, cast):
    m = Membership.objects.get(user=cast.people["south_reporter"])
    client.force_login(cast.people[Role.ORG_ADMIN])
    assert client.post(f"/o/RN1/people/{m.pk}/remove").status_code == 404
    assert client.post(f"/o/RN1/people/{m.pk}/role", {"role": "viewer"}).status_code == 404
    assert Membership.objects.filter(pk=m.pk, role=Role.REPORTER).exists()


def test_the_last_admin_cannot_demote_or_remove_themselves(client, cast):
    admin = cast.people[Role.ORG_ADMIN]
    m = Membership.objects.get(user=admin, organisation=cast.north)
    client.force_login(admin)
    page = client.post(f"/o/RN1/people/{m.pk}/role", {"role": "viewer"}, follow=True)
    assert "north_org_admin is the last admin of North Hospitals NHS Trust" in page.content.decode()
    page = client.post(f"/o/RN1/people/{m.pk}/remove", follow=True)
    assert "Make someone else an admin first" in page.content.decode()
    m.refresh_from_db()
    assert m.role == Role.ORG_ADMIN
    assert not AuditEvent.objects.filter(action="authz.membership_removed").exists()


def test_nobody_can_remove_the_last_admin_not_even_the_platform(cast):
    m = Membership.objects.get(user=cast.people["outsider"], organisation=cast.outside)
    with pytest.raises(authz_actions.RoleError, match="last admin of Outside Hospitals"):
        authz_actions.remove_membership(by=f.SYSTEM, membership=m)
    with pytest.raises(authz_actions.RoleError, match="last admin"):
        authz_actions.change_role(by=f.SYSTEM, membership=m, role=Role.COORDINATOR)
    assert Membership.objects.filter(pk=m.pk, role=Role.ORG_ADMIN).exists()


def test_with_a_second_admin_one_may_step_down_and_then_the_other_is_the_last(client, cast):
    admin = cast.people[Role.ORG_ADMIN]
    second = f.UserFactory(username="second_admin")
    f.member(second, cast.north, Role.ORG_ADMIN)
    mine = Membership.objects.get(user=admin, organisation=cast.north)
    client.force_login(admin)
    response = client.post(f"/o/RN1/people/{mine.pk}/role", {"role": "coordinator"})
    # No longer an admin: back to the home page, not to a page they can no longer see.
    assert response["Location"] == "/"
    theirs = Membership.objects.get(user=second)
    with pytest.raises(authz_actions.RoleError, match="second_admin is the last admin"):
        authz_actions.remove_membership(by=second, membership=theirs)


def test_giving_the_same_role_again_changes_nothing(cast):
    m = Membership.objects.get(user=cast.people[Role.VIEWER], organisation=cast.north)
    before = AuditEvent.objects.count()
    authz_actions.change_role(by=f.SYSTEM, membership=m, role=Role.VIEWER)
    assert AuditEvent.objects.count() == before


def test_a_membership_removed_meanwhile_is_reported_in_words(cast):
    m = Membership.objects.get(user=cast.people[Role.VIEWER], organisation=cast.north)
    authz_actions.remove_membership(by=f.SYSTEM, membership=m)
    with pytest.raises(authz_actions.RoleError, match="no longer has a role here"):
        authz_actions.remove_membership(by=f.SYSTEM, membership=m)
    with pytest.raises(authz_actions.RoleError, match="Unknown role"):
        authz_actions.change_role(by=f.SYSTEM, membership=m, role="emperor")


def test_a_mail_server_that_is_down_neither_undoes_nor_hides_the_invitation(
    client, cast, settings, caplog, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    client.force_login(cast.people[Role.ORG_ADMIN])
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post("/o/RN1/people", {"who": "x@example.nhs.uk", "role": "viewer"})
    assert page.status_code == 200
    assert link_on(page.content.decode()).startswith("http://testserver/join/")
    assert PersonInvitation.objects.filter(email="x@example.nhs.uk").exists()
    assert "could not send" in caplog.text


def _demote_each_other_at_once(organisation, first, second) -> list[str]:
    import threading

    from django.db import connection

    ms = {u: Membership.objects.get(user=u, organisation=organisation) for u in (first, second)}
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def demote(by, other):
        try:
            barrier.wait()
            authz_actions.change_role(by=by, membership=ms[other], role=Role.VIEWER)
            outcomes.append("done")
        except authz_actions.RoleError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=demote, args=(first, second)),
        threading.Thread(target=demote, args=(second, first)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(outcomes)


@pytest.mark.django_db(transaction=True)
def test_two_admins_demoting_each_other_at_once_leave_one_admin(cast):
    second = f.UserFactory(username="second_admin")
    f.member(second, cast.north, Role.ORG_ADMIN)
    first = cast.people[Role.ORG_ADMIN]
    for _ in range(5):
        assert _demote_each_other_at_once(cast.north, first, second) == ["done", "refused"]
        assert Membership.objects.filter(organisation=cast.north, role=Role.ORG_ADMIN).count() == 1
        for u in (first, second):
            f.member(u, cast.north, Role.ORG_ADMIN)


def test_admins_find_the_people_page_from_the_home_page(client, cast):
    client.force_login(cast.people[Role.ORG_ADMIN])
    assert 'href="/o/RN1/people"' in client.get("/").content.decode()
    client.force_login(cast.people[Role.COORDINATOR])
    assert 'href="/o/RN1/people"' not in client.get("/").content.decode()
