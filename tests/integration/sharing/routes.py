"""Who may use the sharing app's routes: its part of the route matrix."""

from flotilla.authz.models import Role
from tests.integration.matrix import GRANT, Api, Page, api_sharing, members_only

PAGES: dict[str, Page] = {
    "sharing:access_record": Page("GET", "/o/RN1/access", members_only(200, (Role.ORG_ADMIN,))),
    "sharing:who_can_see": Page("GET", "/o/RN1/sharing", members_only(200, (Role.ORG_ADMIN,))),
    "sharing:grant_new": Page("GET", "/o/RN1/sharing/new", members_only(200, (Role.ORG_ADMIN,))),
    "sharing:grant_edit": Page(
        "GET", "/o/RN1/sharing/{grant}", members_only(200, (Role.ORG_ADMIN,))
    ),
    "sharing:grant_revoke": Page(
        "POST", "/o/RN1/sharing/{grant}/revoke", members_only(302, (Role.ORG_ADMIN,))
    ),
}

APIS: dict[str, Api] = {
    # Each organisation's sharing token manages its own grants; {grant} is North's.
    "api:list_grants": Api("GET", "/api/sharing/grants", api_sharing(200, 200)),
    "api:add_grant": Api("POST", "/api/sharing/grants", api_sharing(201, 201), GRANT),
    "api:get_grant": Api("GET", "/api/sharing/grants/{grant}", api_sharing()),
    "api:change_grant": Api("PUT", "/api/sharing/grants/{grant}", api_sharing(201), GRANT),
    "api:revoke_grant": Api("DELETE", "/api/sharing/grants/{grant}", api_sharing()),
}
