"""Every rule the API checks that a JSON Schema can state is stated in its OpenAPI document, and
the API refuses what the document forbids: a client (or schemathesis) reading the document
knows what will be refused.

test_api_schema fuzzes every operation against the document, letting through only the 422s
that name the rules no JSON Schema can state (BEYOND_THE_SCHEMA there). Here each limit is
checked directly: the document's keywords, values just beyond it refused with a 422 naming
the field, and values at it not refused for that field; the shapes of the bodies (a reported
value, a grant's audience, a kind of aid's details, an offer answering or not), bodies the
document allows taken and those it forbids refused, naming the field; and every path and
query parameter bounded, refused beyond its bound, and none of them together making a URL
longer than a server's request line."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import jsonschema_rs
import pytest
from django.test import override_settings
from django.utils import timezone

from flotilla import catalogue
from flotilla.authz import actions as authz_actions
from flotilla.authz.api_auth import CODE_LENGTH, NO_NUL, NOT_BLANK, SLUG_LENGTH, TIME_PATTERN
from flotilla.authz.models import Role, TokenScope
from flotilla.collaboratives.models import Collaborative
from flotilla.exchange import actions as exchange_actions
from flotilla.organisations.models import Organisation, Site
from flotilla.sharing import actions as sharing_actions
from flotilla.sharing.policy.rules import GROUPS
from tests.integration.exchange.test_api import STAFF, request_body, soon

pytestmark = pytest.mark.django_db

MAX_QUANTITY = exchange_actions.MAX_QUANTITY
MAX_HOURS = 24 * exchange_actions.MAX_OFFER_DAYS


def an_hour_ago() -> str:
    return (timezone.now() - timedelta(hours=1)).replace(microsecond=0).isoformat()


# ------------------------------------------------------------------ the document


@pytest.fixture
def document(client):
    return client.get("/api/openapi.json").json()


def _name(schema: dict) -> str:
    return schema["$ref"].rsplit("/", 1)[1]


def _resolve(document: dict, schema: dict, shape: str | None = None) -> dict:
    """The schema itself: a $ref followed, of `X | None` the X, and of a body's shapes (oneOf)
    the one named `shape` (a component's name or a title), or else what they all say (codes
    named by any of them)."""
    while True:
        if "$ref" in schema:
            schema = document["components"]["schemas"][_name(schema)]
        elif "anyOf" in schema:
            [schema] = [s for s in schema["anyOf"] if s.get("type") != "null"]
        elif "oneOf" in schema:
            shapes = schema["oneOf"]
            if shape is not None:
                [schema] = [
                    s for s in shapes if shape in (s.get("title"), "$ref" in s and _name(s))
                ]
            else:
                return {"oneOf": [_resolve(document, s) for s in shapes]}
        else:
            return schema


def _property(document: dict, schema: dict, name: str) -> dict:
    if "oneOf" not in schema:
        return _resolve(document, schema["properties"][name])
    each = [_resolve(document, s["properties"][name]) for s in schema["oneOf"]]
    said = {k: v for k, v in each[0].items() if all(s.get(k) == v for s in each)}
    if all("enum" in s for s in each):
        said["enum"] = sorted({code for s in each for code in s["enum"]})
    return said


def stated(document: dict, operation: str, where: str, shape: str | None = None) -> dict:
    """The schema the document gives a body field (`values[].measure`, `terms.duration_hours`)
    or a path or query parameter (`?since`) of an operation ("POST /api/aid/requests"); of a
    body with several shapes, `shape`'s (or what they all say)."""
    method, path = operation.split(" ")
    op = document["paths"][path][method.lower()]
    if where.startswith("?"):
        [parameter] = [p for p in op["parameters"] if p["name"] == where[1:]]
        return _resolve(document, parameter["schema"])
    schema = _resolve(document, op["requestBody"]["content"]["application/json"]["schema"], shape)
    for name in where.split("."):
        listed = name.endswith("[]")
        schema = _property(document, schema, name.rstrip("[]"))
        if listed:
            schema = _resolve(document, schema["items"])
    return schema


# ------------------------------------------------------------------ callers


def token(cast, scope: str, organisation=None) -> str:
    _, secret = authz_actions.issue_token(
        by=cast.people[Role.ORG_ADMIN],
        organisation=organisation or cast.north,
        name=f"{scope} feed",
        scope=scope,
    )
    return secret


def send(client, secret: str, operation: str, body: Any = None, **params: Any):
    method, path = operation.split(" ")
    headers = {"Authorization": f"Bearer {secret}"}
    if method == "GET":
        return client.get(path, params, headers=headers)
    return client.generic(
        method, path, json.dumps(body), content_type="application/json", headers=headers
    )


def named(response) -> dict[str, str]:
    """The fields a 422 names, and what it says of each; nothing for any other answer."""
    if response.status_code != 422:
        return {}
    return {e["field"]: e["message"] for e in response.json()["errors"]}


def offer_body(**changes: Any) -> dict:
    return {
        "collaborative": "river-system",
        "site": "RN101",
        "kind": "staff",
        "details": STAFF,
        "quantity": 3,
        "available_until": soon(48),
        "terms": {"transport": "offerer", "cost_recovery": "none"},
        **changes,
    }


def terms(**changes: Any) -> dict:
    return {"transport": "offerer", "cost_recovery": "none", **changes}


def grant_body(**changes: Any) -> dict:
    return {
        "audience": "everyone",
        "groups": ["capacity"],
        "detail": "banded",
        "purpose": "Mutual aid",
        **changes,
    }


def report_body(**changes: Any) -> dict:
    return {"values": [{"measure": "ga_open", "as_of": an_hour_ago(), "value": 400, **changes}]}


#: A request to make when the test runs (times are made from now): ("body", the JSON body) or
#: ("query", the query's parameters).
Request = Callable[[], tuple[str, Any]]


@dataclass(frozen=True)
class Limit:
    """A limit of one field: what the document says of it, requests beyond it (refused, the
    field named) and at it (the field not named)."""

    operation: str
    scope: str
    #: Where the document states it (see `stated`), and as the 422 names the field.
    where: str
    field: str
    keywords: dict[str, Any]
    beyond: list[Request]
    within: list[Request] = field(default_factory=list)
    #: Of a body with several shapes, the one that states it (default: what they all say).
    shape: str | None = None


def body(make: Callable[..., Any], **changes: Any) -> Request:
    return lambda: ("body", make(**changes))


def query(**params: Any) -> Request:
    return lambda: ("query", params)


LIMITS = {
    "an aid request for nothing or for more than 500": Limit(
        "POST /api/aid/requests",
        TokenScope.AID,
        "quantity",
        "quantity",
        {"minimum": 1, "maximum": MAX_QUANTITY},
        [body(request_body, quantity=0), body(request_body, quantity=MAX_QUANTITY + 1)],
        [body(request_body, quantity=1), body(request_body, quantity=MAX_QUANTITY)],
    ),
    "an aid request's distance": Limit(
        "POST /api/aid/requests",
        TokenScope.AID,
        "max_distance_km",
        "max_distance_km",
        {"minimum": 1, "maximum": exchange_actions.MAX_DISTANCE_KM},
        [body(request_body, max_distance_km=0), body(request_body, max_distance_km=1001)],
        [body(request_body, max_distance_km=1), body(request_body, max_distance_km=1000)],
    ),
    "an aid request's note, white space counted": Limit(
        "POST /api/aid/requests",
        TokenScope.AID,
        "note",
        "note",
        {"maxLength": exchange_actions.MAX_TEXT, "pattern": NO_NUL},
        [body(request_body, note="x" * 1000 + " "), body(request_body, note="Bay\x00 3")],
        [body(request_body, note="x" * 1000)],
    ),
    "an aid request's details without NUL characters": Limit(
        "POST /api/aid/requests",
        TokenScope.AID,
        "details",
        "details",
        {"additionalProperties": False},
        [body(request_body, details={**STAFF, "grade": "Band\x005"})],
        [body(request_body, details=STAFF)],
        shape="StaffRequest",
    ),
    "an answer's details, of the request's kind, without NUL characters": Limit(
        "POST /api/aid/offers",
        TokenScope.AID,
        "details",
        "details",
        {"maxProperties": 20, "propertyNames": {"type": "string", "pattern": NO_NUL}},
        [body(offer_body, details={**STAFF, "grade": "Band\x005"})],
        [body(offer_body, details=STAFF)],
        shape="OfferAnswering",
    ),
    "a need by a time outside 2000 to 2099": Limit(
        "POST /api/aid/requests",
        TokenScope.AID,
        "needed_by",
        "needed_by",
        {"format": "date-time", "pattern": TIME_PATTERN},
        [
            body(request_body, needed_by="2100-01-01T00:00:00+00:00"),
            body(request_body, needed_by=4102444800),  # seconds since 1970: not a date-time
            body(request_body, needed_by="2099-01-01T08:00Z"),  # no seconds: not RFC 3339
        ],
        [body(request_body, needed_by="2099-12-31T23:59:59-05:00")],
    ),
    "an offer's duration": Limit(
        "POST /api/aid/offers",
        TokenScope.AID,
        "terms.duration_hours",
        "terms.duration_hours",
        {"minimum": 1, "maximum": MAX_HOURS},
        [
            body(offer_body, terms=terms(duration_hours=0)),
            body(offer_body, terms=terms(duration_hours=MAX_HOURS + 1)),
        ],
        [
            body(offer_body, terms=terms(duration_hours=1)),
            body(offer_body, terms=terms(duration_hours=MAX_HOURS)),
        ],
    ),
    "an offer's conditions": Limit(
        "POST /api/aid/offers",
        TokenScope.AID,
        "terms.conditions",
        "terms.conditions",
        {"maxLength": exchange_actions.MAX_TEXT},
        [body(offer_body, terms=terms(conditions="x" * 1001))],
        [body(offer_body, terms=terms(conditions="x" * 1000))],
    ),
    "an offer of nothing": Limit(
        "POST /api/aid/offers",
        TokenScope.AID,
        "quantity",
        "quantity",
        {"minimum": 1, "maximum": MAX_QUANTITY},
        [body(offer_body, quantity=0), body(offer_body, quantity=MAX_QUANTITY + 1)],
        [body(offer_body, quantity=MAX_QUANTITY)],
    ),
    "a grant's delay": Limit(
        "POST /api/sharing/grants",
        TokenScope.SHARING,
        "delay_hours",
        "delay_hours",
        {"minimum": 0, "maximum": sharing_actions.MAX_DELAY_HOURS},
        [body(grant_body, delay_hours=-1), body(grant_body, delay_hours=673)],
        [body(grant_body, delay_hours=0), body(grant_body, delay_hours=672)],
    ),
    "a grant's groups": Limit(
        "POST /api/sharing/grants",
        TokenScope.SHARING,
        "groups",
        "groups",
        {
            "minItems": 1,
            "maxItems": 20,
            "items": {"enum": list(GROUPS), "pattern": NO_NUL, "type": "string"},
        },
        [body(grant_body, groups=[]), body(grant_body, groups=["beds"])],
        [body(grant_body, groups=list(GROUPS))],
    ),
    "a grant's purpose, not blank": Limit(
        "POST /api/sharing/grants",
        TokenScope.SHARING,
        "purpose",
        "purpose",
        {"maxLength": sharing_actions.MAX_PURPOSE, "pattern": NOT_BLANK},
        [
            body(grant_body, purpose=" \t\u3000"),
            body(grant_body, purpose="x" * 300 + " "),
        ],
        [body(grant_body, purpose="x" * 300)],
    ),
    "a reported measure the catalogue lacks": Limit(
        "POST /api/reports",
        TokenScope.SUBMIT,
        "values[].measure",
        "values[0].measure",
        {"enum": [m.code for m in catalogue.current().measures]},
        [body(report_body, measure=""), body(report_body, measure="beds")],
        [body(report_body, measure="ga_open")],
    ),
    "a report's time before 2000": Limit(
        "POST /api/reports",
        TokenScope.SUBMIT,
        "values[].as_of",
        "values[0].as_of",
        {"format": "date-time", "pattern": TIME_PATTERN},
        [body(report_body, as_of="1999-12-31T08:00:00+00:00")],
        [body(report_body, as_of="2000-01-01T08:00:00+00:00")],
    ),
    "a history's measure": Limit(
        "GET /api/organisations/{code}/history",
        TokenScope.READ,
        "?measure",
        "measure",
        {
            "minItems": 1,
            "items": {
                "enum": [m.code for m in catalogue.current().measures],
                "pattern": NO_NUL,
                "type": "string",
            },
        },
        [query(measure=""), query(measure="beds")],
        [query(measure="ga_open")],
    ),
    "a picture's moment given as a number": Limit(
        "GET /api/collaboratives/{slug}/picture",
        TokenScope.READ,
        "?at",
        "at",
        {"format": "date-time", "pattern": TIME_PATTERN},
        [query(at="1700000000"), query(at="2026-01-05"), query(at="1999-12-31T23:59:59Z")],
        [query(at="2026-01-05T08:00:00+00:00"), query(at="2000-01-01T00:00:00+14:00")],
    ),
}


def _url(operation: str, cast) -> str:
    return operation.replace("{code}", cast.north.code).replace("{slug}", cast.collab.slug)


@pytest.mark.parametrize("limit", LIMITS.values(), ids=LIMITS.keys())
def test_each_limit_the_api_checks_is_stated_in_the_document_and_refused_beyond_it(
    aid, client, document, limit
):
    schema = stated(document, limit.operation, limit.where, limit.shape)
    said = {k: schema.get(k) for k in limit.keywords}
    if "enum" in said:  # codes, in whatever order the shapes give them
        said["enum"] = sorted(said["enum"])
    assert said == {k: sorted(v) if k == "enum" else v for k, v in limit.keywords.items()}
    secret = token(aid, limit.scope)
    path = limit.operation.replace("{code}", aid.north.code).replace("{slug}", aid.collab.slug)

    def answer(request: Request):
        where, given = request()
        if where == "query":
            return send(client, secret, path, **given)
        return send(client, secret, path, given)

    for request in limit.beyond:
        response = answer(request)
        assert limit.field in named(response), (request(), response.json())
    for request in limit.within:
        response = answer(request)
        assert response.status_code < 500
        assert limit.field not in named(response), (request(), response.json())


def test_every_operation_that_reads_a_body_documents_the_413_it_answers_to_one_too_large(
    aid, client, document
):
    secret = token(aid, TokenScope.AID)
    padded = {"padding": "x" * 2000}
    reading = [
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    ]
    assert len(reading) == 11
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000):
        for method, path in reading:
            operation = document["paths"][path][method.lower()]
            assert "413" in operation["responses"], (method, path)
            # Any id will do: the body is read before anything is looked up.
            response = send(client, secret, f"{method} {re.sub(r'{[^}]+}', '1', path)}", padded)
            assert response.status_code == 413, (method, path)
            assert set(response.json()) == {"detail", "errors"}


# ------------------------------------------------------------------ the shapes of a body


#: The document's components, as a schema's root, so that `#/components/schemas/...` resolves.
def allows(document: dict, operation: str, value: Any) -> bool:
    """Whether the document's schema of the operation's body allows `value`, read as
    schemathesis reads it (formats checked, patterns with look-arounds)."""
    method, path = operation.split(" ")
    op = document["paths"][path][method.lower()]
    # The components beside it, so that `#/components/schemas/...` resolves.
    schema = {
        **op["requestBody"]["content"]["application/json"]["schema"],
        "components": document["components"],
    }
    validator = jsonschema_rs.validator_for(
        schema, validate_formats=True, pattern_options=jsonschema_rs.FancyRegexOptions()
    )
    return validator.is_valid(value)


@dataclass(frozen=True)
class Shape:
    """A body (made when the test runs) that the document allows or forbids, and the field the
    API names when it refuses it: the document and the API must agree."""

    operation: str
    scope: str
    field: str
    make: Callable[..., Any]


def details(kind: str, **changes: Any) -> Callable[..., dict]:
    """A request for aid of `kind` with its details changed (`...`: left out)."""
    valid = {
        "transfer": {"level_of_care": "cc3"},
        "beds": {"bed_type": "ga", "from_date": "2026-12-01", "until_date": "2026-12-03"},
        "staff": STAFF,
        "equipment": {"equipment_type": "Syringe drivers", "consumable": True},
        "elective": {
            "specialty": "Orthopaedics",
            "procedure_group": "Hips",
            "unit": "sessions",
            "weeks": 4,
        },
    }[kind]
    changed = {k: v for k, v in {**valid, **changes}.items() if v is not ...}
    return lambda aid: request_body(kind=kind, details=changed)


#: Each kind's details, as given, wrongly given, left out, and given other ways `kinds` reads:
#: (kind, the detail the API names if it refuses them, the details changed).
DETAILS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "a level of care unknown": ("transfer", "level_of_care", {"level_of_care": "icu"}),
    "clinical needs as one code": ("transfer", "clinical_needs", {"clinical_needs": "isolation"}),
    "clinical needs as a list": ("transfer", "clinical_needs", {"clinical_needs": ["isolation"]}),
    "clinical needs, an empty list": ("transfer", "clinical_needs", {"clinical_needs": []}),
    "clinical needs left blank": ("transfer", "clinical_needs", {"clinical_needs": "  "}),
    "clinical needs with an object": ("transfer", "clinical_needs", {"clinical_needs": [{}]}),
    "clinical needs unknown": ("transfer", "clinical_needs", {"clinical_needs": ["magic"]}),
    "a bed type null": ("transfer", "bed_type", {"bed_type": None}),
    "a bed type as a number": ("beds", "bed_type", {"bed_type": 3}),
    "a date that is none": ("beds", "from_date", {"from_date": "2026-02-30"}),
    "a date as a number": ("beds", "from_date", {"from_date": 5}),
    "a date left out": ("beds", "until_date", {"until_date": ...}),
    "a role left blank": ("staff", "role", {"role": " "}),
    "a grade as a number": ("staff", "grade", {"grade": 5}),
    "a grade as an NHS number": ("staff", "grade", {"grade": 9434765919}),
    "a grade with an NHS number": ("staff", "grade", {"grade": "Band 943 476 5919"}),
    "a grade with a date of birth": ("staff", "grade", {"grade": "Band 5, born 3 March 1961"}),
    "a grade with DOB": ("staff", "grade", {"grade": "Dob Band 5"}),
    "a grade with a long s": ("staff", "grade", {"grade": "born 1\u017ft Jan"}),
    "a grade of 40, spaces around": ("staff", "grade", {"grade": f"  {'x' * 40}  "}),
    "a grade of 41": ("staff", "grade", {"grade": "x" * 41}),
    "a grade left blank": ("staff", "grade", {"grade": "   "}),
    "a grade left out": ("staff", "grade", {"grade": ...}),
    "skills left blank": ("staff", "skills", {"skills": "  "}),
    "skills as a list": ("staff", "skills", {"skills": ["ICU"]}),
    "skills as true": ("staff", "skills", {"skills": True}),
    "an unknown detail": ("staff", "colour", {"colour": "blue"}),
    "consumable as yes": ("equipment", "consumable", {"consumable": "yes"}),
    "consumable as 1": ("equipment", "consumable", {"consumable": 1}),
    "consumable left out": ("equipment", "consumable", {"consumable": ...}),
    "returned, and when": (
        "equipment",
        "return_by",
        {"consumable": False, "return_by": "2026-12-01"},
    ),
    "returned, not saying when": ("equipment", "return_by", {"consumable": "no"}),
    "weeks as text": ("elective", "weeks", {"weeks": " 07 "}),
    "weeks beyond 52": ("elective", "weeks", {"weeks": 53}),
    "weeks beyond 52, as text": ("elective", "weeks", {"weeks": "53"}),
    "weeks as a fraction": ("elective", "weeks", {"weeks": "4.5"}),
    "a unit of choice": ("elective", "unit", {"unit": "patients"}),
}


def report(**value: Any) -> Callable[..., dict]:
    return lambda aid: {"values": [{"as_of": an_hour_ago(), **value}]}


def grant(**changes: Any) -> Callable[..., dict]:
    return lambda aid: grant_body(**changes)


def offer(**changes: Any) -> Callable[..., dict]:
    """An offer of North's (`...`: left out); `request` True: answering South's open request
    for staff."""

    def make(aid: Any) -> dict:
        body = offer_body(**changes)
        if body.get("request") is True:
            asked = exchange_actions.raise_request(
                by=aid.people["south_coordinator"],
                organisation=aid.south,
                collaborative=aid.collab,
                site=aid.south_site,
                kind="staff",
                details=STAFF,
                quantity=2,
                urgency="planned",
                needed_by=timezone.now() + timedelta(days=1),
            )
            body["request"] = asked.pk
        return {k: v for k, v in body.items() if v is not ...}

    return make


SHAPES: dict[str, Shape] = {
    "a count": Shape(
        "POST /api/reports",
        TokenScope.SUBMIT,
        "values[0].value",
        report(measure="ga_open", value=400),
    ),
    "a count in a fraction": Shape(
        "POST /api/reports",
        TokenScope.SUBMIT,
        "values[0].value",
        report(measure="ga_open", value=4.5),
    ),
    "a count beyond its range": Shape(
        "POST /api/reports",
        TokenScope.SUBMIT,
        "values[0].value",
        report(measure="ed_diverts", value=101),
    ),
    "a level beyond its range": Shape(
        "POST /api/reports",
        TokenScope.SUBMIT,
        "values[0].value",
        report(measure="opel_declared", value=5),
    ),
    "a count as text": Shape(
        "POST /api/reports",
        TokenScope.SUBMIT,
        "values[0].text",
        report(measure="ga_open", text="Busy"),
    ),
    "a text": Shape(
        "POST /api/reports",
        TokenScope.SUBMIT,
        "values[0].text",
        report(measure="situation", text="Busy"),
    ),
    "a text as a number": Shape(
        "POST /api/reports",
        TokenScope.SUBMIT,
        "values[0].value",
        report(measure="situation", value=3),
    ),
    "a value and a text": Shape(
        "POST /api/reports",
        TokenScope.SUBMIT,
        "values[0].text",
        report(measure="ga_open", value=3, text="Busy"),
    ),
    "a value, and null for the others": Shape(
        "POST /api/reports",
        TokenScope.SUBMIT,
        "values[0].value",
        report(measure="ga_open", value=3, text=None, missing_reason=None),
    ),
    "a missing value": Shape(
        "POST /api/reports",
        TokenScope.SUBMIT,
        "values[0].missing_reason",
        report(measure="situation", missing_reason="unknown"),
    ),
    "nothing": Shape(
        "POST /api/reports", TokenScope.SUBMIT, "values[0].value", report(measure="ga_open")
    ),
    "a grant to a collaborative": Shape(
        "POST /api/sharing/grants",
        TokenScope.SHARING,
        "collaborative",
        grant(audience="collaborative", collaborative="river-system"),
    ),
    "a grant to a collaborative, not saying which": Shape(
        "POST /api/sharing/grants",
        TokenScope.SHARING,
        "collaborative",
        grant(audience="collaborative"),
    ),
    "a grant to everyone, naming an organisation": Shape(
        "POST /api/sharing/grants",
        TokenScope.SHARING,
        "organisation",
        grant(audience="everyone", organisation="RS1"),
    ),
    "a grant to an organisation, and null for a collaborative": Shape(
        "POST /api/sharing/grants",
        TokenScope.SHARING,
        "organisation",
        grant(audience="organisation", organisation="RS1", collaborative=None),
    ),
    "a grant to the public, naming a collaborative": Shape(
        "POST /api/sharing/grants",
        TokenScope.SHARING,
        "collaborative",
        grant(audience="public", collaborative="river-system"),
    ),
    "an unsolicited offer": Shape("POST /api/aid/offers", TokenScope.AID, "collaborative", offer()),
    "an unsolicited offer, not saying where": Shape(
        "POST /api/aid/offers", TokenScope.AID, "collaborative", offer(collaborative=...)
    ),
    "an unsolicited offer, not saying what": Shape(
        "POST /api/aid/offers", TokenScope.AID, "kind", offer(kind=..., details=...)
    ),
    "an answer": Shape(
        "POST /api/aid/offers", TokenScope.AID, "request", offer(request=True, collaborative=...)
    ),
    "an answer, of the request's kind": Shape(
        "POST /api/aid/offers",
        TokenScope.AID,
        "kind",
        offer(request=True, collaborative=..., kind=..., details=...),
    ),
    "an answer in a collaborative": Shape(
        "POST /api/aid/offers", TokenScope.AID, "collaborative", offer(request=True)
    ),
    "an answer with the wrong details": Shape(
        "POST /api/aid/offers",
        TokenScope.AID,
        "details.role",
        offer(request=True, collaborative=..., details={**STAFF, "role": "wizard"}),
    ),
    "an offer's note with an NHS number": Shape(
        "POST /api/aid/offers", TokenScope.AID, "note", offer(note="For 943 476 5919")
    ),
    **{
        f"details: {name}": Shape(
            "POST /api/aid/requests", TokenScope.AID, f"details.{named}", details(kind, **changes)
        )
        for name, (kind, named, changes) in DETAILS.items()
    },
}


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_the_document_allows_the_bodies_the_api_takes_and_forbids_those_it_refuses(
    aid, client, document, shape
):
    secret = token(aid, shape.scope)
    given = shape.make(aid)
    response = send(client, secret, shape.operation, given)
    assert response.status_code < 500
    refused = shape.field in named(response)
    assert allows(document, shape.operation, given) != refused, (given, response.json())


# ------------------------------------------------------------------ paths and query strings

#: gunicorn's default limit on the request line (`--limit-request-line`): a longer one is
#: answered 414 by gunicorn itself, outside the document.
REQUEST_LINE = 4094
#: Room left for what the document does not give: the API served under a longer prefix, or a
#: proxy's absolute-form request line ("GET https://<host, up to 253 bytes>/api/...").
HEADROOM = 300
#: The most bytes one character takes in a URL: four in UTF-8, each percent-encoded.
ENCODED_CHARACTER = 12
#: Values the parameters with a pattern take (the others are made from their schema).
EXAMPLES = {"reference": "D1", "day": "2026-01-05"}


def longest_time() -> str:
    """A moment an hour ago, to the nanosecond, at the longest a query's time may be."""
    return f"{an_hour_ago()[:19]}.123456789+00:00"


def _parameters(document: dict) -> list[tuple[str, dict, dict]]:
    """(operation, parameter, its schema) of every path and query parameter."""
    return [
        (f"{method.upper()} {path}", p, _resolve(document, p["schema"]))
        for path, operations in document["paths"].items()
        for method, op in operations.items()
        for p in op.get("parameters", [])
        if p["in"] in ("path", "query")
    ]


def _longest(document: dict, schema: dict) -> int:
    """The most bytes one value the schema allows takes in a URL, percent-encoded."""
    if "enum" in schema:
        return max(
            len(quote(str(v).lower() if isinstance(v, bool) else str(v))) for v in schema["enum"]
        )
    kind = schema.get("type")
    if kind == "boolean":
        return len("false")
    if kind == "integer":
        assert "minimum" in schema and "maximum" in schema, schema
        return max(len(str(schema["minimum"])), len(str(schema["maximum"])))
    if kind == "string":
        widths = []
        if "maxLength" in schema:
            widths.append(schema["maxLength"])
        if "pattern" in schema:
            widest = re._parser.parse(schema["pattern"]).getwidth()[1]  # type: ignore[attr-defined]
            if widest < re._constants.MAXREPEAT:  # type: ignore[attr-defined]
                widths.append(widest)
        assert widths, f"no bound on its length: {schema}"
        return min(widths) * ENCODED_CHARACTER
    raise AssertionError(f"no bound on its length: {schema}")


def test_no_url_the_document_allows_is_longer_than_a_request_line(document):
    """Every path and query parameter has a bound on its length, and together they make no URL
    that gunicorn would answer 414 (outside the document) rather than the API."""
    longest = {}
    for operation, parameter, schema in _parameters(document):
        method, path = operation.split(" ")
        if parameter["in"] == "path":
            width = _longest(document, schema)
            longest.setdefault(operation, len(f"{method} {path} HTTP/1.1"))
            longest[operation] += width - len(f"{{{parameter['name']}}}")
        else:
            listed = schema.get("type") == "array"
            each = _longest(document, _resolve(document, schema["items"]) if listed else schema)
            times = schema["maxItems"] if listed else 1
            longest.setdefault(operation, len(f"{method} {path} HTTP/1.1"))
            # "?" or "&", the name, "=" and the value, once for each value sent.
            longest[operation] += times * (1 + len(parameter["name"]) + 1 + each)
    assert len(longest) > 30
    too_long = {op: n for op, n in longest.items() if n > REQUEST_LINE - HEADROOM}
    assert not too_long, too_long


def _value(document: dict, name: str, schema: dict) -> Any:
    """A value the schema allows, short of any limit."""
    if name in EXAMPLES:
        return EXAMPLES[name]
    if "enum" in schema:
        return schema["enum"][0]
    if schema.get("type") == "array":
        return [_value(document, name, _resolve(document, schema["items"]))]
    if schema.get("type") == "integer":
        return schema.get("minimum", 1)
    if schema.get("type") == "boolean":
        return "true"
    return an_hour_ago() if schema.get("format") == "date-time" else "x"


def _at_and_beyond(schema: dict) -> tuple[Any, Any] | None:
    """A value at the parameter's bound and one just beyond it (None: an enum or a pattern,
    which pydantic checks as ever)."""
    if "maxLength" in schema:
        n = schema["maxLength"]
        if schema.get("format") == "date-time":
            at = longest_time()
            assert len(at) == n
            return at, at.replace("+", "1+")
        return "x" * n, "x" * (n + 1)
    if schema.get("type") == "integer":
        return schema["maximum"], schema["maximum"] + 1
    if schema.get("type") == "array" and "maxItems" in schema:
        [first, *_] = schema["items"]["enum"]
        return [first] * schema["maxItems"], [first] * (schema["maxItems"] + 1)
    return None


def test_each_bound_on_a_path_or_query_parameter_is_refused_beyond_it(aid, client, document):
    secret = token(aid, TokenScope.READ)
    checked = 0
    parameters = _parameters(document)
    for operation, parameter, schema in parameters:
        bounds = _at_and_beyond(schema)
        if bounds is None:
            continue
        method, path = operation.split(" ")
        theirs = [(p, s) for op, p, s in parameters if op == operation]
        for value, refused in zip(bounds, (False, True), strict=True):
            given = {p["name"]: _value(document, p["name"], s) for p, s in theirs if p["required"]}
            given[parameter["name"]] = value
            url = path
            for p, _ in theirs:
                if p["in"] == "path":
                    url = url.replace(f"{{{p['name']}}}", quote(str(given.pop(p["name"])), safe=""))
            response = (
                send(client, secret, f"{method} {url}", **given)
                if method == "GET"
                else (send(client, secret, f"{method} {url}", {}))
            )
            assert response.status_code < 500, (operation, parameter["name"], value)
            assert (parameter["name"] in named(response)) == refused, (
                operation,
                parameter["name"],
                response.status_code,
                response.json()
                if response.get("Content-Type", "").startswith("application/json")
                else "",
            )
        checked += 1
    assert checked > 40


def test_the_bounds_on_codes_are_the_stored_codes_lengths():
    assert Collaborative._meta.get_field("slug").max_length == SLUG_LENGTH
    assert Organisation._meta.get_field("code").max_length == CODE_LENGTH
    assert Site._meta.get_field("code").max_length == CODE_LENGTH
