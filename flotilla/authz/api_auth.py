"""How machine clients prove who they are (a bearer token, checked against its stored hash),
what they may do (scopes), and the schema pieces every router shares.

The shared pieces (error body, safe text, sane times) live here rather than in flotilla.api so
that routers can import them without an import cycle.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Schema
from ninja.errors import AuthorizationError, ValidationError
from ninja.security import HttpBearer
from pydantic import AfterValidator, AwareDatetime

from flotilla.authz import actions
from flotilla.authz.models import ApiToken, TokenScope


class ErrorItem(Schema):
    """One thing wrong with a request: which value (index in `values`), which field, and why."""

    index: int | None = None
    field: str = ""
    message: str


class ErrorOut(Schema):
    """The body of every refusal (400, 401, 403, 404, 409, 413, 422, 429): a sentence and the
    details."""

    detail: str
    errors: list[ErrorItem] = []


#: The refusals any token-authenticated operation can give, for the OpenAPI description: 400 is
#: a NUL anywhere in the request (RefuseNulMiddleware) or a body that is not JSON; 429 is the
#: token or the client address over its requests a minute (RateLimitMiddleware), with
#: Retry-After.
#: (Kept here rather than in flotilla.api so that routers can import it without a cycle.)
ERROR_RESPONSES: dict[int, type[ErrorOut]] = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    422: ErrorOut,
    429: ErrorOut,
}
#: The same, for operations on something that may not exist (or not be the caller's).
READ_ERRORS: dict[int, type[ErrorOut]] = {**ERROR_RESPONSES, 404: ErrorOut}


#: The span of times the API accepts. Far outside it, arithmetic on times overflows and the
#: value is surely a mistake.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def _no_nul(value: str) -> str:
    # PostgreSQL cannot store or compare NUL characters; refuse them before they get there.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _in_span(value: datetime) -> datetime:
    if not EARLIEST <= value <= LATEST:
        raise ValueError(f"must be between {EARLIEST:%Y} and {LATEST:%Y}")
    return value


#: Text from a client that may reach the database.
SafeStr = Annotated[str, AfterValidator(_no_nul)]
#: A moment with its UTC offset (a time without one is ambiguous), within a sane span.
ApiTime = Annotated[AwareDatetime, AfterValidator(_in_span)]


def field_errors(where: str, problems: Iterable[tuple[str, str]]) -> ValidationError:
    """A 422 naming each field at fault (`where`: query or body), in the shape of schema errors."""
    return ValidationError(
        [
            {"loc": (where, name), "msg": message, "type": "value_error"}
            for name, message in problems
        ]
    )


def has_nul(value: str) -> bool:
    """For path parameters: a NUL can name nothing, so callers answer 404."""
    return "\x00" in value


class TokenAuth(HttpBearer):
    """`Authorization: Bearer flt_…` → the active ApiToken, or None (the API answers 401)."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        if not token:
            return None
        found = (
            ApiToken.objects.select_related("organisation")
            .filter(secret_sha256=ApiToken.hash_secret(token), revoked_at__isnull=True)
            .first()
        )
        if found is None:
            return None
        actions.note_token_used(token=found)
        return found


def token_of(request: Any) -> ApiToken:
    """The token the request was authenticated with (the API is deny-by-default)."""
    token = request.auth
    assert isinstance(token, ApiToken), "operation reached without token authentication"
    return token


def require_scope(request: Any, scope: TokenScope) -> ApiToken:
    """The request's token, or 403 if the token was issued for something else."""
    token = token_of(request)
    if token.scope != scope:
        raise AuthorizationError(
            message=(
                f"This token has the {token.scope!r} scope; this operation needs a token "
                f"with the {scope.value!r} scope ({scope.label.lower()})."
            )
        )
    return token
