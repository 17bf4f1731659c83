"""Who may use the planning app's routes: its part of the route matrix.

Any member may balance its collaborative's load: the plan is made of what the visitor may
see, so it shows nothing the dashboard does not (South's grant settings change which places
it leaves out, never who may open it). Only the collaborative's coordinators and admins turn
a plan into drafts (in the matrix's world every figure is months old, so the plan has no
move to draft and they are told so: 400). A draft is seen by the organisation it is put to
(and its maker) and decided by the people who arrange aid there.

An organisation's forecasts are read as its figures are: 404 when it shares nothing with the
caller; otherwise what its grants of the forecast measures' groups allow (an empty list
when none)."""

from flotilla.authz.models import Role
from tests.integration.matrix import Api, Page, api_read, members_only

_MANAGERS = (Role.COORDINATOR, Role.ORG_ADMIN)
_PLAN = {"bed": "ga", "safe_occupancy": "92", "radius_km": "50"}

PAGES: dict[str, Page] = {
    "planning:plan": Page(
        "GET", "/c/{slug}/planning?bed=ga&safe_occupancy=92&radius_km=50", members_only()
    ),
    "planning:make_drafts": Page(
        "POST",
        "/c/{slug}/planning/draft",
        members_only(400, _MANAGERS),
        {**_PLAN, "move": "RN1>RS1"},
    ),
    "planning:drafts": Page("GET", "/c/{slug}/planning/drafts", members_only()),
    "planning:draft": Page("GET", "/plans/drafts/{north_draft}", members_only()),
    "planning:raise_draft": Page(
        "POST",
        "/plans/drafts/{north_draft}/raise",
        members_only(302, _MANAGERS),
        {"quantity": "3", "site": "{north_site}", "hours": "4", "urgency": "within_4h"},
    ),
    "planning:dismiss_draft": Page(
        "POST",
        "/plans/drafts/{north_draft}/dismiss",
        members_only(302, _MANAGERS),
        {"reason": "No ward can take them today"},
    ),
}

APIS: dict[str, Api] = {
    "api:organisation_forecasts": Api("GET", "/api/organisations/RS1/forecasts", api_read()),
    "api:organisation_forecasts_csv": Api(
        "GET", "/api/organisations/RS1/forecasts.csv", api_read()
    ),
}
