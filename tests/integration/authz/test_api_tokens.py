"""API tokens: who may issue them, how they are stored, and what a bad one gets."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from flotilla.audit.models import AuditEvent
from flotilla.authz import actions
from flotilla.authz.models import ApiToken, TokenScope


def issue(cast, scope=TokenScope.READ):
    return actions.issue_token(
        by=cast.people["org_admin"], organisation=cast.north, name="EPR feed", scope=scope
    )


def get(client, secret=None, path="/api/measures"):
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return client.get(path, headers=headers)


def test_a_request_without_a_token_is_refused_with_401(cast, client):
    for path in ["/api/measures", "/api/collaboratives", "/api/organisations/RN1/history"]:
        response = get(client, path=path)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.json() == {
            "detail": "A valid API token is needed: send 'Authorization: Bearer <token>'. "
            "The token may be wrong or revoked.",
            "errors": [],
        }
    assert client.post("/api/reports", {}, content_type="application/json").status_code == 401


def test_a_wrong_token_is_refused_with_401(cast, client):
    issue(cast)
    assert get(client, "flt_not-a-real-secret").status_code == 401
    assert client.get("/api/measures", headers={"Authorization": "Basic abc"}).status_code == 401


def test_a_revoked_token_is_refused_with_401(cast, client):
    token, secret = issue(cast)
    assert get(client, secret).status_code == 200
    actions.revoke_token(by=cast.people["org_admin"], token=token)
    assert get(client, secret).status_code == 401


def test_tokens_are_stored_hashed_and_the_secret_is_not_in_the_database(cast):
    token, secret = issue(cast)
    assert secret.startswith("flt_")
    assert len(secret) > 40
    assert token.prefix == secret[:12]
    assert token.secret_sha256 == ApiToken.hash_secret(secret)
    with connection.cursor() as cursor:
        cursor.execute("select * from authz_apitoken")
        rows = cursor.fetchall()
        cursor.execute("select before, after from audit_auditevent")
        rows += cursor.fetchall()
    assert rows
    assert not any(secret in str(value) for row in rows for value in row)


def test_each_token_has_its_own_secret(cast):
    secrets = {issue(cast)[1] for _ in range(5)}
    assert len(secrets) == 5


def test_only_someone_who_manages_tokens_may_issue_or_revoke_them(cast):
    for who in ["reporter", "coordinator", "viewer", "outsider"]:
        with pytest.raises(PermissionDenied):
            actions.issue_token(
                by=cast.people[who], organisation=cast.north, name="x", scope=TokenScope.READ
            )
    token, _ = issue(cast)
    with pytest.raises(PermissionDenied):
        actions.revoke_token(by=cast.people["outsider"], token=token)
    assert ApiToken.objects.get().revoked_at is None


def test_issuing_and_revoking_are_audited(cast):
    token, _ = issue(cast)
    actions.revoke_token(by=cast.people["org_admin"], token=token)
    actions.revoke_token(by=cast.people["org_admin"], token=token)
    events = AuditEvent.objects.filter(action__startswith="authz.token_")
    assert [e.action for e in events] == ["authz.token_issued", "authz.token_revoked"]
    assert all(e.actor_label == "north_org_admin" for e in events)
    assert events[1].after["revoked_at"] is not None


def test_a_token_needs_a_name_and_a_known_scope(cast):
    admin = cast.people["org_admin"]
    with pytest.raises(ValueError, match="needs a name"):
        actions.issue_token(by=admin, organisation=cast.north, name=" ", scope="read")
    with pytest.raises(ValueError, match="Unknown scope"):
        actions.issue_token(by=admin, organisation=cast.north, name="x", scope="admin")


def test_use_of_a_token_is_recorded_at_most_once_a_minute(cast, client):
    token, secret = issue(cast)
    get(client, secret)
    first = ApiToken.objects.get().last_used_at
    assert first is not None
    get(client, secret)
    assert ApiToken.objects.get().last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    get(client, secret)
    assert ApiToken.objects.get().last_used_at > first - timedelta(seconds=1)
    assert ApiToken.objects.get().last_used_at <= timezone.now()


def test_the_issue_token_command_prints_the_secret_once(cast):
    out, err = StringIO(), StringIO()
    call_command(
        "issue-token",
        "--org=rn1",
        "--name=EPR feed",
        "--scope=submit",
        "--by=north_org_admin",
        stdout=out,
        stderr=err,
    )
    secret = out.getvalue().strip()
    token = ApiToken.objects.get()
    assert token.secret_sha256 == ApiToken.hash_secret(secret)
    assert token.scope == "submit"
    assert secret not in err.getvalue()
    assert "cannot be shown again" in err.getvalue()


def test_the_issue_token_command_refuses_someone_who_may_not(cast):
    with pytest.raises(CommandError, match="may not manage API tokens for RN1"):
        call_command("issue-token", "--org=RN1", "--name=x", "--scope=read", "--by=north_reporter")
    with pytest.raises(CommandError, match="No organisation"):
        call_command("issue-token", "--org=ZZZ", "--name=x", "--scope=read", "--by=outsider")
    with pytest.raises(CommandError, match="No user"):
        call_command("issue-token", "--org=RN1", "--name=x", "--scope=read", "--by=nobody")
    assert not ApiToken.objects.exists()


def test_the_api_documentation_is_published_without_a_token(client, db):
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
    assert b"cdn.jsdelivr" not in docs.content  # works offline: served from our static files
    schema = client.get("/api/openapi.json").json()
    assert (schema["info"]["title"], schema["info"]["version"]) == ("Flotilla API", "1")


def test_every_api_operation_needs_a_token(client, db):
    # Deny-by-default: an operation opened with auth=None must be added here on purpose.
    opened: set[tuple[str, str]] = set()
    schema = client.get("/api/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if (method, path) not in opened:
                assert operation.get("security") == [{"TokenAuth": []}], (method, path)
