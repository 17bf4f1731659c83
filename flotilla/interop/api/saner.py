"""FHIR SANER over the API: the picture's bed counts as a Bundle of MeasureReports, and
MeasureReports submitted as a report (`flotilla.interop.saner`; docs/interoperability.md)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Any, Literal

from django.http import Http404, HttpRequest, HttpResponse
from ninja import Field, Header, Query, Router, Status
from ninja.errors import HttpError
from pydantic import BaseModel, BeforeValidator, ConfigDict, StrictInt, StringConstraints

from flotilla import catalogue as catalogue_module
from flotilla.authz.api_auth import (
    CODE_LENGTH,
    ERROR_RESPONSES,
    READ_ERRORS,
    TOO_BIG,
    ApiTime,
    ErrorOut,
    OrgCode,
    QueryTime,
    Slug,
    documented_as,
    has_nul,
    require_scope,
)
from flotilla.authz.models import TokenScope
from flotilla.collaboratives.queries import find_collaborative, members_of
from flotilla.interop import saner
from flotilla.reporting.actions import KeyReused, record_report_once
from flotilla.sharing import policy

router = Router(tags=["Interoperability"])

FHIR_JSON = "application/fhir+json"
#: MeasureReports per document: with a group per bed type and a population per state, no
#: more values than a report may carry (20,000).
MAX_ENTRIES = 400

_BEDS = saner.bed_measures()
BED_TYPES = tuple(dict.fromkeys(b.bed_type for b in _BEDS))
STATES = tuple(dict.fromkeys(b.state for b in _BEDS))
_SPEC = catalogue_module.current().measure(_BEDS[0].code)
LOWEST, HIGHEST = int(_SPEC.min_value or 0), int(_SPEC.max_value or 0)
assert all(
    (m.min_value, m.max_value) == (_SPEC.min_value, _SPEC.max_value)
    for m in catalogue_module.current().measures
    if m.bed_type and m.state
), "every bed count has one range (catalogue's bed_measures)"

#: FHIR's `string` (not empty; no character FHIR or a database refuses), spelt without `\s`,
#: which JSON Schema and Python read differently.
_FHIR_TEXT = (
    r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f"
    r"\u205f\u3000\ufeff]+$"
)
Text = Annotated[str, StringConstraints(max_length=300, pattern=_FHIR_TEXT)]
FhirId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9\-.]{1,64}$")]
Uri = Annotated[str, StringConstraints(max_length=200, pattern=r"^[\x21-\x7e]+$")]
Code = Annotated[str, StringConstraints(max_length=CODE_LENGTH, pattern=r"^[A-Za-z0-9]+$")]


def _whole(value: Any) -> Any:
    """JSON's 12.0 is the integer 12 (as JSON Schema reads it); text and booleans stay refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


#: A whole number of beds, as a JSON integer.
Beds = Annotated[StrictInt, BeforeValidator(_whole)]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SanerBedTypeCoding(_Closed):
    system: Literal["urn:flotilla:code-system:bed-type"]
    code: Literal[BED_TYPES]  # type: ignore[valid-type]
    display: Text | None = None


class SanerBedTypeCode(_Closed):
    coding: list[SanerBedTypeCoding] = Field(..., min_length=1, max_length=1)


class SanerBedStateCoding(_Closed):
    system: Literal["urn:flotilla:code-system:bed-state"]
    code: Literal[STATES]  # type: ignore[valid-type]
    display: Text | None = None


class SanerBedStateCode(_Closed):
    coding: list[SanerBedStateCoding] = Field(..., min_length=1, max_length=1)


class SanerAbsentReason(_Closed):
    """Why a figure is missing: HL7's data-absent-reason (`masked` is refused: a figure you
    cannot see is not yours to report)."""

    url: Literal["http://hl7.org/fhir/StructureDefinition/data-absent-reason"]
    valueCode: Literal[tuple(saner.MISSING_REASON)]  # type: ignore[valid-type]


class SanerCountedPopulation(_Closed):
    """Beds of one state, counted."""

    code: SanerBedStateCode
    count: Beds = Field(..., ge=LOWEST, le=HIGHEST)
    extension: None = None


class SanerAbsentPopulation(_Closed):
    """Beds of one state, missing, and why."""

    code: SanerBedStateCode
    count: None = None
    extension: list[SanerAbsentReason] = Field(..., min_length=1, max_length=1)


class SanerPopulationIn(_Closed):
    """Beds of one state: a `count`, or the reason it is missing (`extension`), not both."""

    code: SanerBedStateCode
    count: Beds | None = Field(None, ge=LOWEST, le=HIGHEST)
    extension: list[SanerAbsentReason] | None = Field(None, min_length=1, max_length=1)

    # Read leniently, so that the import names a population with both or neither in its own
    # words alongside the document's other problems; documented as the two shapes it takes.
    __get_pydantic_json_schema__ = documented_as(
        lambda: SanerCountedPopulation | SanerAbsentPopulation
    )


class SanerGroupIn(_Closed):
    code: SanerBedTypeCode
    population: list[SanerPopulationIn] = Field(..., min_length=1, max_length=len(STATES))


class SanerOrganisationIdentifier(_Closed):
    system: Literal["https://fhir.nhs.uk/Id/ods-organization-code"]
    value: Code


class SanerSiteIdentifier(_Closed):
    system: Literal["https://fhir.nhs.uk/Id/ods-site-code"]
    value: Code


class SanerOrganisationReference(_Closed):
    """An organisation, by its ODS code."""

    type: Literal["Organization"] | None = None
    identifier: SanerOrganisationIdentifier
    display: Text | None = None


class SanerSiteReference(_Closed):
    """A site, by its ODS site code."""

    type: Literal["Location"] | None = None
    identifier: SanerSiteIdentifier
    display: Text | None = None


class SanerIdentifierIn(_Closed):
    system: Literal[
        "https://fhir.nhs.uk/Id/ods-organization-code", "https://fhir.nhs.uk/Id/ods-site-code"
    ]
    value: Code


class SanerSubjectIn(_Closed):
    """The organisation or one of its sites (`type`, if given, saying which)."""

    type: Literal["Organization", "Location"] | None = None
    identifier: SanerIdentifierIn
    display: Text | None = None

    __get_pydantic_json_schema__ = documented_as(
        lambda: SanerOrganisationReference | SanerSiteReference
    )


class SanerPeriodIn(_Closed):
    start: ApiTime | None = Field(None, description="Not after `end`.")
    end: ApiTime = Field(..., description="When the figures were true (filed to the minute).")


class SanerMeasureReportIn(_Closed):
    """One MeasureReport: the token's organisation (or one of its sites) at one time."""

    resourceType: Literal["MeasureReport"]
    id: FhirId | None = None
    status: Literal["complete"]
    type: Literal["summary"]
    measure: Literal[(saner.MEASURE, f"{saner.MEASURE}|{catalogue_module.current().version}")]  # type: ignore[valid-type]
    subject: SanerSubjectIn
    date: ApiTime | None = None
    reporter: SanerOrganisationReference | None = None
    period: SanerPeriodIn
    group: list[SanerGroupIn] | None = Field(None, min_length=1, max_length=len(BED_TYPES))


class SanerEntryIn(_Closed):
    fullUrl: Uri | None = None
    resource: SanerMeasureReportIn


class SanerBundleIn(_Closed):
    """A Bundle (type collection) of MeasureReports."""

    resourceType: Literal["Bundle"]
    id: FhirId | None = None
    type: Literal["collection"]
    timestamp: ApiTime | None = None
    entry: list[SanerEntryIn] = Field(..., min_length=1, max_length=MAX_ENTRIES)


class SanerWarningOut(BaseModel):
    row: int | None
    field: str
    message: str


class SanerStoredOut(BaseModel):
    """What was stored, as for `POST /api/reports`."""

    submission_id: int | None
    created: int
    revised: int
    unchanged: int
    warnings: list[SanerWarningOut]


#: What a Bundle exported looks like (the MeasureReports are FHIR R4B's, as
#: docs/interoperability.md describes them).
_REFERENCE = {
    "type": "object",
    "required": ["identifier"],
    "properties": {
        "type": {"enum": ["Organization", "Location"]},
        "identifier": {
            "type": "object",
            "required": ["system", "value"],
            "properties": {
                "system": {"enum": [saner.ODS_ORGANISATION, saner.ODS_SITE]},
                "value": {"type": "string"},
            },
        },
        "display": {"type": "string"},
    },
}
BUNDLE_OUT = {
    "title": "SanerBundle",
    "description": "A FHIR R4B Bundle (type collection) of MeasureReports: one per "
    "organisation or site and time, a group per bed type, a population per bed state with "
    "a `count` only where you may see the figure exactly, else the data-absent-reason "
    "extension (`masked`: withheld, not yet visible, status only or banded, a banded one "
    f"with `{saner.COUNT_RANGE}`; a reason it was reported missing).",
    "type": "object",
    "required": ["resourceType", "type", "timestamp"],
    "properties": {
        "resourceType": {"const": "Bundle"},
        "type": {"const": "collection"},
        "timestamp": {"type": "string", "format": "date-time"},
        "entry": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["fullUrl", "resource"],
                "properties": {
                    "fullUrl": {"type": "string"},
                    "resource": {
                        "type": "object",
                        "required": [
                            "resourceType", "status", "type", "measure", "subject", "period",
                        ],
                        "properties": {
                            "resourceType": {"const": "MeasureReport"},
                            "status": {"const": "complete"},
                            "type": {"const": "summary"},
                            "measure": {"const": saner.MEASURE},
                            "subject": _REFERENCE,
                            "reporter": _REFERENCE,
                            "date": {"type": "string", "format": "date-time"},
                            "period": {
                                "type": "object",
                                "required": ["start", "end"],
                                "properties": {
                                    "start": {"type": "string", "format": "date-time"},
                                    "end": {"type": "string", "format": "date-time"},
                                },
                            },
                            "group": {"type": "array", "items": {"type": "object"}},
                        },
                    },
                },
            },
        },
    },
}  # fmt: skip
_EXPORTED = {
    "responses": {
        "200": {
            "description": "The Bundle, as you may see it.",
            "content": {FHIR_JSON: {"schema": BUNDLE_OUT}},
        }
    }
}


def _bundle(organisations: list[Any], viewer: policy.Viewer, at: datetime | None) -> HttpResponse:
    bundle = saner.bundle_for(viewer, organisations, at)
    return HttpResponse(saner.as_json(bundle), content_type=FHIR_JSON)


@router.get(
    "/collaboratives/{slug}/saner",
    response=READ_ERRORS,
    summary="The picture as FHIR SANER MeasureReports",
    openapi_extra=_EXPORTED,
)
def collaborative_saner(
    request: HttpRequest,
    slug: Slug,
    at: Annotated[
        QueryTime | None,
        Query(description="A past moment (ISO 8601 with offset); omitted for now."),
    ] = None,
) -> HttpResponse:
    """Every member's bed counts by type and state as the token's organisation may see them,
    as a FHIR R4B Bundle of MeasureReports (`application/fhir+json`). A figure not shared
    with you exactly has no count but the reason (data-absent-reason). 404 if the token's
    organisation is not a member of the collaborative."""
    viewer = policy.viewer_of(require_scope(request, TokenScope.READ))
    if has_nul(slug):
        raise Http404
    collab = find_collaborative(viewer.organisation_ids, slug)
    return _bundle(members_of(collab), viewer, at)


@router.get(
    "/organisations/{code}/saner",
    response=READ_ERRORS,
    summary="An organisation's bed counts as FHIR SANER MeasureReports",
    openapi_extra=_EXPORTED,
)
def organisation_saner(
    request: HttpRequest,
    code: OrgCode,
    at: Annotated[
        QueryTime | None,
        Query(description="A past moment (ISO 8601 with offset); omitted for now."),
    ] = None,
) -> HttpResponse:
    """One organisation's bed counts (and its sites') as the token's organisation may see
    them, as a FHIR R4B Bundle of MeasureReports. 404 unless the organisation is the token's
    own or shares something with it."""
    viewer = policy.viewer_of(require_scope(request, TokenScope.READ))
    if has_nul(code):
        raise Http404
    return _bundle([policy.get_organisation(viewer, code)], viewer, at)


def _canonical_sha256(body: bytes) -> str:
    """The hash of the body's meaning: key order and white space do not change it."""
    canonical = json.dumps(
        json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


Document = Annotated[SanerBundleIn | SanerMeasureReportIn, Field(discriminator="resourceType")]


@router.post(
    "/saner",
    response={201: SanerStoredOut, 409: ErrorOut, **TOO_BIG, **ERROR_RESPONSES},
    summary="Submit FHIR SANER MeasureReports",
)
def import_saner(
    request: HttpRequest,
    response: HttpResponse,
    document: Document,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=200,
            pattern=r"^[\x21-\x7e]+$",
            description="Makes retries safe, as for POST /api/reports.",
        ),
    ] = None,
) -> Status[dict[str, Any]]:
    """Submit a FHIR R4B Bundle of MeasureReports (or one MeasureReport) for the token's
    organisation and its sites: each population (a bed type's group, a bed state) is one
    value of `{bed type}_{state}`, true at the report's `period.end`, a `count` or a
    data-absent-reason saying why it is missing. Stored as `POST /api/reports` stores a
    report (same checks, revisions, audit and `Idempotency-Key`); nothing is stored if
    anything is wrong, and the 422 names each problem by its path in the document (`index`:
    the entry). Needs a token with the `submit` scope.

    Besides what this document states, the API checks what no schema can (422): the subject
    the token's organisation or one of its sites (what is stored); `period.end` at most an
    hour ahead of now and not before 1 January 2000 in UTC (the clock); `period.start` not
    after `period.end`, no two different values for one measure, site and minute, and the
    values consistent by the catalogue's rules (one value against another).
    """
    token = require_scope(request, TokenScope.SUBMIT)
    body = document.model_dump(mode="json", exclude_none=True)
    organisation = token.organisation
    if idempotency_key is None:
        result = saner.import_document(by=token, organisation=organisation, document=body)
        return Status(201, result.as_dict())
    try:
        stored, replayed = record_report_once(
            by=token,
            key=idempotency_key,
            body_sha256=_canonical_sha256(request.body),
            cells=lambda: saner.cells_of(body, organisation),
        )
    except KeyReused as exc:
        raise HttpError(409, str(exc)) from None
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return Status(201, stored)
