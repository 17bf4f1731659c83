"""Signing in with OpenID Connect, against a small provider the tests start on 127.0.0.1.

The provider is real enough for the whole authorization code flow: /authorize sends the
browser back with a code and the state, /token exchanges the code for an access token and an
RS256-signed ID token (signed here with `cryptography`, not with the library that checks it),
/userinfo and /jwks answer as a provider's do. The Django test client plays the browser; the
one hop it cannot make, to the provider, is made with urllib.
"""

from __future__ import annotations

import base64
import html
import json
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from flotilla.accounts.models import OidcIdentity
from flotilla.audit.models import AuditEvent
from tests import factories as f

pytestmark = pytest.mark.django_db

CLIENT_ID = "flotilla-test"
CLIENT_SECRET = "a-client-secret-for-the-tests"
CALLBACK = "http://testserver/oidc/callback/"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64int(n: int) -> str:
    return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


class Provider:
    """An OpenID Connect provider with one person signed in at it, whose claims tests set."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "test-key-1"
        #: Who is signed in at the provider: the ID token's and the user info's claims.
        self.person: dict[str, Any] = {
            "sub": "248289761001",
            "email": "ada@example.nhs.uk",
            "email_verified": True,
        }
        #: Claims of the ID token to change (say `aud` or `iss`), and whether to spoil its
        #: signature.
        self.id_token_changes: dict[str, Any] = {}
        self.tamper = False
        self.codes: dict[str, dict[str, str]] = {}
        self.access_tokens: set[str] = set()
        self.token_requests = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Provider:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def sign(self, claims: dict[str, Any]) -> str:
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        signing_input = (
            f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        )
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        if self.tamper:
            signature = bytes([signature[0] ^ 1]) + signature[1:]
        return f"{signing_input}.{b64url(signature)}"

    def jwks(self) -> dict[str, Any]:
        numbers = self.key.public_key().public_numbers()
        key = {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid}
        return {"keys": [{**key, "n": b64int(numbers.n), "e": b64int(numbers.e)}]}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, body: dict[str, Any], status: int = 200) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                if path == "/authorize":
                    asked = {k: v[0] for k, v in parse_qs(query).items()}
                    code = secrets.token_urlsafe(16)
                    provider.codes[code] = asked
                    back = urlencode({"code": code, "state": asked["state"]})
                    self.send_response(302)
                    self.send_header("Location", f"{asked['redirect_uri']}?{back}")
                    self.end_headers()
                elif path == "/userinfo":
                    token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                    if token not in provider.access_tokens:
                        self._json({"error": "invalid_token"}, 401)
                    else:
                        self._json(provider.person)
                elif path == "/jwks":
                    self._json(provider.jwks())
                else:
                    self._json({"error": "not_found"}, 404)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                provider.token_requests += 1
                asked = provider.codes.pop(form.get("code", ""), None)
                if (
                    self.path != "/token"
                    or asked is None
                    or form.get("client_id") != CLIENT_ID
                    or form.get("client_secret") != CLIENT_SECRET
                    or form.get("redirect_uri") != asked["redirect_uri"]
                ):
                    self._json({"error": "invalid_grant"}, 400)
                    return
                now = int(time.time())
                claims = {
                    "iss": provider.url,
                    "aud": CLIENT_ID,
                    "iat": now,
                    "exp": now + 300,
                    "nonce": asked["nonce"],
                    **provider.person,
                    **provider.id_token_changes,
                }
                access_token = secrets.token_urlsafe(16)
                provider.access_tokens.add(access_token)
                self._json(
                    {
                        "access_token": access_token,
                        "token_type": "Bearer",
                        "expires_in": 300,
                        "id_token": provider.sign(claims),
                    }
                )

        return Handler


@pytest.fixture
def provider(settings) -> Iterator[Provider]:
    with Provider() as p:
        settings.OIDC_RP_CLIENT_ID = CLIENT_ID
        settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
        settings.OIDC_OP_AUTHORIZATION_ENDPOINT = f"{p.url}/authorize"
        settings.OIDC_OP_TOKEN_ENDPOINT = f"{p.url}/token"
        settings.OIDC_OP_USER_ENDPOINT = f"{p.url}/userinfo"
        settings.OIDC_OP_JWKS_ENDPOINT = f"{p.url}/jwks"
        settings.OIDC_ISSUER = ""
        yield p


class _Stay(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def at_provider(url: str) -> str:
    """Open the provider's authorize address as a browser would; where it sends us back."""
    opener = urllib.request.build_opener(_Stay)
    with pytest.raises(urllib.error.HTTPError) as answer:
        opener.open(url, timeout=10)
    assert answer.value.code == 302
    return answer.value.headers["Location"]


def sign_in(client, provider: Provider, start: str = "/oidc/authenticate/", **follow: Any):
    """Walk the flow: Flotilla sends the browser to the provider, which sends it back."""
    to_provider = client.get(start)
    assert to_provider.status_code == 302
    location = to_provider["Location"]
    assert location.startswith(f"{provider.url}/authorize?")
    asked = parse_qs(urlsplit(location).query)
    assert asked["client_id"] == [CLIENT_ID]
    assert asked["redirect_uri"] == [CALLBACK]
    assert asked["response_type"] == ["code"]
    assert asked["scope"] == ["openid email profile"]
    assert asked["state"][0] and asked["nonce"][0]
    back = at_provider(location)
    assert back.startswith(f"{CALLBACK}?")
    return client.get(back, **follow)


def signed_in_as(client) -> str | None:
    return client.session.get("_auth_user_id")


def page(response) -> str:
    return html.unescape(response.content.decode())


def test_a_person_is_signed_in_by_their_verified_email_and_linked(client, provider):
    ada = f.UserFactory(username="ada", email="Ada@Example.nhs.uk")
    answer = sign_in(client, provider)
    assert answer.status_code == 302 and answer["Location"] == "/"
    assert signed_in_as(client) == str(ada.pk)
    identity = OidcIdentity.objects.get()
    assert (identity.user, identity.issuer, identity.subject) == (ada, provider.url, "248289761001")
    event = AuditEvent.objects.get(action="accounts.oidc_identity_linked")
    assert event.actor_label == "system:oidc-sign-in"
    assert event.object_id == str(identity.pk)
    assert event.after == {"user": ada.pk, "issuer": provider.url, "subject": "248289761001"}


def test_a_second_sign_in_uses_the_link_even_after_the_email_changed_at_the_provider(
    client, provider
):
    ada = f.UserFactory(username="ada", email="ada@example.nhs.uk")
    sign_in(client, provider)
    client.logout()
    provider.person["email"] = "ada.lovelace@another.nhs.uk"
    sign_in(client, provider)
    assert signed_in_as(client) == str(ada.pk)
    assert OidcIdentity.objects.count() == 1
    assert AuditEvent.objects.filter(action="accounts.oidc_identity_linked").count() == 1
    ada.refresh_from_db()
    assert ada.email == "ada@example.nhs.uk", "the provider's claims never change the person"


def test_the_sign_in_goes_on_to_the_page_the_person_asked_for(client, provider):
    f.UserFactory(username="ada", email="ada@example.nhs.uk")
    answer = sign_in(client, provider, start="/oidc/authenticate/?next=/about/")
    assert answer["Location"] == "/about/"


def test_an_email_no_account_uses_is_refused_and_nobody_is_signed_in(client, provider):
    f.UserFactory(username="grace", email="grace@example.nhs.uk")
    answer = sign_in(client, provider, follow=True)
    assert answer.redirect_chain[-1][0] == "/signin/"
    assert (
        "No Flotilla account uses ada@example.nhs.uk: ask your organisation's admin to invite you"
        in page(answer)
    )
    assert signed_in_as(client) is None
    assert not OidcIdentity.objects.exists()


def test_an_email_the_provider_has_not_verified_is_refused(client, provider):
    f.UserFactory(username="ada", email="ada@example.nhs.uk")
    provider.person["email_verified"] = False
    answer = sign_in(client, provider, follow=True)
    assert "has not confirmed that ada@example.nhs.uk is yours" in page(answer)
    assert signed_in_as(client) is None
    assert not OidcIdentity.objects.exists()


def test_an_email_is_trusted_when_the_provider_does_not_say_whether_it_verified_it(
    client, provider
):
    ada = f.UserFactory(username="ada", email="ada@example.nhs.uk")
    del provider.person["email_verified"]
    sign_in(client, provider)
    assert signed_in_as(client) == str(ada.pk)


def test_an_email_two_accounts_share_is_refused_and_neither_is_linked(client, provider):
    f.UserFactory(username="ada", email="ada@example.nhs.uk")
    f.UserFactory(username="ada2", email="ADA@example.nhs.uk")
    answer = sign_in(client, provider, follow=True)
    assert "More than one Flotilla account uses ada@example.nhs.uk" in page(answer)
    assert signed_in_as(client) is None
    assert not OidcIdentity.objects.exists()


def test_a_switched_off_account_is_not_signed_in_by_its_link(client, provider):
    ada = f.UserFactory(username="ada", email="ada@example.nhs.uk")
    sign_in(client, provider)
    client.logout()
    ada.is_active = False
    ada.save()
    answer = sign_in(client, provider, follow=True)
    assert "Your Flotilla account is switched off" in page(answer)
    assert signed_in_as(client) is None


def test_an_id_token_with_a_tampered_signature_is_refused(client, provider):
    f.UserFactory(username="ada", email="ada@example.nhs.uk")
    provider.tamper = True
    answer = sign_in(client, provider, follow=True)
    assert answer.status_code == 200
    assert "Signing in with your organisation's account did not work" in page(answer)
    assert signed_in_as(client) is None
    assert not OidcIdentity.objects.exists()


@pytest.mark.parametrize(
    "changes",
    [
        {"aud": "another-client"},
        {"aud": [CLIENT_ID, "another-client"], "azp": "another-client"},
        {"exp": int(time.time()) - 600},
        {"nonce": "a-nonce-from-another-sign-in"},
    ],
    ids=["for-another-client", "issued-to-another-party", "expired", "another-nonce"],
)
def test_an_id_token_not_meant_for_this_sign_in_is_refused(client, provider, changes):
    f.UserFactory(username="ada", email="ada@example.nhs.uk")
    provider.id_token_changes = changes
    answer = sign_in(client, provider, follow=True)
    assert "did not work" in page(answer)
    assert signed_in_as(client) is None


def test_with_an_issuer_configured_tokens_from_another_are_refused(client, provider, settings):
    ada = f.UserFactory(username="ada", email="ada@example.nhs.uk")
    settings.OIDC_ISSUER = "https://login.example.org/realms/nhs"
    sign_in(client, provider)
    assert signed_in_as(client) is None

    settings.OIDC_ISSUER = provider.url + "/"
    sign_in(client, provider)
    assert signed_in_as(client) == str(ada.pk)
    assert OidcIdentity.objects.get().issuer == provider.url


def test_a_provider_that_cannot_be_reached_brings_the_person_back_with_a_message(
    client, provider, settings
):
    f.UserFactory(username="ada", email="ada@example.nhs.uk")
    settings.OIDC_OP_TOKEN_ENDPOINT = f"http://127.0.0.1:{f.unused_port()}/token"
    answer = sign_in(client, provider, follow=True)
    assert answer.redirect_chain[-1][0] == "/signin/"
    assert "did not work" in page(answer)
    assert signed_in_as(client) is None


def test_a_sign_in_cancelled_at_the_provider_brings_the_person_back(client, provider):
    answer = client.get("/oidc/callback/?error=access_denied&state=x", follow=True)
    assert answer.redirect_chain[-1][0] == "/signin/"
    assert "did not work" in page(answer)


def test_an_answer_this_browser_did_not_ask_for_is_refused_without_asking_for_tokens(
    client, provider
):
    f.UserFactory(username="ada", email="ada@example.nhs.uk")
    client.get("/oidc/authenticate/")  # a state of its own in the session
    answer = client.get("/oidc/callback/?code=stolen&state=someone-elses", follow=True)
    assert "did not work" in page(answer)
    assert provider.token_requests == 0
    assert signed_in_as(client) is None


def test_the_same_answer_cannot_be_used_twice(client, provider):
    ada = f.UserFactory(username="ada", email="ada@example.nhs.uk")
    start = client.get("/oidc/authenticate/")
    back = at_provider(start["Location"])
    client.get(back)
    assert signed_in_as(client) == str(ada.pk)
    client.logout()
    client.get(back, follow=True)
    assert signed_in_as(client) is None


def test_the_password_form_never_sends_a_code_to_the_provider(client, provider):
    f.UserFactory(username="ada", email="ada@example.nhs.uk")
    client.post("/signin/?code=stolen&state=x", {"username": "ada", "password": "wrong"})
    assert provider.token_requests == 0
    assert signed_in_as(client) is None


def test_passwords_still_work_beside_it(client, provider):
    ada = f.UserFactory(username="ada", email="ada@example.nhs.uk")
    client.post("/signin/", {"username": "ada", "password": "correct horse battery staple"})
    assert signed_in_as(client) == str(ada.pk)


def test_when_configured_the_sign_in_page_offers_it_by_a_plain_link(client, provider, settings):
    settings.OIDC_NAME = "Sign in with NHS Care Identity"
    answer = page(client.get("/signin/?next=/about/"))
    assert (
        '<a class="nhsuk-button nhsuk-button--secondary" id="oidc-sign-in" '
        'href="/oidc/authenticate/?next=%2Fabout%2F"'
    ) in answer
    assert "Sign in with NHS Care Identity</a>" in answer


def test_when_not_configured_there_is_no_button_and_no_route(client):
    assert 'id="oidc-sign-in"' not in client.get("/signin/").content.decode()
    assert client.get("/oidc/authenticate/").status_code == 404
    assert client.get("/oidc/callback/?code=c&state=s").status_code == 404


def test_a_client_id_without_every_endpoint_is_not_configured(client, provider, settings):
    settings.OIDC_OP_JWKS_ENDPOINT = ""
    assert 'id="oidc-sign-in"' not in client.get("/signin/").content.decode()
    assert client.get("/oidc/authenticate/").status_code == 404
