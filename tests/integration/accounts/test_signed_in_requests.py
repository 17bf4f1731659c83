"""What every signed-in request reads before its page: the session, then the person with
whether they must pass a second factor and their unread count, one statement each (ADR 0046).
Expired sessions and deactivated people still sign nobody in."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from flotilla.accounts.queries import must_pass_second_factor, signed_in_person
from flotilla.authz.models import Role
from flotilla.notifications import actions as notifications
from flotilla.notifications.queries import unread_count
from tests import factories as f

pytestmark = pytest.mark.django_db

OIDC = "flotilla.accounts.oidc.OidcBackend"


def statements_on(queries, table: str) -> list[str]:
    return [
        q["sql"]
        for q in queries.captured_queries
        if f'{table}"' in q["sql"] or f"{table} " in q["sql"]
    ]


def test_a_signed_in_page_reads_the_session_and_the_person_in_one_statement_each(client, cast):
    admin = cast.people[Role.ORG_ADMIN]
    notifications.notify(by=f.SYSTEM, recipients=[admin], text="A bed was offered")
    client.force_login(admin)
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/about/").content.decode()
    assert "Inbox (1 unread)" in page
    assert len(statements_on(queries, "django_session")) == 1
    assert len(statements_on(queries, "auth_user")) == 1
    # The second-factor check and the unread count came with the person.
    assert len(statements_on(queries, "otp_totp_totpdevice")) == 1
    assert len(statements_on(queries, "notifications_notification")) == 1


def test_a_session_past_its_expiry_signs_nobody_in(client, cast):
    client.force_login(cast.people[Role.VIEWER])
    assert client.get("/account/").status_code == 200
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get("/account/")
    assert response.status_code == 302
    assert response.url.startswith("/signin/")


def test_an_unknown_session_key_signs_nobody_in(client, cast):
    client.cookies["sessionid"] = "a" * 32
    response = client.get("/account/")
    assert response.status_code == 302
    assert response.url.startswith("/signin/")


@pytest.mark.parametrize("backend", ["flotilla.accounts.backends.PasswordBackend", OIDC])
def test_a_deactivated_person_is_signed_out_at_their_next_page(client, cast, backend):
    person = cast.people[Role.REPORTER]
    client.force_login(person, backend=backend)
    assert client.get("/account/").status_code == 200
    # As platform staff do on the admin site.
    get_user_model().objects.filter(pk=person.pk).update(is_active=False)
    response = client.get("/account/")
    assert response.status_code == 302
    assert response.url.startswith("/signin/")


def test_a_person_loaded_for_a_request_answers_the_second_factor_as_a_fresh_read(cast, settings):
    for required in (True, False):
        settings.ADMIN_SECOND_FACTOR = required
        for person in cast.people.values():
            loaded = signed_in_person(person.pk)
            fresh = get_user_model().objects.get(pk=person.pk)
            assert must_pass_second_factor(loaded) == must_pass_second_factor(fresh), (
                person.username,
                required,
            )
        assert must_pass_second_factor(signed_in_person(cast.people[Role.ORG_ADMIN].pk)) is required


def test_marking_notifications_read_counts_the_persons_unread_afresh(cast):
    admin = cast.people[Role.ORG_ADMIN]
    notifications.notify(by=f.SYSTEM, recipients=[admin], text="First")
    notifications.notify(by=f.SYSTEM, recipients=[admin], text="Second")
    person = signed_in_person(admin.pk)
    assert unread_count(person) == 2
    notifications.mark_read(by=person, recipient=person)
    assert unread_count(person) == 0
    notifications.notify(by=f.SYSTEM, recipients=[admin], text="Third")
    person = signed_in_person(admin.pk)
    notifications.clear(by=person, recipient=person)
    assert unread_count(person) == 0


def test_nobody_is_loaded_for_a_person_who_is_not_there(db):
    assert signed_in_person(10**9) is None
