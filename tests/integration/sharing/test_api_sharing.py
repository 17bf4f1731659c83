"""/api/sharing/grants: an organisation admin's token lists, adds, changes and revokes the
organisation's grants, and every change takes effect on the very next request."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from flotilla.audit.models import AuditEvent
from flotilla.authz import actions as authz_actions
from flotilla.authz.models import Role, TokenScope
from flotilla.sharing.models import Grant
from flotilla.sharing.policy.rules import GROUPS
from tests import factories as f

NOW = timezone.now().replace(microsecond=0)
EARLIER = NOW - timedelta(hours=30)
GRANTS = "/api/sharing/grants"
HISTORY = "/api/organisations/RN1/history"

BANDED_TO_RX1 = {
    "audience": "organisation",
    "organisation": "RX1",
    "groups": ["capacity"],
    "detail": "banded",
    "delay_hours": 24,
    "purpose": "Mutual aid planning with our neighbour.",
}


def issue(cast, organisation="north", scope=TokenScope.SHARING) -> str:
    admins = {"north": cast.people[Role.ORG_ADMIN], "outside": cast.people["outsider"]}
    _, secret = authz_actions.issue_token(
        by=admins[organisation],
        organisation=getattr(cast, organisation),
        name="sharing console",
        scope=scope,
    )
    return secret


def call(client, method, secret, path, body=None, **params):
    query = f"?{urlencode(params, doseq=True)}" if params else ""
    return client.generic(
        method,
        path + query,
        data="" if body is None else json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"} if secret else {},
    )


def history(client, secret):
    since = (EARLIER - timedelta(hours=1)).isoformat()
    return call(client, "GET", secret, HISTORY, measure="ga_open", since=since)


@pytest.fixture
def reported(cast):
    """North reported 97 open beds 30 hours ago and 101 now."""
    f.report(cast.north, EARLIER, ga_open=97)
    f.report(cast.north, NOW, ga_open=101)
    return cast


@pytest.fixture
def admin(cast):
    """North's sharing token."""
    return issue(cast)


def open_grant(cast) -> Grant:
    return Grant.objects.get(owner=cast.north, collaborative=cast.collab, ended_at__isnull=True)


def test_the_list_shows_the_open_by_default_grant_to_the_collaborative(cast, client, admin):
    response = call(client, "GET", admin, GRANTS)
    assert response.status_code == 200
    [grant] = response.json()
    assert grant["id"] == open_grant(cast).pk
    assert grant["audience"] == "collaborative"
    assert grant["collaborative"] == cast.collab.slug
    assert grant["organisation"] is None
    assert grant["groups"] == list(GROUPS)
    assert (grant["detail"], grant["delay_hours"]) == ("exact", 0)
    assert grant["in_force"] is True
    assert grant["reaches"] == ["RS1"]
    assert (grant["ended_at"], grant["ended_by"], grant["end_reason"]) == (None, None, None)
    assert (grant["replaces"], grant["replaced_by"]) == (None, None)


def test_a_banded_delayed_grant_lets_an_outside_token_read_the_history_banded(
    reported, client, admin
):
    reader = issue(reported, "outside", TokenScope.READ)
    assert history(client, reader).status_code == 404

    response = call(client, "POST", admin, GRANTS, BANDED_TO_RX1)

    assert response.status_code == 201
    grant = response.json()
    assert response["Location"] == f"{GRANTS}/{grant['id']}"
    assert grant["organisation"] == "RX1"
    assert grant["collaborative"] is None
    assert (grant["detail"], grant["delay_hours"]) == ("banded", 24)
    assert grant["reaches"] == ["RX1"]
    assert grant["in_force"] is True
    assert grant["created_by"].startswith("token:flt_")
    assert grant["created_by"].endswith("@RN1")
    read = history(client, reader)
    assert read.status_code == 200
    [series] = read.json()["series"]
    assert (series["shared"], series["detail"], series["delay_hours"]) == (True, "banded", 24)
    assert [p["value"] for p in series["points"]] == [95]  # 97 banded; 101 is too recent


def test_revoking_a_grant_stops_the_very_next_request_of_its_audience(reported, client, admin):
    reader = issue(reported, "outside", TokenScope.READ)
    grant_id = call(client, "POST", admin, GRANTS, BANDED_TO_RX1).json()["id"]
    assert history(client, reader).status_code == 200

    response = call(client, "DELETE", admin, f"{GRANTS}/{grant_id}")

    assert response.status_code == 200
    ended = response.json()
    assert ended["id"] == grant_id
    assert ended["end_reason"] == "revoked"
    assert ended["ended_at"] is not None
    assert ended["ended_by"].startswith("token:flt_")
    assert (ended["in_force"], ended["reaches"]) == (False, [])
    assert history(client, reader).status_code == 404
    again = call(client, "DELETE", admin, f"{GRANTS}/{grant_id}")
    assert again.status_code == 409
    assert again.json() == {
        "detail": "This grant already ended (Revoked): it can no longer be changed or revoked.",
        "errors": [],
    }


def test_changing_a_grant_narrows_it_and_the_old_one_shows_what_replaced_it(
    reported, client, admin
):
    reader = issue(reported, "outside", TokenScope.READ)
    old_id = call(client, "POST", admin, GRANTS, BANDED_TO_RX1).json()["id"]

    response = call(
        client, "PUT", admin, f"{GRANTS}/{old_id}", {**BANDED_TO_RX1, "detail": "status"}
    )

    assert response.status_code == 201
    new = response.json()
    assert response["Location"] == f"{GRANTS}/{new['id']}"
    assert (new["detail"], new["replaces"], new["in_force"]) == ("status", old_id, True)
    old = call(client, "GET", admin, f"{GRANTS}/{old_id}").json()
    assert (old["end_reason"], old["replaced_by"], old["in_force"]) == ("changed", new["id"], False)
    [series] = history(client, reader).json()["series"]
    assert (series["detail"], series["points"]) == ("status", [])
    again = call(client, "PUT", admin, f"{GRANTS}/{old_id}", BANDED_TO_RX1)
    assert again.status_code == 409
    assert "already ended (Changed)" in again.json()["detail"]


def test_the_list_shows_grants_in_force_and_with_history_every_grant_newest_first(
    cast, client, admin
):
    opened = open_grant(cast).pk
    kept = call(client, "POST", admin, GRANTS, {**BANDED_TO_RX1, "audience": "organisation"})
    public = call(
        client,
        "POST",
        admin,
        GRANTS,
        {"audience": "public", "groups": ["escalation"], "detail": "status", "purpose": "OPEL"},
    ).json()
    call(client, "DELETE", admin, f"{GRANTS}/{public['id']}")

    in_force = call(client, "GET", admin, GRANTS).json()
    every = call(client, "GET", admin, GRANTS, history="true").json()

    assert [g["id"] for g in in_force] == [kept.json()["id"], opened]
    assert [g["id"] for g in every] == [public["id"], kept.json()["id"], opened]
    assert public["reaches"] == []
    assert public["in_force"] is True


def test_a_grant_to_everyone_reaches_no_organisation_by_name(cast, client, admin):
    response = call(
        client,
        "POST",
        admin,
        GRANTS,
        {"audience": "everyone", "groups": ["flow", "flow"], "detail": "exact", "purpose": " x "},
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["groups"], body["purpose"], body["reaches"]) == (["flow"], "x", [])
    assert body["expires_at"] is None


def test_a_grant_to_the_collaborative_and_an_organisation_are_found_by_slug_and_code(
    cast, client, admin
):
    expires = (NOW + timedelta(days=30)).isoformat()
    to_collab = call(
        client,
        "POST",
        admin,
        GRANTS,
        {
            "audience": "collaborative",
            "collaborative": cast.collab.slug,
            "groups": ["narrative"],
            "detail": "exact",
            "purpose": "Situation reports",
            "expires_at": expires,
        },
    )
    to_org = call(client, "POST", admin, GRANTS, {**BANDED_TO_RX1, "organisation": " rx1 "})
    assert to_collab.status_code == 201
    assert to_collab.json()["reaches"] == ["RS1"]
    assert to_collab.json()["expires_at"] is not None
    assert to_org.status_code == 201
    assert to_org.json()["organisation"] == "RX1"


def test_a_token_with_another_scope_is_refused_with_403(cast, client):
    grant_id = open_grant(cast).pk
    for scope in (TokenScope.READ, TokenScope.SUBMIT):
        secret = issue(cast, scope=scope)
        for method, path in [
            ("GET", GRANTS),
            ("POST", GRANTS),
            ("GET", f"{GRANTS}/{grant_id}"),
            ("PUT", f"{GRANTS}/{grant_id}"),
            ("DELETE", f"{GRANTS}/{grant_id}"),
        ]:
            response = call(client, method, secret, path, BANDED_TO_RX1)
            assert response.status_code == 403, (scope, method, path)
            assert "'sharing' scope" in response.json()["detail"]
    assert open_grant(cast).pk == grant_id


def test_a_request_without_a_token_is_refused_with_401(cast, client):
    assert call(client, "GET", None, GRANTS).status_code == 401
    assert call(client, "POST", None, GRANTS, BANDED_TO_RX1).status_code == 401


def test_another_organisations_token_gets_404_for_the_grant(cast, client):
    grant_id = open_grant(cast).pk
    outsider = issue(cast, "outside")
    for method in ("GET", "PUT", "DELETE"):
        response = call(client, method, outsider, f"{GRANTS}/{grant_id}", BANDED_TO_RX1)
        assert response.status_code == 404, method
        assert response.json() == {"detail": "Not found", "errors": []}
    assert call(client, "GET", outsider, GRANTS).json() == []
    assert open_grant(cast).pk == grant_id


def test_an_unknown_grant_is_404(cast, client, admin):
    assert call(client, "GET", admin, f"{GRANTS}/999999").status_code == 404


def test_an_id_beyond_any_the_database_holds_is_refused_naming_it(cast, client, admin):
    # As the document says (1 to 2**63 - 1): refused, not sent to the database to overflow.
    for grant_id in (0, 2**63, 2**70):
        response = call(client, "GET", admin, f"{GRANTS}/{grant_id}")
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == ["grant_id"]


def _errors(response) -> dict[str, str]:
    assert response.status_code == 422
    assert response.json()["detail"] == "The request is not valid."
    return {e["field"]: e["message"] for e in response.json()["errors"]}


def test_invalid_terms_are_refused_one_error_per_field_and_nothing_is_stored(cast, client, admin):
    grants, events = Grant.objects.count(), AuditEvent.objects.count()
    bad = {
        "audience": "collaborative",
        "groups": [],
        "detail": "exact",
        "delay_hours": 10_000,
        "purpose": "   ",
        "expires_at": (NOW - timedelta(days=1)).isoformat(),
    }

    errors = _errors(call(client, "POST", admin, GRANTS, bad))

    assert errors == {
        "collaborative": "Choose the collaborative to share with",
        "groups": "Choose at least one group of measures to share",
        "delay_hours": "Enter a delay from 0 (real time) to 672 hours",
        "purpose": "Say in a sentence why this is shared",
        "expires_at": "The expiry must be in the future",
    }
    own = {**BANDED_TO_RX1, "organisation": "RN1", "groups": ["beds"]}
    assert _errors(call(client, "POST", admin, GRANTS, own)) == {
        "organisation": "An organisation always sees its own data",
        "groups": "Unknown measure group 'beds': use " + ", ".join(GROUPS),
    }
    assert (Grant.objects.count(), AuditEvent.objects.count()) == (grants, events)


def test_an_unknown_collaborative_or_organisation_is_refused_naming_the_field(cast, client, admin):
    elsewhere = f.CollaborativeFactory(name="Elsewhere", organisation=cast.outside)
    grants = Grant.objects.count()
    for slug in ("no-such-thing", elsewhere.slug):
        body = {**BANDED_TO_RX1, "audience": "collaborative", "organisation": None}
        errors = _errors(call(client, "POST", admin, GRANTS, {**body, "collaborative": slug}))
        assert errors == {"collaborative": f"RN1 is not a member of a collaborative {slug!r}"}
    errors = _errors(call(client, "POST", admin, GRANTS, {**BANDED_TO_RX1, "organisation": "ZZ9"}))
    assert errors == {"organisation": "No organisation has the code 'ZZ9'"}
    assert Grant.objects.count() == grants


def test_a_collaborative_or_organisation_for_another_audience_is_refused(cast, client, admin):
    body = {**BANDED_TO_RX1, "audience": "everyone", "collaborative": cast.collab.slug}
    assert _errors(call(client, "POST", admin, GRANTS, body)) == {
        "collaborative": "Give a collaborative only with audience 'collaborative'",
        "organisation": "Give an organisation only with audience 'organisation'",
    }


def test_a_body_that_does_not_fit_the_schema_is_refused_naming_the_field(cast, client, admin):
    body = {**BANDED_TO_RX1, "audience": "friends", "purpose": "a\x00b"}
    errors = _errors(call(client, "POST", admin, GRANTS, body))
    assert set(errors) == {"audience", "purpose"}
    assert errors["purpose"] == "must not contain NUL characters"


def test_an_invalid_change_changes_nothing(cast, client, admin):
    grant = open_grant(cast)
    body = {**BANDED_TO_RX1, "purpose": ""}
    assert _errors(call(client, "PUT", admin, f"{GRANTS}/{grant.pk}", body)) == {
        "purpose": "Say in a sentence why this is shared"
    }
    unknown = {**BANDED_TO_RX1, "organisation": "ZZ9"}
    assert set(_errors(call(client, "PUT", admin, f"{GRANTS}/{grant.pk}", unknown))) == {
        "organisation"
    }
    assert open_grant(cast) == grant
    assert Grant.objects.filter(owner=cast.north).count() == 1


def test_an_expired_grant_is_not_in_force_and_shows_only_in_the_history(cast, client, admin):
    body = {**BANDED_TO_RX1, "expires_at": (NOW + timedelta(days=1)).isoformat()}
    grant_id = call(client, "POST", admin, GRANTS, body).json()["id"]
    Grant.objects.filter(pk=grant_id).update(expires_at=timezone.now() - timedelta(seconds=1))

    expired = call(client, "GET", admin, f"{GRANTS}/{grant_id}").json()

    assert (expired["in_force"], expired["reaches"], expired["ended_at"]) == (False, [], None)
    assert grant_id not in [g["id"] for g in call(client, "GET", admin, GRANTS).json()]
    assert grant_id in [g["id"] for g in call(client, "GET", admin, GRANTS, history=True).json()]
