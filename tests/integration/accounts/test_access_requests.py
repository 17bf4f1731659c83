"""A person without an account asks their organisation for access; an admin (or, while there is
none, the coordinator who invited it) approves with a role or declines with a reason."""

from __future__ import annotations

import re

import pytest
from django.db import IntegrityError, transaction

from flotilla.accounts import actions
from flotilla.accounts.models import AccessRequest, AccessRequestStatus, PersonInvitation
from flotilla.accounts.queries import waiting_for
from flotilla.audit.models import AuditEvent
from flotilla.authz.models import Membership, Role
from flotilla.collaboratives import actions as collaboratives_actions
from tests import factories as f

pytestmark = pytest.mark.django_db

PASSWORD = "tidal basin lantern 42"
ASK = {"name": "Pat Jones", "email": "Pat.Jones@example.nhs.uk", "reason": "Site bed manager"}


def ask(org, **kw):
    return actions.request_access(
        by=f.SYSTEM, organisation=org, **{**ASK, "email": ASK["email"], **kw}
    )


def test_a_person_finds_their_organisation_by_name_or_ods_code(client, cast):
    page = client.get("/request-access/?q=north").content.decode()
    assert "North Hospitals NHS Trust" in page
    assert "South Hospitals" not in page
    assert 'href="/request-access/RS1"' in client.get("/request-access/?q=rs1").content.decode()
    assert "No organisation matches" in client.get("/request-access/?q=zzz").content.decode()
    empty = client.get("/request-access/?q=").content.decode()
    assert "Enter your organisation&#39;s name or ODS code" in empty


def test_retired_organisations_are_not_offered(client, cast):
    f.OrganisationFactory(code="ROLD", name="North Old Trust", successor=cast.north)
    page = client.get("/request-access/?q=north").content.decode()
    assert "North Old Trust" not in page


def test_the_sign_in_page_leads_to_asking_for_access(client, cast):
    page = client.get("/signin/").content.decode()
    assert 'href="/request-access/"' in page
    assert 'href="/password-reset/"' in page


def test_an_anonymous_request_is_stored_and_audited_under_the_address_given(client, cast):
    page = client.post("/request-access/RN1", ASK).content.decode()
    assert "Request sent" in page
    req = AccessRequest.objects.get()
    assert (req.email, req.status, req.organisation) == (
        "pat.jones@example.nhs.uk",
        AccessRequestStatus.PENDING,
        cast.north,
    )
    event = AuditEvent.objects.get(action="accounts.access_requested")
    assert event.actor_label == "anonymous:pat.jones@example.nhs.uk"
    assert event.actor_user is None
    assert event.organisation_id == cast.north.pk


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({**ASK, "name": ""}, "name", "Enter your name"),
        ({**ASK, "email": "pat"}, "email", "Enter an email address in the right format"),
        ({**ASK, "reason": ""}, "reason", "Say in a sentence why you need access"),
        ({**ASK, "reason": "x" * 501}, "reason", "Keep the reason to 500 characters or fewer"),
    ],
)
def test_a_bad_request_is_explained_beside_its_box(client, cast, data, field, message):
    page = client.post("/request-access/RN1", data).content.decode()
    assert f'id="{field}-error"' in page
    assert message in page
    assert not AccessRequest.objects.exists()


def test_one_pending_request_per_organisation_and_address(client, cast):
    client.post("/request-access/RN1", ASK)
    page = client.post("/request-access/RN1", {**ASK, "email": "PAT.JONES@example.nhs.uk"})
    assert "There is already a request from pat.jones@example.nhs.uk waiting" in (
        page.content.decode()
    )
    client.post("/request-access/RS1", ASK)
    assert AccessRequest.objects.count() == 2
    with pytest.raises(IntegrityError), transaction.atomic():
        AccessRequest.objects.create(
            organisation=cast.north, name="x", email="pat.jones@example.nhs.uk", reason="x"
        )


def test_a_request_to_a_retired_organisation_is_refused(cast):
    old = f.OrganisationFactory(code="ROLD", name="Old Trust", successor=cast.north)
    with pytest.raises(actions.AccountsError, match="retired code"):
        ask(old)


def test_admins_see_waiting_requests_on_the_people_page_and_in_waiting_for(client, cast):
    req = ask(cast.north)
    admin = cast.people[Role.ORG_ADMIN]
    client.force_login(admin)
    page = client.get("/o/RN1/people").content.decode()
    assert f'href="/access-requests/{req.pk}"' in page
    (waiting,) = waiting_for(admin)
    assert waiting.request == req
    assert waiting.url == f"/access-requests/{req.pk}"
    assert not waiting.first_admin
    assert "Pat Jones (pat.jones@example.nhs.uk) asks for access" in waiting.text
    for other in (Role.COORDINATOR, Role.VIEWER, "outsider", "south_reporter"):
        assert waiting_for(cast.people[other]) == []


def test_approving_emails_an_invitation_for_the_chosen_role_that_lets_them_in(
    client, cast, mailoutbox, django_capture_on_commit_callbacks
):
    req = ask(cast.north)
    client.force_login(cast.people[Role.ORG_ADMIN])
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(
            f"/access-requests/{req.pk}", {"decision": "approve", "role": "reporter"}
        ).content.decode()
    link = re.search(r'id="invitation-link"[^>]*>([^<]+)<', page).group(1)
    (mail,) = mailoutbox
    assert mail.to == ["pat.jones@example.nhs.uk"]
    assert link in mail.body
    req.refresh_from_db()
    assert req.status == AccessRequestStatus.APPROVED
    assert req.invitation.role == Role.REPORTER
    assert not req.invitation.first_admin
    assert AuditEvent.objects.filter(action="accounts.access_approved").exists()
    client.logout()
    client.post(
        link.replace("http://testserver", ""),
        {"username": "pjones", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert Membership.objects.get(user__username="pjones").role == Role.REPORTER
    assert waiting_for(cast.people[Role.ORG_ADMIN]) == []


def test_approving_needs_a_role_and_declining_needs_a_reason(client, cast):
    req = ask(cast.north)
    client.force_login(cast.people[Role.ORG_ADMIN])
    page = client.post(f"/access-requests/{req.pk}", {"decision": "approve"}).content.decode()
    assert 'id="role-error"' in page
    page = client.post(f"/access-requests/{req.pk}", {"decision": "decline"}).content.decode()
    assert 'id="decline_reason-error"' in page
    page = client.post(f"/access-requests/{req.pk}", {}).content.decode()
    assert "Choose whether to approve or decline" in page
    req.refresh_from_db()
    assert req.status == AccessRequestStatus.PENDING
    with pytest.raises(actions.AccountsError, match="Choose the role"):
        actions.approve_access_request(
            by=cast.people[Role.ORG_ADMIN], access_request=req, role="", base_url="http://t/"
        )
    with pytest.raises(actions.AccountsError, match="Say why"):
        actions.decline_access_request(
            by=cast.people[Role.ORG_ADMIN], access_request=req, reason=" "
        )


def test_declining_emails_the_reason(client, cast, mailoutbox, django_capture_on_commit_callbacks):
    req = ask(cast.north)
    client.force_login(cast.people[Role.ORG_ADMIN])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/access-requests/{req.pk}",
            {"decision": "decline", "decline_reason": "We do not know you; ask your manager."},
        )
    assert response["Location"] == "/o/RN1/people"
    assert "We do not know you; ask your manager." in mailoutbox[0].body
    req.refresh_from_db()
    assert req.status == AccessRequestStatus.DECLINED
    assert not PersonInvitation.objects.exists()
    event = AuditEvent.objects.get(action="accounts.access_declined")
    assert event.after["decline_reason"] == "We do not know you; ask your manager."
    page = client.get(f"/access-requests/{req.pk}").content.decode()
    assert 'id="outcome"' in page
    with pytest.raises(actions.AccountsError, match="already declined"):
        actions.decline_access_request(
            by=cast.people[Role.ORG_ADMIN], access_request=req, reason="again"
        )


@pytest.mark.parametrize(
    "who", [Role.VIEWER, Role.REPORTER, Role.COORDINATOR, "outsider", "south_reporter"]
)
def test_nobody_else_may_see_or_decide_a_request(client, cast, who):
    req = ask(cast.north)
    client.force_login(cast.people[who])
    assert client.get(f"/access-requests/{req.pk}").status_code == 404
    response = client.post(f"/access-requests/{req.pk}", {"decision": "approve", "role": "viewer"})
    assert response.status_code == 404
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        actions.approve_access_request(
            by=cast.people[who], access_request=req, role="viewer", base_url="http://t/"
        )
    req.refresh_from_db()
    assert req.status == AccessRequestStatus.PENDING


def test_a_coordinator_who_invited_an_organisation_without_an_admin_makes_its_first_admin(
    client, cast, mailoutbox, django_capture_on_commit_callbacks
):
    newcomer = f.OrganisationFactory(code="RZ9", name="Newcomer Trust")
    coordinator = cast.people[Role.COORDINATOR]
    collaboratives_actions.invite(by=coordinator, collaborative=cast.collab, organisation=newcomer)
    req = ask(newcomer)
    (waiting,) = waiting_for(coordinator)
    assert waiting.first_admin
    client.force_login(coordinator)
    page = client.get(waiting.url).content.decode()
    assert "Approving makes Pat Jones its first admin" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(waiting.url, {"decision": "approve", "role": "viewer"})
    req.refresh_from_db()
    assert (req.invitation.role, req.invitation.first_admin) == (Role.ORG_ADMIN, True)
    assert "as organisation admin" in mailoutbox[0].body


def test_a_coordinator_no_longer_decides_once_the_organisation_has_an_admin(client, cast):
    newcomer = f.OrganisationFactory(code="RZ9", name="Newcomer Trust")
    coordinator = cast.people[Role.COORDINATOR]
    collaboratives_actions.invite(by=coordinator, collaborative=cast.collab, organisation=newcomer)
    req = ask(newcomer)
    admin = f.UserFactory(username="newcomer_admin")
    f.member(admin, newcomer, Role.ORG_ADMIN)
    assert waiting_for(coordinator) == []
    client.force_login(coordinator)
    assert client.get(f"/access-requests/{req.pk}").status_code == 404
    assert [w.request for w in waiting_for(admin)] == [req]


def test_a_coordinator_of_another_collaborative_does_not_decide(client, cast):
    newcomer = f.OrganisationFactory(code="RZ9", name="Newcomer Trust")
    other = f.CollaborativeFactory(name="Elsewhere", organisation=cast.outside)
    collaboratives_actions.invite(
        by=cast.people["outsider"], collaborative=other, organisation=newcomer
    )
    ask(newcomer)
    assert waiting_for(cast.people[Role.COORDINATOR]) == []
    assert len(waiting_for(cast.people["outsider"])) == 1


def test_nobody_signed_out_has_anything_waiting(cast):
    from django.contrib.auth.models import AnonymousUser

    ask(cast.north)
    assert waiting_for(AnonymousUser()) == []


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": " "}, "name", "Enter your name"),
        ({"name": "x" * 201}, "name", "at most 200 characters"),
        ({"email": ""}, "email", "Enter your email address"),
        ({"email": "pat@"}, "email", "right format"),
        ({"reason": ""}, "reason", "Say in a sentence"),
        ({"reason": "x" * 501}, "reason", "500 characters"),
    ],
)
def test_the_action_itself_refuses_a_bad_request_naming_the_field(cast, changes, field, message):
    with pytest.raises(actions.AccountsError, match=message) as caught:
        ask(cast.north, **changes)
    assert caught.value.field == field
    assert not AccessRequest.objects.exists()


def test_a_signed_in_person_asks_with_their_details_filled_in_and_is_recorded_as_themselves(
    client, cast
):
    person = f.UserFactory(username="pat", email="pat@example.nhs.uk", full_name="Pat Jones")
    client.force_login(person)
    page = client.get("/request-access/RN1").content.decode()
    assert 'value="Pat Jones"' in page
    assert 'value="pat@example.nhs.uk"' in page
    client.post("/request-access/RN1", {**ASK, "email": "pat@example.nhs.uk"})
    event = AuditEvent.objects.get(action="accounts.access_requested")
    assert (event.actor_label, event.actor_user) == ("pat", person)


def test_a_coordinator_who_declines_goes_back_home(client, cast):
    newcomer = f.OrganisationFactory(code="RZ9", name="Newcomer Trust")
    coordinator = cast.people[Role.COORDINATOR]
    collaboratives_actions.invite(by=coordinator, collaborative=cast.collab, organisation=newcomer)
    req = ask(newcomer)
    client.force_login(coordinator)
    response = client.post(
        f"/access-requests/{req.pk}", {"decision": "decline", "decline_reason": "Not known"}
    )
    assert response["Location"] == "/"


def test_too_many_requests_from_one_address_are_paused_for_an_hour_and_store_nothing(
    client, cast, settings, mailoutbox
):
    settings.MAIL_FORMS_PER_HOUR = 2
    for n in range(2):
        sent = client.post("/request-access/RN1", {**ASK, "email": f"p{n}@example.nhs.uk"})
        assert "Request sent" in sent.content.decode()
    paused = client.post("/request-access/RN1", {**ASK, "email": "p3@example.nhs.uk"})
    assert paused.status_code == 429
    assert "Nothing was sent" in paused.content.decode()
    assert AccessRequest.objects.count() == 2
    assert AuditEvent.objects.filter(action="accounts.mail_forms_paused").count() == 1
    # Another network is not held up by this one's pause.
    elsewhere = client.post(
        "/request-access/RN1", {**ASK, "email": "p4@example.nhs.uk"}, REMOTE_ADDR="10.1.2.3"
    )
    assert "Request sent" in elsewhere.content.decode()


def test_a_request_with_errors_does_not_count_towards_the_pause(client, cast, settings):
    settings.MAIL_FORMS_PER_HOUR = 1
    client.post("/request-access/RN1", {**ASK, "email": "not an address"})
    assert "Request sent" in client.post("/request-access/RN1", ASK).content.decode()
