"""How machine clients prove who they are (a bearer token, checked against its stored hash),
what they may do (scopes), and the schema pieces every router shares.

The shared pieces (error body, safe text, sane times) live here rather than in flotilla.api so
that routers can import them without an import cycle.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Path, Schema
from ninja.errors import AuthorizationError, ValidationError
from ninja.renderers import JSONRenderer
from ninja.security import HttpBearer
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    GetJsonSchemaHandler,
    StringConstraints,
    TypeAdapter,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from flotilla import catalogue
from flotilla.authz import actions, queries
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
#: The refusal of a request body over DATA_UPLOAD_MAX_MEMORY_SIZE, which any operation that
#: reads a body can give (flotilla.api answers RequestDataTooBig with it).
TOO_BIG: dict[int, type[ErrorOut]] = {413: ErrorOut}


class Stated:
    """Keywords for the OpenAPI document stating a limit that the code checks itself.

    `Annotated[int, Stated(minimum=1, maximum=500)]` puts `minimum` and `maximum` in the
    field's JSON Schema without pydantic enforcing them: the view or the actions check the
    limit, in their own words and alongside the request's other problems (one 422 naming
    every field at fault), and the document says what they check, so that a client (or
    schemathesis) knows what will be refused. A value may be a function, called when the
    document is made (say, the catalogue's measure codes).
    """

    def __init__(self, **keywords: Any) -> None:
        self.keywords = keywords

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        for key, value in self.keywords.items():
            schema[key] = value() if callable(value) else value
        return schema


def _no_nul(value: str) -> str:
    # PostgreSQL cannot store or compare NUL characters; refuse them before they get there.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


#: The JSON Schema pattern of text without NUL characters (what `_no_nul` lets through).
NO_NUL = r"^[^\x00]*$"
#: The characters `str.strip()` removes (those for which `str.isspace()` is true, the last of
#: them U+3000), as a regex class body: what "blank" means to the checks that strip text.
SPACE = "".join(f"\\u{c:04x}" for c in range(0x3001) if chr(c).isspace())
#: Text without NUL characters and with something besides white space (not blank once
#: stripped), for the fields the code refuses blank.
NOT_BLANK = rf"^[^\x00]*[^\x00{SPACE}][^\x00]*$"
#: Nothing but white space, or nothing at all: what the checks that strip text read as "not given".
BLANK = rf"^[{SPACE}]*$"

#: Text from a client that may reach the database.
SafeStr = Annotated[str, AfterValidator(_no_nul), Stated(pattern=NO_NUL)]


def safe_text(max_length: int) -> Any:
    """SafeStr of at most `max_length` characters (pydantic's words: "String should have at
    most N characters")."""
    return Annotated[
        str,
        StringConstraints(max_length=max_length),
        AfterValidator(_no_nul),
        Stated(pattern=NO_NUL),
    ]


def _measure_codes() -> list[str]:
    return [m.code for m in catalogue.current().measures]


#: A measure code of the catalogue (GET /api/measures), listed in the document; the views
#: refuse any other in their own words, with the request's other problems.
MeasureCode = Annotated[SafeStr, Stated(enum=_measure_codes)]


#: The years of the times the API accepts, as written (in the time's own offset). Far outside
#: them, arithmetic on times overflows and the value is surely a mistake.
FIRST_YEAR, LAST_YEAR = 2000, 2099

#: An RFC 3339 date-time (`format: date-time`, with seconds and a UTC offset: `Z` or
#: `+hh:mm`) in the years above, as a regex that JSON Schema (ECMA 262) and Python read alike.
_CLOCK = (
    r"(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(\.[0-9]+)?"
)
#: The UTC offsets time zones use, -14:00 to +14:00 (PostgreSQL refuses much larger ones).
_OFFSET = r"(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9]|[+-]14:00)"
TIME_PATTERN = rf"^20[0-9]{{2}}-{_CLOCK}{_OFFSET}$"
_ANY_YEAR = re.compile(rf"[0-9]{{4}}-{_CLOCK}{_OFFSET}")
_NO_OFFSET = re.compile(rf"[0-9]{{4}}-{_CLOCK}")
_ANY_OFFSET = re.compile(rf"[0-9]{{4}}-{_CLOCK}[+-][0-9]{{2}}:[0-9]{{2}}")
MAX_OFFSET = timedelta(hours=14)
TIME_EXAMPLE = "2026-01-05T08:00:00+00:00"
OFFSET_RANGE = "give the time with a UTC offset from -14:00 to +14:00"


def _rfc3339(value: Any) -> Any:
    """Only what the document says is a time reaches pydantic's (lenient) parsing: not a
    number of seconds since 1970, nor a date alone, nor a time without seconds or an offset,
    nor one outside the years above."""
    if isinstance(value, datetime):  # from Python code, not from a request
        offset = value.utcoffset()
        if offset is None:
            return value  # pydantic says what is wrong with a naive time
        if abs(offset) > MAX_OFFSET:
            raise ValueError(OFFSET_RANGE)
        if FIRST_YEAR <= value.year <= LAST_YEAR:
            return value
        raise ValueError(f"give a time in the years {FIRST_YEAR} to {LAST_YEAR}")
    if not isinstance(value, str):
        raise ValueError(f"give the time as text, for example {TIME_EXAMPLE}")
    if re.fullmatch(TIME_PATTERN, value):
        return value
    if _ANY_YEAR.fullmatch(value):
        raise ValueError(f"give a time in the years {FIRST_YEAR} to {LAST_YEAR}")
    if _ANY_OFFSET.fullmatch(value):
        raise ValueError(OFFSET_RANGE)
    if _NO_OFFSET.fullmatch(value):
        raise ValueError(f"give the time with its UTC offset, for example {TIME_EXAMPLE}")
    raise ValueError(
        f"give the time as {TIME_EXAMPLE} (RFC 3339: a date, T, a time with seconds, and the "
        "UTC offset or Z)"
    )


#: A moment with its UTC offset (a time without one is ambiguous), within a sane span, as
#: the document says: RFC 3339 (`format: date-time`) and `TIME_PATTERN`.
ApiTime = Annotated[AwareDatetime, BeforeValidator(_rfc3339), Stated(pattern=TIME_PATTERN)]


#: The longest values the path and query parameters take, so that no URL the document allows
#: outgrows a server's request line (gunicorn answers 414 beyond 4094 bytes, outside the
#: document): a stored code's own length (a longer one names nothing), and the largest id the
#: database holds (its keys are 64-bit integers; a larger one would overflow a query). The
#: lengths are the models' (`Collaborative.slug`, `Organisation.code` and `Site.code`), which
#: this module may not import; tests/integration/test_api_limits.py checks they agree.
SLUG_LENGTH = 80
CODE_LENGTH = 10
MAX_ID = 2**63 - 1
#: A time in a query string, up to nanoseconds and with an offset:
#: `2026-01-05T08:00:00.123456789+00:00`.
QUERY_TIME_LENGTH = 35

#: A collaborative's slug in a path.
Slug = Annotated[
    str, Path(max_length=SLUG_LENGTH, description="The collaborative's slug (as in its address).")
]
#: An organisation's ODS code in a path.
OrgCode = Annotated[str, Path(max_length=CODE_LENGTH, description="The organisation's ODS code.")]


def path_id(description: str) -> Any:
    """An id in a path: 1 to MAX_ID (anything else is a 422 naming it)."""
    return Annotated[int, Path(ge=1, le=MAX_ID, description=description)]


def _short_time(value: Any) -> Any:
    if isinstance(value, str) and len(value) > QUERY_TIME_LENGTH:
        raise ValueError(
            f"give the time as {TIME_EXAMPLE}, in at most {QUERY_TIME_LENGTH} characters"
        )
    return value


#: A moment in a query string: an ApiTime of at most QUERY_TIME_LENGTH characters.
QueryTime = Annotated[ApiTime, BeforeValidator(_short_time), Stated(maxLength=QUERY_TIME_LENGTH)]


def documented_as(shapes: Any) -> Any:
    """A request body's JSON Schema, taken from `shapes` (a callable giving a type: a union of
    documentation-only models, say) rather than from the model the view reads.

    The view's model reads the body leniently, and the view or the actions check its rules in
    their own words, alongside its other problems (one 422 naming every field at fault). The
    document gives the exact shapes the API takes (one per audience, kind of aid, ...), which
    exclude one another (`oneOf`), so that a client (or schemathesis) knows what will be
    refused:

        class GrantIn(Schema):
            __get_pydantic_json_schema__ = documented_as(lambda: GrantShape)
    """

    def schema(cls: Any, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        said = {"title": cls.__name__}
        if cls.__doc__:
            said["description"] = inspect.cleandoc(cls.__doc__)
        schema = handler(TypeAdapter(shapes()).core_schema)
        if "anyOf" in schema:  # the shapes exclude one another: a body fits exactly one
            schema["oneOf"] = schema.pop("anyOf")
        return {**said, **schema}

    return classmethod(schema)


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
        found = queries.active_token(ApiToken.hash_secret(token))
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


def encoded(request: HttpRequest, schema: type[BaseModel], answer: Any) -> bytes:
    """`answer` checked against `schema` and rendered by ninja's own JSON renderer, as an
    operation's response is: for an answer worked out once and given to many
    (`policy.shared_answer`), so that each request neither checks nor encodes it again nor
    unpickles its objects (ADR 0047)."""
    checked = schema.model_validate(answer).model_dump()
    return _RENDERER.render(request, checked, response_status=200).encode()


def encoded_response(body: bytes) -> HttpResponse:
    """A 200 whose body `encoded` made; ninja gives an operation's HttpResponse as it is."""
    return HttpResponse(body, content_type=_CONTENT_TYPE)


#: The API's renderer (NinjaAPI's default) and the content type ninja gives its answers.
_RENDERER = JSONRenderer()
_CONTENT_TYPE = f"{JSONRenderer.media_type}; charset={JSONRenderer.charset}"
