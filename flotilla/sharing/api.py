"""API for an organisation's sharing grants: list, add, change and revoke them.

Needs a token with the `sharing` scope, which only the organisation's admins can issue. The
token's organisation is always the owner: another organisation's grant answers 404. Every
change goes through flotilla.sharing.actions (checked, audited, effective on the next request).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError, ValidationError

from flotilla.authz.api_auth import (
    NOT_BLANK,
    READ_ERRORS,
    TOO_BIG,
    ApiTime,
    ErrorOut,
    SafeStr,
    Stated,
    documented_as,
    field_errors,
    path_id,
    require_scope,
)
from flotilla.authz.models import ApiToken, TokenScope
from flotilla.collaboratives.queries import collaboratives_of
from flotilla.organisations.models import Organisation
from flotilla.sharing import actions, policy
from flotilla.sharing.models import AudienceKind, Detail, Grant
from flotilla.sharing.policy.rules import GROUPS

router = Router(tags=["sharing"])

CHANGE_ERRORS = {**READ_ERRORS, 409: ErrorOut}
GrantId = path_id("The grant's id.")

#: GrantInvalid names the model's fields; the API names them as the request does.
_API_FIELD = {"audience_organisation": "organisation"}

#: The limits `flotilla.sharing.actions` checks (in its own words, with every other problem of
#: the grant), stated in the document.
GroupCodes = Annotated[list[Annotated[SafeStr, Stated(enum=list(GROUPS))]], Stated(minItems=1)]
DelayHours = Annotated[int, Stated(minimum=0, maximum=actions.MAX_DELAY_HOURS)]
Purpose = Annotated[SafeStr, Stated(pattern=NOT_BLANK, maxLength=actions.MAX_PURPOSE)]


class GrantTerms(Schema):
    """What a grant shares, how finely and how late, whoever its audience."""

    groups: GroupCodes = Field(
        ...,
        max_length=20,
        description=f"The measure groups shared, at least one of: {', '.join(GROUPS)}.",
    )
    detail: Detail = Field(
        ..., description="exact, banded (counts to the nearest 5) or status (RAG only)."
    )
    delay_hours: DelayHours = Field(
        0,
        description=f"Values are shared once this many hours old: 0 (real time) to "
        f"{actions.MAX_DELAY_HOURS}.",
    )
    purpose: Purpose = Field(
        ..., description=f"Why this is shared, in a sentence (≤ {actions.MAX_PURPOSE})."
    )
    expires_at: ApiTime | None = Field(
        None, description="When the grant stops by itself (in the future); null: never."
    )


# The shapes of a grant, one per audience, each with the fields it takes (the others left out
# or null), for the document: GrantIn reads them all, and `_terms` and the actions refuse what
# does not fit its audience in their own words.

_NOT_TAKEN = "Not taken with this audience: leave it out, or null."
Slug = Annotated[SafeStr, Field(description="The collaborative's slug: one it belongs to.")]
Code = Annotated[SafeStr, Field(description="The organisation's ODS code: another organisation.")]


class GrantToCollaborative(GrantTerms):
    """A grant to a collaborative the organisation belongs to (its other members)."""

    audience: Literal["collaborative"]
    collaborative: Slug
    organisation: None = Field(None, description=_NOT_TAKEN)


class GrantToOrganisation(GrantTerms):
    """A grant to one named organisation."""

    audience: Literal["organisation"]
    organisation: Code
    collaborative: None = Field(None, description=_NOT_TAKEN)


class GrantToEveryone(GrantTerms):
    """A grant to every organisation on Flotilla."""

    audience: Literal["everyone"]
    collaborative: None = Field(None, description=_NOT_TAKEN)
    organisation: None = Field(None, description=_NOT_TAKEN)


class GrantToPublic(GrantTerms):
    """A grant to the public (anyone, without signing in)."""

    audience: Literal["public"]
    collaborative: None = Field(None, description=_NOT_TAKEN)
    organisation: None = Field(None, description=_NOT_TAKEN)


GrantShape = Annotated[
    GrantToCollaborative | GrantToOrganisation | GrantToEveryone | GrantToPublic,
    Field(discriminator="audience"),
]


class GrantIn(GrantTerms):
    """The terms of a grant: what is shared, with whom, how finely and how late."""

    audience: AudienceKind = Field(
        ...,
        description="Who to share with: a collaborative the organisation belongs to, a named "
        "organisation, every organisation on Flotilla, or the public.",
    )
    collaborative: SafeStr | None = Field(
        None, description="The collaborative's slug; only (and required) for `collaborative`."
    )
    organisation: SafeStr | None = Field(
        None, description="The organisation's ODS code; only (and required) for `organisation`."
    )

    __get_pydantic_json_schema__ = documented_as(lambda: GrantShape)


class GrantOut(Schema):
    id: int
    audience: str = Field(..., description="collaborative, organisation, everyone or public.")
    collaborative: str | None = Field(..., description="The collaborative's slug, if any.")
    organisation: str | None = Field(..., description="The organisation's code, if any.")
    groups: list[str]
    detail: str = Field(..., description="exact, banded or status.")
    delay_hours: int
    purpose: str
    expires_at: datetime | None
    created_at: datetime
    created_by: str
    ended_at: datetime | None
    ended_by: str | None
    end_reason: str | None = Field(..., description="revoked, changed or left; null if not ended.")
    replaces: int | None = Field(..., description="The grant this one changed, if any.")
    replaced_by: int | None = Field(..., description="The grant that changed this one, if any.")
    in_force: bool = Field(..., description="Neither ended nor expired: it shares now.")
    reaches: list[str] = Field(
        ...,
        description="Codes of the organisations it reaches by name (the collaborative's other "
        "members, or the named organisation); empty when not in force, and for everyone and "
        "the public.",
    )


def _invalid(problems: dict[str, str]) -> ValidationError:
    """A 422 naming the body fields at fault (the API's names for them)."""
    return field_errors("body", ((_API_FIELD.get(k, k), v) for k, v in problems.items()))


def _ended(exc: actions.GrantInvalid) -> HttpError:
    return HttpError(409, f"{exc.errors['grant']}: it can no longer be changed or revoked.")


def _outputs(owner: Organisation, grants: list[Grant]) -> list[dict[str, Any]]:
    """Grants as the API shows them, with who each one in force reaches."""
    reaches = {a.grant.pk: [o.code for o in a.organisations] for a in policy.audiences(owner)}
    successors = dict(Grant.objects.filter(replaces__in=grants).values_list("replaces_id", "id"))
    return [
        {
            "id": g.pk,
            "audience": g.audience,
            "collaborative": g.collaborative.slug if g.collaborative else None,
            "organisation": g.audience_organisation.code if g.audience_organisation else None,
            "groups": list(g.groups),
            "detail": g.detail,
            "delay_hours": g.delay_hours,
            "purpose": g.purpose,
            "expires_at": g.expires_at,
            "created_at": g.created_at,
            "created_by": g.created_by_label,
            "ended_at": g.ended_at,
            "ended_by": g.ended_by_label or None,
            "end_reason": g.end_reason or None,
            "replaces": g.replaces_id,
            "replaced_by": successors.get(g.pk),
            "in_force": g.pk in reaches,
            "reaches": reaches.get(g.pk, []),
        }
        for g in grants
    ]


def _output(owner: Organisation, grant: Grant) -> dict[str, Any]:
    return _outputs(owner, [grant])[0]


def _grants(owner: Organisation, grants: QuerySet[Grant] | None = None) -> QuerySet[Grant]:
    """The owner's grants (of `grants`, default all), with their audiences fetched."""
    grants = Grant.objects.all() if grants is None else grants
    return grants.filter(owner=owner).select_related("collaborative", "audience_organisation")


def _grant(token: ApiToken, grant_id: GrantId) -> Grant:
    """The grant of the token's organisation, or 404 (another organisation's, or none)."""
    grant = _grants(token.organisation).filter(pk=grant_id).first()
    if grant is None:
        raise Http404
    return grant


def _terms(token: ApiToken, payload: GrantIn) -> actions.Terms:
    """The request's terms, with its collaborative and organisation found; 422 if they are not."""
    problems: dict[str, str] = {}
    collaborative = organisation = None
    if payload.collaborative is not None:
        if payload.audience != AudienceKind.COLLABORATIVE:
            problems["collaborative"] = "Give a collaborative only with audience 'collaborative'"
        else:
            viewer = policy.viewer_of(token)
            slug = payload.collaborative.strip()
            collaborative = collaboratives_of(viewer.organisation_ids).filter(slug=slug).first()
            if collaborative is None:
                problems["collaborative"] = (
                    f"{token.organisation.code} is not a member of a collaborative {slug!r}"
                )
    if payload.organisation is not None:
        if payload.audience != AudienceKind.ORGANISATION:
            problems["organisation"] = "Give an organisation only with audience 'organisation'"
        else:
            code = payload.organisation.strip().upper()
            organisation = Organisation.objects.filter(code=code).first()
            if organisation is None:
                problems["organisation"] = f"No organisation has the code {code!r}"
    if problems:
        raise _invalid(problems)
    return actions.Terms(
        audience=payload.audience.value,
        groups=tuple(payload.groups),
        detail=payload.detail.value,
        delay_hours=payload.delay_hours,
        purpose=payload.purpose,
        expires_at=payload.expires_at,
        collaborative=collaborative,
        audience_organisation=organisation,
    )


@router.get("/sharing/grants", response={200: list[GrantOut], **READ_ERRORS}, summary="Grants")
def list_grants(
    request: HttpRequest,
    history: Annotated[
        bool,
        Query(description="true: every grant ever made, ended ones too (default: in force)."),
    ] = False,
) -> list[dict[str, Any]]:
    """The grants of the token's organisation, newest first: those in force, or all of them.

    Needs a token with the `sharing` scope.
    """
    owner = require_scope(request, TokenScope.SHARING).organisation
    grants = _grants(owner, None if history else policy.grants_in_force())
    return _outputs(owner, list(grants.order_by("-created_at", "-id")))


@router.post(
    "/sharing/grants", response={201: GrantOut, **READ_ERRORS, **TOO_BIG}, summary="Add a grant"
)
def add_grant(request: HttpRequest, response: HttpResponse, payload: GrantIn) -> Status[Any]:
    """Share some of the token's organisation's data with an audience, from the next request.

    The body takes one shape per audience (see `GrantIn`). 422 names every field at fault;
    nothing is stored then. Besides what this document states, the API checks what no schema
    can: the collaborative must be one the organisation belongs to, and the organisation one
    that exists and is not its own (what is stored); `expires_at` must be in the future (the
    clock).
    """
    token = require_scope(request, TokenScope.SHARING)
    terms = _terms(token, payload)
    try:
        grant = actions.add_grant(by=token, owner=token.organisation, terms=terms)
    except actions.GrantInvalid as exc:
        raise _invalid(exc.errors) from None
    response["Location"] = f"{request.path.rstrip('/')}/{grant.pk}"
    return Status(201, _output(token.organisation, grant))


@router.get(
    "/sharing/grants/{grant_id}", response={200: GrantOut, **READ_ERRORS}, summary="A grant"
)
def get_grant(request: HttpRequest, grant_id: GrantId) -> dict[str, Any]:
    """One grant of the token's organisation, in force or ended; 404 for any other."""
    token = require_scope(request, TokenScope.SHARING)
    return _output(token.organisation, _grant(token, grant_id))


@router.put(
    "/sharing/grants/{grant_id}",
    response={201: GrantOut, **CHANGE_ERRORS, **TOO_BIG},
    summary="Change a grant",
)
def change_grant(
    request: HttpRequest, response: HttpResponse, grant_id: GrantId, payload: GrantIn
) -> Status[Any]:
    """Narrow or widen a grant: it ends (reason `changed`) and a new grant with the given
    terms replaces it. Answers 201 with the new grant (its `replaces` is the old one's id).

    409 if the grant has already ended; 422 names every field at fault, and then nothing changes.
    As for a new grant, the API checks what no schema can: the collaborative must be one the
    organisation belongs to, and the organisation one that exists and is not its own (what is
    stored); `expires_at` must be in the future (the clock).
    """
    token = require_scope(request, TokenScope.SHARING)
    grant = _grant(token, grant_id)
    terms = _terms(token, payload)
    try:
        new = actions.change_grant(by=token, grant=grant, terms=terms)
    except actions.GrantInvalid as exc:
        if "grant" in exc.errors:
            raise _ended(exc) from None
        raise _invalid(exc.errors) from None
    response["Location"] = f"{request.path.rsplit('/', 1)[0]}/{new.pk}"
    return Status(201, _output(token.organisation, new))


@router.delete(
    "/sharing/grants/{grant_id}",
    response={200: GrantOut, **CHANGE_ERRORS},
    summary="Revoke a grant",
)
def revoke_grant(request: HttpRequest, grant_id: GrantId) -> dict[str, Any]:
    """Stop a grant from the next request. Answers 200 with the ended grant, which stays in
    the history. 409 if it has already ended."""
    token = require_scope(request, TokenScope.SHARING)
    grant = _grant(token, grant_id)
    try:
        ended = actions.revoke_grant(by=token, grant=grant)
    except actions.GrantInvalid as exc:
        raise _ended(exc) from None
    return _output(token.organisation, ended)
