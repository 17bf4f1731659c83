"""Every route, every kind of visitor, every kind of grant: who gets in, who is sent to sign
in, who sees nothing.

The matrix below has one entry per named route. A new route without an entry fails
`test_every_route_has_an_entry_in_the_matrix`, so nobody can add a page or an API operation
without saying who may use it. Outsiders get 404, never 403, so that they cannot even learn
what exists.

Three organisations take part: North (whose people and tokens visit, in every role), South
(whose data is read; a fellow member of North's collaborative) and Outside (in no
collaborative with either). Each grant setting below changes what South shares, and says
which outcomes change with it; every route is visited by every visitor under every setting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from flotilla.accounts import actions as accounts_actions
from flotilla.authz import actions as authz_actions
from flotilla.authz.models import Membership, Role
from flotilla.collaboratives import actions as collaboratives_actions
from flotilla.sharing import actions as sharing
from flotilla.sharing.models import Grant
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
    "collaboratives:collaboratives": Page("GET", "/collaboratives/", everyone(200)),
    "collaboratives:collaborative_new": Page(
        "GET",
        "/collaboratives/new",
        {ANON: LOGIN, OUTSIDER: 200, **{r: 200 if r == Role.ORG_ADMIN else 404 for r in ROLES}},
    ),
    "collaboratives:collaborative_members": Page("GET", "/c/{slug}/members", members_only()),
    # RZ9 has nobody on Flotilla: the answer is a page with the link for its first admin.
    "collaboratives:invite": Page(
        "POST",
        "/c/{slug}/invite",
        members_only(200, (Role.COORDINATOR, Role.ORG_ADMIN)),
        {"code": "RZ9"},
    ),
    "collaboratives:leave": Page(
        "POST", "/c/{slug}/leave", members_only(302, (Role.ORG_ADMIN,)), {"organisation": "{north}"}
    ),
    "collaboratives:leave_confirm": Page(
        "GET", "/c/{slug}/leave/RN1", members_only(200, (Role.ORG_ADMIN,))
    ),
    "collaboratives:collaborative_settings": Page(
        "GET", "/c/{slug}/settings", members_only(200, (Role.COORDINATOR, Role.ORG_ADMIN))
    ),
    # The invitation is for the outsider's organisation: only its admin may answer.
    "collaboratives:respond": Page(
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
    "sharing:grant_new": Page("GET", "/o/RN1/sharing/new", members_only(200, (Role.ORG_ADMIN,))),
    "sharing:grant_edit": Page(
        "GET", "/o/RN1/sharing/{grant}", members_only(200, (Role.ORG_ADMIN,))
    ),
    "sharing:grant_revoke": Page(
        "POST", "/o/RN1/sharing/{grant}/revoke", members_only(302, (Role.ORG_ADMIN,))
    ),
    "authz:tokens": Page("GET", "/o/RN1/tokens", members_only(200, (Role.ORG_ADMIN,))),
    "authz:revoke": Page(
        "POST", "/o/RN1/tokens/{token}/revoke", members_only(302, (Role.ORG_ADMIN,))
    ),
    # People: only an organisation's admins manage its people and decide its access requests.
    "accounts:people": Page("GET", "/o/RN1/people", members_only(200, (Role.ORG_ADMIN,))),
    "accounts:change_role": Page(
        "POST",
        "/o/RN1/people/{viewer_membership}/role",
        members_only(302, (Role.ORG_ADMIN,)),
        {"role": "reporter"},
    ),
    "accounts:remove": Page(
        "POST", "/o/RN1/people/{viewer_membership}/remove", members_only(302, (Role.ORG_ADMIN,))
    ),
    "accounts:withdraw": Page(
        "POST",
        "/o/RN1/people/invitations/{person_invitation}/withdraw",
        members_only(302, (Role.ORG_ADMIN,)),
    ),
    "accounts:decide": Page(
        "GET", "/access-requests/{access_request}", members_only(200, (Role.ORG_ADMIN,))
    ),
    # The outsider's organisation has an admin, so no first-admin link: refused with a message.
    "collaboratives:first_admin_link": Page(
        "POST",
        "/c/{slug}/invitations/{invitation}/first-admin-link",
        members_only(302, (Role.COORDINATOR, Role.ORG_ADMIN)),
    ),
    # The link is the key: anyone may open it (the signed-in are told it is for someone else).
    "accounts:accept": Page("GET", "/join/{person_secret}", everyone(200, anon=200)),
    "accounts:find_organisation": Page("GET", "/request-access/", everyone(200, anon=200)),
    "accounts:request_access": Page("GET", "/request-access/RN1", everyone(200, anon=200)),
    "accounts:password_reset": Page("GET", "/password-reset/", everyone(200, anon=200)),
    "accounts:password_reset_done": Page("GET", "/password-reset/sent", everyone(200, anon=200)),
    "accounts:password_reset_confirm": Page(
        "GET", "/password-reset/MQ/not-a-token/", everyone(200, anon=200)
    ),
    "accounts:password_reset_complete": Page(
        "GET", "/password-reset/done", everyone(200, anon=200)
    ),
    # Everyone signed in has an inbox, and only ever reaches their own notifications.
    "notifications:inbox": Page("GET", "/inbox", everyone(200)),
    "notifications:read": Page("POST", "/inbox/read", everyone(302)),
    "notifications:clear": Page("POST", "/inbox/clear", everyone(302)),
    # Notification settings and the emails sent: everyone's own, nobody else's (no id to try).
    "notifications:preferences": Page("GET", "/inbox/settings", everyone(200)),
    "notifications:sent": Page("GET", "/inbox/sent", everyone(200)),
    # An organisation's webhooks and their deliveries (dead letters included): its admins only.
    "notifications:webhooks": Page("GET", "/o/RN1/webhooks", members_only(200, (Role.ORG_ADMIN,))),
    "notifications:webhook_remove": Page(
        "POST", "/o/RN1/webhooks/{webhook}/remove", members_only(302, (Role.ORG_ADMIN,))
    ),
    "notifications:webhook_test": Page(
        "POST", "/o/RN1/webhooks/{webhook}/test", members_only(302, (Role.ORG_ADMIN,))
    ),
    "notifications:webhook_deliveries": Page(
        "GET", "/o/RN1/webhooks/deliveries", members_only(200, (Role.ORG_ADMIN,))
    ),
    "notifications:replay": Page(
        "POST",
        "/o/RN1/webhooks/deliveries/{dead_letter}/replay",
        members_only(302, (Role.ORG_ADMIN,)),
    ),
    # Platform staff only (Django's is_staff, which no organisation role gives): every member
    # and outsider gets 404 (test_jobs.py shows staff getting in).
    "jobs:overview": Page("GET", "/platform/jobs", members_only(404, ())),
}

#: API callers: no token, an outside organisation's tokens, a member's tokens of each scope,
#: and a signed-in member with no token (the API does not accept sessions).
API_CALLERS = [
    "none",
    "outsider_read",
    "outsider_sharing",
    "member_submit",
    "member_read",
    "member_sharing",
    "session",
]


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
        "outsider_sharing": 403,
        "member_submit": 403,
        "member_read": member_read,
        "member_sharing": 403,
        "session": 401,
    }


def api_sharing(member: int = 200, outsider: int = 404) -> dict[str, int]:
    """Grants are managed with a sharing token of the organisation that owns them."""
    return {
        "none": 401,
        "outsider_read": 403,
        "outsider_sharing": outsider,
        "member_submit": 403,
        "member_read": 403,
        "member_sharing": member,
        "session": 401,
    }


GRANT = {
    "audience": "everyone",
    "groups": ["escalation"],
    "detail": "status",
    "purpose": "Our OPEL level, for every organisation",
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
            "outsider_sharing": 403,
            "member_submit": 201,
            "member_read": 403,
            "member_sharing": 403,
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
    # Each organisation's sharing token manages its own grants; {grant} is North's.
    "api:list_grants": Api("GET", "/api/sharing/grants", api_sharing(200, 200)),
    "api:add_grant": Api("POST", "/api/sharing/grants", api_sharing(201, 201), GRANT),
    "api:get_grant": Api("GET", "/api/sharing/grants/{grant}", api_sharing()),
    "api:change_grant": Api("PUT", "/api/sharing/grants/{grant}", api_sharing(201), GRANT),
    "api:revoke_grant": Api("DELETE", "/api/sharing/grants/{grant}", api_sharing()),
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


def _south_grant(cast) -> Grant:
    return Grant.objects.get(owner=cast.south, collaborative=cast.collab, ended_at__isnull=True)


def _terms(audience: str = "collaborative", **kw) -> sharing.Terms:
    base = {
        "groups": ("capacity", "flow", "workforce", "escalation", "narrative"),
        "detail": "exact",
        "delay_hours": 0,
        "purpose": "Route matrix",
    }
    return sharing.Terms(audience=audience, **{**base, **kw})


def _narrow(**kw) -> Callable[[object], None]:
    def apply(cast) -> None:
        terms = _terms(collaborative=cast.collab, **kw)
        sharing.change_grant(by=f.SYSTEM, grant=_south_grant(cast), terms=terms)

    return apply


def _revoke(cast) -> None:
    sharing.revoke_grant(by=f.SYSTEM, grant=_south_grant(cast))


def _to_outside(cast) -> None:
    _revoke(cast)
    terms = _terms("organisation", audience_organisation=cast.outside, detail="banded")
    sharing.add_grant(by=f.SYSTEM, owner=cast.south, terms=terms)


def _to_everyone(cast) -> None:
    sharing.add_grant(by=f.SYSTEM, owner=cast.south, terms=_terms("everyone", detail="status"))


def _to_public(cast) -> None:
    terms = _terms("public", groups=("escalation",), detail="status", delay_hours=24)
    sharing.add_grant(by=f.SYSTEM, owner=cast.south, terms=terms)


def _expired(cast) -> None:
    _revoke(cast)
    terms = _terms("organisation", audience_organisation=cast.outside)
    terms = sharing.Terms(**{**terms.__dict__, "expires_at": timezone.now() + timedelta(hours=1)})
    grant = sharing.add_grant(by=f.SYSTEM, owner=cast.south, terms=terms)
    # An hour passes.
    Grant.objects.filter(pk=grant.pk).update(expires_at=timezone.now() - timedelta(seconds=1))


#: The routes that read South's own data (the others do not depend on South's grants).
SOUTH_PAGES = ("picture:organisation", "picture:site")
SOUTH_APIS = ("api:organisation_history",)


@dataclass(frozen=True)
class Setting:
    """A grant setting of South's, and the outcomes it changes from the open default."""

    apply: Callable[[object], None] | None
    pages: dict[str, dict[str, object]] = field(default_factory=dict)
    apis: dict[str, dict[str, int]] = field(default_factory=dict)


def _south_pages(**who: object) -> dict[str, dict[str, object]]:
    return {route: dict(who) for route in SOUTH_PAGES}


def _south_apis(**caller: int) -> dict[str, dict[str, int]]:
    return {route: dict(caller) for route in SOUTH_APIS}


_NORTH_LOSES = {r: 404 for r in ROLES}
SETTINGS: dict[str, Setting] = {
    "open by default": Setting(None),
    "banded, 24 hours late, capacity only": Setting(
        _narrow(detail="banded", delay_hours=24, groups=("capacity",))
    ),
    "status only, escalation only": Setting(_narrow(detail="status", groups=("escalation",))),
    "revoked": Setting(_revoke, _south_pages(**_NORTH_LOSES), _south_apis(member_read=404)),
    "to a named outside organisation only": Setting(
        _to_outside,
        _south_pages(**_NORTH_LOSES, **{OUTSIDER: 200}),
        _south_apis(member_read=404, outsider_read=200),
    ),
    "to every organisation": Setting(
        _to_everyone, _south_pages(**{OUTSIDER: 200}), _south_apis(outsider_read=200)
    ),
    # The public sees the page without signing in; the API always needs a token.
    "to the public": Setting(
        _to_public, _south_pages(**{OUTSIDER: 200, ANON: 200}), _south_apis(outsider_read=200)
    ),
    "to an outside organisation, expired": Setting(
        _expired, _south_pages(**_NORTH_LOSES), _south_apis(member_read=404)
    ),
}


@pytest.fixture
def world(cast, settings):
    # North's webhook points at a port on this machine where nothing answers.
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    hook, _secret = f.webhook(cast.north)
    dead_letter = f.dead_letter(hook)
    site = f.SiteFactory(code="RS101", name="South General", organisation=cast.south)
    f.report(cast.south, datetime(2026, 1, 5, 8, tzinfo=UTC), site=site, ga_open=50)
    f.report(cast.south, datetime(2026, 1, 5, 8, tzinfo=UTC), ga_open=50, opel_declared=3)
    f.OrganisationFactory(code="RZ9", name="Invitee Trust")
    inviter = cast.people[Role.ORG_ADMIN]
    invitation = collaboratives_actions.invite(
        by=inviter, collaborative=cast.collab, organisation=cast.outside
    )
    token, _ = authz_actions.issue_token(
        by=inviter, organisation=cast.north, name="existing", scope="read"
    )
    f.report(cast.north, datetime(2026, 1, 5, 8, tzinfo=UTC), ga_open=100)
    north_grant = Grant.objects.get(owner=cast.north, ended_at__isnull=True)
    person_invitation, person_secret = accounts_actions.invite_person(
        by=inviter,
        organisation=cast.north,
        who="newcomer@example.nhs.uk",
        role=Role.VIEWER,
        base_url="http://testserver/",
    )
    access_request = accounts_actions.request_access(
        by=f.SYSTEM,
        organisation=cast.north,
        name="A Newcomer",
        email="a@example.nhs.uk",
        reason="-",
    )
    viewer_membership = Membership.objects.get(
        user=cast.people[Role.VIEWER], organisation=cast.north
    )
    return {
        "cast": cast,
        "fill": {
            "slug": cast.collab.slug,
            "north": str(cast.north.pk),
            "invitation": str(invitation.pk),
            "token": str(token.pk),
            "grant": str(north_grant.pk),
            "viewer_membership": str(viewer_membership.pk),
            "person_invitation": str(person_invitation.pk),
            "person_secret": person_secret,
            "access_request": str(access_request.pk),
            "webhook": str(hook.pk),
            "dead_letter": str(dead_letter.pk),
        },
    }


def _outcome(response) -> object:
    if response.status_code == 302 and "/signin/" in response["Location"]:
        return LOGIN
    return response.status_code


def _undone(visit: Callable[[], object]) -> object:
    """Visit a route and undo whatever it changed, so every route meets the same world."""
    with transaction.atomic():
        outcome = visit()
        transaction.set_rollback(True)
    return outcome


@pytest.mark.django_db
@pytest.mark.parametrize("who", PEOPLE)
@pytest.mark.parametrize("setting", list(SETTINGS))
def test_page_access_matches_the_matrix_under_every_grant_setting(client, world, setting, who):
    cast, fill = world["cast"], world["fill"]
    if SETTINGS[setting].apply:
        SETTINGS[setting].apply(cast)

    def visit(page: Page) -> object:
        if who == OUTSIDER:
            client.force_login(cast.people["outsider"])
        elif who != ANON:
            client.force_login(cast.people[who])
        else:
            client.logout()
        path = page.path.format(**fill)
        data = {k: v.format(**fill) for k, v in (page.data or {}).items()}
        return _outcome(client.post(path, data) if page.method == "POST" else client.get(path))

    mismatches = []
    for route, page in sorted(PAGES.items()):
        expected = SETTINGS[setting].pages.get(route, {}).get(who, page.expect[who])
        got = _undone(lambda page=page: visit(page))
        if got != expected:
            mismatches.append(f"{route}: {page.method} {page.path} gave {got}, expected {expected}")
    assert not mismatches, f"{who} under '{setting}':\n" + "\n".join(mismatches)


@pytest.mark.django_db
@pytest.mark.parametrize("caller", API_CALLERS)
@pytest.mark.parametrize("setting", list(SETTINGS))
def test_api_access_matches_the_matrix_under_every_grant_setting(client, world, setting, caller):
    cast, fill = world["cast"], world["fill"]
    if SETTINGS[setting].apply:
        SETTINGS[setting].apply(cast)

    def visit(api: Api) -> int:
        headers = {}
        client.logout()
        if caller == "session":
            client.force_login(cast.people[Role.ORG_ADMIN])
        elif caller != "none":
            who, scope = caller.rsplit("_", 1)
            org = cast.outside if who == "outsider" else cast.north
            admin = cast.people["outsider"] if who == "outsider" else cast.people[Role.ORG_ADMIN]
            _, secret = authz_actions.issue_token(by=admin, organisation=org, name="t", scope=scope)
            headers["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
        path = api.path.format(**fill)
        if api.method == "GET":
            return client.get(path, **headers).status_code
        call = getattr(client, api.method.lower())
        return call(path, api.body, content_type="application/json", **headers).status_code

    mismatches = []
    for route, api in sorted(APIS.items()):
        expected = SETTINGS[setting].apis.get(route, {}).get(caller, api.expect[caller])
        got = _undone(lambda api=api: visit(api))
        if got != expected:
            mismatches.append(f"{route}: {api.method} {api.path} gave {got}, expected {expected}")
    assert not mismatches, f"{caller} under '{setting}':\n" + "\n".join(mismatches)


@pytest.mark.django_db
def test_the_admin_turns_away_members_who_are_not_staff(client, cast):
    client.force_login(cast.people[Role.ORG_ADMIN])
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
