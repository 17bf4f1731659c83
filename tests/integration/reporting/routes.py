"""Who may use the reporting app's routes: its part of the route matrix."""

from flotilla.authz.models import Role
from tests.integration.matrix import (
    API_CALLERS,
    OUTSIDER,
    REPORT,
    Api,
    Page,
    everyone,
    members_only,
)

PAGES: dict[str, Page] = {
    # Straight to the form when there is one place to report for (the outsider's trust); a
    # viewer is told why not; North also has a site, so its reporters choose where.
    "reporting:start": Page("GET", "/report/", {**everyone(200), OUTSIDER: 302}),
    "reporting:form": Page(
        "GET", "/o/RN1/report", members_only(200, (Role.REPORTER, Role.COORDINATOR, Role.ORG_ADMIN))
    ),
    "reporting:no_change": Page(
        "POST",
        "/o/RN1/report/no-change",
        members_only(302, (Role.REPORTER, Role.COORDINATOR, Role.ORG_ADMIN)),
    ),
    "reporting:upload": Page(
        "GET", "/o/RN1/import", members_only(200, (Role.REPORTER, Role.COORDINATOR, Role.ORG_ADMIN))
    ),
}

APIS: dict[str, Api] = {
    "api:submit_report": Api(
        "POST",
        "/api/reports",
        {
            "none": 401,
            "outsider_read": 403,
            "outsider_sharing": 403,
            "member_submit": 201,
            "member_read": 403,
            "member_sharing": 403,
            "member_aid": 403,
            "outsider_aid": 403,
            "session": 401,
        },
        REPORT,
    ),
    "api:list_measures": Api(
        "GET",
        "/api/measures",
        {c: 401 if c in ("none", "session") else 200 for c in API_CALLERS},
    ),
}
