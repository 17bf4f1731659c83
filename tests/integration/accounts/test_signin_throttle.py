"""Repeated failed sign-ins pause signing in for that account name, or that client address.

Time moves by changing stored times (or the settings' window), never by sleeping.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from flotilla.accounts.models import SignInFailure, SignInThrottle
from flotilla.accounts.signin import client_address
from flotilla.audit.models import AuditEvent
from flotilla.authz.models import Role
from tests import factories as f

pytestmark = pytest.mark.django_db

RIGHT = "correct horse battery staple"


def sign_in(client, username: str, password: str = "wrong", **extra):
    return client.post("/signin/", {"username": username, "password": password}, **extra)


def fail(client, username: str, times: int, **extra):
    return [sign_in(client, username, **extra) for _ in range(times)][-1]


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_five_failures_pause_the_account_and_say_until_when(client, cast):
    first = fail(client, "north_viewer", 4)
    assert first.status_code == 200
    assert "Enter a correct username and password" in first.content.decode()
    locked = sign_in(client, "north_viewer")
    page = locked.content.decode()
    assert locked.status_code == 429
    assert "Signing in is paused" in page
    until = SignInThrottle.objects.get(kind="account", key="north_viewer").locked_until
    assert 14 <= (until - timezone.now()).total_seconds() / 60 <= 15
    from flotilla.formatting import when

    assert f"try again after {when(until)}" in page
    assert 'href="/password-reset/"' in page


def test_while_paused_even_the_right_password_is_refused(client, cast):
    fail(client, "north_viewer", 5)
    response = sign_in(client, "north_viewer", RIGHT)
    assert response.status_code == 429
    assert not signed_in(client)


def test_an_unknown_username_gets_exactly_the_same_answers(client, cast):
    def answers(username: str) -> list[tuple[int, str]]:
        out = []
        for _ in range(6):
            r = sign_in(client, username)
            text = r.content.decode().replace(username, "NAME")
            text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text)
            out.append((r.status_code, text[text.index("<main") :]))
        return out

    assert answers("north_viewer") == answers("nobody_at_all")


def test_the_account_name_is_matched_whatever_its_case(client, cast):
    fail(client, "North_Viewer", 3)
    fail(client, "NORTH_VIEWER", 2)
    assert sign_in(client, "north_viewer", RIGHT).status_code == 429


def test_a_success_clears_the_accounts_failures(client, cast):
    fail(client, "north_viewer", 4)
    sign_in(client, "north_viewer", RIGHT)
    assert signed_in(client)
    client.logout()
    assert fail(client, "north_viewer", 4).status_code == 200
    sign_in(client, "north_viewer", RIGHT)
    assert signed_in(client)


def test_after_the_pause_the_right_password_works_for_the_real_user(client, cast):
    fail(client, "north_viewer", 5)
    # Fifteen minutes pass.
    SignInThrottle.objects.filter(key="north_viewer").update(
        locked_until=timezone.now() - timedelta(seconds=1)
    )
    response = sign_in(client, "north_viewer", RIGHT)
    assert response.status_code == 302
    assert signed_in(client)


def test_after_the_pause_a_guesser_starts_again_from_nothing_not_from_four(client, cast):
    fail(client, "north_viewer", 5)
    SignInThrottle.objects.filter(key="north_viewer").update(
        locked_until=timezone.now() - timedelta(seconds=1)
    )
    assert fail(client, "north_viewer", 4).status_code == 200
    assert sign_in(client, "north_viewer").status_code == 429


def test_failures_older_than_the_window_do_not_count(client, cast):
    fail(client, "north_viewer", 4)
    # Sixteen minutes pass.
    SignInFailure.objects.update(at=timezone.now() - timedelta(minutes=16))
    assert sign_in(client, "north_viewer").status_code == 200
    assert sign_in(client, "north_viewer", RIGHT).status_code == 302


def test_the_numbers_come_from_the_settings(client, cast, settings):
    settings.SIGNIN_MAX_FAILURES = 2
    settings.SIGNIN_LOCK_MINUTES = 1
    sign_in(client, "north_viewer")
    assert sign_in(client, "north_viewer").status_code == 429
    until = SignInThrottle.objects.get(key="north_viewer").locked_until
    assert (until - timezone.now()).total_seconds() <= 60


def test_an_empty_form_is_not_a_guess(client, cast):
    for _ in range(6):
        client.post("/signin/", {"username": "north_viewer", "password": ""})
    assert sign_in(client, "north_viewer", RIGHT).status_code == 302


def test_one_address_guessing_many_accounts_is_paused(client, cast, settings):
    settings.SIGNIN_ADDRESS_MAX_FAILURES = 6
    for n in range(6):
        sign_in(client, f"guess{n}")
    response = sign_in(client, "north_viewer", RIGHT)
    assert response.status_code == 429
    assert "Signing in is paused" in response.content.decode()
    # Someone on another network is not affected.
    ok = sign_in(client, "north_viewer", RIGHT, REMOTE_ADDR="10.9.9.9")
    assert ok.status_code == 302


def test_one_persons_success_does_not_clear_the_addresss_count(client, cast, settings):
    settings.SIGNIN_ADDRESS_MAX_FAILURES = 6
    for n in range(5):
        sign_in(client, f"guess{n}")
    sign_in(client, "north_viewer", RIGHT)
    client.logout()
    assert sign_in(client, "guess9").status_code == 429


def test_a_pause_is_audited_but_single_failures_are_not(client, cast):
    fail(client, "north_viewer", 4)
    assert not AuditEvent.objects.filter(action="accounts.signin_locked").exists()
    sign_in(client, "north_viewer")
    event = AuditEvent.objects.get(action="accounts.signin_locked")
    assert event.actor_label == "system:signin-throttle"
    assert event.after["key"] == "north_viewer"
    assert event.after["failures"] == 5


def test_old_throttle_rows_are_cleared_by_later_failures(client, cast):
    fail(client, "someone", 2)
    SignInThrottle.objects.update(last_failure_at=timezone.now() - timedelta(hours=1))
    sign_in(client, "another")
    assert set(SignInThrottle.objects.values_list("key", flat=True)) == {"another", "127.0.0.1"}


def test_the_client_address_is_the_connections_unless_proxies_are_trusted(rf, settings):
    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 192.0.2.7")
    settings.TRUSTED_PROXIES = 0
    assert client_address(request) == "10.0.0.1"
    settings.TRUSTED_PROXIES = 1
    assert client_address(request) == "192.0.2.7"
    settings.TRUSTED_PROXIES = 3
    assert client_address(request) == "10.0.0.1"


def test_signed_in_people_are_sent_home_from_the_sign_in_page(client, cast):
    client.force_login(cast.people[Role.VIEWER])
    assert client.get("/signin/").status_code == 302


def test_a_password_reset_lifts_the_pause(cast):
    from flotilla.accounts import actions

    user = f.UserFactory(username="pat")
    actions.note_signin_failure(username="pat", address="")
    for _ in range(4):
        actions.note_signin_failure(username="pat", address="")
    assert SignInThrottle.objects.get(key="pat").locked_until is not None
    actions.reset_password(user=user, password="a new long passphrase")
    assert not SignInThrottle.objects.filter(key="pat").exists()
