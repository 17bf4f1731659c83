"""API for the mutual-aid exchange: ask for help, offer it, take it up, and move each along.

Reading needs a token with the `read` or the `aid` scope; changing anything needs the `aid`
scope, whose token acts for its own organisation (as a person who arranges aid there would).
What a token sees is what its organisation sees, through `flotilla.exchange.queries`: anything
else answers 404, never 403. Every change goes through `flotilla.exchange.actions`; the
refusals of the core are answered by flotilla.api's handlers: `AidInvalid` 422 (one error per
body field), `IllegalMove` 409 (nothing changed) and `NotAllowed` 403.

No reported figure of another organisation appears in an answer, except in the matches,
which `matching` reads through the sharing policy (with the detail and delay shared).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Annotated, Any, Literal, Union

from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Header, Query, Router, Schema, Status
from ninja.errors import AuthorizationError, HttpError
from pydantic import AfterValidator, ConfigDict, WithJsonSchema, create_model

from flotilla.authz.api_auth import (
    BLANK,
    MAX_ID,
    NO_NUL,
    READ_ERRORS,
    SLUG_LENGTH,
    SPACE,
    TOO_BIG,
    ApiTime,
    ErrorOut,
    QueryTime,
    SafeStr,
    Slug,
    Stated,
    documented_as,
    field_errors,
    has_nul,
    path_id,
    require_scope,
    safe_text,
    token_of,
)
from flotilla.authz.models import ApiToken, TokenScope
from flotilla.collaboratives.models import Collaborative
from flotilla.collaboratives.queries import collaboratives_of, find_collaborative
from flotilla.exchange import actions, kinds, lifecycle, matching, queries, reciprocity
from flotilla.exchange.models import (
    AidRequest,
    Commitment,
    CostRecovery,
    Offer,
    Reach,
    Transport,
    Urgency,
)
from flotilla.organisations.models import Organisation, Site
from flotilla.sharing import policy
from flotilla.sharing.policy import Shared, Viewer

router = Router(tags=["exchange"])

#: Scopes that may read the exchange: a read token sees what its organisation sees; an aid
#: token, which acts in the exchange, must see what it acts on.
READERS = (TokenScope.READ, TokenScope.AID)
CHANGE_ERRORS = {**READ_ERRORS, 409: ErrorOut}
#: The same, for the changes that take a body.
BODY_ERRORS = {**CHANGE_ERRORS, **TOO_BIG}
MAX_PAGE = 500
RequestId = path_id("The request's id.")
OfferId = path_id("The offer's id.")
CommitmentId = path_id("The commitment's id.")
#: A collaborative's slug in a query string.
SlugFilter = safe_text(SLUG_LENGTH)

#: Names of `actions.AidInvalid`'s fields that the request body spells otherwise.
API_FIELD = {
    "transport": "terms.transport",
    "cost_recovery": "terms.cost_recovery",
    "duration_hours": "terms.duration_hours",
    "conditions": "terms.conditions",
}

KindCode = Literal[tuple(kinds.KINDS)]  # type: ignore[valid-type]
RequestState = Literal[lifecycle.REQUEST_STATES]  # type: ignore[valid-type]
OfferState = Literal[lifecycle.OFFER_STATES]  # type: ignore[valid-type]
CommitmentState = Literal[lifecycle.COMMITMENT_STATES]  # type: ignore[valid-type]
RequestFilter = Literal[(*lifecycle.REQUEST_STATES, "any")]  # type: ignore[valid-type]
OfferFilter = Literal[(*lifecycle.OFFER_STATES, "any")]  # type: ignore[valid-type]
ReachName = Literal["organisation", "collaborative", "region", "platform"]


REACH_HELP = (
    "Who sees it: organisation (the organisation's own other sites), collaborative (its "
    "members), region (every organisation in the region), platform (every organisation on "
    "Flotilla)."
)


def api_field(name: str) -> str:
    """The body's name for a field `actions.AidInvalid` names."""
    return API_FIELD.get(name, name)


def _reach_name(reach: int) -> str:
    return Reach(reach).name.lower()


def _no_nul_inside(value: Any) -> Any:
    """Details are free-form JSON: a NUL anywhere in them (keys too) is refused, as SafeStr
    refuses it in text fields, because PostgreSQL cannot store it."""

    def walk(item: Any) -> None:
        if isinstance(item, str):
            if "\x00" in item:
                raise ValueError("must not contain NUL characters")
        elif isinstance(item, dict):
            for k, v in item.items():
                walk(k)
                walk(v)
        elif isinstance(item, list):
            for v in item:
                walk(v)

    walk(value)
    return value


#: Free-form JSON for the document, as far as the schema goes: names to a single value or a
#: list of choices' codes, without NUL characters (`kinds.validate` then checks each kind's
#: details; no kind takes an object or a list of anything else). At most 20 of them: a kind
#: has at most four, and unknown ones are refused, not dropped.
_NUL_FREE_TEXT = {"type": "string", "pattern": NO_NUL}
Details = Annotated[
    dict[str, Any],
    Field(max_length=20),
    AfterValidator(_no_nul_inside),
    Stated(
        propertyNames=_NUL_FREE_TEXT,
        additionalProperties={
            "anyOf": [
                _NUL_FREE_TEXT,
                {"type": "integer"},
                {"type": "boolean"},
                {"type": "null"},
                {"type": "array", "items": _NUL_FREE_TEXT},
            ]
        },
    ),
]
#: Besides each letter's two cases, what Python's `re.IGNORECASE` matches of the letters
#: (`kinds` reads free text that way): dotted and dotless i, the Kelvin sign, the long s.
_OTHER_CASES = {"i": "\u0130\u0131", "k": "\u212a", "s": "\u017f"}


def _either_case(pattern: str) -> str:
    """`pattern`, read with re.IGNORECASE, as one that JSON Schema (which has no flags) reads
    alike: each ASCII letter becomes the class of its cases."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if c.isascii() and c.isalpha():
            cases = c.lower() + c.upper() + _OTHER_CASES.get(c.lower(), "")
            out.append(cases if in_class else f"[{cases}]")
        else:
            in_class = (in_class or c == "[") and c != "]"
            out.append(c)
        i += 1
    return "".join(out)


#: What `kinds.looks_like_patient_identity` finds in free text (an NHS number, a date of
#: birth), as a pattern: text in which it matches anywhere is refused (`"not": {"pattern"}`).
IDENTITY = "|".join(f"(?:{_either_case(p.pattern)})" for p in (kinds._NHS_NUMBER, kinds._BIRTH))
_NO_IDENTITY = {"not": {"pattern": IDENTITY}}

#: The limits `flotilla.exchange.actions` checks (in its own words, with every other problem of
#: the request), stated in the document.
Quantity = Annotated[int, Stated(minimum=1, maximum=actions.MAX_QUANTITY)]
DistanceKm = Annotated[int, Stated(minimum=1, maximum=actions.MAX_DISTANCE_KM)]
DurationHours = Annotated[int, Stated(minimum=1, maximum=24 * actions.MAX_OFFER_DAYS)]
Text = Annotated[SafeStr, Stated(maxLength=actions.MAX_TEXT, **_NO_IDENTITY)]
RequestRef = Annotated[int, Field(ge=1, le=MAX_ID)]

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Makes retries safe: the same key and request answer the first answer "
        "again (header Idempotent-Replayed: true) and create nothing more; the same key with a "
        "different request is refused (409). Up to 200 visible ASCII characters, e.g. a UUID.",
    ),
]


# ------------------------------------------------------------------ schemas: the kinds' details

# The document states the details each kind takes, as `kinds.validate` reads them; the API
# reads `details` as free-form JSON and `kinds.validate` refuses what does not fit, in its own
# words and with the request's other problems. What no schema can state stays with it: a beds
# window's `until_date` not before its `from_date`.

#: What `kinds` reads as a detail left out: null, an empty list, or blank text.
_LEFT_OUT: list[dict[str, Any]] = [
    {"type": "null"},
    {"type": "array", "maxItems": 0},
    {"type": "string", "pattern": BLANK},
]
#: The answers `kinds` reads as yes, and as no.
_YES: list[Any] = [True, "true", "on", "yes", "1"]
_NO: list[Any] = [False, "false", "no", "0", ""]


def _stripped(max_length: int, required: bool) -> str:
    """Text without NUL of at most `max_length` characters once white space is stripped from
    its ends (as `kinds` counts them); blank only when not `required`."""
    inner = rf"[^\x00{SPACE}]"
    if max_length > 1:
        inner += rf"([^\x00]{{0,{max_length - 2}}}[^\x00{SPACE}])?"
    return rf"^[{SPACE}]*({inner}){'' if required else '?'}[{SPACE}]*$"


def _number_text(low: int, high: int) -> str:
    """A whole number from `low` to `high` in digits, as `kinds` reads one given as text
    (leading zeros, and white space around it)."""
    numbers = "|".join(str(n) for n in range(high, low - 1, -1))
    return rf"^[{SPACE}]*0*({numbers})[{SPACE}]*$"


def _detail_schema(f: kinds.Field) -> dict[str, Any]:
    """What one detail of a kind takes, as `kinds.validate` reads it."""
    if f.type == "bool":
        return {"enum": _YES + _NO}
    choices = list(f.choices or {})
    given: list[dict[str, Any]]
    if f.type == "choice":
        given = [{"enum": choices}]
    elif f.type == "choices":
        listed: dict[str, Any] = {"type": "array", "items": {"enum": choices}}
        given = [{**listed, "minItems": 1} if f.required else listed, {"enum": choices}]
    elif f.type == "int":
        given = [
            {"type": "integer", "minimum": f.minimum, "maximum": f.maximum},
            {"type": "string", "pattern": _number_text(f.minimum, f.maximum)},
        ]
    elif f.type == "date":
        given = [{"type": "string", "format": "date"}]
    else:  # text, or a whole number (read as its digits)
        text = {"type": "string", "pattern": _stripped(f.max_length, f.required), **_NO_IDENTITY}
        digits: dict[str, Any] = {
            "type": "integer",
            "minimum": -(10 ** (f.max_length - 1) - 1),
            "maximum": 10**f.max_length - 1,
        }
        if f.max_length >= 10:  # ten digits read as an NHS number
            ten = [{"minimum": 10**9, "maximum": 10**10 - 1}]
            digits["not"] = {"anyOf": [*ten, {"minimum": -(10**10 - 1), "maximum": -(10**9)}]}
        given = [text, digits]
    if not f.required:  # blank text is in the text's pattern already
        given += [s for s in _LEFT_OUT if f.type != "text" or s.get("type") != "string"]
    return {"anyOf": given} if len(given) > 1 else given[0]


def _details_shape(
    name: str,
    kind: kinds.Kind,
    doc: str,
    changed: dict[str, dict[str, Any]] | None = None,
    needed: frozenset[str] = frozenset(),
) -> Any:
    """A documentation-only model of a kind's details: each detail as `kinds.validate` reads
    it (or as `changed`), and no other, as it refuses unknown details rather than drop them."""
    fields: dict[str, Any] = {}
    for f in kind.fields:
        schema = (changed or {}).get(f.name) or _detail_schema(f)
        # A yes-or-no is always needed: left out, it is neither.
        required = f.required or f.type == "bool" or f.name in needed
        fields[f.name] = (
            Annotated[Any, WithJsonSchema(schema)],
            Field(... if required else None, description=f.label),
        )
    return create_model(  # type: ignore[call-overload]
        name, __config__=ConfigDict(extra="forbid", title=name), __doc__=doc, **fields
    )


def _details_shapes(kind: kinds.Kind) -> Any:
    """The shape of one kind's details (two for equipment, as it is consumed or comes back)."""
    label = f"{kind.label.lower()} (counted in {kind.unit})"
    if kind.code != "equipment":
        return _details_shape(f"{kind.code.capitalize()}Details", kind, f"The details of {label}.")
    consumed = _details_shape(
        "ConsumedEquipmentDetails",
        kind,
        f"The details of {label} that is consumed: `return_by` may be left out.",
        {"consumable": {"enum": _YES}},
    )
    returned = _details_shape(
        "ReturnedEquipmentDetails",
        kind,
        f"The details of {label} that comes back: `return_by` says when.",
        {"consumable": {"enum": _NO}, "return_by": {"type": "string", "format": "date"}},
        needed=frozenset({"return_by"}),
    )
    return consumed | returned


#: Each kind's details, for the document.
DETAILS = {code: _details_shapes(kind) for code, kind in kinds.KINDS.items()}
#: What the document says of the details, whatever the kind.
DETAILS_HELP = (
    "The kind's details (see the shape for each kind), never a patient's identity: no NHS "
    "number or date of birth in any text. Unknown details are refused, not dropped."
)


# ------------------------------------------------------------------ schemas: in


class RequestTerms(Schema):
    """A request for help, whatever its kind."""

    collaborative: SafeStr = Field(
        ..., description="Slug of a collaborative the organisation belongs to."
    )
    site: SafeStr = Field(..., description="Code of the organisation's site that needs help.")
    quantity: Quantity = Field(
        ..., description=f"How many, in the kind's unit: 1 to {actions.MAX_QUANTITY}."
    )
    urgency: Urgency = Field(
        ..., description="How soon: immediate, within_4h, within_24h, planned."
    )
    needed_by: ApiTime = Field(
        ..., description="When help is needed by, in the future, with its UTC offset."
    )
    max_distance_km: DistanceKm | None = Field(
        None,
        description=f"Farthest helper worth asking, 1 to {actions.MAX_DISTANCE_KM} km; null: any.",
    )
    note: Text = Field(
        "", description="Anything else helpers should know (≤ 1000), never a patient's identity."
    )
    reach: ReachName | None = Field(
        None,
        description=REACH_HELP + " Default (null): the collaborative's default, its members, "
        "or wider while the collaborative is in surge.",
    )


#: A request's shapes, one per kind of aid, for the document.
REQUEST_SHAPES = [
    create_model(  # type: ignore[call-overload]
        f"{code.capitalize()}Request",
        __base__=RequestTerms,
        __doc__=f"A request for {kind.label.lower()}.",
        kind=(Literal[code], Field(..., description="The kind of aid.")),
        details=(DETAILS[code], Field(..., description=DETAILS_HELP)),
    )
    for code, kind in kinds.KINDS.items()
]


class RequestIn(RequestTerms):
    """A request for help, raised for the token's organisation: its shape is its kind's."""

    kind: KindCode = Field(..., description="The kind of aid (see `details`).")
    details: Details = Field(..., description=DETAILS_HELP)

    __get_pydantic_json_schema__ = documented_as(
        lambda: Annotated[Union[tuple(REQUEST_SHAPES)], Field(discriminator="kind")]  # noqa: UP007
    )


class TermsIn(Schema):
    """The terms of an offer, which stand in for an agreement nobody has time to sign."""

    transport: Transport = Field(
        ..., description="offerer, requester, shared (to agree) or not_needed."
    )
    cost_recovery: CostRecovery = Field(
        ..., description="none, at_cost, tariff or to_agree (afterwards)."
    )
    duration_hours: DurationHours | None = Field(
        None,
        description=f"How long the help lasts, 1 to {24 * actions.MAX_OFFER_DAYS} hours; null: "
        "not limited.",
    )
    conditions: Text = Field(
        "", description="Conditions attached (≤ 1000), never a patient's identity."
    )


class OfferTerms(Schema):
    """Help offered, whatever it answers."""

    site: SafeStr = Field(..., description="Code of the organisation's site that helps.")
    quantity: Quantity = Field(..., description=f"How many: 1 to {actions.MAX_QUANTITY}.")
    available_from: ApiTime | None = Field(None, description="From when; default now.")
    available_until: ApiTime = Field(
        ...,
        description=f"Until when: in the future, at most {actions.MAX_OFFER_DAYS} days after "
        "`available_from`.",
    )
    reach: ReachName = Field(
        "collaborative",
        description=REACH_HELP + " Only for an unsolicited offer: an answer is seen by the "
        "two parties.",
    )
    terms: TermsIn = Field(..., description="The terms of the offer.")
    note: Text = Field(
        "",
        description="Anything else the other side should know (≤ 1000), never a patient's "
        "identity.",
    )


_UNSOLICITED = "Not taken by an unsolicited offer: leave it out, or null."
_ANSWER = "Not taken by an answer, which is made where the request was: leave it out, or null."
_ANSWERED = "The request answered: one the organisation sees, of this kind."


def _offer_shapes() -> list[Any]:
    """An offer's shapes, for the document: unsolicited, of each kind; answering a request,
    of each kind; and answering one with the request's kind (and by default its details)."""
    shapes = []
    for code, kind in kinds.KINDS.items():
        name, label = code.capitalize(), kind.label.lower()
        kind_of = (Literal[code], Field(..., description="The kind of aid."))
        shapes.append(
            create_model(  # type: ignore[call-overload]
                f"Unsolicited{name}Offer",
                __base__=OfferTerms,
                __doc__=f"An unsolicited offer of {label}, in one of the organisation's "
                "collaboratives.",
                request=(None, Field(None, description=_UNSOLICITED)),
                collaborative=(
                    SafeStr,
                    Field(..., description="Slug of a collaborative the organisation belongs to."),
                ),
                kind=kind_of,
                details=(DETAILS[code], Field(..., description=DETAILS_HELP)),
            )
        )
        shapes.append(
            create_model(  # type: ignore[call-overload]
                f"{name}OfferAnswering",
                __base__=OfferTerms,
                __doc__=f"An offer of {label} answering a request for it.",
                request=(RequestRef, Field(..., description=_ANSWERED)),
                collaborative=(None, Field(None, description=_ANSWER)),
                kind=kind_of,
                details=(
                    DETAILS[code] | None,
                    Field(None, description=DETAILS_HELP + " Default (null): the request's."),
                ),
            )
        )

    class OfferAnswering(OfferTerms):
        """An offer answering a request, of the request's kind."""

        request: RequestRef = Field(..., description="The request answered: one it sees.")
        collaborative: None = Field(None, description=_ANSWER)
        kind: None = Field(None, description="Left out (or null): the request's kind.")
        details: Details | None = Field(
            None,
            description="The details the request's kind takes (see the shapes of a request); "
            "default (null): the request's.",
        )

    return [*shapes, OfferAnswering]


OFFER_SHAPES = _offer_shapes()


class OfferIn(OfferTerms):
    """Help offered by the token's organisation: in answer to a request (`request`), or
    unsolicited in one of its collaboratives (`collaborative`), never both."""

    request: int | None = Field(
        None,
        ge=1,
        le=MAX_ID,
        description="The request answered (one the organisation sees); null: unsolicited.",
    )
    collaborative: SafeStr | None = Field(
        None,
        description="For an unsolicited offer (only): the slug of a collaborative the "
        "organisation belongs to.",
    )
    kind: KindCode | None = Field(
        None, description="The kind of aid; for an answer, the request's (the default)."
    )
    details: Details | None = Field(
        None,
        description="The kind's details (see POST /api/aid/requests); for an answer, the "
        "request's by default.",
    )

    __get_pydantic_json_schema__ = documented_as(lambda: Union[tuple(OFFER_SHAPES)])  # noqa: UP007


class CommitmentIn(Schema):
    """Part of an offer taken up."""

    quantity: Quantity = Field(
        ...,
        description="How much of the offer to take up (partial is normal): at least 1, and no "
        "more than is left on the offer nor (for an answer) than the request still needs.",
    )
    organisation: SafeStr | None = Field(
        None,
        description="Code of the organisation taking it up: for an unsolicited offer, the "
        "token's own (the default); an answer is taken up by the organisation that asked.",
    )


class RequestMoveIn(Schema):
    to: RequestState = Field(..., description="The state to move to: closed or withdrawn.")
    reason: SafeStr = Field(
        "", max_length=500, description="Why; needed to withdraw (≤ 500 characters)."
    )


class OfferMoveIn(Schema):
    to: OfferState = Field(
        ...,
        description="The state to move to: withdrawn (by the offerer) or declined (by the "
        "organisation that asked, for an offer answering its request).",
    )
    reason: SafeStr = Field("", max_length=500, description="Why; needed (≤ 500 characters).")


class CommitmentMoveIn(Schema):
    to: CommitmentState = Field(
        ..., description="The state to move to: in_progress, fulfilled, returned or released."
    )
    reason: SafeStr = Field(
        "",
        max_length=500,
        description="Why; needed to release before fulfilment (≤ 500 characters).",
    )


# ------------------------------------------------------------------ schemas: out


class TermsOut(Schema):
    transport: str = Field(..., description="offerer, requester, shared or not_needed.")
    cost_recovery: str = Field(..., description="none, at_cost, tariff or to_agree.")
    duration_hours: int | None = Field(..., description="How long the help lasts; null: open.")
    conditions: str = Field(..., description="Conditions attached, if any.")


class CommitmentOut(Schema):
    id: int = Field(..., description="The commitment's id.")
    offer: int = Field(..., description="The offer it takes up.")
    request: int | None = Field(..., description="The request it meets, if the offer answered one.")
    organisation: str = Field(..., description="Code of the organisation receiving the help.")
    organisation_name: str = Field(..., description="Its name.")
    given_by: str = Field(..., description="Code of the organisation giving it (the offerer).")
    quantity: int = Field(..., description="How much, in the kind's unit.")
    state: str = Field(..., description="committed, in_progress, fulfilled, returned or released.")
    reason: str = Field(..., description="Why it was released, if it was.")
    created_at: datetime = Field(..., description="When it was taken up.")
    started_at: datetime | None = Field(..., description="When it started, if it has.")
    fulfilled_at: datetime | None = Field(..., description="When it was fulfilled, if it was.")
    ended_at: datetime | None = Field(..., description="When it was returned or released.")
    moves: list[str] = Field(
        ..., description="The states this token may move it to now (empty for a read token)."
    )


class OfferOut(Schema):
    id: int = Field(..., description="The offer's id.")
    collaborative: str = Field(..., description="Slug of the collaborative it is made in.")
    request: int | None = Field(..., description="The request it answers; null: unsolicited.")
    organisation: str = Field(..., description="Code of the organisation offering.")
    organisation_name: str = Field(..., description="Its name.")
    site: str = Field(..., description="Code of the site that helps.")
    site_name: str = Field(..., description="Its name.")
    kind: str = Field(..., description="The kind of aid.")
    details: dict[str, Any] = Field(..., description="The kind's details, cleaned.")
    summary: str = Field(..., description="The offer in a phrase: '3 patients, critical care'.")
    quantity: int = Field(..., description="How much was offered.")
    remaining: int = Field(..., description="How much can still be taken up.")
    available_from: datetime = Field(..., description="Available from.")
    available_until: datetime = Field(..., description="Available until.")
    reach: str = Field(..., description="Who sees an unsolicited offer (see `reach` in).")
    terms: TermsOut = Field(..., description="The offer's terms.")
    note: str = Field(..., description="The offerer's note.")
    state: str = Field(..., description="offered, withdrawn, declined or expired.")
    reason: str = Field(..., description="Why it ended, if it has.")
    created_at: datetime = Field(..., description="When it was made.")
    ended_at: datetime | None = Field(..., description="When it ended, if it has.")
    moves: list[str] = Field(
        ..., description="The states this token may move it to now (empty for a read token)."
    )


class OfferDetailOut(OfferOut):
    commitments: list[CommitmentOut] = Field(
        ..., description="Its commitments the token's organisation may see, oldest first."
    )


class RequestOut(Schema):
    id: int = Field(..., description="The request's id.")
    collaborative: str = Field(..., description="Slug of the collaborative it is raised in.")
    organisation: str = Field(..., description="Code of the organisation asking.")
    organisation_name: str = Field(..., description="Its name.")
    site: str = Field(..., description="Code of the site that needs help.")
    site_name: str = Field(..., description="Its name.")
    kind: str = Field(..., description="The kind of aid.")
    details: dict[str, Any] = Field(..., description="The kind's details, cleaned.")
    summary: str = Field(..., description="The request in a phrase.")
    quantity: int = Field(..., description="How much is asked for.")
    committed: int = Field(
        ..., description="How much is committed (not counting releases before fulfilment)."
    )
    fulfilled: int = Field(..., description="How much has been fulfilled (help that happened).")
    still_needed: int = Field(..., description="quantity less committed, never below 0.")
    urgency: str = Field(..., description="immediate, within_4h, within_24h or planned.")
    needed_by: datetime = Field(..., description="When help is needed by.")
    max_distance_km: int | None = Field(..., description="Farthest helper worth asking.")
    note: str = Field(..., description="The requester's note.")
    reach: str = Field(..., description="Who sees it now (see `reach` in); it widens.")
    reach_since: datetime = Field(..., description="When it last widened (or was raised).")
    state: str = Field(..., description="open, closed, withdrawn or expired.")
    reason: str = Field(..., description="Why it ended, if it has.")
    created_at: datetime = Field(..., description="When it was raised.")
    ended_at: datetime | None = Field(..., description="When it ended, if it has.")
    moves: list[str] = Field(
        ..., description="The states this token may move it to now (empty for a read token)."
    )


class RequestDetailOut(RequestOut):
    offers: list[OfferOut] = Field(
        ...,
        description="The offers answering it that the token's organisation may see (all of "
        "them for the organisation that asked; its own for a helper), oldest first.",
    )
    commitments: list[CommitmentOut] = Field(
        ..., description="Its commitments the token's organisation may see, oldest first."
    )


class FigureOut(Schema):
    measure: str = Field(..., description="The measure read.")
    value: float | None = Field(
        ...,
        description="As shared with the token's organisation: exact, to the nearest 5 "
        "(banded) or null (status only).",
    )
    detail: str = Field(..., description="How it is shared with you: exact, banded or status.")
    delay_hours: int = Field(..., description="How late it is shared with you (0: live).")
    as_of: datetime = Field(..., description="When the figure was true.")
    rag: str = Field(..., description="red, amber, green or none.")


class ReasonOut(Schema):
    text: str = Field(..., description="The reason, in words.")
    points: float = Field(..., description="What it adds to the score (may be negative).")


class CandidateOut(Schema):
    organisation: str = Field(..., description="Code of the organisation that could help.")
    organisation_name: str = Field(..., description="Its name.")
    offer: int | None = Field(..., description="Its open offer, if it has one; null: ask them.")
    site: str | None = Field(..., description="Code of the offering site, if any.")
    distance_km: float | None = Field(..., description="How far; null when unknown.")
    spare: FigureOut | None = Field(
        ..., description="Admissible beds of the type asked for, as shared with you; if read."
    )
    pressure: FigureOut | None = Field(
        ..., description="Its declared OPEL level, as shared with you; if shared."
    )
    score: float = Field(..., description="The sum of the reasons' points.")
    reasons: list[ReasonOut] = Field(..., description="Why it ranks where it does.")


class MatchesOut(Schema):
    request: int = Field(..., description="The request matched.")
    still_needed: int = Field(..., description="How much is not yet committed.")
    candidates: list[CandidateOut] = Field(..., description="Best first.")
    too_far: int = Field(..., description="Candidates left out as beyond max_distance_km.")
    not_shared: int = Field(
        ..., description="Organisations in the audience that share no bed figure with you."
    )


class ExchangeOut(Schema):
    given_by: str = Field(..., description="Code of the organisation that gave.")
    given_by_name: str = Field(..., description="Its name.")
    received_by: str = Field(..., description="Code of the organisation that received.")
    received_by_name: str = Field(..., description="Its name.")
    kind: str = Field(..., description="The kind of aid.")
    what: str = Field(..., description="The offer in a phrase.")
    quantity: int = Field(..., description="How much, in the kind's unit.")
    committed_at: datetime = Field(..., description="When it was taken up.")
    fulfilled_at: datetime = Field(..., description="When it was fulfilled.")
    state: str = Field(..., description="fulfilled, returned or released (afterwards).")
    request: int | None = Field(..., description="The request it met, if any.")


class TallyOut(Schema):
    organisation: str = Field(..., description="The organisation's code.")
    organisation_name: str = Field(..., description="Its name.")
    given: dict[str, int] = Field(..., description="Given, per kind, in the kind's unit.")
    received: dict[str, int] = Field(..., description="Received, per kind.")
    given_total: int = Field(..., description="All given.")
    received_total: int = Field(..., description="All received.")
    requests: int = Field(..., description="Requests raised.")
    met_in_full: int = Field(..., description="Requests fulfilled in full.")
    met_in_part: int = Field(..., description="Requests fulfilled in part.")
    not_met: int = Field(..., description="Requests ended with nothing fulfilled.")
    still_open: int = Field(..., description="Requests open with nothing fulfilled yet.")


class LedgerOut(Schema):
    collaborative: str = Field(..., description="The collaborative's slug.")
    since: datetime | None = Field(..., description="The start of the ledger; null: all of it.")
    exchanges: list[ExchangeOut] = Field(..., description="Help that happened, newest first.")
    tallies: list[TallyOut] = Field(..., description="Each organisation's side, most given first.")
    minutes_to_first_offer: float | None = Field(
        ..., description="Median minutes from a request to its first offer; null: none yet."
    )
    minutes_to_commitment: float | None = Field(
        ..., description="Median minutes from a request to its first commitment."
    )
    minutes_to_fulfilment: float | None = Field(
        ..., description="Median minutes from a request to its first fulfilment."
    )


# ------------------------------------------------------------------ who and what


def _reader(request: HttpRequest) -> ApiToken:
    """The request's token, if it may read the exchange; else 403."""
    token = token_of(request)
    if token.scope not in READERS:
        raise AuthorizationError(
            message=f"This token has the {token.scope!r} scope; this operation needs a token "
            "with the 'read' or the 'aid' scope."
        )
    return token


def _viewer(token: ApiToken) -> Viewer:
    return policy.viewer_of(token)


def _moves(
    token: ApiToken, thing: str, state: str, requester: int | None, offerer: int | None
) -> list[str]:
    """The states `token` may move a thing to from `state` (a reason may still be needed)."""
    if token.scope != TokenScope.AID:
        return []
    held = actions.parties(token, requester, offerer)
    answers = thing != "offer" or requester is not None
    return list(lifecycle.open_to(thing, state, held, answers_request=answers))


def _commitment_out(token: ApiToken, c: Commitment) -> dict[str, Any]:
    return {
        "id": c.pk,
        "offer": c.offer_id,
        "request": c.request_id,
        "organisation": c.organisation.code,
        "organisation_name": c.organisation.name,
        "given_by": c.offer.organisation.code,
        "quantity": c.quantity,
        "state": c.state,
        "reason": c.reason,
        "created_at": c.created_at,
        "started_at": c.started_at,
        "fulfilled_at": c.fulfilled_at,
        "ended_at": c.ended_at,
        "moves": _moves(token, "commitment", c.state, c.organisation_id, c.offer.organisation_id),
    }


def _offer_out(token: ApiToken, o: Offer) -> dict[str, Any]:
    requester = o.request.organisation_id if o.request is not None else None
    return {
        "id": o.pk,
        "collaborative": o.collaborative.slug,
        "request": o.request_id,
        "organisation": o.organisation.code,
        "organisation_name": o.organisation.name,
        "site": o.site.code,
        "site_name": o.site.name,
        "kind": o.kind,
        "details": o.details,
        "summary": o.summary,
        "quantity": o.quantity,
        "remaining": o.remaining,
        "available_from": o.available_from,
        "available_until": o.available_until,
        "reach": _reach_name(o.reach),
        "terms": {
            "transport": o.transport,
            "cost_recovery": o.cost_recovery,
            "duration_hours": o.duration_hours,
            "conditions": o.conditions,
        },
        "note": o.note,
        "state": o.state,
        "reason": o.reason,
        "created_at": o.created_at,
        "ended_at": o.ended_at,
        "moves": _moves(token, "offer", o.state, requester, o.organisation_id),
    }


def _totals(ids: Iterable[int]) -> tuple[dict[int, int], dict[int, int]]:
    """(committed, fulfilled) per request, in two queries for a whole page."""
    wanted = list(ids)
    return (
        queries.totals(wanted, queries.ACTIVE_COMMITMENTS),
        queries.totals(wanted, queries.HAPPENED),
    )


def _request_out(token: ApiToken, r: AidRequest, committed: int, fulfilled: int) -> dict[str, Any]:
    return {
        "id": r.pk,
        "collaborative": r.collaborative.slug,
        "organisation": r.organisation.code,
        "organisation_name": r.organisation.name,
        "site": r.site.code,
        "site_name": r.site.name,
        "kind": r.kind,
        "details": r.details,
        "summary": r.summary,
        "quantity": r.quantity,
        "committed": committed,
        "fulfilled": fulfilled,
        "still_needed": max(r.quantity - committed, 0),
        "urgency": r.urgency,
        "needed_by": r.needed_by,
        "max_distance_km": r.max_distance_km,
        "note": r.note,
        "reach": _reach_name(r.reach),
        "reach_since": r.reach_since,
        "state": r.state,
        "reason": r.reason,
        "created_at": r.created_at,
        "ended_at": r.ended_at,
        "moves": _moves(token, "request", r.state, r.organisation_id, None),
    }


def _offers(viewer: Viewer) -> QuerySet[Offer]:
    return queries.offers_seen_by(viewer).select_related(
        "organisation", "site", "collaborative", "request"
    )


def _commitments(viewer: Viewer) -> QuerySet[Commitment]:
    return queries.commitments_seen_by(viewer).select_related("offer__organisation", "organisation")


def _request_detail(token: ApiToken, r: AidRequest) -> dict[str, Any]:
    viewer = _viewer(token)
    committed, fulfilled = _totals([r.pk])
    offers = _offers(viewer).filter(request=r).order_by("created_at", "pk")
    commitments = _commitments(viewer).filter(request=r).order_by("created_at", "pk")
    return {
        **_request_out(token, r, committed.get(r.pk, 0), fulfilled.get(r.pk, 0)),
        "offers": [_offer_out(token, o) for o in offers],
        "commitments": [_commitment_out(token, c) for c in commitments],
    }


def _offer_detail(token: ApiToken, o: Offer) -> dict[str, Any]:
    commitments = _commitments(_viewer(token)).filter(offer=o).order_by("created_at", "pk")
    return {
        **_offer_out(token, o),
        "commitments": [_commitment_out(token, c) for c in commitments],
    }


def _request(token: ApiToken, pk: int) -> AidRequest:
    return queries.get_request(_viewer(token), pk)


def _offer(token: ApiToken, pk: int) -> Offer:
    """The offer, or 404 when the token's organisation may not see it (as queries.get_offer)."""
    found = _offers(_viewer(token)).filter(pk=pk).first()
    if found is None:
        raise Http404
    return found


def _commitment(token: ApiToken, pk: int) -> Commitment:
    """The commitment, or 404 when the organisation may not see its offer."""
    found = _commitments(_viewer(token)).filter(pk=pk).first()
    if found is None:
        raise Http404
    return found


def _my_collaborative(token: ApiToken, slug: str) -> Collaborative | None:
    return collaboratives_of([token.organisation_id]).filter(slug=slug.strip()).first()


def _my_site(token: ApiToken, code: str) -> Site | None:
    return Site.objects.filter(
        organisation_id=token.organisation_id, code=code.strip().upper()
    ).first()


def _fingerprint(request: HttpRequest) -> str:
    """The request's meaning: its operation and its body, whatever the key order and spaces."""
    body = json.loads(request.body) if request.body else None
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{request.method} {request.path}\n{canonical}".encode()).hexdigest()


def _created(
    request: HttpRequest,
    response: HttpResponse,
    token: ApiToken,
    key: str | None,
    out: type[Schema],
    where: str,
    create: Callable[[], dict[str, Any]],
) -> Status[Any]:
    """201 with what `create()` made (at `where`/{id}), once per Idempotency-Key if one is sent."""

    def made() -> tuple[int, dict[str, Any]]:
        return 201, out.model_validate(create()).model_dump(mode="json")

    if key is None:
        status, answer = made()
    else:
        try:
            status, answer, replayed = actions.create_once(
                token=token, key=key, body_sha256=_fingerprint(request), create=made
            )
        except actions.KeyReused as exc:
            raise HttpError(409, str(exc)) from None
        if replayed:
            response["Idempotent-Replayed"] = "true"
    response["Location"] = f"/api/{where}/{answer['id']}"
    return Status(status, answer)


def _page(query: QuerySet[Any], offset: int, limit: int) -> list[Any]:
    return list(query[offset : offset + limit])


Limit = Annotated[
    int, Query(ge=1, le=MAX_PAGE, description=f"At most this many (1 to {MAX_PAGE}).")
]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="Skip this many first.")]


# ------------------------------------------------------------------ requests


@router.get(
    "/aid/requests", response={200: list[RequestOut], **READ_ERRORS}, summary="Aid requests"
)
def list_aid_requests(
    request: HttpRequest,
    collaborative: Annotated[
        SlugFilter | None, Query(description="Only those raised in this collaborative (slug).")
    ] = None,
    kind: Annotated[KindCode | None, Query(description="Only this kind of aid.")] = None,
    urgency: Annotated[Urgency | None, Query(description="Only this urgency.")] = None,
    state: Annotated[
        RequestFilter,
        Query(description="Only those in this state (default open); any: every state."),
    ] = "open",
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """Requests for help the token's organisation sees (its own, and those whose audience
    reaches it), soonest needed first. Needs a `read` or `aid` token."""
    token = _reader(request)
    found = queries.requests_seen_by(_viewer(token)).select_related(
        "organisation", "site", "collaborative"
    )
    if collaborative is not None:
        found = found.filter(collaborative__slug=collaborative.strip())
    if kind is not None:
        found = found.filter(kind=kind)
    if urgency is not None:
        found = found.filter(urgency=urgency)
    if state != "any":
        found = found.filter(state=state)
    page = _page(found.order_by("needed_by", "pk"), offset, limit)
    committed, fulfilled = _totals(r.pk for r in page)
    return [_request_out(token, r, committed.get(r.pk, 0), fulfilled.get(r.pk, 0)) for r in page]


@router.get(
    "/aid/requests/{request_id}",
    response={200: RequestDetailOut, **READ_ERRORS},
    summary="An aid request",
)
def get_aid_request(request: HttpRequest, request_id: RequestId) -> dict[str, Any]:
    """One request, with how much is committed and fulfilled, and the offers and commitments
    the token's organisation may see. 404 unless its audience reaches the organisation."""
    token = _reader(request)
    return _request_detail(token, _request(token, request_id))


@router.post(
    "/aid/requests",
    response={201: RequestDetailOut, **BODY_ERRORS},
    summary="Ask for help",
)
def raise_aid_request(
    request: HttpRequest,
    response: HttpResponse,
    payload: RequestIn,
    idempotency_key: IdempotencyKey = None,
) -> Status[Any]:
    """Ask for help for the token's organisation; its audience is told at once. Answers 201
    with the request (`Location`: its address). The body takes its kind's shape. 422 names
    every field at fault, and then nothing is stored. Needs an `aid` token.

    Besides what this document states, the API checks what no schema can: the collaborative
    must be one the organisation belongs to and the site one of its own (what is stored);
    `needed_by` must be in the future (the clock); a beds window's `until_date` must not be
    before its `from_date` (one detail against another)."""
    token = require_scope(request, TokenScope.AID)
    collaborative = _my_collaborative(token, payload.collaborative)
    site = _my_site(token, payload.site)
    problems = []
    if collaborative is None:
        problems.append(
            (
                "collaborative",
                f"{token.organisation.code} is not a member of a collaborative "
                f"{payload.collaborative!r}",
            )
        )
    if site is None:
        problems.append(("site", f"{payload.site!r} is not a site of {token.organisation.code}"))
    if problems:
        raise field_errors("body", problems)
    assert collaborative is not None and site is not None

    def create() -> dict[str, Any]:
        made = actions.raise_request(
            by=token,
            organisation=token.organisation,
            collaborative=collaborative,
            site=site,
            kind=payload.kind,
            details=payload.details,
            quantity=payload.quantity,
            urgency=payload.urgency.value,
            needed_by=payload.needed_by,
            max_distance_km=payload.max_distance_km,
            note=payload.note,
            reach=Reach[payload.reach.upper()].value if payload.reach else None,
        )
        return _request_detail(token, _request(token, made.pk))

    return _created(
        request, response, token, idempotency_key, RequestDetailOut, "aid/requests", create
    )


@router.post(
    "/aid/requests/{request_id}/widen",
    response={200: RequestDetailOut, **CHANGE_ERRORS},
    summary="Widen a request",
)
def widen_aid_request(request: HttpRequest, request_id: RequestId) -> dict[str, Any]:
    """Show an open request one step further up the ladder (organisation, collaborative,
    region, platform), and tell the newly reached. 409 if it is not open, is already seen by
    everyone, or is not the token's organisation's. Needs an `aid` token."""
    token = require_scope(request, TokenScope.AID)
    actions.widen(by=token, request=_request(token, request_id))
    return _request_detail(token, _request(token, request_id))


@router.post(
    "/aid/requests/{request_id}/move",
    response={200: RequestDetailOut, **BODY_ERRORS},
    summary="Close or withdraw a request",
)
def move_aid_request(
    request: HttpRequest, request_id: RequestId, payload: RequestMoveIn
) -> dict[str, Any]:
    """Move a request to another state: open → closed, or open → withdrawn (with a reason);
    only the organisation that asked may. A move the negotiation does not allow answers 409
    and changes nothing. Needs an `aid` token."""
    token = require_scope(request, TokenScope.AID)
    found = _request(token, request_id)
    actions.move_request(by=token, request=found, to=payload.to, reason=payload.reason)
    return _request_detail(token, _request(token, request_id))


@router.get(
    "/aid/requests/{request_id}/matches",
    response={200: MatchesOut, **READ_ERRORS},
    summary="Who could help",
)
def aid_request_matches(request: HttpRequest, request_id: RequestId) -> dict[str, Any]:
    """Who could help with a request, best first, with a score and its reasons: open offers
    the token's organisation may see, and (for transfers and beds) organisations that appear
    to have room, read through the sharing policy with the detail and delay they share with
    it. 404 unless the request's audience reaches the organisation."""
    token = _reader(request)
    found = _request(token, request_id)
    result = matching.match(_viewer(token), found)
    return {
        "request": found.pk,
        "still_needed": max(found.quantity - queries.committed_to(found), 0),
        "candidates": [
            {
                "organisation": c.organisation.code,
                "organisation_name": c.organisation.name,
                "offer": c.offer.pk if c.offer is not None else None,
                "site": c.site.code if c.site is not None else None,
                "distance_km": c.distance_km,
                "spare": _figure(c.spare),
                "pressure": _figure(c.pressure),
                "score": c.score,
                "reasons": [{"text": r.text, "points": r.points} for r in c.reasons],
            }
            for c in result.candidates
        ],
        "too_far": result.too_far,
        "not_shared": result.not_shared,
    }


def _figure(shared: Shared | None) -> dict[str, Any] | None:
    if shared is None:
        return None
    return {
        "measure": shared.measure,
        "value": shared.value,
        "detail": shared.detail,
        "delay_hours": shared.delay_hours,
        "as_of": shared.as_of,
        "rag": shared.rag,
    }


# ------------------------------------------------------------------ offers


@router.get("/aid/offers", response={200: list[OfferOut], **READ_ERRORS}, summary="Aid offers")
def list_aid_offers(
    request: HttpRequest,
    collaborative: Annotated[
        SlugFilter | None, Query(description="Only those made in this collaborative (slug).")
    ] = None,
    kind: Annotated[KindCode | None, Query(description="Only this kind of aid.")] = None,
    answering: Annotated[
        int | None,
        Query(ge=1, le=MAX_ID, description="Only those answering this request (id)."),
    ] = None,
    unsolicited: Annotated[
        bool | None,
        Query(description="true: only unsolicited offers; false: only answers to requests."),
    ] = None,
    state: Annotated[
        OfferFilter,
        Query(description="Only those in this state (default offered); any: every state."),
    ] = "offered",
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """Offers the token's organisation sees with their terms: its own, those answering its
    requests, unsolicited offers whose audience reaches it, and those it took up. Newest
    first. Needs a `read` or `aid` token."""
    token = _reader(request)
    found = _offers(_viewer(token))
    if collaborative is not None:
        found = found.filter(collaborative__slug=collaborative.strip())
    if kind is not None:
        found = found.filter(kind=kind)
    if answering is not None:
        found = found.filter(request_id=answering)
    if unsolicited is not None:
        found = found.filter(request__isnull=unsolicited)
    if state != "any":
        found = found.filter(state=state)
    return [
        _offer_out(token, o) for o in _page(found.order_by("-created_at", "-pk"), offset, limit)
    ]


@router.get(
    "/aid/offers/{offer_id}", response={200: OfferDetailOut, **READ_ERRORS}, summary="An offer"
)
def get_aid_offer(request: HttpRequest, offer_id: OfferId) -> dict[str, Any]:
    """One offer with its terms and the commitments the token's organisation may see; 404
    unless the organisation may see it."""
    token = _reader(request)
    return _offer_detail(token, _offer(token, offer_id))


@router.post("/aid/offers", response={201: OfferDetailOut, **BODY_ERRORS}, summary="Offer help")
def make_aid_offer(
    request: HttpRequest,
    response: HttpResponse,
    payload: OfferIn,
    idempotency_key: IdempotencyKey = None,
) -> Status[Any]:
    """Offer help for the token's organisation: in answer to a request it sees (`request`),
    or unsolicited in one of its collaboratives (`collaborative`), never both. Answers 201
    with the offer (`Location`: its address). 422 names every field at fault, and then nothing
    is stored. Needs an `aid` token.

    Besides what this document states, the API checks what no schema can: the request must be
    one the organisation sees, still open, and of the kind given (and details given without a
    kind must be those its kind takes); the collaborative must be one the organisation belongs
    to and the site one of its own (what is stored); `available_until` must be in the future,
    after `available_from` (default now) and at most 90 days after it (the clock, and one
    field against another); a beds window's `until_date` must not be before its
    `from_date`."""
    token = require_scope(request, TokenScope.AID)
    problems = []
    answered = collaborative = None
    if payload.request is not None:
        answered = queries.requests_seen_by(_viewer(token)).filter(pk=payload.request).first()
        if answered is None:
            problems.append(("request", f"No request {payload.request} is open to you"))
        if payload.collaborative is not None:
            problems.append(("collaborative", "give a collaborative only for an unsolicited offer"))
    elif payload.collaborative is not None:
        collaborative = _my_collaborative(token, payload.collaborative)
        if collaborative is None:
            problems.append(
                (
                    "collaborative",
                    f"{token.organisation.code} is not a member of a collaborative "
                    f"{payload.collaborative!r}",
                )
            )
    site = _my_site(token, payload.site)
    if site is None:
        problems.append(("site", f"{payload.site!r} is not a site of {token.organisation.code}"))
    if problems:
        raise field_errors("body", problems)
    assert site is not None
    details = payload.details
    if details is None and answered is not None:
        details = answered.details

    def create() -> dict[str, Any]:
        now = timezone.now()
        made = actions.make_offer(
            by=token,
            organisation=token.organisation,
            site=site,
            quantity=payload.quantity,
            available_from=payload.available_from or now,
            available_until=payload.available_until,
            transport=payload.terms.transport.value,
            cost_recovery=payload.terms.cost_recovery.value,
            request=answered,
            collaborative=collaborative,
            kind=payload.kind or "",
            details=details,
            duration_hours=payload.terms.duration_hours,
            conditions=payload.terms.conditions,
            note=payload.note,
            reach=Reach[payload.reach.upper()].value,
        )
        return _offer_detail(token, _offer(token, made.pk))

    return _created(request, response, token, idempotency_key, OfferDetailOut, "aid/offers", create)


@router.post(
    "/aid/offers/{offer_id}/move",
    response={200: OfferDetailOut, **BODY_ERRORS},
    summary="Withdraw or decline an offer",
)
def move_aid_offer(request: HttpRequest, offer_id: OfferId, payload: OfferMoveIn) -> dict[str, Any]:
    """Withdraw an offer (the offerer), or decline one made for your request (the
    organisation that asked), with a reason. Commitments already made stand. A move the
    negotiation does not allow answers 409 and changes nothing. Needs an `aid` token."""
    token = require_scope(request, TokenScope.AID)
    found = _offer(token, offer_id)
    actions.move_offer(by=token, offer=found, to=payload.to, reason=payload.reason)
    return _offer_detail(token, _offer(token, offer_id))


# ------------------------------------------------------------------ commitments


@router.post(
    "/aid/offers/{offer_id}/commitments",
    response={201: CommitmentOut, **BODY_ERRORS},
    summary="Take up an offer",
)
def commit_to_aid_offer(
    request: HttpRequest,
    response: HttpResponse,
    offer_id: OfferId,
    payload: CommitmentIn,
    idempotency_key: IdempotencyKey = None,
) -> Status[Any]:
    """Take up part (or all) of an offer: one answering the token's organisation's request,
    or an unsolicited one open to it. Never more than is left (422 on `quantity`); 409 if the
    offer is no longer open; 403 for an offer made for another organisation's request.
    Answers 201 with the commitment. Needs an `aid` token.

    Besides what this document states, the API checks what no schema can (what is stored):
    `quantity` no more than is left on the offer, nor (for an answer) than the request still
    needs; `organisation` one that exists, and for an answer the organisation that asked."""
    token = require_scope(request, TokenScope.AID)
    offer = _offer(token, offer_id)
    taker: Organisation | None = None
    code = (payload.organisation or token.organisation.code).strip().upper()
    if offer.request is not None:
        if payload.organisation is not None and code != offer.request.organisation.code:
            raise field_errors(
                "body",
                [("organisation", "an answer is taken up by the organisation that asked")],
            )
    else:
        taker = Organisation.objects.filter(code=code).first()
        if taker is None:
            raise field_errors("body", [("organisation", f"No organisation has the code {code!r}")])

    def create() -> dict[str, Any]:
        made = actions.commit(by=token, offer=offer, quantity=payload.quantity, organisation=taker)
        return _commitment_out(token, _commitment(token, made.pk))

    return _created(
        request, response, token, idempotency_key, CommitmentOut, "aid/commitments", create
    )


@router.post(
    "/aid/commitments/{commitment_id}/move",
    response={200: CommitmentOut, **BODY_ERRORS},
    summary="Move a commitment along",
)
def move_aid_commitment(
    request: HttpRequest, commitment_id: CommitmentId, payload: CommitmentMoveIn
) -> dict[str, Any]:
    """Start (the offerer), fulfil, return or release (either side) a commitment. Releasing
    before fulfilment puts the quantity back on the offer and needs a reason. A move the
    negotiation does not allow answers 409 and changes nothing. Needs an `aid` token."""
    token = require_scope(request, TokenScope.AID)
    found = _commitment(token, commitment_id)
    actions.move_commitment(by=token, commitment=found, to=payload.to, reason=payload.reason)
    return _commitment_out(token, _commitment(token, commitment_id))


# ------------------------------------------------------------------ the ledger


def _ledger(request: HttpRequest, slug: str, since: datetime | None) -> tuple[str, Any]:
    token = _reader(request)
    if has_nul(slug):
        raise Http404
    collaborative = find_collaborative(_viewer(token).organisation_ids, slug)
    return collaborative.slug, reciprocity.ledger_of(collaborative, since)


def _minutes(span: Any) -> float | None:
    return None if span is None else round(span.total_seconds() / 60, 1)


Since = Annotated[
    QueryTime | None,
    Query(description="Only help fulfilled, and requests raised, from this moment (with offset)."),
]


@router.get(
    "/collaboratives/{slug}/aid/ledger",
    response={200: LedgerOut, **READ_ERRORS},
    summary="Reciprocity ledger",
)
def aid_ledger(request: HttpRequest, slug: Slug, since: Since = None) -> dict[str, Any]:
    """Who helped whom with what in a collaborative, each member's tally and how fast help
    came. 404 unless the token's organisation is a member. Needs a `read` or `aid` token."""
    name, ledger = _ledger(request, slug, since)
    return {
        "collaborative": name,
        "since": since,
        "exchanges": [
            {
                "given_by": e.given_by.code,
                "given_by_name": e.given_by.name,
                "received_by": e.received_by.code,
                "received_by_name": e.received_by.name,
                "kind": e.kind,
                "what": e.what,
                "quantity": e.quantity,
                "committed_at": e.committed_at,
                "fulfilled_at": e.fulfilled_at,
                "state": e.state,
                "request": e.request_id,
            }
            for e in ledger.exchanges
        ],
        "tallies": [
            {
                "organisation": t.organisation.code,
                "organisation_name": t.organisation.name,
                "given": dict(t.given),
                "received": dict(t.received),
                "given_total": t.given_total,
                "received_total": t.received_total,
                "requests": t.requests,
                "met_in_full": t.met_in_full,
                "met_in_part": t.met_in_part,
                "not_met": t.not_met,
                "still_open": t.still_open,
            }
            for t in ledger.tallies
        ],
        "minutes_to_first_offer": _minutes(ledger.to_first_offer),
        "minutes_to_commitment": _minutes(ledger.to_commitment),
        "minutes_to_fulfilment": _minutes(ledger.to_fulfilment),
    }


@router.get(
    "/collaboratives/{slug}/aid/ledger.csv",
    response=READ_ERRORS,
    summary="Reciprocity ledger (CSV)",
    openapi_extra={
        "responses": {
            "200": {
                "description": "One row per piece of help that happened, newest first: "
                + ", ".join(reciprocity.CSV_COLUMNS)
                + ".",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        }
    },
)
def aid_ledger_csv(request: HttpRequest, slug: Slug, since: Since = None) -> HttpResponse:
    """The ledger's exchanges as CSV, for a spreadsheet: text cells that would start a
    formula are defused. 404 unless the token's organisation is a member."""
    name, ledger = _ledger(request, slug, since)
    out = io.StringIO()
    reciprocity.write_csv(ledger, out)
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}-aid-ledger.csv"'
    return response
