"""Organisation admins issue tokens (shown once) and revoke them (effective at once)."""

from __future__ import annotations

import pytest

from flotilla.authz.models import ApiToken, Role

pytestmark = pytest.mark.django_db


def test_an_issued_token_is_shown_once_and_stored_only_as_a_hash(client, cast):
    client.force_login(cast.people[Role.ORG_ADMIN])
    page = client.post("/o/RN1/tokens", {"name": "Bed system", "scope": "submit"}).content.decode()
    token = ApiToken.objects.get()
    secret = page.split('id="new-token">')[1].split("<")[0]
    assert token.secret_sha256 == ApiToken.hash_secret(secret)
    assert secret not in client.get("/o/RN1/tokens").content.decode()


def test_a_token_without_a_name_is_refused_with_the_reason(client, cast):
    client.force_login(cast.people[Role.ORG_ADMIN])
    page = client.post("/o/RN1/tokens", {"name": " ", "scope": "read"}).content.decode()
    assert "A token needs a name" in page
    assert not ApiToken.objects.exists()


def test_a_revoked_token_stops_working_at_once(client, cast):
    client.force_login(cast.people[Role.ORG_ADMIN])
    page = client.post("/o/RN1/tokens", {"name": "Reader", "scope": "read"}).content.decode()
    secret = page.split('id="new-token">')[1].split("<")[0]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    assert client.get("/api/collaboratives", **auth).status_code == 200
    client.post(f"/o/RN1/tokens/{ApiToken.objects.get().pk}/revoke")
    assert client.get("/api/collaboratives", **auth).status_code == 401
