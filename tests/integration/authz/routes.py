"""Who may use the authz app's routes: its part of the route matrix."""

from flotilla.authz.models import Role
from tests.integration.matrix import Api, Page, members_only

PAGES: dict[str, Page] = {
    "authz:tokens": Page("GET", "/o/RN1/tokens", members_only(200, (Role.ORG_ADMIN,))),
    "authz:revoke": Page(
        "POST", "/o/RN1/tokens/{token}/revoke", members_only(302, (Role.ORG_ADMIN,))
    ),
}

APIS: dict[str, Api] = {}
