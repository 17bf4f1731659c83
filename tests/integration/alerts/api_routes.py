"""Who may use the alerts' API operations: their part of the route matrix.

Reading takes a read token and shows what its organisation's people would see of the
collaboratives' rules (the outsider, in no collaborative with North, gets an empty list
and 404s). There is no operation that changes anything: acknowledging is a person's act."""

from tests.integration.matrix import Api, Page, api_read

PAGES: dict[str, Page] = {}

APIS: dict[str, Api] = {
    "api:list_alerts": Api("GET", "/api/alerts?state=any", api_read(200, 200)),
    "api:get_alert": Api("GET", "/api/alerts/{alert}", api_read()),
    "api:list_alert_rules": Api("GET", "/api/collaboratives/{slug}/alert-rules", api_read()),
}
