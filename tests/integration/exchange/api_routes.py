"""Who may use the exchange's API operations: its part of the route matrix.

Reading takes a read or an aid token and shows what the token's organisation sees (the
outsider sees no request, offer or ledger of North's collaborative: 404, or an empty list);
changing takes an aid token. In the matrix's world, {aid_request} is South's request that
North sees, {north_request} North's own, {aid_offer} South's offer for it, {aid_commitment}
North's taking up of one of that offer, and {standing_offer} South's unsolicited offer of beds
to the collaborative.
"""

from datetime import timedelta

from django.utils import timezone

from tests.integration.matrix import Api, Page, api_aid, api_aid_read

#: Bodies are not filled in from the world, so their times are made when the matrix is read.
_SOON = timezone.now() + timedelta(days=2)

AID_REQUEST = {
    "collaborative": "river-system",
    "site": "RN101",
    "kind": "staff",
    "details": {"role": "registered_nurse", "grade": "Band 5", "shifts": "Nights this week"},
    "quantity": 2,
    "urgency": "within_24h",
    "needed_by": _SOON.isoformat(),
}
AID_OFFER = {
    "collaborative": "river-system",
    "site": "RN101",
    "kind": "equipment",
    "details": {"equipment_type": "Infusion pumps", "consumable": True},
    "quantity": 4,
    "available_until": _SOON.isoformat(),
    "terms": {"transport": "offerer", "cost_recovery": "none"},
}

PAGES: dict[str, Page] = {}

APIS: dict[str, Api] = {
    "api:list_aid_requests": Api("GET", "/api/aid/requests", api_aid_read(200, 200)),
    "api:get_aid_request": Api("GET", "/api/aid/requests/{aid_request}", api_aid_read()),
    "api:aid_request_matches": Api(
        "GET", "/api/aid/requests/{north_request}/matches", api_aid_read()
    ),
    # The outsider's aid token names a collaborative and a site that are not its own.
    "api:raise_aid_request": Api("POST", "/api/aid/requests", api_aid(201, 422), AID_REQUEST),
    "api:widen_aid_request": Api("POST", "/api/aid/requests/{north_request}/widen", api_aid()),
    "api:move_aid_request": Api(
        "POST", "/api/aid/requests/{north_request}/move", api_aid(), {"to": "closed"}
    ),
    "api:list_aid_offers": Api("GET", "/api/aid/offers", api_aid_read(200, 200)),
    "api:get_aid_offer": Api("GET", "/api/aid/offers/{aid_offer}", api_aid_read()),
    "api:make_aid_offer": Api("POST", "/api/aid/offers", api_aid(201, 422), AID_OFFER),
    # North asked, so North may decline South's offer for its request.
    "api:move_aid_offer": Api(
        "POST",
        "/api/aid/offers/{aid_offer}/move",
        api_aid(),
        {"to": "declined", "reason": "Covered from our own sites"},
    ),
    "api:commit_to_aid_offer": Api(
        "POST", "/api/aid/offers/{standing_offer}/commitments", api_aid(201), {"quantity": 1}
    ),
    "api:move_aid_commitment": Api(
        "POST",
        "/api/aid/commitments/{aid_commitment}/move",
        api_aid(),
        {"to": "released", "reason": "The patient went elsewhere"},
    ),
    "api:aid_ledger": Api("GET", "/api/collaboratives/{slug}/aid/ledger", api_aid_read()),
    "api:aid_ledger_csv": Api("GET", "/api/collaboratives/{slug}/aid/ledger.csv", api_aid_read()),
}
