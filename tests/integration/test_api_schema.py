"""Requests generated from our own OpenAPI description, sent with a token of every scope.

Schemathesis reads /api/openapi.json from the WSGI application and, for every operation, builds
inputs from the schema (valid and invalid ones). Each input is sent
- without a token, which is refused with 401 (or 400 for a NUL, which is refused before any
  token is read);
- with a token of each scope the operation does not take, which gets no data: 403, or the
  refusal of the input itself (400, 413, 422) that the operation gives its own scope too, as
  input is checked before the scope;
- with a token of each scope the operation takes (`SCOPES`: the exchange is read with a read
  or an aid token), which is never refused for its scope: so every scope's operations are
  fuzzed past the door, not only the read ones.
Every answer must be a documented status, not a 5xx, with a body that matches the schema; a
request the schema allows must not be refused as invalid (400, 413, 422), except with a 422
naming only the rules no JSON Schema can state (`BEYOND_THE_SCHEMA`: the clock, what is
stored, one value against another), and one it forbids must be refused (not answered 2xx):
the document states every rule the API checks that a schema can. The examples are
derandomised (the Hypothesis profile in tests/conftest.py): each run sends the same requests,
and a failure comes with the blob that replays it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation.meta import negated_parameters

from flotilla import catalogue
from flotilla.authz import actions as authz_actions
from flotilla.authz.models import Role, TokenScope
from flotilla.coordination import actions as coordination_actions
from flotilla.exchange import actions as exchange_actions
from flotilla.planning import actions as planning_actions
from flotilla.wsgi import application
from tests import factories as f
from tests.integration.interop.edxl_routes import RM_REQUEST
from tests.integration.interop.saner_routes import MEASURE_REPORT

# Loaded while the tests are collected, before any test may use the database (where the rate
# limits count): the document is fetched with the limits off.
with override_settings(RATE_LIMIT_PER_ADDRESS=0, RATE_LIMIT_PER_TOKEN=0):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)
# The test sends its own tokens; cases that leave the Authorization header out on purpose would
# only repeat the tokenless call each case already makes.
schema.config.generation.update(with_security_parameters=False)

#: The scope each operation's view asks `require_scope` for (flotilla/<app>/api.py), or the
#: scopes it takes; None where any valid token will do (the measure catalogue belongs to no
#: organisation).
EXCHANGE_READERS = (TokenScope.READ, TokenScope.AID)
SCOPES: dict[str, TokenScope | tuple[TokenScope, ...] | None] = {
    "POST /api/reports": TokenScope.SUBMIT,
    "GET /api/measures": None,
    "GET /api/collaboratives": TokenScope.READ,
    "GET /api/collaboratives/{slug}/picture": TokenScope.READ,
    "GET /api/organisations/{code}/history": TokenScope.READ,
    "GET /api/collaboratives/{slug}/status": TokenScope.READ,
    "GET /api/collaboratives/{slug}/escalation": TokenScope.READ,
    "GET /api/collaboratives/{slug}/escalation.csv": TokenScope.READ,
    "GET /api/organisations/{code}/escalation": TokenScope.READ,
    "GET /api/organisations/{code}/escalation/history": TokenScope.READ,
    "GET /api/sharing/grants": TokenScope.SHARING,
    "POST /api/sharing/grants": TokenScope.SHARING,
    "GET /api/sharing/grants/{grant_id}": TokenScope.SHARING,
    "PUT /api/sharing/grants/{grant_id}": TokenScope.SHARING,
    "DELETE /api/sharing/grants/{grant_id}": TokenScope.SHARING,
    "GET /api/aid/requests": EXCHANGE_READERS,
    "POST /api/aid/requests": TokenScope.AID,
    "GET /api/aid/requests/{request_id}": EXCHANGE_READERS,
    "POST /api/aid/requests/{request_id}/widen": TokenScope.AID,
    "POST /api/aid/requests/{request_id}/move": TokenScope.AID,
    "GET /api/aid/requests/{request_id}/matches": EXCHANGE_READERS,
    "GET /api/aid/offers": EXCHANGE_READERS,
    "POST /api/aid/offers": TokenScope.AID,
    "GET /api/aid/offers/{offer_id}": EXCHANGE_READERS,
    "POST /api/aid/offers/{offer_id}/move": TokenScope.AID,
    "POST /api/aid/offers/{offer_id}/commitments": TokenScope.AID,
    "POST /api/aid/commitments/{commitment_id}/move": TokenScope.AID,
    "GET /api/collaboratives/{slug}/aid/ledger": EXCHANGE_READERS,
    "GET /api/collaboratives/{slug}/aid/ledger.csv": EXCHANGE_READERS,
    "GET /api/alerts": TokenScope.READ,
    "GET /api/alerts/{alert_id}": TokenScope.READ,
    "GET /api/collaboratives/{slug}/alert-rules": TokenScope.READ,
    "GET /api/organisations/{code}/forecasts": TokenScope.READ,
    "GET /api/organisations/{code}/forecasts.csv": TokenScope.READ,
    "GET /api/organisations/{code}/on-call": TokenScope.READ,
    "GET /api/collaboratives/{slug}/objectives": TokenScope.READ,
    "GET /api/collaboratives/{slug}/log": TokenScope.READ,
    "GET /api/collaboratives/{slug}/decisions/{reference}": TokenScope.READ,
    "GET /api/collaboratives/{slug}/calls": TokenScope.READ,
    "GET /api/collaboratives/{slug}/calls/{day}": TokenScope.READ,
    "GET /api/collaboratives/{slug}/saner": TokenScope.READ,
    "GET /api/organisations/{code}/saner": TokenScope.READ,
    "POST /api/saner": TokenScope.SUBMIT,
    "GET /api/collaboratives/{slug}/have": TokenScope.READ,
    "GET /api/organisations/{code}/have": TokenScope.READ,
    "GET /api/aid/requests/{request_id}/edxl-rm": EXCHANGE_READERS,
    "GET /api/aid/offers/{offer_id}/edxl-rm": EXCHANGE_READERS,
    "POST /api/aid/edxl-rm": TokenScope.AID,
}


def scopes_of(label: str) -> tuple[TokenScope, ...]:
    """The scopes an operation takes; none for one any valid token may call."""
    needs = SCOPES[label]
    if needs is None:
        return ()
    return needs if isinstance(needs, tuple) else (needs,)


@dataclass(frozen=True)
class Beyond:
    """An operation's rules that no JSON Schema can state: why, and the 422 errors they give."""

    why: str
    #: (field, message) of each error these rules give, as regexes matching the whole field and
    #: a part of the message; and, where they give it only for some bodies, which.
    errors: tuple[tuple[str, str] | tuple[str, str, Callable[[Any], bool]], ...]


def _answer_without_its_kind(body: Any) -> bool:
    """An offer answering a request, whose details are then checked against the request's kind
    (stored), as given or (left out) the request's own."""
    answers = isinstance(body, dict) and body.get("request") is not None
    return answers and (body.get("kind") is None or body.get("details") is None)


VALUE = r"values\[\d+\]"
#: The catalogue's rules of one reported value against another that refuse a report.
CROSS_VALUE = "|".join(
    re.escape(r.message) for r in catalogue.current().rules if r.severity == "error"
)
STORED_SITE = ("site", "is not a site of")
MEMBER = ("collaborative", "is not a member of")
SINCE = ("since", "since must not be after until|at most 400 days")
GRANT = Beyond(
    "the collaborative one the organisation belongs to, the organisation one that exists and "
    "is not the token's own (what is stored); `expires_at` in the future (the clock)",
    (
        MEMBER,
        ("organisation", "No organisation has the code|always sees its own data"),
        ("expires_at", "must be in the future"),
    ),
)
BEDS_WINDOW = (r"details\.until_date", "must be on or after the from date")
#: A MeasureReport of a SANER import, alone or as a Bundle's entry.
MEASURE_REPORT_AT = r"(Bundle\.entry\[\d+\]\.resource|MeasureReport)"

#: Operations with rules beyond what a JSON Schema can state, which may refuse with 422 a
#: request the document allows: the clock, what is stored, and one value against another
#: (JSON Schema compares no two values). Every other rule of theirs is stated in the document
#: (see test_api_limits.py), and a 422 for anything but these is a failure; each operation's
#: description in the document states these too.
BEYOND_THE_SCHEMA = {
    "POST /api/reports": Beyond(
        "`as_of` at most an hour ahead of now (the clock), and not before 2000 in UTC (an "
        "instant, compared across the time's offset: the document bounds the year as written); "
        "`site_code` a site of the token's organisation (what is stored); no two different "
        "values for one measure, site and time, and each value consistent with the report's "
        "others by the catalogue's rules (one value against another)",
        (
            (rf"{VALUE}\.as_of", "more than an hour ahead of now|before 1 January 2000"),
            (rf"{VALUE}\.site_code", "is not a site of"),
            (rf"{VALUE}\.(value|text|missing_reason)", f"two different values for|{CROSS_VALUE}"),
        ),
    ),
    "GET /api/organisations/{code}/history": Beyond(
        "`since` not after `until` and at most 400 days before it (one parameter against "
        "another, or against the clock when `until` is left out); `site` a site of that "
        "organisation (what is stored)",
        (SINCE, STORED_SITE),
    ),
    "GET /api/organisations/{code}/escalation/history": Beyond(
        "`since` not after `until` and at most 400 days before it (one parameter against "
        "another, or against the clock when `until` is left out)",
        (SINCE,),
    ),
    "POST /api/sharing/grants": GRANT,
    "PUT /api/sharing/grants/{grant_id}": GRANT,
    "POST /api/aid/requests": Beyond(
        "a collaborative and a site of the organisation's (what is stored); `needed_by` in the "
        "future (the clock); a beds window's `until_date` not before its `from_date` (one "
        "detail against another)",
        (MEMBER, STORED_SITE, ("needed_by", "must be in the future"), BEDS_WINDOW),
    ),
    "POST /api/aid/offers": Beyond(
        "a request the organisation sees, still open, of the kind given; the details of the "
        "request's kind when the offer leaves its kind or its details to the request's; a "
        "collaborative and a site of the organisation's (what is stored); `available_until` in "
        "the future, after `available_from` (default now) and at most 90 days after it (the "
        "clock, and one field against another); a beds window's `until_date` not before its "
        "`from_date`",
        (
            ("request", "is open to you|no longer open"),
            ("kind", "this request asks for"),
            (r"details\..+", "", _answer_without_its_kind),
            MEMBER,
            STORED_SITE,
            ("available_until", "after the start and in the future|at most 90 days"),
            BEDS_WINDOW,
        ),
    ),
    "POST /api/saner": Beyond(
        "each MeasureReport's subject the token's organisation or one of its sites (what is "
        "stored); `period.end` at most an hour ahead of now and not before 2000 in UTC (the "
        "clock); `period.start` not after `period.end`, no two different counts for one "
        "measure, place and time, and the catalogue's rules of one count against another",
        (
            (rf"{MEASURE_REPORT_AT}\.subject\.identifier\.value", "is not RN1|is not a site of"),
            (
                rf"{MEASURE_REPORT_AT}\.period\.end",
                "more than an hour ahead of now|before 1 January 2000",
            ),
            (rf"{MEASURE_REPORT_AT}\.period\.start", "must not be after"),
            (
                rf"{MEASURE_REPORT_AT}\.group\[\d+\]\.population\[\d+\]\.(count|extension)",
                f"two different values for|{CROSS_VALUE}",
            ),
        ),
    ),
    "POST /api/aid/edxl-rm": Beyond(
        "the body is an EDXL-RM message (XML): a JSON Schema states only that it is text, so "
        "its elements are checked against the message's XSD and then by the exchange's rules "
        "(what is stored, the clock), each error naming the element by its path",
        ((r"/.*", ""),),
    ),
    "POST /api/aid/offers/{offer_id}/commitments": Beyond(
        "no more than is left on the offer, nor than the request still needs; an organisation "
        "that exists, and for an answer the one that asked (what is stored)",
        (
            ("quantity", "give a whole number from 1 to|more, not|left on this offer"),
            ("organisation", "No organisation has the code|taken up by the organisation"),
        ),
    ),
}


def _beyond(label: str, body: Any, error: dict[str, Any]) -> bool:
    """Whether a 422's error is one of the operation's rules beyond the schema."""
    for rule in BEYOND_THE_SCHEMA[label].errors:
        field, message, *when = rule
        named = re.fullmatch(field, error["field"]) and re.search(message, error["message"])
        if named and (not when or when[0](body)):
            return True
    return False


def accepts_what_the_schema_allows(ctx, response, case):
    """positive_data_acceptance (ST202), but an operation in BEYOND_THE_SCHEMA may refuse with
    a 422 whose every error is one of its rules that the document cannot state."""
    label = case.operation.label
    if response.status_code == 422 and label in BEYOND_THE_SCHEMA:
        errors = response.json()["errors"]
        if errors and all(_beyond(label, case.body, e) for e in errors):
            return None
    return positive_data_acceptance(ctx, response, case)


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    accepts_what_the_schema_allows,
]
#: negative_data_rejection (ST201): a request the schema forbids is refused. Not for a case
#: whose generated body the test replaced with a real one (which the schema allows).
REFUSES_WHAT_THE_SCHEMA_FORBIDS = [negative_data_rejection]

#: Grants the sharing rules accept (their fields beyond the schema's are checked by the view).
GRANTS = [
    {"audience": "everyone", "groups": ["escalation"], "detail": "status", "purpose": "OPEL"},
    {"audience": "public", "groups": ["capacity"], "detail": "banded", "purpose": "Beds, banded"},
]
GRANT_BODIES = {"POST /api/sharing/grants": GRANTS, "PUT /api/sharing/grants/{grant_id}": GRANTS}


def aid_bodies() -> dict[str, list[dict]]:
    """Bodies the exchange accepts from North (times made now: they must be in the future)."""
    soon = (timezone.now() + timedelta(days=2)).isoformat()
    staff = {"role": "registered_nurse", "grade": "Band 5", "shifts": "Nights"}
    return {
        "POST /api/aid/requests": [
            {
                "collaborative": "river-system",
                "site": "RN101",
                "kind": "staff",
                "details": staff,
                "quantity": 2,
                "urgency": "planned",
                "needed_by": soon,
            }
        ],
        "POST /api/aid/offers": [
            {
                "collaborative": "river-system",
                "site": "RN101",
                "kind": "staff",
                "details": staff,
                "quantity": 3,
                "available_until": soon,
                "terms": {"transport": "not_needed", "cost_recovery": "none"},
            }
        ],
        "POST /api/aid/offers/{offer_id}/commitments": [{"quantity": 1}],
        "POST /api/aid/requests/{request_id}/move": [
            {"to": "closed"},
            {"to": "withdrawn", "reason": "Met"},
        ],
        "POST /api/aid/offers/{offer_id}/move": [{"to": "declined", "reason": "Not needed"}],
        "POST /api/aid/commitments/{commitment_id}/move": [
            {"to": "released", "reason": "Not needed"},
            {"to": "in_progress"},
        ],
    }


def interop_bodies() -> dict[str, list[Any]]:
    """A SANER import of North's beds (alone, for its site, in a Bundle), and an EDXL-RM
    request of North's."""
    report = {**MEASURE_REPORT, "period": {"end": timezone.now().isoformat()}}
    site = {"identifier": {"system": "https://fhir.nhs.uk/Id/ods-site-code", "value": "RN101"}}
    return {
        "POST /api/saner": [
            report,
            {**report, "subject": site},
            {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": report}]},
        ],
        "POST /api/aid/edxl-rm": [RM_REQUEST],
    }


#: What `require_scope` says when a token has the wrong scope.
WRONG_SCOPE = "this operation needs a token with the"


def test_every_operation_in_the_schema_says_which_scope_it_needs():
    operations = {result.ok().label for result in schema.get_all_operations()}
    assert operations == set(SCOPES)


@pytest.fixture
def keep_connection():
    """Keep the test's database connection open across WSGI requests, as Django's test client
    does: the handler would otherwise close it at the end of each request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def world(aid, keep_connection):
    """North's tokens of every scope, figures South shares with North's collaborative, North's
    own grant, and mutual aid (a request of South's, one of North's with South's offer for it
    and North's commitment, and South's standing offer): real things for the generated
    requests to name."""
    cast = aid
    now = timezone.now()
    f.report(cast.south, now - timedelta(hours=2), ga_open=120, ga_occupied=110)
    f.report(cast.north, now - timedelta(hours=1), ga_open=100)
    f.report(cast.south, now - timedelta(days=1), ga_open=120, ga_occupied=104)
    planning_actions.recompute(organisation=cast.south)
    grant = f.grant(cast.north, audience="everyone", detail="banded")
    tokens = {
        scope: authz_actions.issue_token(
            by=cast.people[Role.ORG_ADMIN], organisation=cast.north, name=scope, scope=scope
        )[1]
        for scope in TokenScope.values
    }
    south = cast.people["south_coordinator"]
    theirs = f.aid_request(
        by=south, organisation=cast.south, collaborative=cast.collab, site=cast.south_site
    )
    ours = f.aid_request(
        by=cast.people[Role.COORDINATOR],
        organisation=cast.north,
        collaborative=cast.collab,
        site=cast.north_site,
        quantity=3,
    )
    answer = f.offer(
        by=south, organisation=cast.south, site=cast.south_site, request=ours, quantity=3
    )
    taken = exchange_actions.commit(by=cast.people[Role.COORDINATOR], offer=answer, quantity=1)
    standing = f.offer(
        by=south,
        organisation=cast.south,
        site=cast.south_site,
        collaborative=cast.collab,
        kind="staff",
        details={"role": "registered_nurse", "grade": "Band 5", "shifts": "Nights"},
        quantity=4,
    )
    # Working together: a workstream with an action, and a decision taken in today's call.
    keeper = cast.people[Role.COORDINATOR]
    stream = f.workstream(by=keeper, collaborative=cast.collab)
    call = coordination_actions.start_call(
        by=keeper, collaborative=cast.collab, held_on=timezone.localdate()
    )
    f.log_item(by=keeper, collaborative=cast.collab, workstream=stream, call=call)
    decision = f.log_item(by=keeper, collaborative=cast.collab, kind="decision", call=call)
    known = {
        "workstream": [stream.pk],
        "reference": [decision.reference],
        "day": [call.held_on.isoformat()],
        "slug": [cast.collab.slug],
        "code": ["RN1", "RS1"],
        "grant_id": [grant.pk],
        "measure": [["ga_open"], ["ga_open", "ga_occupied"]],
        "request_id": [theirs.pk, ours.pk],
        "offer_id": [answer.pk, standing.pk],
        "commitment_id": [taken.pk],
    }
    return tokens, known


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@schema.parametrize()
@schema.given(data=st.data())
@settings(
    max_examples=100,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_answers_each_scope_as_documented(case, data, world):
    tokens, known = world
    # Random values almost never name a real collaborative, organisation, grant or measure, nor
    # make a grant the sharing rules accept: half of the time, use real ones, so that answers
    # with data are checked too. Not for a parameter a negative case made wrong (too long, say):
    # a real value would make the case one the document allows.
    wrong = {name for name, _ in negated_parameters(case.meta)}
    for where in (case.path_parameters, case.query):
        for name in [n for n in where or {} if n in known and n not in wrong]:
            if data.draw(st.booleans(), label=f"real {name}"):
                where[name] = data.draw(st.sampled_from(known[name]), label=name)
    bodies = {**GRANT_BODIES, **aid_bodies(), **interop_bodies()}
    checks = CHECKS + REFUSES_WHAT_THE_SCHEMA_FORBIDS
    if case.operation.label in bodies and data.draw(st.booleans(), label="real body"):
        case.body = data.draw(st.sampled_from(bodies[case.operation.label]), label="body")
        checks = CHECKS

    anonymous = case.call_and_validate(checks=checks)
    needs = scopes_of(case.operation.label)
    # Wrong scopes first: a refused call must change nothing the right one then sees.
    wrong = {
        scope: case.call_and_validate(headers=bearer(tokens[scope]), checks=checks)
        for scope in TokenScope
        if needs and scope not in needs
    }
    rights = {
        scope: case.call_and_validate(headers=bearer(tokens[scope]), checks=checks)
        for scope in needs or (TokenScope.READ,)
    }
    right = next(iter(rights.values()))

    # A NUL anywhere in the request is refused (400) before any token is looked at, and so
    # alike with every token.
    assert anonymous.status_code == 401 or (
        anonymous.status_code == 400 and right.status_code == 400
    ), f"no token got {anonymous.status_code}, a {needs} token {right.status_code}"
    for response in rights.values():
        assert response.status_code != 401
        if response.status_code == 403:
            assert WRONG_SCOPE not in response.json()["detail"], "refused a scope SCOPES gives it"
    for scope, response in wrong.items():
        # No data, and no refusal but the scope's, except of a request refused before its scope
        # is looked at (as above, or the body's syntax, size or schema), alike to the right one.
        refusal = response.status_code
        assert refusal == 403 or (refusal in (400, 413, 422) and refusal == right.status_code), (
            f"a {scope} token got {refusal}, a {needs} token {right.status_code}"
        )
