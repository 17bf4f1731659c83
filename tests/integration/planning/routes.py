"""Who may use the planning app's routes: its part of the route matrix.

An organisation's forecasts are read as its figures are: 404 when it shares nothing with the
caller; otherwise what its grants of the forecast measures' groups allow (an empty list
when none)."""

from tests.integration.matrix import Api, Page, api_read

PAGES: dict[str, Page] = {}

APIS: dict[str, Api] = {
    "api:organisation_forecasts": Api("GET", "/api/organisations/RS1/forecasts", api_read()),
    "api:organisation_forecasts_csv": Api(
        "GET", "/api/organisations/RS1/forecasts.csv", api_read()
    ),
}
