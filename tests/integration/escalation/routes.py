"""Who may use the escalation app's routes: its part of the route matrix.

Members see their collaborative's levels and profiles; an organisation's level page is
shared as its figures page is (404 when it shares nothing with the visitor, public when it
shares with the public); only the organisation's own reporters, coordinators and admins
say why its declared level differs."""

from flotilla.authz.models import Role
from tests.integration.matrix import Api, Page, api_read, everyone, members_only

PAGES: dict[str, Page] = {
    "escalation:collaborative": Page("GET", "/c/{slug}/escalation", members_only()),
    "escalation:profiles": Page("GET", "/c/{slug}/escalation/profiles", members_only()),
    "escalation:declare": Page(
        "POST",
        "/c/{slug}/escalation/declare",
        members_only(302, (Role.COORDINATOR, Role.ORG_ADMIN)),
        {"level": "3", "reason": "Two trusts at OPEL 4"},
    ),
    # A shipped profile is configuration, not anyone's data: anyone signed in reads it.
    "escalation:profile": Page("GET", "/escalation/profiles/{profile}", everyone(200)),
    "escalation:organisation": Page("GET", "/o/RS1/escalation", members_only()),
    "escalation:note": Page(
        "POST",
        "/escalation/levels/{north_level}/note",
        members_only(302, (Role.REPORTER, Role.COORDINATOR, Role.ORG_ADMIN)),
        {"declared_level": "3", "reason": "Two wards closed this morning"},
    ),
}

APIS: dict[str, Api] = {
    "api:collaborative_levels": Api("GET", "/api/collaboratives/{slug}/escalation", api_read()),
    "api:collaborative_levels_csv": Api(
        "GET", "/api/collaboratives/{slug}/escalation.csv", api_read()
    ),
    "api:organisation_levels": Api("GET", "/api/organisations/RS1/escalation", api_read()),
    "api:organisation_level_history": Api(
        "GET", "/api/organisations/RS1/escalation/history", api_read()
    ),
}
