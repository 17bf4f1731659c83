"""Who may use the collaboratives app's routes: its part of the route matrix."""

from flotilla.authz.models import Role
from tests.integration.matrix import ANON, LOGIN, OUTSIDER, ROLES, Api, Page, everyone, members_only

PAGES: dict[str, Page] = {
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
    # Every member may read surge mode; only those who run the collaborative change it.
    "collaboratives:surge": Page("GET", "/c/{slug}/surge", members_only()),
    "collaboratives:surge_settings": Page(
        "POST",
        "/c/{slug}/surge/settings",
        members_only(302, (Role.COORDINATOR, Role.ORG_ADMIN)),
        {
            "surge_level": "3",
            "surge_automatic": "no",
            "surge_reporting_interval_hours": "2",
            "surge_aid_reach": "3",
        },
    ),
    "collaboratives:surge_switch": Page(
        "POST",
        "/c/{slug}/surge/switch",
        members_only(302, (Role.COORDINATOR, Role.ORG_ADMIN)),
        {"on": "1", "reason": "Route matrix"},
    ),
    # The invitation is for the outsider's organisation: only its admin may answer.
    "collaboratives:respond": Page(
        "POST",
        "/invitations/{invitation}/respond",
        {ANON: LOGIN, OUTSIDER: 302, **{r: 404 for r in ROLES}},
        {"answer": "decline"},
    ),
    # The outsider's organisation has an admin, so no first-admin link: refused with a message.
    "collaboratives:first_admin_link": Page(
        "POST",
        "/c/{slug}/invitations/{invitation}/first-admin-link",
        members_only(302, (Role.COORDINATOR, Role.ORG_ADMIN)),
    ),
}

APIS: dict[str, Api] = {}
