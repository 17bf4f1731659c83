"""Who may use the exchange's pages: its part of the route matrix.

Members of the collaborative see the board, the ledger and the requests and offers open to
them; only people who arrange aid (coordinators and organisation admins) get the forms and
the buttons. The outsider's organisation is invited to the collaborative but has not joined,
so it sees none of it (404, never 403)."""

from flotilla.authz.models import Role
from tests.integration.matrix import Api, Page, everyone, members_only

ARRANGERS = (Role.COORDINATOR, Role.ORG_ADMIN)

PAGES: dict[str, Page] = {
    "exchange:board": Page("GET", "/c/{slug}/aid", members_only()),
    "exchange:new_request": Page(
        "GET", "/c/{slug}/aid/ask?kind=transfer", members_only(200, ARRANGERS)
    ),
    "exchange:new_offer": Page(
        "GET", "/c/{slug}/aid/offer?kind=beds", members_only(200, ARRANGERS)
    ),
    "exchange:ledger": Page("GET", "/c/{slug}/aid/ledger", members_only()),
    "exchange:ledger_csv": Page("GET", "/c/{slug}/aid/ledger.csv", members_only()),
    # Everyone signed in has their own (perhaps empty) list.
    "exchange:mine": Page("GET", "/aid/mine", everyone(200)),
    # South's request reaches the collaborative: every North role sees it.
    "exchange:request": Page("GET", "/aid/requests/{aid_request}", members_only()),
    "exchange:offer_help": Page(
        "GET", "/aid/requests/{aid_request}/offer", members_only(200, ARRANGERS)
    ),
    # South's offer answers North's request: North's people see it and its terms.
    "exchange:offer": Page("GET", "/aid/offers/{aid_offer}", members_only()),
    "exchange:widen": Page(
        "POST", "/aid/requests/{north_request}/widen", members_only(302, ARRANGERS)
    ),
    "exchange:commit": Page(
        "POST",
        "/aid/offers/{standing_offer}/commit",
        members_only(302, ARRANGERS),
        {"quantity": "1", "organisation": "{north}"},
    ),
    "exchange:move": Page(
        "POST",
        "/aid/commitment/{aid_commitment}/move",
        members_only(302, ARRANGERS),
        {"to": "released", "reason": "No longer needed"},
    ),
}

APIS: dict[str, Api] = {}
