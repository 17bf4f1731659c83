"""Every response carries the Content-Security-Policy, and no page holds what it refuses.

The browser tests check the other half: any page they open that the policy refused anything
on (an inline script or style, an eval) fails its test (tests/functional/conftest.py).
"""

from __future__ import annotations

import re

import pytest

from flotilla.authz.models import Role

POLICY_PARTS = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "object-src 'none'",
    "frame-ancestors 'none'",
)


def policy_of(response) -> dict[str, str]:
    header = response.headers["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/", "/signin/", "/no/such/page", "/api/docs", "/api/openapi.json", "/api/v1/measures"]
)
def test_pages_the_api_and_error_pages_all_carry_the_policy(client, path):
    policy = policy_of(client.get(path))
    for part in POLICY_PARTS:
        directive, sources = part.split(" ", 1)
        assert policy[directive] == sources, (path, directive)
    assert "unsafe" not in " ".join(policy.values())


@pytest.mark.django_db
@pytest.mark.parametrize("page_of", ["/c/{slug}/", "/c/{slug}/aid", "/"])
def test_a_signed_in_page_holds_no_inline_script_or_style(client, cast, page_of):
    client.force_login(cast.people[Role.COORDINATOR])
    response = client.get(page_of.format(slug=cast.collab.slug))
    assert response.status_code == 200
    page = response.content.decode()
    scripts = re.findall(r"<script\b[^>]*>", page)
    assert scripts and all("src=" in tag for tag in scripts), scripts
    assert "<style" not in page
    assert " style=" not in page
    assert re.search(r"\son[a-z]+=", page) is None  # no event handler attributes
