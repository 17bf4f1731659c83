"""Who may use the working-together API operations: their part of the route matrix.

Reading takes a read token of one of the collaborative's members and shows what its
organisation's people see on the pages (progress and a decision's picture through South's
grants, whatever they are: the answer is 200 under every setting). The outsider, in no
collaborative with North, gets 404. Nothing is changed through the API: keeping the log and
running the call are people's work."""

from tests.integration.matrix import Api, Page, api_read

PAGES: dict[str, Page] = {}

APIS: dict[str, Api] = {
    "api:list_objectives": Api("GET", "/api/collaboratives/{slug}/objectives", api_read()),
    "api:list_log_items": Api("GET", "/api/collaboratives/{slug}/log?status=all", api_read()),
    "api:get_decision": Api(
        "GET", "/api/collaboratives/{slug}/decisions/{decision_ref}", api_read()
    ),
    "api:list_calls": Api("GET", "/api/collaboratives/{slug}/calls", api_read()),
    "api:get_call": Api("GET", "/api/collaboratives/{slug}/calls/{call_day}", api_read()),
}
