"""Every limit the API checks on a single value is stated in its OpenAPI document, and the API
refuses what the document forbids: a client (or schemathesis) reading the document knows
what will be refused.

test_api_schema fuzzes every operation against the document, but lets through the 422s of
the operations with rules no JSON Schema can state (BEYOND_THE_SCHEMA there). Here each
limit is checked directly: the document's keywords, values just beyond it refused with a 422
naming the field, and values at it not refused for that field."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from flotilla import catalogue
from flotilla.authz import actions as authz_actions
from flotilla.authz.api_auth import NO_NUL, NOT_BLANK, TIME_PATTERN
from flotilla.authz.models import Role, TokenScope
from flotilla.exchange import actions as exchange_actions
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


def _resolve(document: dict, schema: dict) -> dict:
    """The schema itself: a $ref followed, and of `X | None` the X."""
    while True:
        if "$ref" in schema:
            schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        elif "anyOf" in schema:
            [schema] = [s for s in schema["anyOf"] if s.get("type") != "null"]
        else:
            return schema


def stated(document: dict, operation: str, where: str) -> dict:
    """The schema the document gives a body field (`values[].measure`, `terms.duration_hours`)
    or a query parameter (`?since`) of an operation ("POST /api/aid/requests")."""
    method, path = operation.split(" ")
    op = document["paths"][path][method.lower()]
    if where.startswith("?"):
        [parameter] = [p for p in op["parameters"] if p["name"] == where[1:]]
        return _resolve(document, parameter["schema"])
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    for name in where.split("."):
        listed = name.endswith("[]")
        schema = _resolve(document, _resolve(document, schema)["properties"][name.rstrip("[]")])
        if listed:
            schema = _resolve(document, schema["items"])
    return _resolve(document, schema)


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
        {"maxProperties": 20, "propertyNames": {"type": "string", "pattern": NO_NUL}},
        [body(request_body, details={**STAFF, "grade": "Band\x005"})],
        [body(request_body, details=STAFF)],
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
    schema = stated(document, limit.operation, limit.where)
    assert {k: schema.get(k) for k in limit.keywords} == limit.keywords
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
    assert len(reading) == 9
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000):
        for method, path in reading:
            operation = document["paths"][path][method.lower()]
            assert "413" in operation["responses"], (method, path)
            # Any id will do: the body is read before anything is looked up.
            response = send(client, secret, f"{method} {re.sub(r'{[^}]+}', '1', path)}", padded)
            assert response.status_code == 413, (method, path)
            assert set(response.json()) == {"detail", "errors"}
