"""Every route, every kind of visitor, every kind of grant: who gets in, who is sent to sign
in, who sees nothing.

The matrix has one entry per named route, in parts: each app's `routes.py` (and
`shell_routes.py`) says who may use its routes, in the words of `matrix.py`. A new route
without an entry fails `test_every_route_has_an_entry_in_the_matrix`, so nobody can add a
page or an API operation without saying who may use it. Outsiders get 404, never 403, so
that they cannot even learn what exists.

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
from flotilla.coordination import actions as coordination_actions
from flotilla.escalation.models import ComputedLevel, ProfileVersion
from flotilla.exchange import actions as exchange_actions
from flotilla.planning import actions as planning_actions
from flotilla.sharing import actions as sharing
from flotilla.sharing.models import Grant
from tests import factories as f
from tests.integration import shell_routes
from tests.integration.accounts import routes as accounts_routes
from tests.integration.alerts import api_routes as alerts_api_routes
from tests.integration.alerts import routes as alerts_routes
from tests.integration.authz import routes as authz_routes
from tests.integration.collaboratives import routes as collaboratives_routes
from tests.integration.coordination import api_routes as coordination_api_routes
from tests.integration.coordination import routes as coordination_routes
from tests.integration.directory import api_routes as directory_api_routes
from tests.integration.directory import routes as directory_routes
from tests.integration.escalation import routes as escalation_routes
from tests.integration.exchange import api_routes as exchange_api_routes
from tests.integration.exchange import routes as exchange_routes
from tests.integration.interop import edxl_routes as interop_edxl_routes
from tests.integration.interop import saner_routes as interop_saner_routes
from tests.integration.jobs import routes as jobs_routes
from tests.integration.matrix import (
    ANON,
    API_CALLERS,
    LOGIN,
    OUTSIDER,
    PEOPLE,
    ROLES,
    Api,
    Page,
)
from tests.integration.notifications import routes as notifications_routes
from tests.integration.picture import routes as picture_routes
from tests.integration.planning import routes as planning_routes
from tests.integration.reporting import routes as reporting_routes
from tests.integration.sharing import routes as sharing_routes

#: Namespaces outside this matrix, each with the reason.
EXEMPT = {
    "admin": "Django admin: platform staff only, guarded by Django's is_staff check "
    "(test_the_admin_turns_away_members_who_are_not_staff)",
}


#: Each app's part of the matrix, and the shell's.
PARTS = [
    shell_routes,
    accounts_routes,
    alerts_routes,
    alerts_api_routes,
    authz_routes,
    collaboratives_routes,
    coordination_routes,
    coordination_api_routes,
    directory_routes,
    directory_api_routes,
    escalation_routes,
    exchange_routes,
    exchange_api_routes,
    interop_edxl_routes,
    interop_saner_routes,
    jobs_routes,
    notifications_routes,
    picture_routes,
    planning_routes,
    reporting_routes,
    sharing_routes,
]


def _combined(name: str) -> dict:
    out: dict = {}
    for part in PARTS:
        entries = getattr(part, name)
        clash = out.keys() & entries.keys()
        assert not clash, f"{part.__name__} repeats {sorted(clash)}"
        out.update(entries)
    return out


PAGES: dict[str, Page] = _combined("PAGES")
APIS: dict[str, Api] = _combined("APIS")


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
SOUTH_PAGES = ("picture:organisation", "picture:site", "escalation:organisation")
SOUTH_APIS = (
    "api:organisation_history",
    "api:organisation_levels",
    "api:organisation_level_history",
    "api:organisation_forecasts",
    "api:organisation_forecasts_csv",
)


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
# A part may say how these settings change its own routes' outcomes (`GRANT_PAGES`,
# `GRANT_APIS`: setting → route → visitor → outcome), beside the routes it describes.
for _part in PARTS:
    for _name, _routes in getattr(_part, "GRANT_PAGES", {}).items():
        for _route, _who in _routes.items():
            SETTINGS[_name].pages.setdefault(_route, {}).update(_who)
    for _name, _routes in getattr(_part, "GRANT_APIS", {}).items():
        for _route, _who in _routes.items():
            SETTINGS[_name].apis.setdefault(_route, {}).update(_who)


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
    # Mutual aid: South asks; North asks and South offers for it, North takes up one; South
    # also has a standing offer of beds to the collaborative.
    south_coordinator = f.UserFactory(username="matrix_south_coordinator")
    f.member(south_coordinator, cast.south, Role.COORDINATOR)
    north_site = f.SiteFactory(code="RN101", name="North General", organisation=cast.north)
    aid_request = f.aid_request(
        by=south_coordinator, organisation=cast.south, collaborative=cast.collab, site=site
    )
    north_request = f.aid_request(
        by=cast.people[Role.COORDINATOR],
        organisation=cast.north,
        collaborative=cast.collab,
        site=north_site,
        quantity=3,
    )
    aid_offer = f.offer(
        by=south_coordinator,
        organisation=cast.south,
        site=site,
        request=north_request,
        quantity=3,
    )
    aid_commitment = exchange_actions.commit(
        by=cast.people[Role.COORDINATOR], offer=aid_offer, quantity=1
    )
    standing_offer = f.offer(
        by=south_coordinator,
        organisation=cast.south,
        site=site,
        collaborative=cast.collab,
        kind="beds",
        details={"bed_type": "ga", "from_date": "2026-12-01", "until_date": "2026-12-31"},
        quantity=4,
    )
    # Escalation: both trusts' levels computed from those reports.
    f.levels(cast.north, cast.south)
    # Forecasts: South's, from a figure of its beds occupied.
    f.report(cast.south, datetime(2026, 1, 4, 8, tzinfo=UTC), ga_occupied=40)
    planning_actions.recompute(organisation=cast.south)
    north_level = ComputedLevel.objects.filter(organisation=cast.north).first()
    # Who to call: an entry in each trust's on-call directory.
    f.on_call(cast.south, by=south_coordinator)
    north_on_call = f.on_call(cast.north, by=cast.people[Role.COORDINATOR])
    # Alerts: the collaborative's rule that South's report is overdue (it last reported in
    # January 2026), judged at once; its alert is shown to every member's people.
    alert_rule = f.alert_rule(
        by=cast.people[Role.COORDINATOR],
        collaborative=cast.collab,
        kind="overdue",
        organisation=cast.south,
        threshold=1,
    )
    f.run_alert_jobs()
    alert = alert_rule.alerts.get()
    # Planning: North's coordinator put a move from North to South to them as drafts.
    north_draft, _south_draft = f.draft(
        by=cast.people[Role.COORDINATOR],
        collaborative=cast.collab,
        sender=cast.north,
        receiver=cast.south,
    )
    # Working together: an objective, a workstream, an action and a decision in the log, a
    # call held today, and North's viewer given a role in the collaborative.
    coordinator = cast.people[Role.COORDINATOR]
    objective = f.objective(by=coordinator, collaborative=cast.collab)
    workstream = f.workstream(by=coordinator, collaborative=cast.collab, sponsor=coordinator)
    call = coordination_actions.start_call(
        by=coordinator, collaborative=cast.collab, held_on=timezone.localdate()
    )
    log_action = f.log_item(
        by=coordinator, collaborative=cast.collab, workstream=workstream, call=call
    )
    decision = f.log_item(by=coordinator, collaborative=cast.collab, kind="decision", call=call)
    role = f.role(
        cast.people[Role.VIEWER], cast.collab, cast.north, "team", by=cast.people[Role.ORG_ADMIN]
    )
    return {
        "cast": cast,
        "fill": {
            "objective": str(objective.pk),
            "workstream": str(workstream.pk),
            "log_action": str(log_action.pk),
            "decision": str(decision.pk),
            "decision_ref": decision.reference,
            "call_day": call.held_on.isoformat(),
            "role": str(role.pk),
            "north_level": str(north_level.pk),
            "profile": str(ProfileVersion.objects.get(code="acute").pk),
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
            "aid_request": str(aid_request.pk),
            "north_request": str(north_request.pk),
            "aid_offer": str(aid_offer.pk),
            "aid_commitment": str(aid_commitment.pk),
            "standing_offer": str(standing_offer.pk),
            "alert_rule": str(alert_rule.pk),
            "alert": str(alert.pk),
            "north_draft": str(north_draft.pk),
            "north_site": str(north_site.pk),
            "north_on_call": str(north_on_call.pk),
        },
    }


def _expected(api: Api, caller: str) -> int:
    """What the matrix expects of a caller: every entry names every caller."""
    return api.expect[caller]


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


#: What an admin's session reaches before it passes its second factor (ADR 0031): each route
#: named here answers as given; every other page sends them to the step.
SECOND_FACTOR_STEPS = {
    "no app yet": (
        "/account/second-factor/set-up",
        {"accounts:set_up_authenticator": 200, "logout": 200},
    ),
    "app not yet passed": (
        "/account/second-factor/",
        {"accounts:second_factor": 200, "logout": 200},
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("step", list(SECOND_FACTOR_STEPS))
def test_an_admin_who_has_not_passed_the_second_factor_reaches_no_page_but_the_step(
    client, world, settings, step
):
    settings.ADMIN_SECOND_FACTOR = True
    cast, fill = world["cast"], world["fill"]
    admin = cast.people[Role.ORG_ADMIN]
    if step == "app not yet passed":
        f.authenticator(admin)
    target, open_routes = SECOND_FACTOR_STEPS[step]

    def visit(page: Page) -> object:
        client.force_login(admin)
        path = page.path.format(**fill)
        data = {k: v.format(**fill) for k, v in (page.data or {}).items()}
        response = client.post(path, data) if page.method == "POST" else client.get(path)
        if response.status_code == 302 and response["Location"].startswith(target + "?next="):
            return "step"
        return response.status_code

    mismatches = []
    for route, page in sorted(PAGES.items()):
        expected = open_routes.get(route, "step")
        got = _undone(lambda page=page: visit(page))
        if got != expected:
            mismatches.append(f"{route}: {page.method} {page.path} gave {got}, expected {expected}")
    assert not mismatches, "\n".join(mismatches)


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
        expected = SETTINGS[setting].apis.get(route, {}).get(caller, _expected(api, caller))
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
