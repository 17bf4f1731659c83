"""Who may use the notifications app's routes: its part of the route matrix."""

from flotilla.authz.models import Role
from tests.integration.matrix import Api, Page, everyone, members_only

PAGES: dict[str, Page] = {
    # Everyone signed in has an inbox, and only ever reaches their own notifications.
    "notifications:inbox": Page("GET", "/inbox", everyone(200)),
    "notifications:read": Page("POST", "/inbox/read", everyone(302)),
    "notifications:clear": Page("POST", "/inbox/clear", everyone(302)),
    # Notification settings and the emails sent: everyone's own, nobody else's (no id to try).
    "notifications:preferences": Page("GET", "/inbox/settings", everyone(200)),
    "notifications:sent": Page("GET", "/inbox/sent", everyone(200)),
    # An organisation's webhooks and their deliveries (dead letters included): its admins only.
    "notifications:webhooks": Page("GET", "/o/RN1/webhooks", members_only(200, (Role.ORG_ADMIN,))),
    "notifications:webhook_remove": Page(
        "POST", "/o/RN1/webhooks/{webhook}/remove", members_only(302, (Role.ORG_ADMIN,))
    ),
    "notifications:webhook_test": Page(
        "POST", "/o/RN1/webhooks/{webhook}/test", members_only(302, (Role.ORG_ADMIN,))
    ),
    "notifications:webhook_deliveries": Page(
        "GET", "/o/RN1/webhooks/deliveries", members_only(200, (Role.ORG_ADMIN,))
    ),
    "notifications:replay": Page(
        "POST",
        "/o/RN1/webhooks/deliveries/{dead_letter}/replay",
        members_only(302, (Role.ORG_ADMIN,)),
    ),
}

APIS: dict[str, Api] = {}
