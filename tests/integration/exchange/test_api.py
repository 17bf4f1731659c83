"""/api/aid and the collaborative's aid ledger: an organisation's aid token asks for help,
offers it, takes it up and moves each along; read and aid tokens see what the organisation
sees, and nothing else (404); the core's refusals come back as 422 per field, 409 for a move
the negotiation does not allow, and 403 for acting for someone else."""

from __future__ import annotations

import csv
import io
import json
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from ninja.testing import TestClient

from flotilla.api import api
from flotilla.audit.models import AuditEvent
from flotilla.authz import actions as authz_actions
from flotilla.authz.models import Role, TokenScope
from flotilla.exchange import actions as exchange_actions
from flotilla.exchange.models import AidRequest, Commitment, IdempotencyRecord, Offer, Reach
from flotilla.sharing.models import Grant
from tests import factories as f

pytestmark = pytest.mark.django_db

REQUESTS = "/api/aid/requests"
OFFERS = "/api/aid/offers"
STAFF = {"role": "registered_nurse", "grade": "Band 5", "shifts": "Nights this week"}


def soon(hours: float = 24) -> str:
    return (timezone.now() + timedelta(hours=hours)).isoformat()


def issue(aid, organisation: str = "north", scope: str = TokenScope.AID) -> str:
    """A token secret for North (its admin issues it), South or the outsider."""
    org = getattr(aid, organisation)
    if organisation == "north":
        admin = aid.people[Role.ORG_ADMIN]
    elif organisation == "outside":
        admin = aid.people["outsider"]
    else:
        admin = f.UserFactory()
        f.member(admin, org, Role.ORG_ADMIN)
    _, secret = authz_actions.issue_token(by=admin, organisation=org, name="aid feed", scope=scope)
    return secret


def call(client, method: str, secret: str | None, path: str, body=None, key=None, **params):
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    if key is not None:
        headers["Idempotency-Key"] = key
    if method == "GET":
        return client.get(path, params, headers=headers)
    data = "" if body is None else json.dumps(body)
    return client.generic(method, path, data, content_type="application/json", headers=headers)


def request_body(**changes) -> dict:
    body = {
        "collaborative": "river-system",
        "site": "RN101",
        "kind": "staff",
        "details": STAFF,
        "quantity": 2,
        "urgency": "within_24h",
        "needed_by": soon(),
    }
    return {**body, **changes}


def offer_body(**changes) -> dict:
    body = {
        "collaborative": "river-system",
        "site": "RS101",
        "kind": "staff",
        "details": STAFF,
        "quantity": 3,
        "available_until": soon(48),
        "terms": {"transport": "offerer", "cost_recovery": "none"},
    }
    return {**body, **changes}


def fields(response) -> dict[str, str]:
    return {e["field"]: e["message"] for e in response.json()["errors"]}


def south_request(aid, **kw):
    return f.aid_request(
        by=aid.people["south_coordinator"],
        organisation=aid.south,
        collaborative=aid.collab,
        site=aid.south_site,
        **kw,
    )


def north_request(aid, **kw):
    return f.aid_request(
        by=aid.people[Role.COORDINATOR],
        organisation=aid.north,
        collaborative=aid.collab,
        site=aid.north_site,
        **kw,
    )


def south_offer(aid, **kw):
    return f.offer(
        by=aid.people["south_coordinator"], organisation=aid.south, site=aid.south_site, **kw
    )


def standing_offer(aid, **kw):
    kw = {"kind": "staff", "details": STAFF, "quantity": 4, **kw}
    return south_offer(aid, collaborative=aid.collab, **kw)


@pytest.fixture
def exchange(aid):
    """North's request with South's offer of 3 for it, of which North took up 1."""
    aid.asked = north_request(aid, quantity=3)
    aid.answer = south_offer(aid, request=aid.asked, quantity=3)
    aid.taken = exchange_actions.commit(
        by=aid.people[Role.COORDINATOR], offer=aid.answer, quantity=1
    )
    return aid


# ------------------------------------------------------------------ requests


def test_an_aid_token_asks_for_help_for_its_organisation_and_gets_the_request_at_its_address(
    aid, client
):
    response = call(client, "POST", issue(aid), REQUESTS, request_body(note="Two nurses"))
    assert response.status_code == 201, response.json()
    body = response.json()
    assert response["Location"] == f"/api/aid/requests/{body['id']}"
    assert body["organisation"] == "RN1"
    assert body["site"] == "RN101"
    assert body["collaborative"] == aid.collab.slug == "river-system"
    assert body["state"] == "open"
    assert body["reach"] == "collaborative"
    assert body["summary"] == "2 people, registered nurse"
    assert (body["committed"], body["fulfilled"], body["still_needed"]) == (0, 0, 2)
    assert body["moves"] == ["closed", "withdrawn"]
    assert body["offers"] == [] and body["commitments"] == []
    made = AidRequest.objects.get(pk=body["id"])
    assert made.organisation == aid.north and made.created_by is None
    event = AuditEvent.objects.get(action="exchange.request_raised")
    assert event.organisation_id == aid.north.pk
    # The same request, read back.
    again = call(client, "GET", issue(aid, scope=TokenScope.READ), response["Location"])
    assert again.status_code == 200
    assert again.json()["id"] == body["id"]
    assert again.json()["moves"] == []  # a read token moves nothing


def test_a_request_can_be_seen_only_by_its_own_organisation_when_reach_says_so(aid, client):
    response = call(client, "POST", issue(aid), REQUESTS, request_body(reach="organisation"))
    assert response.status_code == 201
    assert AidRequest.objects.get().reach == Reach.ORGANISATION
    south = call(client, "GET", issue(aid, "south", TokenScope.READ), response["Location"])
    assert south.status_code == 404


def test_a_request_that_is_wrong_names_each_field_and_stores_nothing(aid, client):
    body = request_body(
        details={"role": "wizard", "shifts": "Nights", "colour": "blue"},
        quantity=0,
        needed_by=(timezone.now() - timedelta(hours=1)).isoformat(),
        max_distance_km=5000,
        note="Patient DOB 1/2/1950",
    )
    response = call(client, "POST", issue(aid), REQUESTS, body)
    assert response.status_code == 422
    assert response.json()["detail"] == "The request is not valid."
    assert set(fields(response)) == {
        "details.role",
        "details.grade",
        "details.colour",
        "quantity",
        "needed_by",
        "max_distance_km",
        "note",
    }
    assert "patient" in fields(response)["note"]
    assert AidRequest.objects.count() == 0
    assert not AuditEvent.objects.filter(action="exchange.request_raised").exists()


def test_a_collaborative_or_site_that_is_not_the_organisations_is_named(aid, client):
    body = request_body(collaborative="elsewhere", site="RS101")
    response = call(client, "POST", issue(aid), REQUESTS, body)
    assert response.status_code == 422
    assert fields(response) == {
        "collaborative": "RN1 is not a member of a collaborative 'elsewhere'",
        "site": "'RS101' is not a site of RN1",
    }
    assert AidRequest.objects.count() == 0


def test_a_body_outside_the_schema_names_the_fields(aid, client):
    body = request_body(kind="magic", urgency="whenever", needed_by="2026-12-01T08:00:00")
    response = call(client, "POST", issue(aid), REQUESTS, body)
    assert response.status_code == 422
    assert set(fields(response)) == {"kind", "urgency", "needed_by"}
    assert "UTC offset" in fields(response)["needed_by"]


def test_a_nul_anywhere_in_the_details_is_refused_before_it_reaches_the_database(aid, client):
    body = request_body(details={**STAFF, "grade": "Band\x005"})
    response = call(client, "POST", issue(aid), REQUESTS, body)
    assert response.status_code == 422
    assert fields(response) == {"details": "must not contain NUL characters"}
    nested = request_body(details={**STAFF, "skills": [{"deep\x00key": 1}]})
    assert call(client, "POST", issue(aid), REQUESTS, nested).status_code == 422
    assert AidRequest.objects.count() == 0


def test_a_list_of_choices_holding_an_object_is_a_422_not_a_server_error(aid, client):
    details = {"level_of_care": "cc3", "bed_type": "cc_adult", "clinical_needs": [{}]}
    response = call(
        client, "POST", issue(aid), REQUESTS, request_body(kind="transfer", details=details)
    )
    assert response.status_code == 422
    assert set(fields(response)) == {"details.clinical_needs"}


@pytest.mark.parametrize("scope", [TokenScope.READ, TokenScope.SUBMIT, TokenScope.SHARING])
def test_a_token_of_another_scope_cannot_ask_for_help(aid, client, scope):
    response = call(client, "POST", issue(aid, scope=scope), REQUESTS, request_body())
    assert response.status_code == 403
    assert "needs a token with the 'aid' scope" in response.json()["detail"]
    assert AidRequest.objects.count() == 0


@pytest.mark.parametrize("scope", [TokenScope.SUBMIT, TokenScope.SHARING])
def test_a_token_that_neither_reads_nor_arranges_aid_cannot_read_the_exchange(aid, client, scope):
    secret = issue(aid, scope=scope)
    for path in (REQUESTS, OFFERS, f"/api/collaboratives/{aid.collab.slug}/aid/ledger"):
        response = call(client, "GET", secret, path)
        assert response.status_code == 403
        assert "the 'read' or the 'aid' scope" in response.json()["detail"]


def test_read_and_aid_tokens_list_the_requests_their_organisation_sees(aid, client):
    theirs = south_request(aid)
    ours = north_request(aid, kind="staff", details=STAFF, urgency="planned")
    south_request(aid, reach=Reach.ORGANISATION)  # South's own sites only
    for scope in (TokenScope.READ, TokenScope.AID):
        listed = call(client, "GET", issue(aid, scope=scope), REQUESTS)
        assert listed.status_code == 200
        assert {r["id"] for r in listed.json()} == {theirs.pk, ours.pk}
    outsider = call(client, "GET", issue(aid, "outside", TokenScope.READ), REQUESTS)
    assert outsider.json() == []


def test_the_list_of_requests_filters_and_pages(aid, client):
    theirs = south_request(aid, needed_in_hours=2)
    ours = north_request(aid, kind="staff", details=STAFF, urgency="planned", needed_in_hours=9)
    closed = north_request(aid)
    exchange_actions.move_request(by=aid.people[Role.COORDINATOR], request=closed, to="closed")
    secret = issue(aid, scope=TokenScope.READ)

    def ids(**params) -> list[int]:
        response = call(client, "GET", secret, REQUESTS, **params)
        assert response.status_code == 200, response.json()
        return [r["id"] for r in response.json()]

    assert ids() == [theirs.pk, ours.pk]  # open ones, soonest needed first
    assert ids(kind="staff") == [ours.pk]
    assert ids(urgency="planned") == [ours.pk]
    assert ids(state="closed") == [closed.pk]
    assert set(ids(state="any")) == {theirs.pk, ours.pk, closed.pk}
    assert ids(collaborative=aid.collab.slug) == [theirs.pk, ours.pk]
    assert ids(collaborative="elsewhere") == []
    assert ids(limit=1) == [theirs.pk]
    assert ids(limit=1, offset=1) == [ours.pk]
    response = call(client, "GET", secret, REQUESTS, state="lost", limit=0)
    assert response.status_code == 422
    assert set(fields(response)) == {"state", "limit"}


def test_a_request_shows_only_the_offers_and_commitments_the_caller_may_see(exchange, client):
    aid = exchange
    east = f.OrganisationFactory(code="RE1", name="East Hospitals NHS Trust")
    f.join(aid.collab, east)
    path = f"{REQUESTS}/{aid.asked.pk}"

    north = call(client, "GET", issue(aid, scope=TokenScope.READ), path).json()
    assert (north["committed"], north["fulfilled"], north["still_needed"]) == (1, 0, 2)
    assert [o["id"] for o in north["offers"]] == [aid.answer.pk]
    assert north["offers"][0]["remaining"] == 2
    assert north["offers"][0]["terms"]["transport"] == "offerer"
    assert [c["id"] for c in north["commitments"]] == [aid.taken.pk]
    assert north["commitments"][0]["given_by"] == "RS1"

    # A fellow member sees the request and how much is committed, not the offer's terms.
    admin = f.UserFactory()
    f.member(admin, east, Role.ORG_ADMIN)
    _, secret = authz_actions.issue_token(by=admin, organisation=east, name="e", scope="read")
    seen = call(client, "GET", secret, path).json()
    assert seen["committed"] == 1
    assert seen["offers"] == [] and seen["commitments"] == []


def test_a_request_the_caller_may_not_see_answers_404_whatever_it_asks(exchange, client):
    aid = exchange
    hidden = south_request(aid, reach=Reach.ORGANISATION)
    outsider = issue(aid, "outside")
    for path in (f"{REQUESTS}/{aid.asked.pk}", f"{REQUESTS}/{hidden.pk}", f"{REQUESTS}/999999"):
        assert call(client, "GET", outsider, path).status_code == 404
        assert call(client, "GET", outsider, f"{path}/matches").status_code == 404
        assert call(client, "POST", outsider, f"{path}/widen").status_code == 404
        moved = call(client, "POST", outsider, f"{path}/move", {"to": "closed"})
        assert moved.status_code == 404
        assert moved.json() == {"detail": "Not found", "errors": []}
    assert call(client, "GET", issue(aid), f"{REQUESTS}/{hidden.pk}").status_code == 404
    assert AidRequest.objects.get(pk=aid.asked.pk).state == "open"


def test_the_organisation_that_asked_widens_its_request_one_step(aid, client):
    ours = north_request(aid)
    response = call(client, "POST", issue(aid), f"{REQUESTS}/{ours.pk}/widen")
    assert response.status_code == 200
    assert response.json()["reach"] == "region"
    assert AidRequest.objects.get(pk=ours.pk).reach == Reach.REGION


def test_widening_another_organisations_request_is_409_and_changes_nothing(aid, client):
    theirs = south_request(aid)
    response = call(client, "POST", issue(aid), f"{REQUESTS}/{theirs.pk}/widen")
    assert response.status_code == 409
    assert response.json()["detail"] == (
        "Only the organisation that asked can widen this request. Nothing was changed."
    )
    assert AidRequest.objects.get(pk=theirs.pk).reach == Reach.COLLABORATIVE


def test_a_request_seen_by_everyone_cannot_widen_further(aid, client):
    ours = north_request(aid, reach=Reach.PLATFORM)
    response = call(client, "POST", issue(aid), f"{REQUESTS}/{ours.pk}/widen")
    assert response.status_code == 409
    assert "already seen by every organisation" in response.json()["detail"]


def test_the_organisation_that_asked_closes_its_request(aid, client):
    ours = north_request(aid)
    response = call(client, "POST", issue(aid), f"{REQUESTS}/{ours.pk}/move", {"to": "closed"})
    assert response.status_code == 200
    assert response.json()["state"] == "closed"
    assert response.json()["ended_at"] is not None
    assert response.json()["moves"] == []


def test_moves_the_negotiation_does_not_allow_are_409_and_change_nothing(aid, client):
    ours, theirs = north_request(aid), south_request(aid)
    secret = issue(aid)
    cases = [
        (ours, {"to": "withdrawn"}, "Say why you withdraw this request: a reason is needed."),
        (
            ours,
            {"to": "expired", "reason": "late"},
            "Only Flotilla itself can expire this request.",
        ),
        (ours, {"to": "open"}, "A request that is open cannot become open."),
        (theirs, {"to": "closed"}, "Only the organisation that asked can close this request."),
    ]
    for thing, body, words in cases:
        response = call(client, "POST", secret, f"{REQUESTS}/{thing.pk}/move", body)
        assert response.status_code == 409, body
        assert response.json()["detail"] == f"{words} Nothing was changed."
    assert set(AidRequest.objects.values_list("state", flat=True)) == {"open"}
    assert (
        not AuditEvent.objects.filter(action__startswith="exchange.request_")
        .exclude(action="exchange.request_raised")
        .exists()
    )
    exchange_actions.move_request(by=aid.people[Role.COORDINATOR], request=ours, to="closed")
    again = call(
        client, "POST", secret, f"{REQUESTS}/{ours.pk}/move", {"to": "withdrawn", "reason": "x"}
    )
    assert again.status_code == 409
    assert again.json()["detail"].startswith("A request that is closed cannot become withdrawn.")


def test_a_move_to_no_known_state_or_with_an_overlong_reason_is_a_422(aid, client):
    ours = north_request(aid)
    path = f"{REQUESTS}/{ours.pk}/move"
    assert set(fields(call(client, "POST", issue(aid), path, {"to": "gone"}))) == {"to"}
    long = call(client, "POST", issue(aid), path, {"to": "withdrawn", "reason": "x" * 501})
    assert long.status_code == 422
    assert set(fields(long)) == {"reason"}


# ------------------------------------------------------------------ offers


def test_an_aid_token_offers_help_for_a_request_with_the_requests_details_by_default(aid, client):
    ours = north_request(aid)
    body = {
        "request": ours.pk,
        "site": "RS101",
        "quantity": 1,
        "available_until": soon(12),
        "terms": {"transport": "shared", "cost_recovery": "at_cost", "duration_hours": 48},
        "note": "One bed now",
    }
    response = call(client, "POST", issue(aid, "south"), OFFERS, body)
    assert response.status_code == 201, response.json()
    offer = response.json()
    assert response["Location"] == f"/api/aid/offers/{offer['id']}"
    assert offer["request"] == ours.pk
    assert offer["collaborative"] == "river-system"
    assert offer["kind"] == "transfer" and offer["details"] == ours.details
    assert offer["terms"] == {
        "transport": "shared",
        "cost_recovery": "at_cost",
        "duration_hours": 48,
        "conditions": "",
    }
    assert offer["moves"] == ["withdrawn"]
    # The organisation that asked sees it on its request, and may decline it.
    seen = call(client, "GET", issue(aid), f"{REQUESTS}/{ours.pk}").json()
    assert [o["id"] for o in seen["offers"]] == [offer["id"]]
    assert seen["offers"][0]["moves"] == ["declined"]


def test_an_unsolicited_offer_is_made_in_a_collaborative_and_its_members_see_it(aid, client):
    response = call(client, "POST", issue(aid, "south"), OFFERS, offer_body(reach="collaborative"))
    assert response.status_code == 201, response.json()
    made = response.json()
    assert made["request"] is None and made["reach"] == "collaborative"
    assert made["summary"] == "3 people, registered nurse"
    listed = call(client, "GET", issue(aid, scope=TokenScope.READ), OFFERS).json()
    assert [o["id"] for o in listed] == [made["id"]]
    assert call(client, "GET", issue(aid, "outside", TokenScope.READ), OFFERS).json() == []


def test_an_offer_that_is_wrong_names_each_field_as_the_body_does_and_stores_nothing(aid, client):
    body = offer_body(
        quantity=900,
        available_until=(timezone.now() - timedelta(hours=1)).isoformat(),
        terms={
            "transport": "offerer",
            "cost_recovery": "none",
            "duration_hours": 0,
            "conditions": "NHS number 943 476 5919",
        },
        details={"role": "registered_nurse"},
    )
    response = call(client, "POST", issue(aid, "south"), OFFERS, body)
    assert response.status_code == 422
    assert set(fields(response)) == {
        "quantity",
        "available_until",
        "terms.duration_hours",
        "terms.conditions",
        "details.grade",
        "details.shifts",
    }
    assert Offer.objects.count() == 0


def test_an_offer_names_what_it_answers_or_where_it_is_made_correctly(aid, client):
    hidden = north_request(aid, reach=Reach.ORGANISATION)
    secret = issue(aid, "south")
    cases = [
        (offer_body(request=hidden.pk), {"request", "collaborative"}),
        (offer_body(request=999999, collaborative=None), {"request"}),
        (offer_body(request=10**30, collaborative=None), {"request"}),
        (offer_body(collaborative="elsewhere", site="RN101"), {"collaborative", "site"}),
        (offer_body(collaborative=None), {"collaborative"}),
        (offer_body(kind=None, details=None), {"kind"}),
    ]
    for body, named in cases:
        response = call(client, "POST", secret, OFFERS, body)
        assert response.status_code == 422, body
        assert set(fields(response)) == named, body
    # A request it may not see reads the same as one that does not exist.
    one = call(client, "POST", secret, OFFERS, offer_body(request=hidden.pk, collaborative=None))
    other = call(client, "POST", secret, OFFERS, offer_body(request=999999, collaborative=None))
    assert fields(one)["request"] == f"No request {hidden.pk} is open to you"
    assert fields(other)["request"] == "No request 999999 is open to you"
    assert Offer.objects.count() == 0


def test_an_offer_for_a_closed_request_or_of_another_kind_is_refused(aid, client):
    ours = north_request(aid)
    secret = issue(aid, "south")
    other_kind = offer_body(request=ours.pk, collaborative=None)
    assert fields(call(client, "POST", secret, OFFERS, other_kind)).keys() == {"kind"}
    exchange_actions.move_request(by=aid.people[Role.COORDINATOR], request=ours, to="closed")
    late = {**other_kind, "kind": None, "details": None}
    assert set(fields(call(client, "POST", secret, OFFERS, late))) == {"request"}


def test_the_list_of_offers_filters_and_pages(exchange, client):
    aid = exchange
    standing = standing_offer(aid)
    ended = standing_offer(aid)
    exchange_actions.move_offer(
        by=aid.people["south_coordinator"], offer=ended, to="withdrawn", reason="Filled"
    )
    secret = issue(aid)

    def ids(**params) -> list[int]:
        response = call(client, "GET", secret, OFFERS, **params)
        assert response.status_code == 200, response.json()
        return [o["id"] for o in response.json()]

    assert ids() == [standing.pk, aid.answer.pk]  # offered ones, newest first
    assert ids(answering=aid.asked.pk) == [aid.answer.pk]
    assert ids(unsolicited=True) == [standing.pk]
    assert ids(unsolicited=False) == [aid.answer.pk]
    assert ids(kind="staff") == [standing.pk]
    assert ids(state="withdrawn") == [ended.pk]
    assert ids(state="any") == [ended.pk, standing.pk, aid.answer.pk]
    assert ids(collaborative="elsewhere") == []
    assert ids(limit=1, offset=1) == [aid.answer.pk]
    # An id beyond any the database holds is refused, not sent to the database to overflow.
    huge = call(client, "GET", secret, OFFERS, answering=10**30)
    assert huge.status_code == 422
    assert set(fields(huge)) == {"answering"}


def test_an_offer_shows_its_terms_and_commitments_to_those_who_may_see_it(exchange, client):
    aid = exchange
    path = f"{OFFERS}/{aid.answer.pk}"
    seen = call(client, "GET", issue(aid, scope=TokenScope.READ), path)
    assert seen.status_code == 200
    assert seen.json()["remaining"] == 2
    assert [c["id"] for c in seen.json()["commitments"]] == [aid.taken.pk]
    outsider = issue(aid, "outside")
    assert call(client, "GET", outsider, path).status_code == 404
    assert call(client, "GET", outsider, f"{OFFERS}/999999").status_code == 404
    moved = call(client, "POST", outsider, f"{path}/move", {"to": "withdrawn", "reason": "x"})
    assert moved.status_code == 404
    taken = call(client, "POST", outsider, f"{path}/commitments", {"quantity": 1})
    assert taken.status_code == 404


def test_the_organisation_that_asked_declines_an_offer_with_a_reason(exchange, client):
    aid = exchange
    path = f"{OFFERS}/{aid.answer.pk}/move"
    body = {"to": "declined", "reason": "Covered from our own sites"}
    response = call(client, "POST", issue(aid), path, body)
    assert response.status_code == 200
    assert response.json()["state"] == "declined"
    assert response.json()["reason"] == "Covered from our own sites"
    # Commitments already made stand.
    assert Commitment.objects.get(pk=aid.taken.pk).state == "committed"


def test_offer_moves_the_negotiation_does_not_allow_are_409_and_change_nothing(exchange, client):
    aid = exchange
    standing = standing_offer(aid)
    north, south = issue(aid), issue(aid, "south")
    cases = [
        (
            north,
            aid.answer,
            {"to": "withdrawn", "reason": "x"},
            "Only the organisation that offered",
        ),
        (south, aid.answer, {"to": "declined", "reason": "x"}, "Only the organisation that asked"),
        (north, aid.answer, {"to": "declined"}, "Say why you decline this offer"),
        (south, standing, {"to": "declined", "reason": "x"}, "Only an offer made in answer"),
    ]
    for secret, offer, body, words in cases:
        response = call(client, "POST", secret, f"{OFFERS}/{offer.pk}/move", body)
        assert response.status_code == 409, body
        assert response.json()["detail"].startswith(words)
    assert set(Offer.objects.values_list("state", flat=True)) == {"offered"}


def test_the_offerer_withdraws_its_offer(exchange, client):
    aid = exchange
    body = {"to": "withdrawn", "reason": "Needed here after all"}
    response = call(client, "POST", issue(aid, "south"), f"{OFFERS}/{aid.answer.pk}/move", body)
    assert response.status_code == 200
    assert Offer.objects.get(pk=aid.answer.pk).state == "withdrawn"


# ------------------------------------------------------------------ commitments


def test_the_organisation_that_asked_takes_up_part_of_an_offer(exchange, client):
    aid = exchange
    response = call(
        client, "POST", issue(aid), f"{OFFERS}/{aid.answer.pk}/commitments", {"quantity": 1}
    )
    assert response.status_code == 201, response.json()
    taken = response.json()
    assert response["Location"] == f"/api/aid/commitments/{taken['id']}"
    assert taken["organisation"] == "RN1" and taken["given_by"] == "RS1"
    assert taken["request"] == aid.asked.pk and taken["state"] == "committed"
    assert taken["moves"] == ["released"]
    assert Offer.objects.get(pk=aid.answer.pk).remaining == 1


def test_taking_up_more_than_is_left_is_422_on_quantity_and_changes_nothing(exchange, client):
    aid = exchange
    path = f"{OFFERS}/{aid.answer.pk}/commitments"
    response = call(client, "POST", issue(aid), path, {"quantity": 3})
    assert response.status_code == 422
    assert fields(response) == {"quantity": "the request needs 2 more, not 3"}
    assert Offer.objects.get(pk=aid.answer.pk).remaining == 2
    assert Commitment.objects.count() == 1


def test_an_offerer_cannot_take_up_its_own_answer(exchange, client):
    aid = exchange
    path = f"{OFFERS}/{aid.answer.pk}/commitments"
    response = call(client, "POST", issue(aid, "south"), path, {"quantity": 1})
    assert response.status_code == 403
    assert response.json()["detail"] == "Only the organisation that asked can take up this offer."


def test_an_answer_is_taken_up_only_for_the_organisation_that_asked(exchange, client):
    aid = exchange
    path = f"{OFFERS}/{aid.answer.pk}/commitments"
    response = call(client, "POST", issue(aid), path, {"quantity": 1, "organisation": "RS1"})
    assert response.status_code == 422
    assert set(fields(response)) == {"organisation"}
    named = call(client, "POST", issue(aid), path, {"quantity": 1, "organisation": "rn1"})
    assert named.status_code == 201


def test_an_unsolicited_offer_is_taken_up_for_the_tokens_own_organisation(aid, client):
    standing = standing_offer(aid)
    path = f"{OFFERS}/{standing.pk}/commitments"
    secret = issue(aid)
    response = call(client, "POST", secret, path, {"quantity": 2})
    assert response.status_code == 201
    assert response.json()["organisation"] == "RN1" and response.json()["request"] is None
    elsewhere = call(client, "POST", secret, path, {"quantity": 1, "organisation": "RX1"})
    assert elsewhere.status_code == 403
    assert "You cannot arrange aid for Outside Hospitals NHS Trust" in elsewhere.json()["detail"]
    unknown = call(client, "POST", secret, path, {"quantity": 1, "organisation": "ZZ9"})
    assert fields(unknown) == {"organisation": "No organisation has the code 'ZZ9'"}
    assert Offer.objects.get(pk=standing.pk).remaining == 2


def test_a_withdrawn_offer_cannot_be_taken_up(exchange, client):
    aid = exchange
    exchange_actions.move_offer(
        by=aid.people["south_coordinator"], offer=aid.answer, to="withdrawn", reason="Gone"
    )
    response = call(
        client, "POST", issue(aid), f"{OFFERS}/{aid.answer.pk}/commitments", {"quantity": 1}
    )
    assert response.status_code == 409
    assert "This offer is withdrawn" in response.json()["detail"]
    assert Commitment.objects.count() == 1


def test_a_commitment_moves_from_committed_to_fulfilled_and_the_request_counts_it(exchange, client):
    aid = exchange
    path = f"/api/aid/commitments/{aid.taken.pk}/move"
    south, north = issue(aid, "south"), issue(aid)
    started = call(client, "POST", south, path, {"to": "in_progress"})
    assert started.status_code == 200
    assert started.json()["state"] == "in_progress" and started.json()["started_at"]
    done = call(client, "POST", north, path, {"to": "fulfilled"})
    assert done.status_code == 200
    assert done.json()["moves"] == ["returned", "released"]
    seen = call(client, "GET", north, f"{REQUESTS}/{aid.asked.pk}").json()
    assert (seen["committed"], seen["fulfilled"]) == (1, 1)


def test_commitment_moves_the_negotiation_does_not_allow_are_409_and_change_nothing(
    exchange, client
):
    aid = exchange
    path = f"/api/aid/commitments/{aid.taken.pk}/move"
    north = issue(aid)
    only_offerer = call(client, "POST", north, path, {"to": "in_progress"})
    assert only_offerer.status_code == 409
    assert only_offerer.json()["detail"].startswith("Only the organisation that offered")
    no_reason = call(client, "POST", north, path, {"to": "released"})
    assert no_reason.status_code == 409
    skipped = call(client, "POST", north, path, {"to": "fulfilled"})
    assert skipped.status_code == 409
    assert Commitment.objects.get(pk=aid.taken.pk).state == "committed"
    assert Offer.objects.get(pk=aid.answer.pk).remaining == 2


def test_releasing_a_commitment_puts_its_quantity_back_on_the_offer(exchange, client):
    aid = exchange
    body = {"to": "released", "reason": "The patient went elsewhere"}
    response = call(client, "POST", issue(aid), f"/api/aid/commitments/{aid.taken.pk}/move", body)
    assert response.status_code == 200
    assert response.json()["state"] == "released"
    assert Offer.objects.get(pk=aid.answer.pk).remaining == 3


def test_a_commitment_the_caller_may_not_see_answers_404(exchange, client):
    aid = exchange
    outsider = issue(aid, "outside")
    for pk in (aid.taken.pk, 999999):
        body = {"to": "released", "reason": "x"}
        response = call(client, "POST", outsider, f"/api/aid/commitments/{pk}/move", body)
        assert response.status_code == 404
    assert Commitment.objects.get(pk=aid.taken.pk).state == "committed"


# ------------------------------------------------------------------ matches


def test_matches_rank_open_offers_and_room_read_through_the_sharing_policy(aid, client):
    now = timezone.now()
    ours = north_request(aid)  # two patients, critical care level 3, adult critical care beds
    east = f.OrganisationFactory(code="RE1", name="East Hospitals NHS Trust")
    f.join(aid.collab, east)
    f.report(east, now - timedelta(hours=1), cc_adult_admissible=7, opel_declared=2)
    f.reshare(Grant.objects.get(owner=east, ended_at__isnull=True), detail="banded")
    offer = south_offer(aid, request=ours, quantity=2)
    response = call(
        client, "GET", issue(aid, scope=TokenScope.READ), f"{REQUESTS}/{ours.pk}/matches"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["request"] == ours.pk and body["still_needed"] == 2
    first, second = body["candidates"]
    assert (first["organisation"], first["offer"], first["site"]) == ("RS1", offer.pk, "RS101")
    assert first["spare"] is None
    assert first["score"] == round(sum(r["points"] for r in first["reasons"]), 2)
    assert "offered for this request" in [r["text"] for r in first["reasons"]]
    # East's room is shown banded, as East shares it: 7 reads as 5, never 7.
    assert (second["organisation"], second["offer"]) == ("RE1", None)
    assert second["spare"]["measure"] == "cc_adult_admissible"
    assert (second["spare"]["value"], second["spare"]["detail"]) == (5, "banded")
    assert second["spare"]["delay_hours"] == 0
    assert second["pressure"]["value"] == 2
    assert "no offer yet: ask them" in [r["text"] for r in second["reasons"]]
    assert "7" not in json.dumps(second["reasons"])
    assert (body["too_far"], body["not_shared"]) == (0, 0)


def test_matches_say_how_many_share_nothing_with_the_caller(aid, client):
    ours = north_request(aid)
    Grant.objects.filter(owner=aid.south).update(ended_at=timezone.now())
    body = call(client, "GET", issue(aid), f"{REQUESTS}/{ours.pk}/matches").json()
    assert body["candidates"] == []
    assert body["not_shared"] == 1


# ------------------------------------------------------------------ the ledger


def fulfil(aid) -> None:
    south, north = aid.people["south_coordinator"], aid.people[Role.COORDINATOR]
    exchange_actions.move_commitment(by=south, commitment=aid.taken, to="in_progress")
    exchange_actions.move_commitment(by=north, commitment=aid.taken, to="fulfilled")


def test_the_ledger_says_who_helped_whom_and_how_fast(exchange, client):
    aid = exchange
    fulfil(aid)
    path = f"/api/collaboratives/{aid.collab.slug}/aid/ledger"
    response = call(client, "GET", issue(aid, scope=TokenScope.READ), path)
    assert response.status_code == 200
    body = response.json()
    assert body["collaborative"] == "river-system" and body["since"] is None
    [given] = body["exchanges"]
    assert (given["given_by"], given["received_by"], given["quantity"]) == ("RS1", "RN1", 1)
    assert given["request"] == aid.asked.pk and given["state"] == "fulfilled"
    tallies = {t["organisation"]: t for t in body["tallies"]}
    assert tallies["RS1"]["given"] == {"transfer": 1} and tallies["RS1"]["given_total"] == 1
    assert tallies["RN1"]["received"] == {"transfer": 1}
    assert (tallies["RN1"]["requests"], tallies["RN1"]["met_in_part"]) == (1, 1)
    assert body["minutes_to_first_offer"] is not None
    assert body["minutes_to_fulfilment"] is not None
    later = call(client, "GET", issue(aid), path, since=soon(1))
    assert later.json()["exchanges"] == [] and later.json()["minutes_to_commitment"] is None


def test_the_ledger_is_for_the_collaboratives_members_only(exchange, client):
    aid = exchange
    outsider = issue(aid, "outside", TokenScope.READ)
    for suffix in ("ledger", "ledger.csv"):
        path = f"/api/collaboratives/{aid.collab.slug}/aid/{suffix}"
        assert call(client, "GET", outsider, path).status_code == 404
        assert (
            call(client, "GET", outsider, path.replace("river-system", "nowhere")).status_code
            == 404
        )


def test_the_ledger_as_csv_defuses_text_that_a_spreadsheet_would_run(aid, client):
    hyperlink = '=HYPERLINK("http://evil.example/","Open")'
    east = f.OrganisationFactory(code="RE1", name=hyperlink)
    f.join(aid.collab, east)
    east_site = f.SiteFactory(code="RE101", name="East General", organisation=east)
    east_coordinator = f.UserFactory()
    f.member(east_coordinator, east, Role.COORDINATOR)
    ours = north_request(aid)
    help_ = f.offer(by=east_coordinator, organisation=east, site=east_site, request=ours)
    aid.taken = exchange_actions.commit(by=aid.people[Role.COORDINATOR], offer=help_, quantity=2)
    exchange_actions.move_commitment(by=east_coordinator, commitment=aid.taken, to="in_progress")
    exchange_actions.move_commitment(by=east_coordinator, commitment=aid.taken, to="fulfilled")

    path = f"/api/collaboratives/{aid.collab.slug}/aid/ledger.csv"
    response = call(client, "GET", issue(aid), path)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="river-system-aid-ledger.csv"' in response["Content-Disposition"]
    header, row = list(csv.reader(io.StringIO(response.content.decode())))
    assert header[:4] == ["given_by", "given_by_name", "received_by", "received_by_name"]
    record = dict(zip(header, row, strict=True))
    assert record["given_by_name"] == "'" + hyperlink
    assert record["received_by"] == "RN1"
    assert record["quantity"] == "2"
    assert record["request"] == str(ours.pk)


# ------------------------------------------------------------------ retries


def test_a_retry_with_the_same_key_answers_the_first_answer_and_creates_nothing_more(aid, client):
    secret, body = issue(aid), request_body()
    first = call(client, "POST", secret, REQUESTS, body, key="req-1")
    again = call(client, "POST", secret, REQUESTS, dict(reversed(body.items())), key="req-1")
    assert first.status_code == again.status_code == 201
    assert "Idempotent-Replayed" not in first
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert again["Location"] == first["Location"]
    assert AidRequest.objects.count() == 1
    assert IdempotencyRecord.objects.get().status == 201


def test_the_same_key_with_a_different_body_is_409_and_nothing_is_stored(aid, client):
    secret = issue(aid)
    assert call(client, "POST", secret, REQUESTS, request_body(), key="k").status_code == 201
    response = call(client, "POST", secret, REQUESTS, request_body(quantity=3), key="k")
    assert response.status_code == 409
    assert "was already used with a different request" in response.json()["detail"]
    assert AidRequest.objects.count() == 1


def test_the_same_key_and_body_for_another_offer_is_a_different_request(aid, client):
    one, two = standing_offer(aid), standing_offer(aid)
    secret = issue(aid)
    first = call(client, "POST", secret, f"{OFFERS}/{one.pk}/commitments", {"quantity": 1}, key="c")
    other = call(client, "POST", secret, f"{OFFERS}/{two.pk}/commitments", {"quantity": 1}, key="c")
    assert first.status_code == 201
    assert other.status_code == 409
    assert Commitment.objects.count() == 1


def test_without_a_key_every_call_creates(aid, client):
    secret = issue(aid)
    for _ in range(2):
        assert call(client, "POST", secret, REQUESTS, request_body()).status_code == 201
    assert AidRequest.objects.count() == 2
    assert IdempotencyRecord.objects.count() == 0


def test_a_refused_creation_does_not_use_up_its_key(aid, client):
    secret = issue(aid, "south")
    wrong = call(client, "POST", secret, OFFERS, offer_body(quantity=0), key="o-1")
    assert wrong.status_code == 422
    assert IdempotencyRecord.objects.count() == 0
    body = offer_body()
    right = call(client, "POST", secret, OFFERS, body, key="o-1")
    assert right.status_code == 201
    replay = call(client, "POST", secret, OFFERS, body, key="o-1")
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == right.json()["id"]
    assert Offer.objects.count() == 1


def test_a_replayed_commitment_takes_from_the_offer_once(exchange, client):
    aid = exchange
    path, secret = f"{OFFERS}/{aid.answer.pk}/commitments", issue(aid)
    answers = [call(client, "POST", secret, path, {"quantity": 2}, key="take") for _ in range(3)]
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert len({a.json()["id"] for a in answers}) == 1
    assert Offer.objects.get(pk=aid.answer.pk).remaining == 0


def test_keys_belong_to_one_token(aid, client):
    body = request_body()
    assert call(client, "POST", issue(aid), REQUESTS, body, key="same").status_code == 201
    other = call(client, "POST", issue(aid), REQUESTS, body, key="same")
    assert other.status_code == 201 and "Idempotent-Replayed" not in other
    assert AidRequest.objects.count() == 2


def test_a_key_that_is_not_visible_ascii_is_a_422(aid, client):
    response = call(client, "POST", issue(aid), REQUESTS, request_body(), key="two words")
    assert response.status_code == 422
    assert set(fields(response)) == {"Idempotency-Key"}


@pytest.mark.django_db(transaction=True)
def test_10_concurrent_sends_with_one_key_create_once():
    # A transactional test builds its own world, committed so that the threads see it.
    north = f.OrganisationFactory(code="RC1", name="Concurrent Trust")
    collab = f.CollaborativeFactory(name="Race System", organisation=north)
    admin = f.UserFactory()
    f.member(admin, north, Role.ORG_ADMIN)
    f.SiteFactory(organisation=north, code="RC101")
    _, secret = authz_actions.issue_token(by=admin, organisation=north, name="t", scope="aid")
    body = request_body(collaborative=collab.slug, site="RC101")
    n = 10
    barrier = threading.Barrier(n)
    responses: list = [None] * n

    def send(i: int) -> None:
        try:
            client = Client()
            barrier.wait()
            responses[i] = call(client, "POST", secret, REQUESTS, body, key="same-key")
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert [r.status_code for r in responses] == [201] * n, [r.json() for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    replayed = [r.headers.get("Idempotent-Replayed") for r in responses]
    assert replayed.count(None) == 1
    assert AidRequest.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1


def test_a_nul_in_a_collaboratives_slug_finds_nothing(aid, client):
    secret = issue(aid, scope=TokenScope.READ)
    # The middleware refuses it first (400); behind it, the view itself names nothing.
    assert call(client, "GET", secret, "/api/collaboratives/a%00b/aid/ledger").status_code == 400
    direct = TestClient(api)
    response = direct.get(
        "/collaboratives/river\x00system/aid/ledger", headers={"Authorization": f"Bearer {secret}"}
    )
    assert response.status_code == 404
