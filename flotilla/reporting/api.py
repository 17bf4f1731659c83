"""API for reporting systems: submit many values in one call, and read the measure catalogue."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Header, Router, Schema, Status
from ninja.errors import AuthorizationError, HttpError
from pydantic import BaseModel, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from flotilla import catalogue as catalogue_module
from flotilla.authz.api_auth import (
    ERROR_RESPONSES,
    NO_NUL,
    ApiTime,
    ErrorOut,
    MeasureCode,
    SafeStr,
    require_scope,
)
from flotilla.authz.models import ApiToken, TokenScope
from flotilla.organisations.models import Site
from flotilla.reporting.actions import KeyReused, record_report, record_report_once
from flotilla.reporting.models import Measure, MissingReason, Source
from flotilla.reporting.validation import CellIn, Problem, ReportRejected, check_cells

router = Router(tags=["reporting"])

#: Values per call. Larger reports are split by the client; the limit keeps one request's
#: transaction (and its row locks) short.
MAX_VALUES = 20_000

Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
#: The kinds of measure whose values are whole numbers (`check_cells`).
WHOLE = ("count", "level")


def _figure_shapes(schema: JsonSchemaValue) -> list[JsonSchemaValue]:
    """The shapes of a reported value, one per kind of figure: `value` within the range of the
    measures named (grouped by kind and range), `text` for a text measure, or `missing_reason`
    for any; the other two absent or null. What `_cells` and `check_cells` refuse of a single
    value, stated; the measures are the catalogue's when the document is made."""
    properties = schema["properties"]
    null = {"type": "null"}
    [reason] = [s for s in properties["missing_reason"]["anyOf"] if s != null]

    def shape(title: str, codes: list[str], given: str, of: JsonSchemaValue) -> JsonSchemaValue:
        others = {n: null for n in ("value", "text", "missing_reason") if n != given}
        return {
            "title": title,
            "type": "object",
            "properties": {
                **properties,
                "measure": {**properties["measure"], "enum": codes},
                given: of,
                **others,
            },
            "required": ["measure", "as_of", given],
        }

    ranges: dict[tuple[str, float | None, float | None], list[str]] = {}
    texts = []
    for m in catalogue_module.current().measures:
        if m.kind == "text":
            texts.append(m.code)
        else:
            ranges.setdefault(
                ("integer" if m.kind in WHOLE else "number", m.min_value, m.max_value), []
            ).append(m.code)
    shapes = []
    for (kind, low, high), codes in ranges.items():
        number: JsonSchemaValue = {"type": kind}
        if low is not None:
            number["minimum"] = low
        if high is not None:
            number["maximum"] = high
        words = "a whole number" if kind == "integer" else "a number"
        span = f" from {low:g}" if low is not None else ""
        span += f" to {high:g}" if high is not None else ""
        shapes.append(shape(f"{words.capitalize()}{span}", codes, "value", number))
    if texts:
        shapes.append(shape("A text", texts, "text", {"type": "string", "pattern": NO_NUL}))
    every = [m.code for m in catalogue_module.current().measures]
    shapes.append(shape("Missing, and why", every, "missing_reason", reason))
    return shapes


class ValueIn(BaseModel):
    """One reported value: exactly one of `value`, `text` and `missing_reason` is given."""

    # A plain pydantic model, not ninja's Schema: Schema's per-object validator (for reading
    # Django models) costs about a third of the parsing time of a 10,000-value report.
    # Read leniently, so that `_cells` and `check_cells` name every problem of the report in one
    # 422, in their own words; documented as the shapes they take (`_figure_shapes`).

    site_code: SafeStr | None = Field(
        None, description="A site of the token's organisation; null for the organisation."
    )
    measure: MeasureCode = Field(..., description="A measure code from GET /api/measures.")
    as_of: ApiTime = Field(
        ...,
        description="When the value was true, ISO 8601 with a UTC offset "
        "(for example 2026-01-05T08:00:00+00:00); filed to the minute (seconds are dropped), "
        "from 1 January 2000 (UTC) to at most an hour ahead of now.",
    )
    value: Number | None = Field(None, description="The number, for count and level measures.")
    text: SafeStr | None = Field(None, description="The text, for narrative measures.")
    missing_reason: MissingReason | None = Field(
        None, description="Why there is no value. Missing is never stored as zero."
    )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler.resolve_ref_schema(handler(core_schema))
        return {
            "title": schema["title"],
            "description": "One reported value: exactly one of `value` (a number within the "
            "measure's range, a whole number for counts and levels), `text` (for a text "
            "measure) or `missing_reason`; the other two left out or null. Also checked: "
            "`as_of` at most an hour ahead of now and not before 1 January 2000 in UTC, "
            "`site_code` a site of the token's organisation, and each value consistent with "
            "the report's other values for the same site and time (see the catalogue's rules).",
            "oneOf": _figure_shapes(schema),
        }


class ReportIn(Schema):
    values: list[ValueIn] = Field(..., max_length=MAX_VALUES)
    org_code: SafeStr | None = Field(
        None, description="Optional check: must be the token's own organisation."
    )


class WarningOut(Schema):
    row: int | None
    field: str
    message: str


class ReportOut(Schema):
    """What was stored. `submission_id` is null when every value equalled the current one."""

    submission_id: int | None
    created: int
    revised: int
    unchanged: int
    warnings: list[WarningOut]


class MeasureOut(Schema):
    code: str
    label: str
    description: str
    group: str
    kind: str
    unit: str
    min: float | None
    max: float | None
    bed_type: str
    state: str
    level: str


def _field(i: int, name: str) -> str:
    return f"values[{i}].{name}"


def _cells(token: ApiToken, values: list[ValueIn]) -> list[CellIn]:
    """Map the request to cells for the token's organisation; ReportRejected lists every problem.

    Problems found here (unknown sites, not exactly one of value/text/missing_reason) are
    reported together with the catalogue's checks of the other values, so that one 422 names
    everything the client has to fix.
    """
    codes = {v.site_code.strip().upper() for v in values if v.site_code and v.site_code.strip()}
    sites = dict(
        Site.objects.filter(organisation_id=token.organisation_id, code__in=codes).values_list(
            "code", "id"
        )
    )
    catalogue = catalogue_module.current()
    measures = {m.code for m in catalogue.measures}
    cells: list[CellIn] = []
    problems: list[Problem] = []
    for i, v in enumerate(values):
        if v.measure not in measures:
            problems.append(
                Problem(
                    f"unknown measure {v.measure!r} (see GET /api/measures)",
                    _field(i, "measure"),
                    i,
                )
            )
            continue
        site_id = None
        code = (v.site_code or "").strip().upper()
        if code:
            site_id = sites.get(code)
            if site_id is None:
                problems.append(
                    Problem(
                        f"{v.site_code!r} is not a site of {token.organisation.code}",
                        _field(i, "site_code"),
                        i,
                    )
                )
                continue
        given = [n for n in ("value", "text", "missing_reason") if getattr(v, n) is not None]
        if len(given) != 1:
            message = (
                "give one of value, text or missing_reason"
                if not given
                else f"give only one of value, text or missing_reason, not {' and '.join(given)}"
            )
            problems.append(Problem(message, _field(i, given[-1] if given else "value"), i))
            continue
        cells.append(
            CellIn(
                organisation_id=token.organisation_id,
                site_id=site_id,
                measure=v.measure,
                as_of=v.as_of,
                value=v.value,
                text=v.text,
                missing_reason=v.missing_reason.value if v.missing_reason else "",
                row=i,
                field=_field(i, given[0]),
                time_field=_field(i, "as_of"),
            )
        )
    if problems:
        errors = [p for p in check_cells(cells, catalogue) if p.severity == "error"]
        raise ReportRejected(sorted([*problems, *errors], key=lambda p: p.row or 0))
    return cells


def _canonical_sha256(body: bytes) -> str:
    """The hash of the body's meaning: key order and white space do not change it."""
    canonical = json.dumps(
        json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@router.post(
    "/reports",
    response={201: ReportOut, 409: ErrorOut, 413: ErrorOut, **ERROR_RESPONSES},
    summary="Submit a report",
)
def submit_report(
    request: HttpRequest,
    response: HttpResponse,
    payload: ReportIn,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=200,
            pattern=r"^[\x21-\x7e]+$",
            description="Makes retries safe: a retry never duplicates; the same key with a "
            "different body is rejected (409). Up to 200 visible ASCII characters, e.g. a UUID.",
        ),
    ] = None,
) -> Status[dict[str, Any]]:
    """Submit values for the token's organisation: many sites, measures and times in one call.

    Nothing is stored if any value is wrong (422 lists every problem). Each value is filed
    under its `as_of` truncated to the minute, which may not be more than an hour ahead of
    now. A value equal to the current one is left alone, so sending the same report twice
    changes nothing; a different value for the same minute becomes a new revision (the later
    received wins). Needs a token with the `submit` scope.

    Besides what this document states, the API checks what no schema can (422 on the value):
    `as_of` at most an hour ahead of now (the clock) and not before 1 January 2000 in UTC (an
    instant, across the time's offset); `site_code` a site of the token's organisation (what is
    stored); no two different values for one measure, site and minute, and each value
    consistent with the report's others by the catalogue's rules, such as beds admissible now
    no more than beds open (one value against another).
    """
    token = require_scope(request, TokenScope.SUBMIT)
    if payload.org_code is not None and payload.org_code.strip().upper() != (
        token.organisation.code
    ):
        raise AuthorizationError(
            message=f"This token submits for {token.organisation.code} only, "
            f"not for {payload.org_code!r}."
        )
    if idempotency_key is None:
        result = record_report(
            by=token,
            organisation_id=token.organisation_id,
            source=Source.API,
            cells=_cells(token, payload.values),
        )
        return Status(201, result.as_dict())
    try:
        stored, replayed = record_report_once(
            by=token,
            key=idempotency_key,
            body_sha256=_canonical_sha256(request.body),
            cells=lambda: _cells(token, payload.values),
        )
    except KeyReused as exc:
        raise HttpError(409, str(exc)) from None
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return Status(201, stored)


@router.get(
    "/measures", response={200: list[MeasureOut], 400: ErrorOut, 401: ErrorOut}, summary="Measures"
)
def list_measures(request: HttpRequest) -> list[dict[str, Any]]:
    """The catalogue of measures an organisation reports, with units and valid ranges."""
    return [
        {
            "code": m.code,
            "label": m.label,
            "description": m.description,
            "group": m.group,
            "kind": m.kind,
            "unit": m.unit,
            "min": m.min_value,
            "max": m.max_value,
            "bed_type": m.bed_type,
            "state": m.state,
            "level": m.level,
        }
        for m in Measure.objects.all()
    ]
