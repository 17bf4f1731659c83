"""Who may use the picture app's routes: its part of the route matrix."""

from tests.integration.matrix import Api, Page, api_read, members_only

PAGES: dict[str, Page] = {
    "picture:dashboard": Page("GET", "/c/{slug}/", members_only()),
    "picture:dashboard_table": Page("GET", "/c/{slug}/table", members_only()),
    "picture:dashboard_csv": Page("GET", "/c/{slug}/export.csv", members_only()),
    "picture:organisation": Page("GET", "/o/RS1/", members_only()),
    "picture:site": Page("GET", "/o/RS1/s/RS101/", members_only()),
}

APIS: dict[str, Api] = {
    "api:list_collaboratives": Api("GET", "/api/collaboratives", api_read(200, 200)),
    "api:collaborative_picture": Api("GET", "/api/collaboratives/{slug}/picture", api_read()),
    "api:collaborative_status": Api("GET", "/api/collaboratives/{slug}/status", api_read()),
    "api:organisation_history": Api(
        "GET", "/api/organisations/RS1/history?measure=ga_open", api_read()
    ),
}
