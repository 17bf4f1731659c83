"""Mutual aid through its pages: the board, asking, offering, a request's thread and its
moves, taking up offers, one's own list and the reciprocity ledger."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from flotilla.audit.models import AuditEvent
from flotilla.authz.models import Role
from flotilla.collaboratives.thresholds import STANDARD_THRESHOLDS
from flotilla.exchange import actions
from flotilla.exchange.models import AidRequest, Commitment, Offer, Reach
from tests import factories as f

pytestmark = pytest.mark.django_db

TRANSFER = {"level_of_care": "cc3", "bed_type": "cc_adult", "clinical_needs": ["ventilation"]}
BEDS = {"bed_type": "ga", "from_date": "2030-12-01", "until_date": "2030-12-31"}


def _said(client, response) -> list[str]:
    """The messages a move left for the page it redirects to (read there, so that the next
    response starts with none)."""
    said = [str(m) for m in get_messages(response.wsgi_request)]
    client.get(response["Location"])
    return said


def _coordinator(aid):
    return aid.people[Role.COORDINATOR]


def _south_asks(aid, **kw):
    kw.setdefault("by", aid.people["south_coordinator"])
    return f.aid_request(
        organisation=aid.south, collaborative=aid.collab, site=aid.south_site, **kw
    )


def _north_asks(aid, **kw):
    kw.setdefault("by", _coordinator(aid))
    return f.aid_request(
        organisation=aid.north, collaborative=aid.collab, site=aid.north_site, **kw
    )


def _south_offers(aid, request=None, **kw):
    if request is None:
        kw.setdefault("collaborative", aid.collab)
        kw.setdefault("kind", "beds")
        kw.setdefault("details", BEDS)
    return f.offer(
        by=aid.people["south_coordinator"],
        organisation=aid.south,
        site=aid.south_site,
        request=request,
        **kw,
    )


def _in(hours: float) -> dict[str, str]:
    at = timezone.localtime(timezone.now() + timedelta(hours=hours))
    return {"date": at.strftime("%Y-%m-%d"), "time": at.strftime("%H:%M")}


def _request_form(aid, **overrides) -> dict:
    by = _in(6)
    data = {
        "kind": "transfer",
        "organisation": str(aid.north.pk),
        "site": str(aid.north_site.pk),
        "detail_level_of_care": "cc3",
        "detail_bed_type": "cc_adult",
        "detail_clinical_needs": ["ventilation", "isolation"],
        "quantity": "2",
        "urgency": "within_4h",
        "needed_by_date": by["date"],
        "needed_by_time": by["time"],
        "max_distance_km": "80",
        "note": "Ring the site manager on arrival.",
        "reach": "2",
    }
    data.update(overrides)
    return data


def _offer_form(aid, **overrides) -> dict:
    start, until = _in(0.5), _in(48)
    data = {
        "organisation": str(aid.south.pk),
        "site": str(aid.south_site.pk),
        "quantity": "1",
        "available_from_date": start["date"],
        "available_from_time": start["time"],
        "available_until_date": until["date"],
        "available_until_time": until["time"],
        "duration_hours": "48",
        "transport": "offerer",
        "cost_recovery": "at_cost",
        "conditions": "Escort returns the same day.",
        "note": "",
    }
    data.update(overrides)
    return data


# ------------------------------------------------------------------ the board


def test_the_board_lists_open_requests_most_urgent_first_and_offers_open_to_take_up(client, aid):
    planned = _south_asks(aid, urgency="planned", quantity=5)
    immediate = _south_asks(aid, urgency="immediate")
    closed = _south_asks(aid, urgency="immediate", quantity=7)
    actions.move_request(by=aid.people["south_coordinator"], request=closed, to="closed")
    standing = _south_offers(aid, quantity=4)
    client.force_login(aid.people[Role.VIEWER])
    page = client.get(f"/c/{aid.collab.slug}/aid").content.decode()
    assert page.index(f"/aid/requests/{immediate.pk}") < page.index(f"/aid/requests/{planned.pk}")
    assert f"/aid/requests/{closed.pk}" not in page
    assert f"/aid/offers/{standing.pk}" in page
    assert "0 of 5" in page and "4 of 4" in page
    assert "South General Hospital" in page and "The collaborative" in page
    assert 'hx-trigger="every 30s"' in page


def test_the_board_counts_what_is_committed_to_each_request(client, aid):
    request = _south_asks(aid, quantity=3)
    offer = f.offer(
        by=_coordinator(aid), organisation=aid.north, site=aid.north_site, request=request
    )
    actions.commit(by=aid.people["south_coordinator"], offer=offer, quantity=2)
    client.force_login(aid.people[Role.VIEWER])
    assert "2 of 3" in client.get(f"/c/{aid.collab.slug}/aid").content.decode()


def test_the_board_filters_by_kind_and_urgency(client, aid):
    transfer = _south_asks(aid, urgency="immediate")
    planned = _south_asks(aid, urgency="planned")
    standing = _south_offers(aid)
    client.force_login(aid.people[Role.VIEWER])
    base = f"/c/{aid.collab.slug}/aid"
    page = client.get(base + "?urgency=immediate").content.decode()
    assert f"/aid/requests/{transfer.pk}" in page
    assert f"/aid/requests/{planned.pk}" not in page
    page = client.get(base + "?kind=beds").content.decode()
    assert f"/aid/requests/{transfer.pk}" not in page and f"/aid/offers/{standing.pk}" in page
    assert "No open requests match these filters" in page and "Clear filters" in page
    page = client.get(base + "?kind=transfer").content.decode()
    assert f"/aid/offers/{standing.pk}" not in page and "No open offers match" in page


def test_a_filter_the_board_cannot_use_is_said_and_everything_is_shown(client, aid):
    request = _south_asks(aid)
    client.force_login(aid.people[Role.VIEWER])
    page = client.get(f"/c/{aid.collab.slug}/aid?kind=yachts&urgency=soonish").content.decode()
    assert "There is a problem" in page
    assert "Choose a kind of aid from the list" in page and 'href="#kind"' in page
    assert "Choose an urgency from the list" in page and 'href="#urgency"' in page
    assert f"/aid/requests/{request.pk}" in page


def test_htmx_polling_gets_only_the_lists(client, aid):
    request = _south_asks(aid)
    client.force_login(aid.people[Role.VIEWER])
    response = client.get(f"/c/{aid.collab.slug}/aid?urgency=within_4h", HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert "<html" not in page and "Filter the board" not in page
    assert f"/aid/requests/{request.pk}" in page
    assert "HX-Request" in response["Vary"]


def test_the_board_is_not_found_by_an_outsider(client, aid):
    client.force_login(aid.people["outsider"])
    assert client.get(f"/c/{aid.collab.slug}/aid").status_code == 404


def test_only_people_who_arrange_aid_are_offered_the_forms_on_the_board(client, aid):
    client.force_login(aid.people[Role.VIEWER])
    assert "Ask for help" not in client.get(f"/c/{aid.collab.slug}/aid").content.decode()
    client.force_login(_coordinator(aid))
    page = client.get(f"/c/{aid.collab.slug}/aid").content.decode()
    assert f"/c/{aid.collab.slug}/aid/ask" in page and f"/c/{aid.collab.slug}/aid/offer" in page


def test_the_collaboratives_pages_and_the_header_link_to_mutual_aid(client, aid):
    client.force_login(aid.people[Role.VIEWER])
    assert f"/c/{aid.collab.slug}/aid" in client.get(f"/c/{aid.collab.slug}/").content.decode()
    members = client.get(f"/c/{aid.collab.slug}/members").content.decode()
    assert f"/c/{aid.collab.slug}/aid" in members and "/aid/mine" in members


# ------------------------------------------------------------------ asking


def test_asking_starts_with_the_kind_of_aid(client, aid):
    client.force_login(_coordinator(aid))
    page = client.get(f"/c/{aid.collab.slug}/aid/ask").content.decode()
    assert "what kind of aid?" in page and "There is a problem" not in page
    assert "Patient transfer" in page and "Elective capacity" in page
    page = client.get(f"/c/{aid.collab.slug}/aid/ask?step=kind").content.decode()
    assert "There is a problem" in page and 'href="#kind"' in page


def test_each_kind_of_aid_asks_for_its_own_details(client, aid):
    client.force_login(_coordinator(aid))
    base = f"/c/{aid.collab.slug}/aid/ask?kind="
    transfer = client.get(base + "transfer").content.decode()
    assert '<select class="nhsuk-select " id="id_detail_level_of_care"' in transfer
    assert 'type="checkbox" value="ventilation"' in transfer
    equipment = client.get(base + "equipment").content.decode()
    assert 'id="id_detail_consumable" name="detail_consumable" type="checkbox"' in equipment
    assert 'id="id_detail_return_by" name="detail_return_by" type="date"' in equipment
    elective = client.get(base + "elective").content.decode()
    assert 'id="id_detail_weeks"' in elective and 'type="radio" value="sessions"' in elective
    staff = client.get(base + "staff").content.decode()
    assert '<textarea class="nhsuk-textarea " id="id_detail_shifts"' in staff


def test_a_coordinator_asks_for_help_and_lands_on_the_request(client, aid):
    client.force_login(_coordinator(aid))
    response = client.post(f"/c/{aid.collab.slug}/aid/ask", _request_form(aid))
    request = AidRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/aid/requests/{request.pk}"
    assert request.details == {
        "level_of_care": "cc3",
        "bed_type": "cc_adult",
        "clinical_needs": ["isolation", "ventilation"],
    }
    assert (request.organisation, request.site, request.quantity) == (aid.north, aid.north_site, 2)
    assert request.max_distance_km == 80 and request.reach == Reach.COLLABORATIVE
    assert (
        timezone.now() + timedelta(hours=5)
        < request.needed_by
        < timezone.now() + timedelta(hours=7)
    )
    assert "Your request is on River System's aid board" in _said(client, response)[0]


def test_equipment_that_is_not_ticked_consumable_must_say_when_it_comes_back(client, aid):
    client.force_login(_coordinator(aid))
    data = _request_form(aid, kind="equipment", detail_equipment_type="Syringe drivers")
    page = client.post(f"/c/{aid.collab.slug}/aid/ask", data).content.decode()
    assert "Say when equipment that is not consumable comes back." in page
    assert 'href="#id_detail_return_by"' in page
    data["detail_consumable"] = "true"
    client.post(f"/c/{aid.collab.slug}/aid/ask", data)
    assert AidRequest.objects.get().details == {
        "equipment_type": "Syringe drivers",
        "consumable": True,
    }


def test_a_request_with_errors_names_each_field_in_the_actions_words_and_stores_nothing(
    client, aid
):
    client.force_login(_coordinator(aid))
    past = _in(-2)
    data = _request_form(
        aid,
        detail_level_of_care="",
        quantity="0",
        needed_by_date=past["date"],
        needed_by_time=past["time"],
        note="Patient DOB 1/2/1950",
    )
    page = client.post(f"/c/{aid.collab.slug}/aid/ask", data).content.decode()
    assert "There is a problem" in page
    for anchor, text in [
        ("id_detail_level_of_care", "Level of care is needed."),
        ("id_quantity", "Give a whole number from 1 to 500."),
        ("id_needed_by_date", "Must be in the future."),
        ("id_note", "Remove what looks like a patient&#39;s NHS number or date of birth"),
    ]:
        assert f'href="#{anchor}"' in page and text in page
    assert not AidRequest.objects.exists()
    assert not AuditEvent.objects.filter(action="exchange.request_raised").exists()


def test_what_cannot_be_read_is_said_beside_the_actions_sentences_and_nothing_is_stored(
    client, aid
):
    client.force_login(_coordinator(aid))
    data = _request_form(
        aid, quantity="lots", needed_by_date="soon", max_distance_km="far", detail_level_of_care=""
    )
    page = client.post(f"/c/{aid.collab.slug}/aid/ask", data).content.decode()
    assert "Enter how many you need as a whole number, like 2" in page
    assert "Enter the date it is needed by as a date, like 2026-01-05" in page
    assert "Enter the furthest away help may come from, in km as a whole number" in page
    assert "Level of care is needed." in page
    assert 'value="lots"' in page  # what was typed is kept
    assert not AidRequest.objects.exists()
    assert not AuditEvent.objects.filter(action="exchange.request_raised").exists()


def test_a_site_of_another_organisation_is_refused(client, aid):
    client.force_login(_coordinator(aid))
    data = _request_form(aid, site=str(aid.south_site.pk))
    page = client.post(f"/c/{aid.collab.slug}/aid/ask", data).content.decode()
    assert "Choose one of your organisation&#39;s sites" in page
    assert not AidRequest.objects.exists()


def test_someone_who_arranges_aid_for_two_organisations_chooses_which_asks(client, aid):
    both = f.UserFactory(username="both")
    f.member(both, aid.north, Role.COORDINATOR)
    f.member(both, aid.south, Role.ORG_ADMIN)
    client.force_login(both)
    page = client.get(f"/c/{aid.collab.slug}/aid/ask?kind=transfer").content.decode()
    assert "Which organisation is asking" in page and '<optgroup label="South' in page
    mixed = _request_form(aid, organisation=str(aid.south.pk))
    page = client.post(f"/c/{aid.collab.slug}/aid/ask", mixed).content.decode()
    assert "North General Hospital is not a site of South Hospitals NHS Trust." in page
    data = _request_form(aid, organisation=str(aid.south.pk), site=str(aid.south_site.pk))
    client.post(f"/c/{aid.collab.slug}/aid/ask", data)
    assert AidRequest.objects.get().organisation == aid.south


@pytest.mark.parametrize("role", [Role.VIEWER, Role.REPORTER])
def test_viewers_and_reporters_are_not_given_the_forms(client, aid, role):
    client.force_login(aid.people[role])
    request = _south_asks(aid)
    assert client.get(f"/c/{aid.collab.slug}/aid/ask?kind=transfer").status_code == 404
    assert client.post(f"/c/{aid.collab.slug}/aid/ask", _request_form(aid)).status_code == 404
    assert client.get(f"/c/{aid.collab.slug}/aid/offer?kind=beds").status_code == 404
    assert client.get(f"/aid/requests/{request.pk}/offer").status_code == 404
    assert AidRequest.objects.count() == 1


# ------------------------------------------------------------------ offering


def test_a_standing_offer_is_made_with_its_terms_and_audience(client, aid):
    client.force_login(aid.people["south_coordinator"])
    page = client.get(f"/c/{aid.collab.slug}/aid/offer?kind=beds").content.decode()
    assert "Who to offer it to" in page and "Transport" in page
    data = _offer_form(
        aid,
        kind="beds",
        detail_bed_type="ga",
        detail_from_date="2030-12-01",
        detail_until_date="2030-12-31",
        reach="3",
    )
    response = client.post(f"/c/{aid.collab.slug}/aid/offer", data)
    offer = Offer.objects.get()
    assert response["Location"] == f"/aid/offers/{offer.pk}"
    assert offer.request is None and offer.reach == Reach.REGION
    assert (offer.transport, offer.cost_recovery, offer.duration_hours) == (
        "offerer",
        "at_cost",
        48,
    )
    assert offer.conditions == "Escort returns the same day."


def test_an_offer_with_errors_names_each_field_and_stores_nothing(client, aid):
    client.force_login(aid.people["south_coordinator"])
    earlier = _in(-3)
    data = _offer_form(
        aid,
        kind="beds",
        detail_bed_type="ga",
        detail_from_date="2030-12-31",
        detail_until_date="2030-12-01",
        available_until_date=earlier["date"],
        available_until_time=earlier["time"],
        duration_hours="9999",
        transport="",
        reach="2",
    )
    page = client.post(f"/c/{aid.collab.slug}/aid/offer", data).content.decode()
    for anchor, text in [
        ("id_detail_until_date", "Must be on or after the from date."),
        ("id_available_until_date", "Must be after the start and in the future."),
        ("id_duration_hours", "Give hours from 1 to 2160, or none."),
        ("id_transport", "Choose who transports"),
    ]:
        assert f'href="#{anchor}"' in page and text in page
    assert not Offer.objects.exists()


def test_offering_help_starts_from_the_requests_details(client, aid):
    request = _north_asks(aid, quantity=3)
    client.force_login(aid.people["south_coordinator"])
    page = client.get(f"/aid/requests/{request.pk}/offer").content.decode()
    assert "Offer help to North Hospitals NHS Trust" in page
    assert '<option value="cc3" selected>' in page
    assert 'value="ventilation" checked' in page
    assert 'name="quantity" type="text" inputmode="numeric" autocomplete="off" value="3"' in page


def test_help_offered_for_a_request_goes_back_to_the_request(client, aid):
    request = _north_asks(aid)
    client.force_login(aid.people["south_coordinator"])
    data = _offer_form(
        aid, detail_level_of_care="cc3", detail_bed_type="cc_adult", detail_clinical_needs=[]
    )
    response = client.post(f"/aid/requests/{request.pk}/offer", data)
    offer = Offer.objects.get()
    assert response["Location"] == f"/aid/requests/{request.pk}"
    assert offer.request == request and offer.kind == "transfer"
    assert "They have been told" in _said(client, response)[0]


def test_an_offer_for_a_request_with_errors_stores_nothing(client, aid):
    request = _north_asks(aid)
    client.force_login(aid.people["south_coordinator"])
    data = _offer_form(aid, detail_level_of_care="cc9", detail_bed_type="cc_adult", quantity="x")
    page = client.post(f"/aid/requests/{request.pk}/offer", data).content.decode()
    assert "Choose one of ga, enhanced" in page and 'href="#id_detail_level_of_care"' in page
    assert "Enter how many you can offer as a whole number" in page
    assert not Offer.objects.exists()


def test_an_offer_for_a_request_no_longer_open_is_refused(client, aid):
    request = _north_asks(aid)
    actions.move_request(by=_coordinator(aid), request=request, to="closed")
    client.force_login(aid.people["south_coordinator"])
    data = _offer_form(aid, detail_level_of_care="cc3", detail_bed_type="cc_adult")
    page = client.post(f"/aid/requests/{request.pk}/offer", data).content.decode()
    assert "This request is no longer open." in page
    assert not Offer.objects.exists()


def test_an_outsider_cannot_offer_help_with_a_request_it_cannot_see(client, aid):
    request = _north_asks(aid)
    client.force_login(aid.people["outsider"])
    assert client.get(f"/aid/requests/{request.pk}/offer").status_code == 404
    assert client.get(f"/aid/requests/{request.pk}").status_code == 404


# ------------------------------------------------------------------ a request's page


def test_the_request_page_tells_its_story(client, aid):
    request = _north_asks(aid, quantity=3)
    offer = _south_offers(aid, request, quantity=2, conditions="Back by Friday")
    commitment = actions.commit(by=_coordinator(aid), offer=offer, quantity=1)
    actions.move_commitment(
        by=aid.people["south_coordinator"], commitment=commitment, to="released", reason="Ward shut"
    )
    client.force_login(aid.people[Role.VIEWER])
    page = client.get(f"/aid/requests/{request.pk}").content.decode()
    assert "Critical care level 3" in page and "Ventilation" in page
    assert "0 of 3" in page  # released before it happened: nothing committed
    assert "Back by Friday" in page and "We transport" in page
    thread = page[page.index('id="thread"') :]
    steps = ["Asked for help", "Offered help: 2 patients", "Took up part of an offer: 1"]
    steps.append("Released a commitment")
    positions = [thread.index(s) for s in steps]
    assert positions == sorted(positions)
    assert "Reason: Ward shut" in thread and "matrix" not in thread


def test_an_offer_made_to_another_member_is_not_shown_to_a_third(client, aid):
    east = f.OrganisationFactory(code="RE1", name="East Hospitals NHS Trust")
    f.join(aid.collab, east)
    east_viewer = f.UserFactory(username="east_viewer")
    f.member(east_viewer, east, Role.VIEWER)
    request = _north_asks(aid)
    _south_offers(aid, request, conditions="Secret terms")
    client.force_login(east_viewer)
    page = client.get(f"/aid/requests/{request.pk}").content.decode()
    assert "Secret terms" not in page and "Offered help" not in page


def test_the_requester_sees_its_moves_and_others_do_not(client, aid):
    request = _north_asks(aid)
    client.force_login(_coordinator(aid))
    page = client.get(f"/aid/requests/{request.pk}").content.decode()
    assert "Widen to every organisation in our region" in page
    assert '<input type="hidden" name="to" value="closed">' in page
    assert f'for="reason-request-{request.pk}-withdrawn">Why do you withdraw this request?' in page
    assert f"/aid/requests/{request.pk}/offer" in page  # helping oneself across sites
    client.force_login(aid.people[Role.VIEWER])
    page = client.get(f"/aid/requests/{request.pk}").content.decode()
    assert "Widen to" not in page and 'name="to"' not in page and "Offer help</a>" not in page
    client.force_login(aid.people["south_coordinator"])
    page = client.get(f"/aid/requests/{request.pk}").content.decode()
    assert "Widen to" not in page and 'value="closed"' not in page
    assert "Offer help</a>" in page


def test_the_requesters_people_see_who_could_help_and_why(client, aid):
    request = _north_asks(aid, kind="beds", details=BEDS, quantity=2)
    _south_offers(aid, quantity=4)
    client.force_login(aid.people[Role.VIEWER])
    page = client.get(f"/aid/requests/{request.pk}").content.decode()
    assert "Who could help" in page
    assert "South Hospitals NHS Trust</strong>" in page
    assert "Bed type as asked (+3)" in page and "4 left covers all 2 (+2)" in page
    client.force_login(aid.people["south_coordinator"])
    assert "Who could help" not in client.get(f"/aid/requests/{request.pk}").content.decode()


def test_a_taker_takes_up_an_offer_from_the_request_page(client, aid):
    request = _north_asks(aid, quantity=3)
    offer = _south_offers(aid, request, quantity=2)
    client.force_login(_coordinator(aid))
    page = client.get(f"/aid/requests/{request.pk}").content.decode()
    assert f'action="/aid/offers/{offer.pk}/commit"' in page
    response = client.post(f"/aid/offers/{offer.pk}/commit", {"quantity": "2"})
    assert response["Location"] == f"/aid/requests/{request.pk}"
    assert Commitment.objects.get().quantity == 2
    offer.refresh_from_db()
    assert offer.remaining == 0
    assert "takes up 2 of South Hospitals NHS Trust's offer" in _said(client, response)[0]


# ------------------------------------------------------------------ moves


def test_the_requester_closes_its_request(client, aid):
    request = _north_asks(aid)
    client.force_login(_coordinator(aid))
    response = client.post(f"/aid/request/{request.pk}/move", {"to": "closed"})
    assert response["Location"] == f"/aid/requests/{request.pk}"
    request.refresh_from_db()
    assert request.state == "closed"
    assert _said(client, response) == ["The request is now closed."]


def test_withdrawing_without_a_reason_is_refused_and_changes_nothing(client, aid):
    request = _north_asks(aid)
    client.force_login(_coordinator(aid))
    response = client.post(f"/aid/request/{request.pk}/move", {"to": "withdrawn", "reason": " "})
    request.refresh_from_db()
    assert request.state == "open"
    assert _said(client, response) == ["Say why you withdraw this request: a reason is needed."]
    client.post(f"/aid/request/{request.pk}/move", {"to": "withdrawn", "reason": "Found a bed"})
    request.refresh_from_db()
    assert (request.state, request.reason) == ("withdrawn", "Found a bed")


def test_a_move_the_negotiation_does_not_have_is_refused_and_changes_nothing(client, aid):
    request = _north_asks(aid)
    client.force_login(_coordinator(aid))
    response = client.post(f"/aid/request/{request.pk}/move", {"to": "fulfilled"})
    request.refresh_from_db()
    assert request.state == "open"
    assert _said(client, response) == ["A request that is open cannot become fulfilled."]
    count = AuditEvent.objects.count()
    client.post(f"/aid/request/{request.pk}/move", {"to": "nonsense"})
    assert AuditEvent.objects.count() == count


def test_only_the_organisation_that_asked_can_close_its_request(client, aid):
    request = _north_asks(aid)
    client.force_login(aid.people["south_coordinator"])
    response = client.post(f"/aid/request/{request.pk}/move", {"to": "closed"})
    request.refresh_from_db()
    assert request.state == "open"
    assert _said(client, response) == ["Only the organisation that asked can close this request."]


def test_the_offerer_withdraws_and_the_requester_declines_offers(client, aid):
    request = _north_asks(aid)
    first, second = _south_offers(aid, request), _south_offers(aid, request)
    client.force_login(aid.people["south_coordinator"])
    response = client.post(f"/aid/offer/{first.pk}/move", {"to": "withdrawn", "reason": "Filled"})
    assert response["Location"] == f"/aid/requests/{request.pk}"
    client.force_login(_coordinator(aid))
    page = client.get(f"/aid/requests/{request.pk}").content.decode()
    assert f'for="reason-offer-{second.pk}-declined"' in page
    response = client.post(f"/aid/offer/{second.pk}/move", {"to": "declined", "reason": "Far"})
    assert _said(client, response) == ["The offer is now declined."]
    first.refresh_from_db(), second.refresh_from_db()
    assert (first.state, second.state) == ("withdrawn", "declined")
    response = client.post(f"/aid/offer/{first.pk}/move", {"to": "declined", "reason": "x"})
    assert _said(client, response) == ["An offer that is withdrawn cannot become declined."]


def test_a_commitment_is_started_given_and_returned_by_its_two_sides(client, aid):
    request = _north_asks(
        aid,
        kind="equipment",
        details={"equipment_type": "Pumps", "consumable": False, "return_by": "2030-01-01"},
    )
    offer = _south_offers(aid, request, quantity=2)
    commitment = actions.commit(by=_coordinator(aid), offer=offer, quantity=2)
    move = f"/aid/commitment/{commitment.pk}/move"
    client.force_login(_coordinator(aid))
    response = client.post(move, {"to": "in_progress"})
    assert _said(client, response) == [
        "Only the organisation that offered can start this commitment."
    ]
    client.force_login(aid.people["south_coordinator"])
    page = client.get(f"/aid/requests/{request.pk}").content.decode()
    assert '<input type="hidden" name="to" value="in_progress">' in page
    response = client.post(move, {"to": "in_progress"})
    assert response["Location"] == f"/aid/requests/{request.pk}"
    client.force_login(_coordinator(aid))
    client.post(move, {"to": "fulfilled"})
    client.post(move, {"to": "returned"})
    commitment.refresh_from_db()
    assert commitment.state == "returned" and commitment.fulfilled_at is not None


def test_releasing_a_commitment_asks_why_and_puts_the_quantity_back(client, aid):
    offer = _south_offers(aid, quantity=3)
    commitment = actions.commit(
        by=_coordinator(aid), offer=offer, quantity=2, organisation=aid.north
    )
    client.force_login(_coordinator(aid))
    page = client.get(f"/aid/offers/{offer.pk}").content.decode()
    assert f'for="reason-commitment-{commitment.pk}-released"' in page
    move = f"/aid/commitment/{commitment.pk}/move"
    response = client.post(move, {"to": "released", "reason": ""})
    assert _said(client, response) == ["Say why you release this commitment: a reason is needed."]
    response = client.post(move, {"to": "released", "reason": "Patient improved"})
    assert response["Location"] == f"/aid/offers/{offer.pk}"
    offer.refresh_from_db()
    assert offer.remaining == 3


def test_moves_on_what_cannot_be_seen_or_by_people_who_do_not_arrange_aid_are_not_found(
    client, aid
):
    request = _north_asks(aid)
    client.force_login(aid.people["outsider"])
    assert client.post(f"/aid/request/{request.pk}/move", {"to": "closed"}).status_code == 404
    assert client.post(f"/aid/requests/{request.pk}/widen").status_code == 404
    client.force_login(aid.people[Role.VIEWER])
    assert client.post(f"/aid/request/{request.pk}/move", {"to": "closed"}).status_code == 404
    assert client.post(f"/aid/requests/{request.pk}/widen").status_code == 404
    client.force_login(_coordinator(aid))
    assert client.post(f"/aid/yacht/{request.pk}/move", {"to": "closed"}).status_code == 404
    assert client.get(f"/aid/request/{request.pk}/move").status_code == 405
    request.refresh_from_db()
    assert request.state == "open"


def test_the_requester_widens_its_request_one_step_at_a_time(client, aid):
    request = _north_asks(aid)
    client.force_login(_coordinator(aid))
    response = client.post(f"/aid/requests/{request.pk}/widen")
    request.refresh_from_db()
    assert request.reach == Reach.REGION
    assert _said(client, response)[0].startswith(
        "The request is now shown to every organisation in our"
    )
    response = client.post(f"/aid/requests/{request.pk}/widen")
    assert _said(client, response)[0].startswith(
        "The request is now shown to every organisation on Flotilla."
    )
    response = client.post(f"/aid/requests/{request.pk}/widen")
    assert _said(client, response) == [
        "This request is already seen by every organisation on Flotilla."
    ]
    client.force_login(aid.people["south_coordinator"])
    response = client.post(f"/aid/requests/{request.pk}/widen")
    assert _said(client, response) == ["Only the organisation that asked can widen this request."]


# ------------------------------------------------------------------ taking up offers


def test_a_standing_offer_is_taken_up_from_its_page(client, aid):
    offer = _south_offers(aid, quantity=4)
    client.force_login(_coordinator(aid))
    page = client.get(f"/aid/offers/{offer.pk}").content.decode()
    assert "Take up this offer" in page and "At cost" not in page and "No charge" in page
    response = client.post(
        f"/aid/offers/{offer.pk}/commit", {"quantity": "3", "organisation": str(aid.north.pk)}
    )
    assert response["Location"] == f"/aid/offers/{offer.pk}"
    assert Commitment.objects.get().organisation == aid.north
    page = client.get(f"/aid/offers/{offer.pk}").content.decode()
    assert "1 of 4" in page and "North Hospitals NHS Trust" in page


def test_taking_up_more_than_is_left_or_needed_is_refused_and_stores_nothing(client, aid):
    request = _north_asks(aid, quantity=2)
    offer = _south_offers(aid, request, quantity=2)
    client.force_login(_coordinator(aid))
    response = client.post(f"/aid/offers/{offer.pk}/commit", {"quantity": "5"})
    assert _said(client, response) == ["Give a whole number from 1 to 2."]
    response = client.post(f"/aid/offers/{offer.pk}/commit", {"quantity": "two"})
    assert _said(client, response) == ["Enter how many to take up as a whole number, like 1."]
    assert not Commitment.objects.exists()


def test_taking_up_a_standing_offer_needs_an_organisation_and_an_open_offer(client, aid):
    offer = _south_offers(aid)
    client.force_login(_coordinator(aid))
    response = client.post(f"/aid/offers/{offer.pk}/commit", {"quantity": "1"})
    assert _said(client, response) == ["Choose which of your organisations takes up the offer."]
    actions.move_offer(
        by=aid.people["south_coordinator"], offer=offer, to="withdrawn", reason="Gone"
    )
    response = client.post(
        f"/aid/offers/{offer.pk}/commit", {"quantity": "1", "organisation": str(aid.north.pk)}
    )
    assert _said(client, response) == [
        "This offer is withdrawn: nothing can be committed against it."
    ]
    assert not Commitment.objects.exists()


def test_only_the_organisation_that_asked_takes_up_an_answer(client, aid):
    request = _south_asks(aid)
    offer = f.offer(
        by=_coordinator(aid), organisation=aid.north, site=aid.north_site, request=request
    )
    client.force_login(aid.people[Role.ORG_ADMIN])
    assert "Take up" not in client.get(f"/aid/offers/{offer.pk}").content.decode()
    response = client.post(f"/aid/offers/{offer.pk}/commit", {"quantity": "1"})
    assert _said(client, response) == ["Only the organisation that asked can take up this offer."]


def test_the_offer_page_shows_its_terms_but_no_forms_to_a_viewer_and_nothing_to_an_outsider(
    client, aid
):
    offer = _south_offers(aid, conditions="Bring your own linen")
    client.force_login(aid.people[Role.VIEWER])
    page = client.get(f"/aid/offers/{offer.pk}").content.decode()
    assert "Bring your own linen" in page and "Take up this offer" not in page
    assert 'name="to"' not in page
    client.force_login(aid.people["south_coordinator"])
    page = client.get(f"/aid/offers/{offer.pk}").content.decode()
    assert f'for="reason-offer-{offer.pk}-withdrawn"' in page and "Take up this offer" not in page
    client.force_login(aid.people["outsider"])
    assert client.get(f"/aid/offers/{offer.pk}").status_code == 404


# ------------------------------------------------------------------ one's own


def test_my_requests_and_offers_list_the_open_ones_then_the_ended(client, aid):
    open_request = _north_asks(aid)
    ended = _north_asks(aid, quantity=9)
    actions.move_request(by=_coordinator(aid), request=ended, to="withdrawn", reason="Sorted")
    theirs = _south_asks(aid)
    offer = f.offer(
        by=_coordinator(aid), organisation=aid.north, site=aid.north_site, request=theirs
    )
    client.force_login(aid.people[Role.VIEWER])
    page = client.get("/aid/mine").content.decode()
    assert page.index(f"/aid/requests/{open_request.pk}") < page.index(f"/aid/requests/{ended.pk}")
    assert "Sorted" in page and f"/aid/offers/{offer.pk}" in page
    assert f'/aid/requests/{theirs.pk}"' not in page
    client.force_login(aid.people["outsider"])
    page = client.get("/aid/mine").content.decode()
    assert "No open requests." in page and "No open offers." in page


# ------------------------------------------------------------------ the ledger


def _help_given(aid, giver_name: str | None = None) -> Commitment:
    if giver_name:
        aid.south.name = giver_name
        aid.south.save()
    request = _north_asks(aid, quantity=2)
    offer = _south_offers(aid, request, quantity=2)
    commitment = actions.commit(by=_coordinator(aid), offer=offer, quantity=2)
    south = aid.people["south_coordinator"]
    actions.move_commitment(by=south, commitment=commitment, to="in_progress")
    actions.move_commitment(by=south, commitment=commitment, to="fulfilled")
    return commitment


def test_the_ledger_shows_who_gave_and_received_and_how_fast(client, aid):
    commitment = _help_given(aid)
    _south_asks(aid)
    client.force_login(aid.people[Role.VIEWER])
    page = client.get(f"/c/{aid.collab.slug}/aid/ledger").content.decode()
    tallies = page[page.index('id="tallies"') : page.index('id="exchanges"')]
    south, north = tallies.index("South Hospitals"), tallies.index("North Hospitals")
    assert south < north  # the biggest giver first
    assert "2 patients" in tallies
    exchanges = page[page.index('id="exchanges"') :]
    assert f"/aid/requests/{commitment.request_id}" in exchanges
    assert "From a request to its first offer (median)" in page and "0 min" in page


def test_the_ledger_is_for_members_only(client, aid):
    client.force_login(aid.people["outsider"])
    assert client.get(f"/c/{aid.collab.slug}/aid/ledger").status_code == 404
    assert client.get(f"/c/{aid.collab.slug}/aid/ledger.csv").status_code == 404
    client.force_login(aid.people[Role.VIEWER])
    page = client.get(f"/c/{aid.collab.slug}/aid/ledger").content.decode()
    assert "No aid has been asked for or given" in page and "No help has been given yet" in page


def test_the_ledger_csv_has_a_header_and_a_row_per_exchange_with_formulas_defused(client, aid):
    commitment = _help_given(aid, giver_name='=HYPERLINK("http://evil")')
    client.force_login(aid.people[Role.VIEWER])
    response = client.get(f"/c/{aid.collab.slug}/aid/ledger.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert "river-system-aid-ledger.csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == [
        "given_by",
        "given_by_name",
        "received_by",
        "received_by_name",
        "kind",
        "what",
        "quantity",
        "committed_at",
        "fulfilled_at",
        "state",
        "request",
    ]
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["given_by_name"] == '\'=HYPERLINK("http://evil")'
    assert (row["given_by"], row["received_by"]) == ("RS1", "RN1")
    assert (row["quantity"], row["state"]) == ("2", "fulfilled")
    assert row["request"] == str(commitment.request_id)


# ------------------------------------------------------------------ the collaborative's setting


def test_a_coordinator_sets_how_long_an_unmet_request_waits_before_it_widens(client, aid):
    client.force_login(_coordinator(aid))
    page = client.get(f"/c/{aid.collab.slug}/settings").content.decode()
    assert 'name="aid_widen_after_minutes"' in page and 'value="60"' in page
    data = {"reporting_interval_hours": "4", "aid_widen_after_minutes": "5"}
    for indicator, (amber, red) in STANDARD_THRESHOLDS.items():
        data[f"{indicator}_amber"], data[f"{indicator}_red"] = str(amber), str(red)
    page = client.post(f"/c/{aid.collab.slug}/settings", data).content.decode()
    assert "An unmet request must wait at least 15 minutes" in page
    aid.collab.refresh_from_db()
    assert aid.collab.aid_widen_after_minutes == 60
    data["aid_widen_after_minutes"] = "90"
    assert client.post(f"/c/{aid.collab.slug}/settings", data).status_code == 302
    aid.collab.refresh_from_db()
    assert aid.collab.aid_widen_after_minutes == 90
    del data["aid_widen_after_minutes"]
    client.post(f"/c/{aid.collab.slug}/settings", data)
    aid.collab.refresh_from_db()
    assert aid.collab.aid_widen_after_minutes == 90


# ------------------------------------------------------------------ paths less taken


def test_offering_starts_with_the_kind_of_aid(client, aid):
    client.force_login(aid.people["south_coordinator"])
    page = client.get(f"/c/{aid.collab.slug}/aid/offer").content.decode()
    assert "Offer help: what kind of aid?" in page and "There is a problem" not in page
    assert "Patient transfer" in page and 'name="quantity"' not in page


def _siteless_coordinator(aid):
    """A coordinator at a member of the collaborative that has no site on Flotilla yet."""
    east = f.OrganisationFactory(code="RE1", name="East Hospitals NHS Trust")
    f.join(aid.collab, east)
    coordinator = f.UserFactory(username="east_coordinator")
    f.member(coordinator, east, Role.COORDINATOR)
    return coordinator, east


def test_an_organisation_with_no_sites_cannot_ask_for_help_yet(client, aid):
    coordinator, east = _siteless_coordinator(aid)
    client.force_login(coordinator)
    data = _request_form(aid, organisation=str(east.pk), site="")
    response = client.post(f"/c/{aid.collab.slug}/aid/ask", data)
    page = response.content.decode()
    assert response.status_code == 200 and "There is a problem" in page
    assert (
        "East Hospitals NHS Trust has no sites on Flotilla, so it cannot ask for help yet." in page
    )
    assert not AidRequest.objects.exists()


def test_an_organisation_with_no_sites_cannot_offer_help_yet(client, aid):
    coordinator, east = _siteless_coordinator(aid)
    client.force_login(coordinator)
    data = _offer_form(aid, kind="beds", organisation=str(east.pk), site="", reach="2")
    data.update(detail_bed_type="ga", detail_from_date="2030-12-01", detail_until_date="2030-12-31")
    response = client.post(f"/c/{aid.collab.slug}/aid/offer", data)
    page = response.content.decode()
    assert response.status_code == 200 and "There is a problem" in page
    assert "East Hospitals NHS Trust has no sites on Flotilla, so it cannot offer help yet." in page
    assert not Offer.objects.exists()


def test_an_end_that_cannot_be_read_is_said_once_and_not_also_as_coming_before_the_start(
    client, aid
):
    # The start is read (three days ahead); the end is not, so the dry run's stand-in end
    # (a day from now) comes before the start. Only the form's own sentence is shown.
    client.force_login(aid.people["south_coordinator"])
    start = _in(72)
    data = _offer_form(
        aid,
        kind="beds",
        detail_bed_type="ga",
        detail_from_date="2030-12-01",
        detail_until_date="2030-12-31",
        available_from_date=start["date"],
        available_from_time=start["time"],
        available_until_date="next week",
        reach="2",
    )
    page = client.post(f"/c/{aid.collab.slug}/aid/offer", data).content.decode()
    assert "Enter the date it is available until as a date, like 2026-01-05" in page
    assert 'href="#id_available_until_date"' in page
    assert "Must be after the start" not in page
    assert not Offer.objects.exists()


def test_the_request_page_lists_only_the_details_that_were_given(client, aid):
    request = _north_asks(
        aid, kind="equipment", details={"equipment_type": "Syringe drivers", "consumable": True}
    )
    client.force_login(aid.people[Role.VIEWER])
    page = client.get(f"/aid/requests/{request.pk}").content.decode()
    assert "Type of equipment" in page and "Syringe drivers" in page
    assert "Consumable (not to be returned)" in page
    assert "To be returned by" not in page


def test_the_ledger_gives_long_medians_in_hours_and_days(client, aid):
    commitment = _help_given(aid)
    asked = timezone.now() - timedelta(hours=50, minutes=30)
    AidRequest.objects.filter(pk=commitment.request_id).update(created_at=asked)
    Offer.objects.filter(pk=commitment.offer_id).update(
        created_at=asked + timedelta(hours=2, minutes=5)
    )
    Commitment.objects.filter(pk=commitment.pk).update(
        created_at=asked + timedelta(hours=3), fulfilled_at=asked + timedelta(hours=50)
    )
    client.force_login(aid.people[Role.VIEWER])
    page = client.get(f"/c/{aid.collab.slug}/aid/ledger").content.decode()
    for label, span in [
        ("From a request to its first offer", "2 h 5 min"),
        ("From a request to its first commitment", "3 h"),
        ("From a request to help given", "2 days 2 h"),
    ]:
        row = page[page.index(f"{label} (median)") :]
        assert row[: row.index("</dd>")].endswith(f">{span}")


def test_the_request_page_refreshes_only_its_offers_and_take_ups_for_htmx_without_matching(
    client, aid
):
    asked = f.aid_request(
        by=aid.people[Role.COORDINATOR],
        organisation=aid.north,
        collaborative=aid.collab,
        site=aid.north_site,
    )
    f.offer(by=aid.people["south_coordinator"], organisation=aid.south, site=aid.south_site,
            request=asked)  # fmt: skip
    client.force_login(aid.people[Role.COORDINATOR])
    whole = client.get(f"/aid/requests/{asked.pk}")
    assert 'id="request-live"' in whole.content.decode()
    assert "Who could help" in whole.content.decode()
    live = client.get(f"/aid/requests/{asked.pk}", headers={"HX-Request": "true"})
    page = live.content.decode()
    assert "South Hospitals NHS Trust offers" in page and "Taken up" in page
    assert "<html" not in page and "Who could help" not in page and "History" not in page
    assert "HX-Request" in live["Vary"]
