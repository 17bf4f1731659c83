"""Signing in with OpenID Connect (ADR 0029): whom a provider's ID token signs in.

mozilla-django-oidc runs the authorization code flow: the state and nonce, the exchange of the
code for tokens, the ID token's signature against the provider's published keys. This backend
adds the checks it leaves out (the token is for us, from the configured issuer) and decides
whom it signs in: the person already linked to the token's (issuer, subject), or else the one
person whose email is the provider's verified email, who is then linked. It never makes an
account (people join Flotilla by invitation) and never changes one from the provider's claims.

A refusal is not an error: the reason, in words for the person, is left on the request
(`refusal`) for the callback view to show on the sign-in page.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from flotilla.accounts import actions
from flotilla.accounts.models import OidcIdentity
from flotilla.accounts.queries import signed_in_person
from flotilla.audit.principals import Principal

LOGGER = logging.getLogger(__name__)

#: The actor of a link made by a sign-in: nobody chose it, the provider's verified email did.
LINKER = Principal.system("oidc-sign-in")

#: Shown when the provider's answer could not be used (an error, a bad token, no answer).
FAILED = (
    "Signing in with your organisation's account did not work. Try again, or sign in with "
    "your Flotilla username and password."
)

_REFUSAL = "_flotilla_oidc_refusal"


def enabled() -> bool:
    """Whether OIDC sign-in is configured: the client id and all four endpoints are set."""
    return all(
        getattr(settings, name, "")
        for name in (
            "OIDC_RP_CLIENT_ID",
            "OIDC_OP_AUTHORIZATION_ENDPOINT",
            "OIDC_OP_TOKEN_ENDPOINT",
            "OIDC_OP_USER_ENDPOINT",
            "OIDC_OP_JWKS_ENDPOINT",
        )
    )


def issuer() -> str:
    """The name identities are recorded under: the configured issuer, or else the token
    endpoint's origin (a provider's subjects are unique only within it)."""
    if settings.OIDC_ISSUER:
        return str(settings.OIDC_ISSUER).rstrip("/")
    parts = urlsplit(settings.OIDC_OP_TOKEN_ENDPOINT)
    return f"{parts.scheme}://{parts.netloc}"


def refusal(request: HttpRequest) -> str:
    """Why the backend turned this request's sign-in down, in words for the person ('' if it
    did not)."""
    return getattr(request, _REFUSAL, "")


class Refused(Exception):
    """The provider vouched for someone Flotilla will not sign in; the message says why."""


def _verified_email(claims: dict[str, Any]) -> str:
    email = claims.get("email")
    if not isinstance(email, str) or not email.strip():
        raise Refused(
            "Your organisation's sign-in did not tell Flotilla your email address, so "
            "Flotilla cannot find your account. Sign in with your username and password."
        )
    # Trusted only as far as the provider vouches for it: a provider that says it has not
    # checked the address could be naming someone else's.
    if "email_verified" in claims and claims["email_verified"] not in (True, "true"):
        raise Refused(
            f"Your organisation's sign-in has not confirmed that {email} is yours, so Flotilla "
            "cannot use it to find your account. Sign in with your username and password."
        )
    return email.strip()


class OidcBackend(OIDCAuthenticationBackend):
    """Signs in the person an OIDC provider's ID token names; never makes or changes one."""

    def get_user(self, user_id: Any) -> Any | None:
        """The active person the session names (the library's own answers an inactive one
        too), in one statement as for a password's session."""
        return signed_in_person(user_id)

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> Any:
        # Only the callback view passes a nonce. Every other authenticate() (the password form)
        # is none of this backend's business: it must never send a code from a query string
        # to the provider.
        if request is None or not enabled() or "nonce" not in kwargs or "password" in kwargs:
            return None
        try:
            return super().authenticate(request, **kwargs)
        except Refused as refused:
            setattr(request, _REFUSAL, str(refused))
        except (
            SuspiciousOperation,
            requests.RequestException,
            jwt.PyJWTError,
            ValueError,
            KeyError,
            TypeError,
        ) as exc:
            # A forged or expired token, a provider that is down or answers nonsense.
            LOGGER.warning("OIDC sign-in failed: %s: %s", type(exc).__name__, exc)
            setattr(request, _REFUSAL, FAILED)
        return None

    def verify_token(self, token: str, **kwargs: Any) -> dict[str, Any]:
        """The library checks the signature, expiry and nonce; we also check that the token
        was issued to us (OIDC Core 3.1.3.7), by the configured issuer, about someone."""
        payload: dict[str, Any] = super().verify_token(token, **kwargs)
        client_id = self.OIDC_RP_CLIENT_ID
        audience = payload.get("aud")
        audiences = [audience] if isinstance(audience, str) else list(audience or [])
        if client_id not in audiences:
            raise SuspiciousOperation("ID token is not for this client")
        if len(audiences) > 1 and payload.get("azp") != client_id:
            raise SuspiciousOperation("ID token was issued to another party")
        if settings.OIDC_ISSUER and str(payload.get("iss", "")).rstrip("/") != issuer():
            raise SuspiciousOperation("ID token is from another issuer")
        if "exp" not in payload:
            raise SuspiciousOperation("ID token has no expiry")
        if not isinstance(payload.get("sub"), str) or not payload["sub"]:
            raise SuspiciousOperation("ID token has no subject")
        return payload

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict[str, Any]) -> Any:
        """The linked person, or the one person with the verified email (then linked)."""
        subject = payload["sub"]
        found = (
            OidcIdentity.objects.select_related("user")
            .filter(issuer=issuer(), subject=subject)
            .first()
        )
        if found is not None:
            return self._active(found.user)

        user_info = self.get_userinfo(access_token, id_token, payload)
        # The user info must be about the same person as the ID token (OIDC Core 5.3.2).
        if user_info.get("sub") != subject:
            raise SuspiciousOperation("user info is about another subject")
        # The email and whether it is verified come together, from the user info if it has
        # an email, else from the ID token.
        claims = user_info if "email" in user_info else payload
        email = _verified_email(claims)

        same_email = list(get_user_model().objects.filter(email__iexact=email)[:2])
        if len(same_email) > 1:
            raise Refused(
                f"More than one Flotilla account uses {email}, so Flotilla cannot tell which "
                "is yours. Sign in with your username and password, or ask your "
                "organisation's admin to give each account its own email address."
            )
        if not same_email or not same_email[0].is_active:
            raise Refused(
                f"No Flotilla account uses {email}: ask your organisation's admin to invite you."
            )
        identity = actions.link_identity(
            user=same_email[0], issuer=issuer(), subject=subject, by=LINKER
        )
        return self._active(identity.user)

    @staticmethod
    def _active(user: Any) -> Any:
        if not user.is_active:
            raise Refused("Your Flotilla account is switched off: ask your organisation's admin.")
        return user
