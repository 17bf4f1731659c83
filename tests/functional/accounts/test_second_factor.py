"""An admin signs in for the first time with the second factor on (ADR 0031): they are shown a
QR code and a key, add the key to their app (here: the code is worked out from the key the page
shows, as an app would), keep their recovery codes and reach the page they asked for; the next
sign-in asks for the app's code. The pages pass the accessibility checks."""

from __future__ import annotations

import base64

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from flotilla.authz.models import Role
from tests import factories as f
from tests.functional.conftest import axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"


@pytest.fixture
def admin(settings, db):
    settings.ADMIN_SECOND_FACTOR = True
    north = f.OrganisationFactory(code="RN1", name="North Hospitals NHS Trust")
    f.CollaborativeFactory(name="River System", organisation=north)
    person = f.UserFactory(username="north_admin")
    f.member(person, north, Role.ORG_ADMIN)
    return person


def password_step(page, username: str, then: str) -> None:
    page.goto(f"/signin/?next={then}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def no_violations(page) -> None:
    violations = axe_violations(page)
    assert not violations, [
        (page.url, v["id"], [n["target"] for n in v["nodes"]]) for v in violations
    ]


def test_an_admin_sets_up_an_app_at_first_sign_in_and_is_asked_for_its_code_next_time(
    page, live_server, admin
):
    password_step(page, "north_admin", "/o/RN1/people")
    assert "/account/second-factor/set-up" in page.url
    assert page.locator(".flotilla-qr svg").is_visible()
    no_violations(page)

    # A wrong code first: the error summary names the field and nothing is stored.
    page.fill("#id_code", "000000")
    page.click("#add-authenticator")
    assert (
        "That code is not the one your app shows"
        in page.locator(".nhsuk-error-summary").inner_text()
    )
    assert not TOTPDevice.objects.exists()

    # The app reads the key the page shows.
    secret = page.locator("#authenticator-key").inner_text().replace(" ", "")
    key = base64.b32decode(secret + "=" * (-len(secret) % 8)).hex()
    page.fill("#id_code", f.totp_code(key))
    page.click("#add-authenticator")
    page.wait_for_load_state()
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    no_violations(page)
    page.click("#continue")
    page.wait_for_load_state()
    assert page.url.endswith("/o/RN1/people")
    assert page.locator("h1").inner_text().startswith("People")

    # Next time: the password, then the app's next code.
    page.context.clear_cookies()
    password_step(page, "north_admin", "/account/")
    assert "/account/second-factor/?next=" in page.url
    no_violations(page)
    page.fill("#id_code", f.next_code(TOTPDevice.objects.get()))
    page.click("#pass-second-factor")
    page.wait_for_load_state()
    assert page.url.endswith("/account/")
    assert "You have 10 unused recovery codes" in page.locator("#codes-left").inner_text()
    no_violations(page)
