"""Who may use the planning pages: their part of the route matrix.

Any member may balance its collaborative's load: the plan is made of what the visitor may
see, so it shows nothing the dashboard does not (South's grant settings change which places
it leaves out, never who may open it)."""

from tests.integration.matrix import Api, Page, members_only

PAGES: dict[str, Page] = {
    "planning:plan": Page(
        "GET", "/c/{slug}/planning?bed=ga&safe_occupancy=92&radius_km=50", members_only()
    ),
}

APIS: dict[str, Api] = {}
