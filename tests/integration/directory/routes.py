"""Who may use the on-call directory's pages: their part of the route matrix.

Every page needs signing in. South's directory page ({South} is RS1) is for anyone South
shares something with, as its picture page is (404, never 403, for the rest): so it follows
South's grants (`GRANT_PAGES`), and shows "not shared with you" where the grants reached do
not share on-call contacts exactly; it is never shown without signing in, whatever South
shares with the public. Changing and removing {north_on_call}, an entry of North's, is for
North's coordinators and admins. A collaborative's Who to call page and its CSV are for
people of its members, whatever each member shares (a member sharing nothing is listed as
not shared)."""

from flotilla.authz.models import Role
from tests.integration.matrix import OUTSIDER, ROLES, Api, Page, members_only

MANAGERS = (Role.COORDINATOR, Role.ORG_ADMIN)

PAGES: dict[str, Page] = {
    "directory:organisation": Page("GET", "/o/RS1/on-call", members_only()),
    "directory:change": Page("GET", "/o/RN1/on-call/{north_on_call}", members_only(200, MANAGERS)),
    "directory:end": Page(
        "POST", "/o/RN1/on-call/{north_on_call}/end", members_only(302, MANAGERS)
    ),
    "directory:collaborative": Page("GET", "/c/{slug}/on-call", members_only()),
    "directory:collaborative_csv": Page("GET", "/c/{slug}/on-call.csv", members_only()),
}

APIS: dict[str, Api] = {}

_NORTH_LOSES = {r: 404 for r in ROLES}
#: How South's grant settings (tests/integration/test_route_authorisation.py) change these
#: pages' outcomes: setting → route → visitor → outcome.
GRANT_PAGES: dict[str, dict[str, dict[str, object]]] = {
    "revoked": {"directory:organisation": _NORTH_LOSES},
    "to a named outside organisation only": {
        "directory:organisation": {**_NORTH_LOSES, OUTSIDER: 200}
    },
    "to every organisation": {"directory:organisation": {OUTSIDER: 200}},
    # The public may see South's picture page without signing in, never its directory.
    "to the public": {"directory:organisation": {OUTSIDER: 200}},
    "to an outside organisation, expired": {"directory:organisation": _NORTH_LOSES},
}
