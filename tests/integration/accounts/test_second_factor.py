"""The second factor (ADR 0031): admins pass a code from an authenticator app after their
password; anyone may choose to; recovery codes stand in for a lost phone; operators remove a
lost second factor from the command line. With the setting on, as in production."""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import F
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

import flotilla.settings as production_settings
from flotilla.accounts import actions as accounts_actions
from flotilla.accounts.models import OidcIdentity
from flotilla.accounts.views import PENDING_KEY
from flotilla.audit.models import AuditEvent
from flotilla.authz.models import Role
from tests import factories as f

pytestmark = pytest.mark.django_db

PASSWORD = f.UserFactory.password
SET_UP = "/account/second-factor/set-up"
CODE = "/account/second-factor/"


@pytest.fixture(autouse=True)
def _second_factor_on(settings):
    settings.ADMIN_SECOND_FACTOR = True


def sign_in(client, person) -> object:
    return client.post("/signin/", {"username": person.username, "password": PASSWORD})


def seconds_pass(device) -> None:
    """As if the wait after a wrong code (one second, doubling) were over."""
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=F("throttling_failure_timestamp") - timedelta(minutes=5)
    )


def pending_key(client) -> str:
    return client.session[PENDING_KEY]


def test_admins_must_pass_a_second_factor_unless_the_deployment_turns_it_off():
    assert production_settings.ADMIN_SECOND_FACTOR is True


def test_an_admin_signing_in_with_a_password_is_sent_to_set_up_an_authenticator_app(client, cast):
    admin = cast.people[Role.ORG_ADMIN]
    sign_in(client, admin)
    response = client.get("/c/river-system/")
    assert response.status_code == 302
    assert response["Location"].startswith(SET_UP)
    assert "next=%2Fc%2Friver-system%2F" in response["Location"]


def test_until_then_only_the_steps_and_signing_out_are_open_to_them(client, cast):
    sign_in(client, cast.people[Role.ORG_ADMIN])
    for path in ("/", "/account/", "/o/RN1/people", "/admin/", "/platform/jobs"):
        assert client.get(path)["Location"].startswith(SET_UP), path
    assert client.post("/account/second-factor/recovery-codes")["Location"].startswith(SET_UP)
    assert client.get(SET_UP).status_code == 200
    assert client.get("/signout/").status_code == 200


def test_the_set_up_page_shows_a_qr_code_and_the_key_and_stores_nothing_yet(client, cast):
    admin = cast.people[Role.ORG_ADMIN]
    sign_in(client, admin)
    page = client.get(SET_UP).content.decode()
    assert "<svg" in page and 'aria-label="QR code holding the key shown below"' in page
    key = pending_key(client)
    secret = re.search(r'id="authenticator-key"[^>]*>([A-Z2-7 ]+)<', page).group(1)
    assert len(secret.replace(" ", "")) == 32  # 160 bits in base 32
    # The same key on every showing until it is added, and no device before its code.
    client.get(SET_UP)
    assert pending_key(client) == key
    assert not TOTPDevice.objects.filter(user=admin).exists()


def test_a_wrong_code_at_set_up_is_refused_with_the_reason_and_nothing_is_stored(client, cast):
    admin = cast.people[Role.ORG_ADMIN]
    sign_in(client, admin)
    client.get(SET_UP)
    wrong = f"{(int(f.totp_code(pending_key(client))) + 1) % 1_000_000:06d}"
    page = client.post(SET_UP, {"code": wrong}).content.decode()
    assert "That code is not the one your app shows for this key" in page
    assert 'href="#id_code"' in page
    page = client.post(SET_UP, {"code": ""}).content.decode()
    assert "Enter the 6-digit code your authenticator app shows now." in page
    assert not TOTPDevice.objects.filter(user=admin).exists()
    assert client.get("/")["Location"].startswith(SET_UP)


def test_the_apps_code_adds_it_shows_ten_recovery_codes_once_and_lets_the_admin_in(client, cast):
    admin = cast.people[Role.ORG_ADMIN]
    sign_in(client, admin)
    client.get(SET_UP)
    key = pending_key(client)
    code = f.totp_code(key)
    page = client.post(SET_UP, {"code": code[:3] + " " + code[3:], "next": "/c/river-system/"})
    text = page.content.decode()
    codes = re.findall(r"<li><code>([a-z2-7]{4}-[a-z2-7]{4})</code></li>", text)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert 'href="/c/river-system/"' in text
    device = TOTPDevice.objects.get(user=admin)
    assert device.confirmed and device.key == key
    assert PENDING_KEY not in client.session
    assert client.get("/c/river-system/").status_code == 200
    # Audited, with neither the key nor the codes in the record.
    events = AuditEvent.objects.filter(actor_label=admin.username).order_by("id")
    actions = [e.action for e in events]
    assert actions[-2:] == ["accounts.authenticator_added", "accounts.recovery_codes_issued"]
    recorded = str([(e.before, e.after) for e in events])
    assert key not in recorded and not any(c.replace("-", "") in recorded for c in codes)


def test_the_next_sign_in_asks_for_the_code_and_a_code_used_once_is_refused(client, cast):
    admin = cast.people[Role.ORG_ADMIN]
    device, _key, _codes = f.authenticator(admin)
    sign_in(client, admin)
    assert client.get("/o/RN1/people")["Location"].startswith(CODE + "?next=")
    # The code that set the app up is spent: the app's next one is needed.
    page = client.post(CODE, {"code": f.spent_code(device), "next": "/o/RN1/people"})
    assert "That code is not right" in page.content.decode()
    seconds_pass(device)
    response = client.post(CODE, {"code": f.next_code(device), "next": "/o/RN1/people"})
    assert response.status_code == 302 and response["Location"] == "/o/RN1/people"
    assert client.get("/o/RN1/people").status_code == 200


def test_a_recovery_code_signs_in_once_and_says_how_many_are_left(client, cast):
    admin = cast.people[Role.ORG_ADMIN]
    _device, _key, codes = f.authenticator(admin)
    sign_in(client, admin)
    response = client.post(CODE, {"code": codes[0].upper(), "next": "/"}, follow=True)
    assert "You used a recovery code: 9 left." in response.content.decode()
    event = AuditEvent.objects.filter(action="accounts.recovery_code_used").get()
    assert (event.before["codes_left"], event.after["codes_left"]) == (10, 9)
    client.post("/signout/")
    sign_in(client, admin)
    page = client.post(CODE, {"code": codes[0], "next": "/"}).content.decode()
    assert "That recovery code is not right, or has been used already." in page


def test_each_wrong_code_makes_the_next_try_wait_longer(client, cast):
    admin = cast.people[Role.ORG_ADMIN]
    device, _key, _codes = f.authenticator(admin)
    sign_in(client, admin)
    client.post(CODE, {"code": "000000"})
    page = client.post(CODE, {"code": f.next_code(device)}).content.decode()
    assert "Too many wrong codes in a row. Wait 1 second" in page
    assert TOTPDevice.objects.get(user=admin).throttling_failure_count == 1
    assert client.get("/")["Location"].startswith(CODE)


def test_an_admin_who_has_not_passed_their_app_cannot_replace_it_or_its_codes(client, cast):
    admin = cast.people[Role.ORG_ADMIN]
    device, _key, _codes = f.authenticator(admin)
    sign_in(client, admin)
    assert client.get(SET_UP)["Location"].startswith(CODE)
    assert client.post(SET_UP, {"code": "123456"})["Location"].startswith(CODE)
    assert client.post("/account/second-factor/recovery-codes")["Location"].startswith(CODE)
    assert client.post("/account/second-factor/remove")["Location"].startswith(CODE)
    assert list(TOTPDevice.objects.filter(user=admin)) == [device]
    assert StaticToken.objects.filter(device__user=admin).count() == 10


def test_moving_to_a_new_phone_replaces_the_app_and_the_recovery_codes(client, cast):
    admin = cast.people[Role.ORG_ADMIN]
    device, _key, old_codes = f.authenticator(admin)
    sign_in(client, admin)
    client.post(CODE, {"code": f.next_code(device)})
    client.get(SET_UP)
    new_key = pending_key(client)
    client.post(SET_UP, {"code": f.totp_code(new_key)})
    assert list(TOTPDevice.objects.filter(user=admin).values_list("key", flat=True)) == [new_key]
    assert not StaticToken.objects.filter(token=old_codes[0].replace("-", "")).exists()
    assert client.get("/").status_code == 200


def test_new_recovery_codes_replace_the_old_ones(client, cast):
    admin = cast.people[Role.ORG_ADMIN]
    device, _key, old_codes = f.authenticator(admin)
    sign_in(client, admin)
    client.post(CODE, {"code": f.next_code(device)})
    page = client.post("/account/second-factor/recovery-codes").content.decode()
    new_codes = re.findall(r"<li><code>([a-z2-7]{4}-[a-z2-7]{4})</code></li>", page)
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    assert StaticDevice.objects.filter(user=admin).count() == 1
    assert (
        "You have <strong>10</strong> unused recovery codes"
        in client.get("/account/").content.decode()
    )


def test_an_admin_may_not_stop_being_asked_for_a_code(client, cast):
    admin = cast.people[Role.ORG_ADMIN]
    device, _key, _codes = f.authenticator(admin)
    sign_in(client, admin)
    client.post(CODE, {"code": f.next_code(device)})
    response = client.post("/account/second-factor/remove", follow=True)
    assert "As an admin you must keep a second factor." in response.content.decode()
    assert TOTPDevice.objects.filter(user=admin).exists()


def test_someone_who_is_not_an_admin_is_not_asked(client, cast):
    sign_in(client, cast.people[Role.COORDINATOR])
    assert client.get("/c/river-system/").status_code == 200


def test_someone_who_chose_an_app_is_asked_for_it_and_may_stop(client, cast):
    viewer = cast.people[Role.VIEWER]
    device, _key, _codes = f.authenticator(viewer)
    sign_in(client, viewer)
    assert client.get("/")["Location"].startswith(CODE)
    client.post(CODE, {"code": f.next_code(device)})
    response = client.post("/account/second-factor/remove", follow=True)
    assert "Your authenticator app and recovery codes are removed." in response.content.decode()
    assert not TOTPDevice.objects.filter(user=viewer).exists()
    assert not StaticDevice.objects.filter(user=viewer).exists()
    client.post("/signout/")
    sign_in(client, viewer)
    assert client.get("/").status_code == 200


def test_someone_made_an_admin_while_signed_in_is_asked_at_their_next_page(client, cast):
    person = cast.people[Role.VIEWER]
    sign_in(client, person)
    assert client.get("/").status_code == 200
    f.member(person, cast.south, Role.ORG_ADMIN)
    assert client.get("/")["Location"].startswith(SET_UP)


def test_platform_staff_are_asked_before_the_admin_site(client, db):
    staff = f.UserFactory(username="platform")
    staff.is_staff = staff.is_superuser = True
    staff.save()
    sign_in(client, staff)
    assert client.get("/admin/")["Location"].startswith(SET_UP)


def test_a_live_refresh_is_told_to_go_to_the_code_page(client, cast):
    admin = cast.people[Role.ORG_ADMIN]
    f.authenticator(admin)
    sign_in(client, admin)
    response = client.get(
        "/c/river-system/table",
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/c/river-system/"},
    )
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith(CODE + "?next=http")


def test_after_the_code_only_our_own_pages_are_followed(client, cast):
    admin = cast.people[Role.ORG_ADMIN]
    device, _key, _codes = f.authenticator(admin)
    sign_in(client, admin)
    response = client.post(
        CODE, {"code": f.next_code(device), "next": "https://elsewhere.example/"}
    )
    assert response["Location"] == "/"


def test_the_api_takes_its_tokens_without_a_second_factor(client, cast):
    from flotilla.authz import actions as authz_actions

    admin = cast.people[Role.ORG_ADMIN]
    _token, secret = authz_actions.issue_token(
        by=admin, organisation=cast.north, name="EPR", scope="read"
    )
    response = client.get("/api/measures", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200


def test_an_operator_removes_a_lost_second_factor_with_a_reason(cast):
    admin = cast.people[Role.ORG_ADMIN]
    f.authenticator(admin)
    out = StringIO()
    call_command(
        "remove-second-factor", admin.username, reason="Phone lost; called back", stdout=out
    )
    assert "Removed north_org_admin's authenticator app and recovery codes" in out.getvalue()
    assert not TOTPDevice.objects.filter(user=admin).exists()
    event = AuditEvent.objects.get(action="accounts.second_factor_removed")
    assert event.actor_label == "system:operator"
    assert event.after == {"devices": 2, "reason": "Phone lost; called back"}
    with pytest.raises(CommandError, match="has no second factor to remove"):
        call_command("remove-second-factor", admin.username, reason="again")
    with pytest.raises(CommandError, match="Give a reason"):
        call_command("remove-second-factor", admin.username, reason=" ")


def test_nobody_else_may_remove_a_persons_second_factor(cast):
    admin = cast.people[Role.ORG_ADMIN]
    f.authenticator(admin)
    with pytest.raises(PermissionDenied, match="Only the person"):
        accounts_actions.remove_second_factor(by=cast.people[Role.COORDINATOR], user=admin)
    assert TOTPDevice.objects.filter(user=admin).exists()


# ------------------------------------------------------------------ linked sign-in accounts


def link(person, subject: str = "248289761001") -> OidcIdentity:
    from flotilla.accounts.oidc import LINKER

    return accounts_actions.link_identity(
        user=person, issuer="https://id.example.nhs.uk", subject=subject, by=LINKER
    )


def test_the_account_page_lists_linked_accounts_and_one_may_be_removed(client, cast):
    person = cast.people[Role.COORDINATOR]
    identity = link(person)
    client.force_login(person)
    page = client.get("/account/").content.decode()
    assert "https://id.example.nhs.uk" in page and "248289761001" in page
    response = client.post(f"/account/linked/{identity.pk}/remove", follow=True)
    assert "That account is no longer linked." in response.content.decode()
    assert not OidcIdentity.objects.exists()
    event = AuditEvent.objects.get(action="accounts.oidc_identity_unlinked")
    assert event.before["subject"] == "248289761001" and event.after is None
    assert event.actor_label == person.username


def test_nobody_may_remove_someone_elses_linked_account(client, cast):
    identity = link(cast.people[Role.COORDINATOR])
    client.force_login(cast.people[Role.REPORTER])
    assert client.post(f"/account/linked/{identity.pk}/remove").status_code == 404
    assert OidcIdentity.objects.filter(pk=identity.pk).exists()


# ------------------------------------------------------------------ against the audit record


def verify_audit() -> tuple[int, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("verify-audit", stdout=out, stderr=err)
    except CommandError as problems:
        return 1, out.getvalue() + str(problems)
    return 0, out.getvalue() + err.getvalue()


def test_verify_audit_passes_second_factors_and_links_made_through_flotilla(cast):
    f.authenticator(cast.people[Role.ORG_ADMIN])
    link(cast.people[Role.VIEWER])
    code, text = verify_audit()
    assert code == 0, text


def test_verify_audit_names_an_authenticator_added_in_the_database(cast):
    TOTPDevice.objects.create(user=cast.people[Role.ORG_ADMIN], name="x", confirmed=True)
    code, text = verify_audit()
    assert code == 1
    assert "authenticator" in text and "is not in the audit record: added outside Flotilla" in text


def test_verify_audit_names_an_authenticators_key_swapped_in_the_database(cast):
    device, _key, _codes = f.authenticator(cast.people[Role.ORG_ADMIN])
    TOTPDevice.objects.filter(pk=device.pk).update(key="00" * 20)
    code, text = verify_audit()
    assert code == 1 and f"authenticator {device.pk}: key_sha256 is" in text


def test_verify_audit_names_recovery_codes_added_in_the_database(cast):
    device, _key, _codes = f.authenticator(cast.people[Role.ORG_ADMIN])
    static = StaticDevice.objects.get(user=device.user)
    StaticToken.objects.create(device=static, token="aaaaaaaa")
    code, text = verify_audit()
    assert code == 1 and f"recovery codes {static.pk}: codes_left is 11" in text


def test_verify_audit_names_a_linked_account_inserted_or_moved_in_the_database(cast):
    identity = link(cast.people[Role.VIEWER])
    OidcIdentity.objects.filter(pk=identity.pk).update(user=cast.people[Role.ORG_ADMIN])
    OidcIdentity.objects.create(
        user=cast.people[Role.ORG_ADMIN], issuer="https://id.example.nhs.uk", subject="x"
    )
    code, text = verify_audit()
    assert code == 1
    assert f"linked sign-in account {identity.pk}: user is" in text
    assert "is not in the audit record: added outside Flotilla" in text
