"""GET /api/collaboratives, the shared picture and history: members read, outsiders get 404."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.utils import timezone
from ninja.renderers import JSONRenderer

from flotilla.authz import actions as authz_actions
from flotilla.authz.models import TokenScope
from tests import factories as f

NOW = timezone.now().replace(microsecond=0)
EARLIER = NOW - timedelta(hours=30)


def issue(cast, organisation_name="north", scope=TokenScope.READ) -> str:
    admins = {"north": cast.people["org_admin"], "outside": cast.people["outsider"]}
    _, secret = authz_actions.issue_token(
        by=admins[organisation_name],
        organisation=getattr(cast, organisation_name),
        name="dashboard",
        scope=scope,
    )
    return secret


def get(client, secret, path, **params):
    query = f"?{urlencode(params, doseq=True)}" if params else ""
    return client.get(path + query, headers={"Authorization": f"Bearer {secret}"})


@pytest.fixture
def reported(cast):
    """North reports for itself and one site, south for itself; yesterday and now."""
    site = f.SiteFactory(organisation=cast.north, code="RN101", name="North General")
    f.report(cast.north, EARLIER, ga_open=100, ga_occupied=80)
    f.report(cast.north, NOW, ga_open=100, ga_occupied=95)
    f.report(cast.north, NOW, site=site, ga_open=40, ga_occupied=None)
    f.report(cast.south, NOW, ga_open=50, situation="Quiet morning.")
    f.report(cast.outside, NOW, ga_open=999)
    return cast


def test_a_member_token_lists_the_collaboratives_of_its_organisation(reported, client):
    response = get(client, issue(reported), "/api/collaboratives")
    assert response.status_code == 200
    [collab] = response.json()
    assert collab["slug"] == reported.collab.slug
    assert [m["code"] for m in collab["members"]] == ["RN1", "RS1"]


def test_an_outside_token_lists_no_collaboratives(reported, client):
    assert get(client, issue(reported, "outside"), "/api/collaboratives").json() == []


def test_a_member_token_reads_every_members_latest_figures(reported, client):
    path = f"/api/collaboratives/{reported.collab.slug}/picture"
    response = get(client, issue(reported), path)
    assert response.status_code == 200
    body = response.json()
    rows = {(r["org_code"], r["site_code"], r["measure"]): r for r in body["rows"]}
    assert rows[("RN1", None, "ga_occupied")]["value"] == 95
    assert rows[("RN1", "RN101", "ga_occupied")]["missing_reason"] == "not_reported"
    assert rows[("RN1", "RN101", "ga_occupied")]["value"] is None
    assert rows[("RS1", None, "situation")]["text"] == "Quiet morning."
    assert not any(r["org_code"] == "RX1" for r in body["rows"])
    assert body["coverage"] == {"reported_recently": 2, "members": 2}
    assert body["is_live"] is True


def test_the_picture_kept_as_its_body_is_sent_as_ninja_sends_every_answer(reported, client):
    secret = issue(reported)
    picture = get(client, secret, f"/api/collaboratives/{reported.collab.slug}/picture")
    listed = get(client, secret, "/api/collaboratives")
    assert picture["Content-Type"] == listed["Content-Type"]
    # The same text as ninja's renderer gives the same values: its separators, its times.
    assert (
        picture.content == JSONRenderer().render(None, picture.json(), response_status=200).encode()
    )
    assert (
        listed.content == JSONRenderer().render(None, listed.json(), response_status=200).encode()
    )


def test_the_picture_as_at_a_past_moment_shows_what_was_known_then(reported, client):
    path = f"/api/collaboratives/{reported.collab.slug}/picture"
    at = (EARLIER + timedelta(hours=1)).isoformat()
    body = get(client, issue(reported), path, at=at).json()
    rows = {(r["org_code"], r["site_code"], r["measure"]): r for r in body["rows"]}
    assert rows[("RN1", None, "ga_occupied")]["value"] == 80
    assert ("RS1", None, "ga_open") not in rows
    assert body["is_live"] is False
    assert body["coverage"] == {"reported_recently": 1, "members": 2}


def test_a_time_with_an_unencoded_plus_is_understood(reported, client):
    path = f"/api/collaboratives/{reported.collab.slug}/picture"
    at = (EARLIER + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    response = client.get(f"{path}?at={at}", headers={"Authorization": f"Bearer {issue(reported)}"})
    assert response.status_code == 200
    assert response.json()["is_live"] is False


def test_a_time_without_an_offset_is_refused(reported, client):
    path = f"/api/collaboratives/{reported.collab.slug}/picture"
    response = get(client, issue(reported), path, at="2026-01-05T08:00:00")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "at"


def test_an_outside_token_gets_404_for_a_collaborative_it_is_not_in(reported, client):
    secret = issue(reported, "outside")
    response = get(client, secret, f"/api/collaboratives/{reported.collab.slug}/picture")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found", "errors": []}
    assert get(client, secret, "/api/collaboratives/no-such-thing/picture").status_code == 404


def test_a_member_reads_a_fellow_members_history(reported, client):
    path = "/api/organisations/RS1/history"
    response = get(client, issue(reported), path, measure=["ga_open", "situation"])
    assert response.status_code == 200
    series = {s["measure"]: s["points"] for s in response.json()["series"]}
    assert [p["value"] for p in series["ga_open"]] == [50]
    assert [p["value"] for p in series["situation"]] == [None]


def test_history_of_a_site_and_over_a_chosen_span(reported, client):
    secret = issue(reported)
    since = (EARLIER - timedelta(hours=1)).isoformat()
    org = get(client, secret, "/api/organisations/RN1/history", measure="ga_occupied", since=since)
    assert [p["value"] for p in org.json()["series"][0]["points"]] == [80, 95]
    site = get(client, secret, "/api/organisations/RN1/history", measure="ga_open", site="RN101")
    assert site.json()["site_code"] == "RN101"
    assert [p["value"] for p in site.json()["series"][0]["points"]] == [40]


def test_history_refuses_unknown_measures_backwards_spans_and_foreign_sites(reported, client):
    f.SiteFactory(organisation=reported.south, code="RS101")
    secret = issue(reported)
    path = "/api/organisations/RN1/history"
    bad = get(client, secret, path, measure="nope")
    assert bad.status_code == 422
    assert bad.json()["errors"] == [
        {"index": None, "field": "measure", "message": "unknown measure 'nope'"}
    ]
    since = NOW.isoformat()
    until = EARLIER.isoformat()
    backwards = get(client, secret, path, measure="ga_open", since=since, until=until)
    assert backwards.status_code == 422
    foreign = get(client, secret, path, measure="ga_open", site="RS101")
    assert foreign.status_code == 422
    assert foreign.json()["errors"][0]["message"] == "'RS101' is not a site of RN1"


def test_an_outside_token_cannot_see_other_organisations_history(reported, client):
    secret = issue(reported, "outside")
    for code in ["RN1", "RS1", "NOPE"]:
        response = get(client, secret, f"/api/organisations/{code}/history", measure="ga_open")
        assert response.status_code == 404, code
    own = get(client, secret, "/api/organisations/RX1/history", measure="ga_open")
    assert own.status_code == 200
    assert [p["value"] for p in own.json()["series"][0]["points"]] == [999]


def test_a_submit_token_cannot_read(reported, client):
    secret = issue(reported, scope=TokenScope.SUBMIT)
    for path in [
        "/api/collaboratives",
        f"/api/collaboratives/{reported.collab.slug}/picture",
        "/api/organisations/RN1/history?measure=ga_open",
    ]:
        response = client.get(path, headers={"Authorization": f"Bearer {secret}"})
        assert response.status_code == 403, path
        assert "'read' scope" in response.json()["detail"]
