"""Every route, every kind of visitor: who gets in, who is sent to sign in, who sees nothing.

The matrix below has one entry per named route. A new route without an entry fails
`test_every_route_has_an_entry_in_the_matrix`, so nobody can add a page or an API operation
without saying who may use it. Outsiders get 404, never 403, so that they cannot even learn
what exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from flotilla.authz import actions as authz_actions
from flotilla.registry import actions as registry_actions
from flotilla.registry.models import Role
from tests import factories as f

ANON, OUTSIDER = "anonymous", "outsider"
ROLES = [Role.VIEWER, Role.REPORTER, Role.COORDINATOR, Role.ORG_ADMIN]
PEOPLE = [ANON, OUTSIDER, *ROLES]
LOGIN = "login"  # a redirect to the sign-in page

#: Namespaces outside this matrix, each with the reason.
EXEMPT = {
    "admin": "Django admin: platform staff only, guarded by Django's is_staff check "
    "(test_the_admin_turns_away_members_who_are_not_staff)",
}


@dataclass(frozen=True)
class Page:
    method: str
    path: str
    expect: dict[str, object]
    data: dict[str, str] | None = None


def everyone(status: object, anon: object = LOGIN) -> dict[str, object]:
    return {ANON: anon, OUTSIDER: status, **{r: status for r in ROLES}}


def members_only(status: object = 200, roles: tuple[str, ...] = tuple(ROLES)) -> dict[str, object]:
    return {ANON: LOGIN, OUTSIDER: 404, **{r: status if r in roles else 404 for r in ROLES}}


PAGES: dict[str, Page] = {
    "home": Page("GET", "/", everyone(200)),
    "login": Page("GET", "/signin/", {ANON: 200, OUTSIDER: 302, **{r: 302 for r in ROLES}}),
    "logout": Page("GET", "/signout/", everyone(200, anon=200)),
    "about": Page("GET", "/about/", everyone(200, anon=200)),
    "registry:collaboratives": Page("GET", "/collaboratives/", everyone(200)),
    "registry:collaborative_new": Page(
        "GET",
        "/collaboratives/new",
        {ANON: LOGIN, OUTSIDER: 200, **{r: 200 if r == Role.ORG_ADMIN else 404 for r in ROLES}},
    ),
    "registry:collaborative_members": Page("GET", "/c/{slug}/members", members_only()),
    "registry:invite": Page(
        "POST",
        "/c/{slug}/invite",
        members_only(302, (Role.COORDINATOR, Role.ORG_ADMIN)),
        {"code": "RZ9"},
    ),
    "registry:leave": Page(
        "POST", "/c/{slug}/leave", members_only(302, (Role.ORG_ADMIN,)), {"organisation": "{north}"}
    ),
    "registry:collaborative_settings": Page(
        "GET", "/c/{slug}/settings", members_only(200, (Role.COORDINATOR, Role.ORG_ADMIN))
    ),
    # The invitation is for the outsider's organisation: only its admin may answer.
    "registry:respond": Page(
        "POST",
        "/invitations/{invitation}/respond",
        {ANON: LOGIN, OUTSIDER: 302, **{r: 404 for r in ROLES}},
        {"answer": "decline"},
    ),
    "picture:dashboard": Page("GET", "/c/{slug}/", members_only()),
    "picture:dashboard_table": Page("GET", "/c/{slug}/table", members_only()),
    "picture:dashboard_csv": Page("GET", "/c/{slug}/export.csv", members_only()),
    "picture:organisation": Page("GET", "/o/RS1/", members_only()),
    "picture:site": Page("GET", "/o/RS1/s/RS101/", members_only()),
    # Straight to the form when there is one place to report for; a viewer is told why not.
    "reporting:start": Page("GET", "/report/", {**everyone(302), Role.VIEWER: 200}),
    "reporting:form": Page(
        "GET", "/o/RN1/report", members_only(200, (Role.REPORTER, Role.COORDINATOR, Role.ORG_ADMIN))
    ),
    "reporting:no_change": Page(
        "POST",
        "/o/RN1/report/no-change",
        members_only(302, (Role.REPORTER, Role.COORDINATOR, Role.ORG_ADMIN)),
    ),
    "reporting:upload": Page(
        "GET", "/o/RN1/import", members_only(200, (Role.REPORTER, Role.COORDINATOR, Role.ORG_ADMIN))
    ),
    "sharing:access_record": Page("GET", "/o/RN1/access", members_only(200, (Role.ORG_ADMIN,))),
    "sharing:who_can_see": Page("GET", "/o/RN1/sharing", members_only(200, (Role.ORG_ADMIN,))),
    "authz:tokens": Page("GET", "/o/RN1/tokens", members_only(200, (Role.ORG_ADMIN,))),
    "authz:revoke": Page(
        "POST", "/o/RN1/tokens/{token}/revoke", members_only(302, (Role.ORG_ADMIN,))
    ),
}

#: API callers: no token, an outside organisation's read token, a member's tokens, and a
#: signed-in member with no token (the API does not accept sessions).
API_CALLERS = ["none", "outsider_read", "member_submit", "member_read", "session"]


@dataclass(frozen=True)
class Api:
    method: str
    path: str
    expect: dict[str, int]
    body: dict | None = None


def api_read(member_read: int = 200, outsider: int = 404) -> dict[str, int]:
    return {
        "none": 401,
        "outsider_read": outsider,
        "member_submit": 403,
        "member_read": member_read,
        "session": 401,
    }


REPORT = {"values": [{"measure": "ga_open", "as_of": "2026-01-05T08:00:00+00:00", "value": 10}]}

APIS: dict[str, Api] = {
    "api:openapi-json": Api("GET", "/api/openapi.json", {c: 200 for c in API_CALLERS}),
    "api:openapi-view": Api("GET", "/api/docs", {c: 200 for c in API_CALLERS}),
    "api:api-root": Api("GET", "/api/", {c: 404 for c in API_CALLERS}),
    "api:submit_report": Api(
        "POST",
        "/api/reports",
        {
            "none": 401,
            "outsider_read": 403,
            "member_submit": 201,
            "member_read": 403,
            "session": 401,
        },
        REPORT,
    ),
    "api:list_measures": Api(
        "GET",
        "/api/measures",
        {c: 401 if c in ("none", "session") else 200 for c in API_CALLERS},
    ),
    "api:list_collaboratives": Api("GET", "/api/collaboratives", api_read(200, 200)),
    "api:collaborative_picture": Api("GET", "/api/collaboratives/{slug}/picture", api_read()),
    "api:organisation_history": Api(
        "GET", "/api/organisations/RS1/history?measure=ga_open", api_read()
    ),
}


def named_routes() -> list[str]:
    def walk(resolver: URLResolver, ns: str | None) -> list[str]:
        out = []
        for p in resolver.url_patterns:
            if isinstance(p, URLResolver):
                child = ":".join(filter(None, [ns, p.namespace])) or None
                out += walk(p, child)
            elif isinstance(p, URLPattern):
                out.append(":".join(filter(None, [ns, p.name or "<unnamed>"])))
        return out

    return walk(get_resolver(), None)


def test_every_route_has_an_entry_in_the_matrix():
    routes = [r for r in named_routes() if r.split(":")[0] not in EXEMPT]
    missing = sorted(set(routes) - PAGES.keys() - APIS.keys())
    assert not missing, f"routes with no authorisation entry: {missing}"
    stale = sorted((PAGES.keys() | APIS.keys()) - set(routes))
    assert not stale, f"matrix entries for routes that no longer exist: {stale}"


@pytest.fixture
def world(cast):
    site = f.SiteFactory(code="RS101", name="South General", organisation=cast.south)
    f.report(cast.south, datetime(2026, 1, 5, 8, tzinfo=UTC), site=site, ga_open=50)
    f.OrganisationFactory(code="RZ9", name="Invitee Trust")
    inviter = cast.people[Role.ORG_ADMIN]
    invitation = registry_actions.invite(
        by=inviter, collaborative=cast.collab, organisation=cast.outside
    )
    token, _ = authz_actions.issue_token(
        by=inviter, organisation=cast.north, name="existing", scope="read"
    )
    f.report(cast.north, datetime(2026, 1, 5, 8, tzinfo=UTC), ga_open=100)
    return {
        "cast": cast,
        "fill": {
            "slug": cast.collab.slug,
            "north": str(cast.north.pk),
            "invitation": str(invitation.pk),
            "token": str(token.pk),
        },
    }


def _outcome(response) -> object:
    if response.status_code == 302 and "/signin/" in response["Location"]:
        return LOGIN
    return response.status_code


@pytest.mark.django_db
@pytest.mark.parametrize("who", PEOPLE)
@pytest.mark.parametrize("route", sorted(PAGES))
def test_page_access_matches_the_matrix(client, world, route, who):
    page = PAGES[route]
    cast = world["cast"]
    if who == OUTSIDER:
        client.force_login(cast.people["outsider"])
    elif who != ANON:
        client.force_login(cast.people[who])
    path = page.path.format(**world["fill"])
    data = {k: v.format(**world["fill"]) for k, v in (page.data or {}).items()}
    response = client.post(path, data) if page.method == "POST" else client.get(path)
    assert _outcome(response) == page.expect[who], f"{who} {page.method} {path}"


@pytest.mark.django_db
@pytest.mark.parametrize("caller", API_CALLERS)
@pytest.mark.parametrize("route", sorted(APIS))
def test_api_access_matches_the_matrix(client, world, route, caller):
    api = APIS[route]
    cast = world["cast"]
    headers = {}
    if caller == "session":
        client.force_login(cast.people[Role.ORG_ADMIN])
    elif caller != "none":
        org = cast.outside if caller == "outsider_read" else cast.north
        scope = caller.rsplit("_", 1)[1]
        admin = cast.people["outsider"] if org == cast.outside else cast.people[Role.ORG_ADMIN]
        _, secret = authz_actions.issue_token(by=admin, organisation=org, name="t", scope=scope)
        headers["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    path = api.path.format(**world["fill"])
    if api.method == "POST":
        response = client.post(path, api.body, content_type="application/json", **headers)
    else:
        response = client.get(path, **headers)
    assert response.status_code == api.expect[caller], f"{caller} {api.method} {path}"


@pytest.mark.django_db
def test_the_admin_turns_away_members_who_are_not_staff(client, cast):
    client.force_login(cast.people[Role.ORG_ADMIN])
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
