"""Who may use the on-call directory's API: its part of the route matrix.

Reading South's directory takes a read token, of an organisation South shares something
with (404 for the rest, as South's history is): so it follows South's grants
(`GRANT_APIS`). Where the grants reached do not share on-call contacts exactly the answer
is still 200, saying `withheld`."""

from tests.integration.matrix import Api, Page, api_read

PAGES: dict[str, Page] = {}

APIS: dict[str, Api] = {
    "api:organisation_on_call": Api("GET", "/api/organisations/RS1/on-call", api_read()),
}

#: How South's grant settings change the outcomes: setting → route → caller → status.
GRANT_APIS: dict[str, dict[str, dict[str, int]]] = {
    "revoked": {"api:organisation_on_call": {"member_read": 404}},
    "to a named outside organisation only": {
        "api:organisation_on_call": {"member_read": 404, "outsider_read": 200}
    },
    "to every organisation": {"api:organisation_on_call": {"outsider_read": 200}},
    "to the public": {"api:organisation_on_call": {"outsider_read": 200}},
    "to an outside organisation, expired": {"api:organisation_on_call": {"member_read": 404}},
}
