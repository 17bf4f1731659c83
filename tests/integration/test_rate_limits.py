"""Rate limits: a client address, and an API token, over its requests a minute gets 429 with
Retry-After, and nothing behind the limit runs; the counts are exact and shared by every
worker because they live in the database."""

from __future__ import annotations

import pytest

from flotilla.accounts.actions import count_request, count_requests
from flotilla.accounts.models import RequestCount
from flotilla.authz import actions as authz_actions
from flotilla.authz.models import Role, TokenScope
from flotilla.reporting.models import Observation
from tests.concurrency import at_once


def secret_for(cast, name: str) -> str:
    _, secret = authz_actions.issue_token(
        by=cast.people[Role.ORG_ADMIN], organisation=cast.north, name=name, scope=TokenScope.READ
    )
    return secret


@pytest.mark.django_db
def test_an_address_over_its_limit_gets_a_page_saying_when_to_try_again(client, settings):
    settings.RATE_LIMIT_PER_ADDRESS = 3
    assert [client.get("/signin/").status_code for _ in range(3)] == [200, 200, 200]
    refused = client.get("/signin/")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    page = refused.content.decode()
    assert "Your address may make 3 requests a minute." in page
    assert "Content-Security-Policy" in refused.headers
    # Another address is counted on its own.
    assert client.get("/signin/", REMOTE_ADDR="10.0.0.9").status_code == 200


@pytest.mark.django_db
def test_a_token_over_its_limit_gets_the_apis_error_body_and_another_token_does_not(
    client, cast, settings
):
    settings.RATE_LIMIT_PER_TOKEN = 2
    busy, quiet = secret_for(cast, "busy"), secret_for(cast, "quiet")

    def get(secret):
        return client.get("/api/measures", headers={"Authorization": f"Bearer {secret}"})

    assert [get(busy).status_code for _ in range(2)] == [200, 200]
    refused = get(busy)
    assert refused.status_code == 429
    body = refused.json()
    assert set(body) == {"detail", "errors"}  # the API's error body, with nothing to point at
    assert body["errors"] == []
    assert body["detail"].startswith(
        "Too many requests. This token may make 2 requests a minute. Try again in "
    )
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert get(quiet).status_code == 200


@pytest.mark.django_db
def test_a_report_refused_by_the_limit_stores_nothing(client, cast, settings):
    _, secret = authz_actions.issue_token(
        by=cast.people[Role.ORG_ADMIN], organisation=cast.north, name="s", scope=TokenScope.SUBMIT
    )
    settings.RATE_LIMIT_PER_TOKEN = 1
    headers = {"Authorization": f"Bearer {secret}"}
    client.get("/api/measures", headers=headers)  # the minute's one request
    body = {"values": [{"measure": "ga_open", "as_of": "2026-11-30T08:00:00Z", "value": 10}]}
    response = client.post("/api/reports", body, content_type="application/json", headers=headers)
    assert response.status_code == 429
    assert not Observation.objects.exists()


@pytest.mark.django_db
def test_a_limit_of_zero_counts_nothing(client, settings):
    settings.RATE_LIMIT_PER_ADDRESS = 0
    for _ in range(3):
        assert client.get("/signin/").status_code == 200
    assert not RequestCount.objects.exists()


@pytest.mark.django_db
def test_the_first_request_of_a_minute_clears_the_minutes_before_the_last():
    count_request("address:10.0.0.1", 100)
    count_request("address:10.0.0.2", 101)
    assert count_request("address:10.0.0.3", 102) == 1
    assert sorted(RequestCount.objects.values_list("minute", flat=True)) == [101, 102]


@pytest.mark.django_db(transaction=True)
def test_requests_counted_at_once_from_two_threads_each_get_their_own_number():
    def count_forty(_: int) -> list[int]:
        return [count_request("token:shared", 500) for _ in range(40)]

    seen = [n for counts in at_once(count_forty) for n in counts]
    assert sorted(seen) == list(range(1, 81))


@pytest.mark.django_db
def test_an_address_and_a_token_are_counted_together_in_one_statement():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    count_requests(["address:10.0.0.9", "token:abc"], 200)
    with CaptureQueriesContext(connection) as queries:
        counts = count_requests(["address:10.0.0.9", "token:abc", "token:abc"], 200)
    assert counts == {"address:10.0.0.9": 2, "token:abc": 2}
    assert len(queries) == 1
    assert count_requests([], 200) == {}
