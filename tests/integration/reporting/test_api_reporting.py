"""POST /api/reports and GET /api/measures, through the Django test client."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client

from flotilla.audit.models import AuditEvent
from flotilla.authz import actions as authz_actions
from flotilla.authz.models import TokenScope
from flotilla.reporting.models import IdempotencyRecord, Observation, Submission
from tests import factories as f

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def issue(cast, scope=TokenScope.SUBMIT, organisation=None, by=None) -> str:
    """A token secret for the north trust (or another organisation and its admin)."""
    _, secret = authz_actions.issue_token(
        by=by or cast.people["org_admin"],
        organisation=organisation or cast.north,
        name=f"test {scope}",
        scope=scope,
    )
    return secret


def post(client: Client, secret: str, body: dict, key: str | None = None):
    headers = {"Authorization": f"Bearer {secret}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post("/api/reports", body, content_type="application/json", headers=headers)


def batch(site_codes=(None,), hours=3, **values: float) -> dict:
    """Values for every site × hour × measure, as a reporting system would send them."""
    rows = []
    for site in site_codes:
        for h in range(hours):
            for measure, value in values.items():
                rows.append(
                    {
                        "site_code": site,
                        "measure": measure,
                        "as_of": (T0 + timedelta(hours=h)).isoformat(),
                        "value": value,
                    }
                )
    return {"values": rows}


@pytest.fixture
def sites(cast):
    return [
        f.SiteFactory(organisation=cast.north, code="RN101", name="North General"),
        f.SiteFactory(organisation=cast.north, code="RN102", name="North Community"),
    ]


def test_one_call_stores_many_sites_measures_and_times_in_one_submission(cast, sites, client):
    body = batch(["RN101", "rn102", None], hours=4, ga_open=100, ga_occupied=90)
    response = post(client, issue(cast), body)
    assert response.status_code == 201, response.json()
    assert response.json()["created"] == 3 * 4 * 2
    submission = Submission.objects.get()
    assert (submission.source, submission.organisation_id) == ("api", cast.north.pk)
    assert Observation.objects.filter(submission=submission).count() == 24
    assert set(Observation.objects.values_list("series__site__code", flat=True)) == {
        "RN101",
        "RN102",
        None,
    }


def test_the_submission_is_audited_as_the_token(cast, client):
    post(client, issue(cast), batch(ga_open=100))
    event = AuditEvent.objects.get(action="reporting.report_submitted")
    assert event.actor_label.startswith("token:flt_")
    assert event.actor_token_id is not None


def test_the_same_api_batch_sent_10_times_is_stored_once(cast, sites, client):
    secret = issue(cast)
    body = batch(["RN101"], hours=2, ga_open=100, ga_occupied=90)
    responses = [post(client, secret, body, key="batch-0001") for _ in range(10)]
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["submission_id"] for r in responses}) == 1
    assert responses[0].headers.get("Idempotent-Replayed") is None
    assert all(r.headers["Idempotent-Replayed"] == "true" for r in responses[1:])
    assert Submission.objects.count() == 1
    assert Observation.objects.count() == 4


def test_the_same_batch_without_a_key_changes_nothing_the_second_time(cast, client):
    secret = issue(cast)
    first = post(client, secret, batch(ga_open=100))
    again = post(client, secret, batch(ga_open=100))
    assert first.json()["created"] == 3
    assert again.status_code == 201
    assert again.json() | {"warnings": []} == {
        "submission_id": None,
        "created": 0,
        "revised": 0,
        "unchanged": 3,
        "warnings": [],
    }
    assert Submission.objects.count() == 1


def test_a_body_with_its_keys_in_another_order_is_the_same_body(cast, client):
    secret = issue(cast)
    value = {"measure": "ga_open", "as_of": T0.isoformat(), "value": 5}
    reordered = {"value": 5, "as_of": T0.isoformat(), "measure": "ga_open"}
    assert post(client, secret, {"values": [value]}, key="k").status_code == 201
    replay = post(client, secret, {"values": [reordered]}, key="k")
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"


@pytest.mark.django_db(transaction=True)
def test_20_concurrent_sends_with_one_key_store_it_once():
    # No `cast` here: a transactional test builds its own (smaller) world, committed so that
    # the threads' own connections see it.
    north = f.OrganisationFactory(code="RC1")
    admin = f.UserFactory()
    f.member(admin, north, "org_admin")
    f.SiteFactory(organisation=north, code="RC101")
    _, secret = authz_actions.issue_token(
        by=admin, organisation=north, name="feed", scope=TokenScope.SUBMIT
    )
    body = batch(["RC101", None], hours=5, ga_open=100, ga_occupied=90)
    n = 20
    barrier = threading.Barrier(n)
    responses: list = [None] * n

    def send(i: int) -> None:
        try:
            client = Client()
            barrier.wait()
            responses[i] = post(client, secret, body, key="same-key")
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert [r.status_code for r in responses] == [201] * n, [r.json() for r in responses]
    assert len({r.json()["submission_id"] for r in responses}) == 1
    # Exactly one request stored; every other one is a replay of its stored answer.
    replayed = [r.headers.get("Idempotent-Replayed") for r in responses]
    assert replayed.count(None) == 1
    assert replayed.count("true") == n - 1
    assert Submission.objects.count() == 1
    assert Observation.objects.count() == 2 * 5 * 2
    assert IdempotencyRecord.objects.count() == 1


def test_the_same_key_with_a_different_body_is_refused_and_nothing_is_stored(cast, client):
    secret = issue(cast)
    assert post(client, secret, batch(ga_open=100), key="k-1").status_code == 201
    response = post(client, secret, batch(ga_open=101), key="k-1")
    assert response.status_code == 409
    assert "was already used with a different body" in response.json()["detail"]
    assert Observation.objects.filter(value=101).count() == 0
    assert Submission.objects.count() == 1


def test_keys_belong_to_one_token(cast, client):
    first, second = issue(cast), issue(cast)
    post(client, first, batch(ga_open=100), key="shared")
    response = post(client, second, batch(ga_open=101), key="shared")
    assert response.status_code == 201
    assert response.json()["revised"] == 3


def test_a_bad_value_is_refused_naming_the_field_and_nothing_is_stored(cast, client):
    body = batch(hours=2, ga_open=100)
    body["values"][1]["value"] = -5
    response = post(client, issue(cast), body, key="k")
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"index": 1, "field": "values[1].value", "message": "-5 is below the minimum 0"}
    ]
    assert Observation.objects.count() == 0
    assert IdempotencyRecord.objects.count() == 0


def test_a_rejected_report_does_not_use_up_its_key(cast, client):
    secret = issue(cast)
    bad = batch(ga_open=-1)
    assert post(client, secret, bad, key="retry-me").status_code == 422
    fixed = post(client, secret, batch(ga_open=1), key="retry-me")
    assert fixed.status_code == 201
    assert fixed.json()["created"] == 3


def test_every_problem_in_a_report_is_named_at_once(cast, sites, client):
    f.SiteFactory(organisation=cast.south, code="RS101")
    at = T0.isoformat()
    body = {
        "values": [
            {"site_code": "RN101", "measure": "ga_open", "as_of": at, "value": 10},
            {"site_code": "RS101", "measure": "ga_open", "as_of": at, "value": 10},
            {"site_code": "NOPE", "measure": "ga_open", "as_of": at, "value": 10},
            {"measure": "ga_open", "as_of": at},
            {"measure": "ga_open", "as_of": at, "value": 1, "text": "one"},
            {"measure": "no_such_measure", "as_of": at, "value": 1},
            {"measure": "ga_occupied", "as_of": at, "value": 2.5},
        ]
    }
    response = post(client, issue(cast), body)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [(e["index"], e["field"]) for e in errors] == [
        (1, "values[1].site_code"),
        (2, "values[2].site_code"),
        (3, "values[3].value"),
        (4, "values[4].text"),
        (5, "values[5].measure"),
        (6, "values[6].value"),
    ]
    assert errors[0]["message"] == "'RS101' is not a site of RN1"
    assert (
        errors[3]["message"] == "give only one of value, text or missing_reason, not value and text"
    )
    assert Observation.objects.count() == 0


def test_a_time_without_an_offset_is_refused_with_a_clear_message(cast, client):
    body = {"values": [{"measure": "ga_open", "as_of": "2026-01-05T08:00:00", "value": 1}]}
    response = post(client, issue(cast), body)
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "index": 0,
            "field": "values[0].as_of",
            "message": "give the time with its UTC offset, for example 2026-01-05T08:00:00+00:00",
        }
    ]


def test_missing_values_carry_a_listed_reason(cast, client):
    secret = issue(cast)
    at = T0.isoformat()
    ok = post(
        client,
        secret,
        {"values": [{"measure": "nctr", "as_of": at, "missing_reason": "not_applicable"}]},
    )
    assert ok.status_code == 201
    assert Observation.objects.get().missing_reason == "not_applicable"
    bad = post(
        client, secret, {"values": [{"measure": "nctr", "as_of": at, "missing_reason": "lost"}]}
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "values[0].missing_reason"


def test_narrative_measures_take_text(cast, client):
    body = {"values": [{"measure": "situation", "as_of": T0.isoformat(), "text": "Busy."}]}
    assert post(client, issue(cast), body).status_code == 201
    assert Observation.objects.get().text == "Busy."


def test_more_than_20000_values_in_one_call_are_refused(cast, client):
    value = {"measure": "ga_open", "as_of": T0.isoformat(), "value": 1}
    response = post(client, issue(cast), {"values": [value] * 20_001})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "values"
    assert "at most 20000" in response.json()["errors"][0]["message"]


def test_an_idempotency_key_longer_than_200_characters_is_refused(cast, client):
    response = post(client, issue(cast), batch(ga_open=1), key="k" * 201)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert Observation.objects.count() == 0


def test_a_token_submits_only_for_its_own_organisation(cast, client):
    secret = issue(cast)
    response = post(client, secret, {**batch(ga_open=1), "org_code": "RS1"})
    assert response.status_code == 403
    assert "submits for RN1 only" in response.json()["detail"]
    assert post(client, secret, {**batch(ga_open=1), "org_code": "rn1"}).status_code == 201


def test_a_read_token_cannot_submit(cast, client):
    response = post(client, issue(cast, TokenScope.READ), batch(ga_open=1))
    assert response.status_code == 403
    assert "'submit' scope" in response.json()["detail"]
    assert Observation.objects.count() == 0


def test_the_measure_catalogue_is_listed_for_any_token(cast, client):
    for scope in TokenScope:
        response = client.get(
            "/api/measures", headers={"Authorization": f"Bearer {issue(cast, scope)}"}
        )
        assert response.status_code == 200
        ga_open = next(m for m in response.json() if m["code"] == "ga_open")
        assert ga_open["kind"] == "count"
        assert (ga_open["min"], ga_open["unit"], ga_open["state"]) == (0, "beds", "open")


def test_a_body_over_the_upload_limit_is_refused_with_413(cast, client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    response = post(client, issue(cast), batch(hours=20, ga_open=1))
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]
    assert Observation.objects.count() == 0


@pytest.mark.django_db
def test_a_nul_character_is_refused_before_it_reaches_the_database(client, cast):
    secret = issue(cast)
    body = {
        "values": [
            {"site_code": "RN\x001", "measure": "ga_open", "as_of": T0.isoformat(), "value": 1},
        ]
    }
    response = post(client, secret, body)
    assert response.status_code == 422
    assert "NUL" in response.content.decode()
    assert not Observation.objects.exists()
