"""OASIS EDXL in and out (docs/interoperability.md): HAVE 2.0 hospital status documents, and
EDXL-RM 1.0 resource messages for the mutual-aid exchange.

HAVE documents are read with a `read` token and built by `flotilla.interop.have` through the
sharing policy as the token's organisation; RM messages are read with a `read` or `aid`
token through `flotilla.exchange.queries` and imported with an `aid` token through
`flotilla.exchange.actions` (by `flotilla.interop.edxl_rm`).
"""

from __future__ import annotations

from typing import Any, Literal

from django.http import Http404, HttpRequest, HttpResponse
from ninja import Field, Router, Schema, Status
from ninja.errors import AuthorizationError, HttpError

from flotilla.authz.api_auth import (
    READ_ERRORS,
    TOO_BIG,
    OrgCode,
    Slug,
    has_nul,
    path_id,
    require_scope,
    token_of,
)
from flotilla.authz.models import ApiToken, TokenScope
from flotilla.collaboratives.queries import find_collaborative
from flotilla.exchange import queries as exchange_queries
from flotilla.interop import edxl_rm, have
from flotilla.sharing import policy

router = Router(tags=["Interoperability"])

XML = have.MEDIA_TYPE
RequestId = path_id("The request's id.")


def _xml_answer(description: str) -> dict[str, Any]:
    """The document's 200 answer: XML text."""
    return {
        "responses": {
            "200": {
                "description": description,
                "content": {XML: {"schema": {"type": "string"}}},
            }
        }
    }


def _xml(document: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(document, content_type=f"{XML}; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


# ------------------------------------------------------------------ HAVE


@router.get(
    "/collaboratives/{slug}/have",
    response=READ_ERRORS,
    summary="Members' hospital status (EDXL-HAVE 2.0)",
    openapi_extra=_xml_answer(
        "An EDXL-HAVE 2.0 HospitalStatus document: one Hospital per member, and one per site "
        "with figures of its own, as the members share them with you."
    ),
)
def collaborative_have(request: HttpRequest, slug: Slug) -> HttpResponse:
    """Each member's escalation level, emergency department traffic status and bed capacity
    by type, as an OASIS EDXL-HAVE 2.0 document (XML), through the sharing policy as the
    token's organisation: a count only where it is shared with you exactly, an available
    count only where open and occupied beds both are; otherwise `CommentText` says why
    (never a zero). The reads go on the members' access records. 404 unless the token's
    organisation is a member. Needs a `read` token."""
    viewer = policy.viewer_of(require_scope(request, TokenScope.READ))
    if has_nul(slug):
        raise Http404
    collaborative = find_collaborative(viewer.organisation_ids, slug)
    return _xml(have.for_collaborative(viewer, collaborative), f"{collaborative.slug}-have.xml")


@router.get(
    "/organisations/{code}/have",
    response=READ_ERRORS,
    summary="An organisation's hospital status (EDXL-HAVE 2.0)",
    openapi_extra=_xml_answer(
        "An EDXL-HAVE 2.0 HospitalStatus document: the organisation, and each of its sites "
        "with figures of its own, as it shares them with you."
    ),
)
def organisation_have(request: HttpRequest, code: OrgCode) -> HttpResponse:
    """One organisation's hospital status as an OASIS EDXL-HAVE 2.0 document (XML), as for
    a collaborative's members. 404 unless the organisation is the token's own or shares
    something with it. Needs a `read` token."""
    viewer = policy.viewer_of(require_scope(request, TokenScope.READ))
    if has_nul(code):
        raise Http404
    organisation = policy.get_organisation(viewer, code)
    return _xml(have.for_organisation(viewer, organisation), f"{organisation.code}-have.xml")


# ------------------------------------------------------------------ RM


def _exchange_reader(request: HttpRequest) -> ApiToken:
    token = token_of(request)
    if token.scope not in (TokenScope.READ, TokenScope.AID):
        raise AuthorizationError(
            message=f"This token has the {token.scope!r} scope; this operation needs a token "
            "with the 'read' or the 'aid' scope."
        )
    return token


@router.get(
    "/aid/requests/{request_id}/edxl-rm",
    response=READ_ERRORS,
    summary="An aid request's thread (EDXL-RM 1.0)",
    openapi_extra=_xml_answer(
        "The thread as EDXL-RM 1.0 messages, oldest first, in one `ResourceMessages` "
        "envelope: RequestResource, then for each offer you may see a "
        "ResponseToRequestResource, each commitment a CommitResource, each release a "
        "ReleaseResource, and a RequestReturn for help that came back."
    ),
)
def aid_request_edxl_rm(request: HttpRequest, request_id: RequestId) -> HttpResponse:
    """An aid request and what became of it as EDXL-RM 1.0 messages (XML), each linked to
    the one before by `OriginatingMessageID` and `PrecedingMessageID`: only the offers and
    commitments the token's organisation may see. 404 unless the request's audience reaches
    the organisation. Needs a `read` or `aid` token."""
    token = _exchange_reader(request)
    viewer = policy.viewer_of(token)
    aid = exchange_queries.get_request(viewer, request_id)
    return _xml(edxl_rm.thread(viewer, aid), f"aid-request-{aid.pk}-edxl-rm.xml")


OfferId = path_id("The offer's id.")


@router.get(
    "/aid/offers/{offer_id}/edxl-rm",
    response=READ_ERRORS,
    summary="A standing offer's thread (EDXL-RM 1.0)",
    openapi_extra=_xml_answer(
        "A standing offer and what became of it as EDXL-RM 1.0 messages, oldest first, in one "
        "`ResourceMessages` envelope: OfferUnsolicitedResource, then for each commitment you "
        "may see a CommitResource, its deployment reports and a ReleaseResource if released. "
        "For an offer answering a request, that request's thread."
    ),
)
def aid_offer_edxl_rm(request: HttpRequest, offer_id: OfferId) -> HttpResponse:
    """A standing offer's thread as EDXL-RM 1.0 messages (XML), each linked to the offer by
    `OriginatingMessageID` and to the one before by `PrecedingMessageID`. 404 unless the
    token's organisation may see the offer. Needs a `read` or `aid` token."""
    token = _exchange_reader(request)
    viewer = policy.viewer_of(token)
    offer = exchange_queries.get_offer(viewer, offer_id)
    return _xml(edxl_rm.offer_thread(viewer, offer), f"aid-offer-{offer.pk}-edxl-rm.xml")


class ImportOut(Schema):
    """What an imported message made."""

    kind: Literal["request", "offer"] = Field(..., description="A request or an offer.")
    id: int = Field(..., description="Its id (`/api/aid/requests/{id}` or `/api/aid/offers/{id}`).")
    created: bool = Field(
        ..., description="False when this message was imported before: nothing changed."
    )
    message_id: str = Field(..., description="The message's MessageID.")


IMPORT_ANSWER = {
    "requestBody": {
        "required": True,
        "description": "One EDXL-RM 1.0 RequestResource or OfferUnsolicitedResource message "
        "(XML). No DTD, entity or external reference is read.",
        "content": {XML: {"schema": {"type": "string", "maxLength": edxl_rm.MAX_CHARACTERS}}},
    },
}


@router.post(
    "/aid/edxl-rm",
    response={201: ImportOut, **READ_ERRORS, **TOO_BIG},
    summary="Import an EDXL-RM 1.0 request or offer",
    openapi_extra=IMPORT_ANSWER,
)
def import_edxl_rm(request: HttpRequest) -> Any:
    """Ask for help, or offer it unsolicited, for the token's organisation from one EDXL-RM
    1.0 message: a RequestResource raises a request, an OfferUnsolicitedResource makes a
    standing offer, through the exchange's own rules. The same message (its `MessageID`)
    imported again changes nothing and answers with what it made the first time. 400 for a
    body that is not well-formed XML or holds a DTD or entity; 422 naming each element at
    fault by its path (`/RequestResource/ResourceInformation/...`), nothing stored. Needs an
    `aid` token."""
    token = require_scope(request, TokenScope.AID)
    try:
        made = edxl_rm.import_message(by=token, organisation=token.organisation, body=request.body)
    except edxl_rm.NotPlainXml as exc:
        raise HttpError(400, str(exc)) from None
    return Status(
        201,
        {
            "kind": made.kind,
            "id": made.object_id,
            "created": made.created,
            "message_id": made.message_id,
        },
    )
