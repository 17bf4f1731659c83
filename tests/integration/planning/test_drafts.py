"""From plan to aid: a coordinator turns a plan's moves into drafts; the sender raises its
draft request and the receiver its draft offer on the aid board, or dismisses it, saying
why. The plan recommends; each organisation decides."""

from __future__ import annotations

import pytest

from flotilla.audit.models import AuditEvent
from flotilla.authz.models import Role
from flotilla.exchange.models import AidRequest, Offer
from flotilla.notifications.models import Notification
from flotilla.planning import actions, balancing
from flotilla.planning.models import AidDraft
from flotilla.sharing import policy
from tests import factories as f
from tests.integration.planning.test_balancing import BRADFORD, LEEDS, at, hours_ago

pytestmark = pytest.mark.django_db


@pytest.fixture
def river(aid):
    """North (99 in 100 G&A beds, safe capacity 92) and South 22 km away with room; each has
    a site and a coordinator who arranges aid."""
    at(aid.north, LEEDS)
    at(aid.south, BRADFORD)
    f.report(aid.north, hours_ago(1), ga_open=100, ga_occupied=99)
    f.report(aid.south, hours_ago(1), ga_open=100, ga_occupied=70)
    return aid


def plan_of(person, collab):
    viewer = policy.viewer_of(person)
    return balancing.static_plan(viewer, collab, bed="ga", safe_occupancy=0.92, radius_km=50.0)


def drafted(river):
    planner = river.people[Role.COORDINATOR]
    p = plan_of(planner, river.collab)
    return actions.draft_moves(by=planner, plan=p, chosen=["RN1>RS1"])


def test_a_move_becomes_a_draft_request_for_the_sender_and_a_draft_offer_for_the_receiver(river):
    request, offer = drafted(river)
    assert (request.side, request.organisation, request.counterpart, request.patients) == (
        "request",
        river.north,
        river.south,
        7,
    )
    assert (offer.side, offer.organisation, offer.counterpart) == (
        "offer",
        river.south,
        river.north,
    )
    assert request.plan == offer.plan
    assert AidRequest.objects.count() == Offer.objects.count() == 0  # nothing promised yet
    events = AuditEvent.objects.filter(action="planning.aid_drafted")
    assert {e.organisation_id for e in events} == {river.north.pk, river.south.pk}


def test_the_people_who_arrange_aid_at_each_organisation_are_told(river):
    request, offer = drafted(river)
    south_told = Notification.objects.get(recipient=river.people["south_coordinator"])
    assert south_told.link == f"/plans/drafts/{offer.pk}"
    assert "offers 7 G&A beds to North Hospitals NHS Trust" in south_told.text
    # The planner is not told of their own drafts; North's other arrangers are.
    assert not Notification.objects.filter(recipient=river.people[Role.COORDINATOR]).exists()
    assert Notification.objects.filter(
        recipient=river.people[Role.ORG_ADMIN], link=f"/plans/drafts/{request.pk}"
    ).exists()


def test_only_a_coordinator_of_the_collaborative_turns_a_plan_into_drafts(river):
    reporter = river.people[Role.REPORTER]
    p = plan_of(reporter, river.collab)
    with pytest.raises(actions.NotAllowed):
        actions.draft_moves(by=reporter, plan=p, chosen=["RN1>RS1"])
    assert not AidDraft.objects.exists()


def test_a_move_no_longer_in_the_plan_is_refused_by_name_and_nothing_is_drafted(river):
    planner = river.people[Role.COORDINATOR]
    p = plan_of(planner, river.collab)
    with pytest.raises(actions.DraftError, match=r"no longer in the plan.*RS1>RN1"):
        actions.draft_moves(by=planner, plan=p, chosen=["RN1>RS1", "RS1>RN1"])
    with pytest.raises(actions.DraftError, match="choose at least one move"):
        actions.draft_moves(by=planner, plan=p, chosen=[])
    assert not AidDraft.objects.exists()


def test_the_sender_raises_its_draft_as_a_request_for_transfers(river):
    request_draft, _ = drafted(river)
    made = actions.raise_draft(
        by=river.people[Role.COORDINATOR], draft=request_draft, quantity=5, site=river.north_site
    )
    assert isinstance(made, AidRequest)
    assert (made.kind, made.quantity, made.organisation) == ("transfer", 5, river.north)
    assert made.details["level_of_care"] == "ga"
    request_draft.refresh_from_db()
    assert (request_draft.state, request_draft.request) == ("raised", made)
    assert AuditEvent.objects.filter(action="planning.draft_raised").count() == 1


def test_the_receiver_raises_its_draft_as_an_offer_of_beds_open_to_the_collaborative(river):
    _, offer_draft = drafted(river)
    made = actions.raise_draft(
        by=river.people["south_coordinator"],
        draft=offer_draft,
        quantity=7,
        site=river.south_site,
    )
    assert isinstance(made, Offer)
    assert (made.kind, made.quantity, made.details["bed_type"]) == ("beds", 7, "ga")
    assert made.collaborative == river.collab and made.request is None


def test_a_draft_is_raised_once(river):
    request_draft, _ = drafted(river)
    coordinator = river.people[Role.COORDINATOR]
    actions.raise_draft(by=coordinator, draft=request_draft, quantity=7, site=river.north_site)
    with pytest.raises(actions.DraftError, match="already raised"):
        actions.raise_draft(by=coordinator, draft=request_draft, quantity=7, site=river.north_site)
    assert AidRequest.objects.count() == 1


def test_only_the_organisation_the_draft_is_put_to_decides_it(river):
    request_draft, _ = drafted(river)
    with pytest.raises(actions.NotAllowed):
        actions.raise_draft(
            by=river.people["south_coordinator"],
            draft=request_draft,
            quantity=7,
            site=river.north_site,
        )
    with pytest.raises(actions.NotAllowed):
        actions.dismiss_draft(by=river.people[Role.VIEWER], draft=request_draft, reason="No")


def test_a_draft_the_exchange_refuses_is_left_waiting_and_nothing_is_stored(river):
    request_draft, _ = drafted(river)
    from flotilla.exchange.actions import AidInvalid

    with pytest.raises(AidInvalid) as refused:
        actions.raise_draft(
            by=river.people[Role.COORDINATOR],
            draft=request_draft,
            quantity=7,
            site=river.south_site,  # not North's
        )
    assert "site" in refused.value.errors
    request_draft.refresh_from_db()
    assert request_draft.state == "waiting"
    assert not AidRequest.objects.exists()


def test_a_draft_is_dismissed_only_with_a_reason(river):
    _, offer_draft = drafted(river)
    south = river.people["south_coordinator"]
    with pytest.raises(actions.DraftError, match="say why"):
        actions.dismiss_draft(by=south, draft=offer_draft, reason="   ")
    actions.dismiss_draft(by=south, draft=offer_draft, reason="Ward 7 closed for norovirus")
    offer_draft.refresh_from_db()
    assert (offer_draft.state, offer_draft.reason) == ("dismissed", "Ward 7 closed for norovirus")


def test_the_coordinator_turns_chosen_moves_into_drafts_from_the_planning_page(river, client):
    client.force_login(river.people[Role.COORDINATOR])
    page = client.get(
        f"/c/{river.collab.slug}/planning", {"bed": "ga", "safe_occupancy": "92", "radius_km": "50"}
    ).content.decode()
    assert 'name="move" value="RN1&gt;RS1"' in page
    response = client.post(
        f"/c/{river.collab.slug}/planning/draft",
        {"bed": "ga", "safe_occupancy": "92", "radius_km": "50", "move": ["RN1>RS1"]},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/c/{river.collab.slug}/planning/drafts"
    listed = client.get(response["Location"]).content.decode()
    assert listed.count('data-draft="') == 2


def test_a_viewer_sees_the_plan_but_no_way_to_draft_it(river, client):
    client.force_login(river.people[Role.VIEWER])
    page = client.get(
        f"/c/{river.collab.slug}/planning", {"bed": "ga", "safe_occupancy": "92", "radius_km": "50"}
    ).content.decode()
    assert 'id="moves"' in page and 'id="draft-form"' not in page


def test_the_drafts_wait_on_each_organisations_aid_board_and_page(river, client):
    request_draft, offer_draft = drafted(river)
    client.force_login(river.people["south_coordinator"])
    board = client.get(f"/c/{river.collab.slug}/aid").content.decode()
    assert f'href="/plans/drafts/{offer_draft.pk}"' in board
    assert f'href="/plans/drafts/{request_draft.pk}"' not in board
    page = client.get(f"/plans/drafts/{offer_draft.pk}").content.decode()
    assert "offers 7 G&amp;A beds to North Hospitals NHS Trust" in page
    assert client.get(f"/plans/drafts/{request_draft.pk}").status_code == 404
    raised = client.post(
        f"/plans/drafts/{offer_draft.pk}/raise",
        {
            "quantity": "6",
            "site": str(river.south_site.pk),
            "hours": "12",
            "transport": "shared",
            "cost_recovery": "none",
            "note": "",
        },
    )
    offer = Offer.objects.get()
    assert raised["Location"] == f"/aid/offers/{offer.pk}"
    assert offer.quantity == 6


def test_a_wrong_quantity_is_named_and_the_draft_still_waits(river, client):
    _, offer_draft = drafted(river)
    client.force_login(river.people["south_coordinator"])
    response = client.post(
        f"/plans/drafts/{offer_draft.pk}/raise",
        {"quantity": "lots", "site": str(river.south_site.pk), "hours": "12"},
    )
    assert response.status_code == 400
    assert "give a whole number from 1 to 10000" in response.content.decode()
    offer_draft.refresh_from_db()
    assert offer_draft.state == "waiting"
