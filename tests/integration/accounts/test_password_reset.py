"""Resetting a forgotten password by email, with the same answer for unknown addresses."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from flotilla.audit.models import AuditEvent
from tests import factories as f

pytestmark = pytest.mark.django_db

NEW = "a brand new passphrase"


def reset_link(mail) -> str:
    return re.search(r"http://testserver(/password-reset/\S+)", mail.body).group(1)


def test_a_reset_link_is_emailed_and_sets_a_new_password(client, cast, mailoutbox):
    f.UserFactory(username="pat", email="pat@example.nhs.uk")
    response = client.post("/password-reset/", {"email": "PAT@example.nhs.uk"})
    assert response["Location"] == "/password-reset/sent"
    (mail,) = mailoutbox
    assert mail.subject == "Reset your Flotilla password"
    assert "Hello pat" in mail.body
    form = client.get(reset_link(mail), follow=True)
    assert "Choose a new password" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0], {"new_password1": NEW, "new_password2": NEW}, follow=True
    )
    assert "Your password is changed" in done.content.decode()
    assert get_user_model().objects.get(username="pat").check_password(NEW)
    event = AuditEvent.objects.get(action="accounts.password_reset")
    assert event.actor_label == "pat"
    assert client.get(reset_link(mail), follow=True).content.decode().count("does not work") == 1


def test_an_unknown_address_gets_the_same_answer_and_no_email(client, cast, mailoutbox):
    known = client.post("/password-reset/", {"email": "north_viewer@example.nhs.uk"})
    unknown = client.post("/password-reset/", {"email": "nobody@example.nhs.uk"})
    assert known["Location"] == unknown["Location"] == "/password-reset/sent"
    assert len(mailoutbox) == 1
    page = client.get("/password-reset/sent").content.decode()
    assert "If that address belongs to a Flotilla account" in page


def test_a_bad_address_is_explained_beside_its_box(client, cast, mailoutbox):
    page = client.post("/password-reset/", {"email": "nope"}).content.decode()
    assert 'id="email-error"' in page
    assert "Enter an email address in the right format" in page
    assert not mailoutbox


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"new_password1": "short", "new_password2": "short"}, "new_password1", "too short"),
        ({"new_password1": NEW, "new_password2": NEW + "x"}, "new_password2", "are different"),
        ({"new_password1": "", "new_password2": ""}, "new_password1", "Choose a new password"),
    ],
)
def test_a_bad_new_password_is_explained_beside_its_box(
    client, cast, mailoutbox, data, field, message
):
    f.UserFactory(username="pat", email="pat@example.nhs.uk")
    client.post("/password-reset/", {"email": "pat@example.nhs.uk"})
    form = client.get(reset_link(mailoutbox[0]), follow=True)
    page = client.post(form.redirect_chain[-1][0], data).content.decode()
    assert f'id="{field}-error"' in page
    assert message in page
    assert (
        get_user_model().objects.get(username="pat").check_password("correct horse battery staple")
    )


def test_a_broken_reset_link_says_so(client, cast):
    page = client.get("/password-reset/MQ/not-a-token/").content.decode()
    assert "This link does not work" in page


def test_too_many_resets_from_one_address_are_paused_whether_or_not_accounts_exist(
    client, cast, settings, mailoutbox
):
    settings.MAIL_FORMS_PER_HOUR = 2
    client.post("/password-reset/", {"email": "nobody@example.nhs.uk"})
    client.post("/password-reset/", {"email": "north_viewer@example.nhs.uk"})
    paused = client.post("/password-reset/", {"email": "north_viewer@example.nhs.uk"})
    assert paused.status_code == 429
    assert "Nothing was sent" in paused.content.decode()
    assert len(mailoutbox) == 1
