"""Who may use the alert pages: their part of the route matrix.

In the matrix's world {alert} is an overdue-report alert about South, raised by the
collaborative's rule {alert_rule} (made by North's coordinator, who is subscribed). Overdue
reports are shown to the people of every member, whatever South shares, so these outcomes
do not change with South's grants (an alert about a figure follows the grants: see
test_alerts.py). The outsider's organisation is invited to the collaborative but has not
joined: it sees none of it (404, never 403)."""

from flotilla.authz.models import Role
from tests.integration.matrix import Api, Page, everyone, members_only

MANAGERS = (Role.COORDINATOR, Role.ORG_ADMIN)

PAGES: dict[str, Page] = {
    # Everyone signed in has their own (perhaps empty) list and rules.
    "alerts:mine": Page("GET", "/alerts/", everyone(200)),
    "alerts:personal_rules": Page("GET", "/alerts/rules", everyone(200)),
    "alerts:alert": Page("GET", "/alerts/{alert}", members_only()),
    # Members who are not subscribed are sent back with a message saying why.
    "alerts:acknowledge": Page("POST", "/alerts/{alert}/acknowledge", members_only(302)),
    "alerts:collaborative_rules": Page("GET", "/c/{slug}/alerts/", members_only()),
    "alerts:subscription": Page(
        "POST", "/alerts/rules/{alert_rule}/subscription", members_only(302), {"subscribe": "1"}
    ),
    "alerts:end_rule": Page("POST", "/alerts/rules/{alert_rule}/end", members_only(302, MANAGERS)),
}

APIS: dict[str, Api] = {}
