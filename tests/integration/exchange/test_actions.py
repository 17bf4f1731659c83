"""The exchange's actions: who may ask, offer, take up and move what; what each refuses, in
words naming the field; the audit event of every change in its own transaction; who is told;
the scheduled widening and expiry; and who sees which requests and offers.

North asks (its coordinator), South offers (its coordinator); the outsider belongs to no
collaborative of theirs. Everything is built through the actions (`tests/factories.py`).
"""

from __future__ import annotations

import time
from datetime import UTC, timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from flotilla.audit.models import AuditEvent
from flotilla.authz.models import Role
from flotilla.collaboratives import actions as collaboratives_actions
from flotilla.exchange import actions, queries, tasks
from flotilla.exchange.actions import AidInvalid, IllegalMove, NotAllowed
from flotilla.exchange.models import AidRequest, Commitment, Offer, Reach
from flotilla.jobs import actions as jobs_actions
from flotilla.jobs.schedule import entry
from flotilla.notifications.models import Delivery, Notification
from flotilla.sharing.policy import Viewer
from tests import factories as f

pytestmark = pytest.mark.django_db

AID_KINDS = ("aid.request", "aid.offer", "aid.commitment", "aid.changed", "aid.expired")


def asker(aid):
    return aid.people[Role.COORDINATOR]


def helper(aid):
    return aid.people["south_coordinator"]


def ask(aid, **kw):
    kw.setdefault("by", asker(aid))
    return f.aid_request(
        organisation=aid.north, collaborative=aid.collab, site=aid.north_site, **kw
    )


def give(aid, request=None, **kw):
    kw.setdefault("by", helper(aid))
    if request is None:
        kw.setdefault("collaborative", aid.collab)
        kw.setdefault("kind", "transfer")
        kw.setdefault(
            "details", {"level_of_care": "cc3", "bed_type": "cc_adult", "clinical_needs": []}
        )
    return f.offer(organisation=aid.south, site=aid.south_site, request=request, **kw)


def events(action: str | None = None, after_id: int = 0) -> list[AuditEvent]:
    found = AuditEvent.objects.filter(id__gt=after_id, action__startswith="exchange.")
    if action:
        found = found.filter(action=action)
    return list(found.order_by("id"))


def last_event_id() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def inbox(person) -> list[str]:
    return list(Notification.objects.filter(recipient=person).values_list("text", flat=True))


def told(person) -> set[str]:
    """The links of the notifications a person has had."""
    return set(Notification.objects.filter(recipient=person).values_list("link", flat=True))


def hooks_of(*organisations):
    """A webhook for every kind of aid event at each organisation."""
    return {org.code: f.webhook(org, kinds=AID_KINDS)[0] for org in organisations}


def delivered(hook) -> list[tuple[str, dict]]:
    return [
        (d.kind, d.payload.get("data", {}))
        for d in Delivery.objects.filter(webhook=hook).order_by("pk")
    ]


@pytest.fixture(autouse=True)
def _webhooks_to_localhost(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]


@pytest.fixture
def third(aid):
    """A third member of the collaborative, with a coordinator and a viewer."""
    org = f.OrganisationFactory(code="RT1", name="Third Hospitals NHS Trust")
    f.join(aid.collab, org)
    aid.third, aid.third_site = org, f.SiteFactory(code="RT101", organisation=org)
    for role in (Role.COORDINATOR, Role.VIEWER):
        person = f.UserFactory(username=f"third_{role}")
        f.member(person, org, role)
        aid.people[f"third_{role}"] = person
    return aid


# ------------------------------------------------------------------ raising a request


def test_a_request_is_raised_open_audited_and_told_to_the_collaboratives_aid_arrangers(aid):
    hooks = hooks_of(aid.north, aid.south, aid.outside)
    request = ask(aid, quantity=3, note="  Two on ventilators.  ")
    assert (request.state, request.reach, request.quantity) == ("open", Reach.COLLABORATIVE, 3)
    assert request.note == "Two on ventilators."
    assert request.created_by == asker(aid) and request.reach_since == request.created_at
    (raised,) = events("exchange.request_raised")
    assert (raised.actor_user, raised.object_id) == (asker(aid), str(request.pk))
    assert raised.organisation_id == aid.north.pk and raised.before is None
    assert raised.after["quantity"] == 3 and raised.after["state"] == "open"
    # South's coordinator and admin-less people: only those who arrange aid hear of it.
    assert told(helper(aid)) == {f"/aid/requests/{request.pk}"}
    assert not inbox(aid.people["south_reporter"])
    assert not inbox(aid.people["outsider"])
    # Never the mover; North's other aid arrangers are the requester's own people.
    assert not inbox(asker(aid)) and not inbox(aid.people[Role.ORG_ADMIN])
    assert delivered(hooks["RS1"]) == [
        ("aid.request", {"request": request.pk, "collaborative": aid.collab.slug,
                         "organisation": "RS1"}),
    ]  # fmt: skip
    assert delivered(hooks["RN1"]) == delivered(hooks["RX1"]) == []


def test_every_wrong_field_of_a_request_is_named_at_once_and_nothing_is_stored(aid):
    elsewhere = f.CollaborativeFactory(name="Elsewhere", organisation=aid.outside)
    before = last_event_id()
    with pytest.raises(AidInvalid) as exc:
        actions.raise_request(
            by=asker(aid),
            organisation=aid.north,
            collaborative=elsewhere,
            site=aid.south_site,
            kind="transfer",
            details={"level_of_care": "cc9", "bed_type": "ga"},
            quantity=0,
            urgency="yesterday",
            needed_by=timezone.now() - timedelta(minutes=1),
            max_distance_km=0,
            note="NHS number 943 476 5919",
            reach=5,
        )
    assert exc.value.errors == {
        "collaborative": "North Hospitals NHS Trust is not a member of Elsewhere",
        "site": "South General Hospital is not a site of North Hospitals NHS Trust",
        "details.level_of_care": (
            "choose one of ga, enhanced, cc2, cc3, paediatric, mental_health"
        ),
        "quantity": "give a whole number from 1 to 500",
        "urgency": "choose one of immediate, within_4h, within_24h, planned",
        "needed_by": "must be in the future",
        "max_distance_km": "give a distance from 1 to 1000 km, or none",
        "note": actions.kinds.IDENTITY_MESSAGE,
        "reach": "choose who to ask: 1 (own sites) to 4 (everyone on Flotilla)",
    }
    assert not AidRequest.objects.exists() and not events(after_id=before)


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("kind", "hovercraft", "choose one of transfer, beds, staff, equipment, elective"),
        ("quantity", 501, "give a whole number from 1 to 500"),
        ("max_distance_km", 1001, "give a distance from 1 to 1000 km, or none"),
        ("note", "x" * 1001, "use 1000 characters or fewer"),
        ("reach", 0, "choose who to ask: 1 (own sites) to 4 (everyone on Flotilla)"),
    ],
)
def test_each_wrong_field_of_a_request_is_refused_on_its_own(aid, field, value, error):
    with pytest.raises(AidInvalid) as exc:
        ask(aid, **{field: value})
    assert exc.value.errors == {field: error}


def test_a_request_at_the_limits_is_accepted(aid):
    request = ask(aid, quantity=500, max_distance_km=1000, note="x" * 1000, reach=Reach.PLATFORM)
    assert (request.quantity, request.max_distance_km, request.reach) == (500, 1000, 4)
    assert ask(aid, quantity=1, max_distance_km=1, reach=Reach.ORGANISATION).quantity == 1


@pytest.mark.parametrize("who", [Role.VIEWER, Role.REPORTER])
def test_someone_who_does_not_arrange_aid_cannot_ask_for_it(aid, who):
    with pytest.raises(NotAllowed, match="You cannot arrange aid for North Hospitals"):
        ask(aid, by=aid.people[who])
    assert not AidRequest.objects.exists()


def test_nobody_can_ask_for_another_organisation(aid):
    with pytest.raises(NotAllowed):
        ask(aid, by=helper(aid))
    with pytest.raises(NotAllowed):
        ask(aid, by=aid.people["outsider"])


def test_a_token_asks_for_its_own_organisation_only(aid):
    north_token = f.aid_token(aid.north, by=aid.people[Role.ORG_ADMIN])
    request = ask(aid, by=north_token)
    (raised,) = events("exchange.request_raised")
    assert raised.actor_token_id == north_token.pk and raised.actor_user is None
    assert request.created_by is None
    outside_token = f.aid_token(aid.outside, by=aid.people["outsider"])
    with pytest.raises(NotAllowed):
        ask(aid, by=outside_token)
    assert actions.speaks_for(north_token) == {aid.north.pk}


# ------------------------------------------------------------------ widening


def test_widening_climbs_the_ladder_and_tells_only_the_newly_reached(aid):
    region = f.region("Y56", "London", aid.north, aid.outside)
    assert region.pk == aid.outside.region_id
    far = f.OrganisationFactory(code="RF1", name="Far Hospitals NHS Trust")
    far_person = f.UserFactory(username="far_coordinator")
    f.member(far_person, far, Role.COORDINATOR)
    hooks = hooks_of(aid.south, aid.outside, far)
    request = ask(aid, reach=Reach.ORGANISATION)
    assert not inbox(helper(aid))
    steps = []
    for reach in (Reach.COLLABORATIVE, Reach.REGION, Reach.PLATFORM):
        mark = last_event_id()
        widened = actions.widen(by=asker(aid), request=request)
        assert widened.reach == reach
        (event,) = events("exchange.request_widened", after_id=mark)
        assert (event.before["reach"], event.after["reach"]) == (reach - 1, reach)
        assert event.actor_user == asker(aid)
        steps.append(
            {
                code: len([k for k, _ in delivered(h) if k == "aid.request"])
                for code, h in hooks.items()
            }
        )
    # South hears on reaching the collaborative, the outsider on reaching the region, Far on
    # reaching everyone: each once, never again.
    assert steps == [
        {"RS1": 1, "RX1": 0, "RF1": 0},
        {"RS1": 1, "RX1": 1, "RF1": 0},
        {"RS1": 1, "RX1": 1, "RF1": 1},
    ]
    assert len(inbox(helper(aid))) == len(inbox(aid.people["outsider"])) == 1
    assert len(inbox(far_person)) == 1
    with pytest.raises(IllegalMove, match="already seen by every organisation"):
        actions.widen(by=asker(aid), request=request)
    request.refresh_from_db()
    assert request.reach == Reach.PLATFORM


def test_widening_to_a_region_the_requester_is_not_in_reaches_no_one_new(aid):
    request = ask(aid)
    actions.widen(by=asker(aid), request=request)
    assert AidRequest.objects.get(pk=request.pk).reach == Reach.REGION
    assert len(inbox(helper(aid))) == 1


def test_only_the_requester_or_the_platform_may_widen_and_only_an_open_request(aid):
    request = ask(aid)
    for someone in (helper(aid), aid.people[Role.VIEWER], aid.people["outsider"]):
        with pytest.raises(IllegalMove, match="Only the organisation that asked can widen"):
            actions.widen(by=someone, request=request)
    assert actions.widen(by=actions.WIDENING, request=request).reach == Reach.REGION
    f.move(request, "closed", by=asker(aid))
    with pytest.raises(IllegalMove, match="Only an open request"):
        actions.widen(by=asker(aid), request=request)
    assert AidRequest.objects.get(pk=request.pk).reach == Reach.REGION


# ------------------------------------------------------------------ offers


def test_an_offer_for_a_request_is_audited_and_told_to_the_requester_only(third):
    aid = third
    hooks = hooks_of(aid.north, aid.south, aid.third)
    request = ask(aid)
    offer = give(aid, request, quantity=3, duration_hours=48, conditions="Our transport team.")
    assert (offer.state, offer.remaining, offer.quantity, offer.kind) == (
        "offered",
        3,
        3,
        "transfer",
    )
    assert offer.collaborative == aid.collab and offer.details == request.details
    (made,) = events("exchange.offer_made")
    assert made.after["terms"] == {
        "duration_hours": 48,
        "transport": "offerer",
        "cost_recovery": "none",
        "conditions": "Our transport team.",
    }
    assert (made.actor_user, made.organisation_id) == (helper(aid), aid.south.pk)
    assert f"/aid/requests/{request.pk}" in told(asker(aid))
    assert delivered(hooks["RN1"])[-1] == (
        "aid.offer",
        {"offer": offer.pk, "collaborative": aid.collab.slug, "request": request.pk,
         "organisation": "RN1"},
    )  # fmt: skip
    assert [k for k, _ in delivered(hooks["RT1"])] == ["aid.request"]
    assert [k for k, _ in delivered(hooks["RS1"])] == ["aid.request"]
    assert not [t for t in inbox(helper(aid)) if "offers" in t]


def test_an_unsolicited_offer_is_told_to_its_audience_but_not_its_maker(third):
    aid = third
    hooks = hooks_of(aid.north, aid.south, aid.third, aid.outside)
    offer = give(aid, quantity=4)
    assert offer.request is None and offer.reach == Reach.COLLABORATIVE
    assert told(asker(aid)) == told(aid.people["third_coordinator"]) == {f"/aid/offers/{offer.pk}"}
    assert not inbox(aid.people["third_viewer"]) and not inbox(helper(aid))
    assert not inbox(aid.people["outsider"])
    assert [k for k, _ in delivered(hooks["RN1"])] == ["aid.offer"]
    assert delivered(hooks["RS1"]) == delivered(hooks["RX1"]) == []


def test_every_wrong_field_of_an_offer_is_named_at_once(aid):
    request = ask(aid)
    now = timezone.now()
    with pytest.raises(AidInvalid) as exc:
        actions.make_offer(
            by=helper(aid),
            organisation=aid.south,
            site=aid.north_site,
            request=request,
            kind="beds",
            details={"bed_type": "ga"},
            quantity=501,
            available_from=now,
            available_until=now,
            transport="teleport",
            cost_recovery="free lunch",
            duration_hours=0,
            conditions="Patient DOB 1/1/1950",
            note="y" * 1001,
            reach=9,
        )
    assert exc.value.errors == {
        "kind": "this request asks for patient transfer",
        "site": "North General Hospital is not a site of South Hospitals NHS Trust",
        "details.from_date": "from is needed",
        "details.until_date": "until is needed",
        "quantity": "give a whole number from 1 to 500",
        "available_until": "must be after the start and in the future",
        "duration_hours": "give hours from 1 to 2160, or none",
        "transport": "choose one of offerer, requester, shared, not_needed",
        "cost_recovery": "choose one of none, at_cost, tariff, to_agree",
        "conditions": actions.kinds.IDENTITY_MESSAGE,
        "note": "use 1000 characters or fewer",
        "reach": "choose who to offer to: 1 (own sites) to 4 (everyone on Flotilla)",
    }
    assert not Offer.objects.exists()


def test_an_offer_may_stand_ninety_days_and_no_longer(aid):
    now = timezone.now()
    common = {"by": helper(aid), "organisation": aid.south, "site": aid.south_site,
              "quantity": 1, "transport": "offerer", "cost_recovery": "none",
              "collaborative": aid.collab, "kind": "staff",
              "details": {"role": "doctor", "grade": "ST3", "shifts": "Days"}}  # fmt: skip
    offer = actions.make_offer(
        available_from=now, available_until=now + timedelta(days=90), **common
    )
    assert offer.available_until - offer.available_from == timedelta(days=90)
    with pytest.raises(AidInvalid) as exc:
        actions.make_offer(
            available_from=now, available_until=now + timedelta(days=90, seconds=1), **common
        )
    assert exc.value.errors == {"available_until": "an offer can stand for at most 90 days"}
    # A window already over is refused whatever its start.
    with pytest.raises(AidInvalid) as exc:
        actions.make_offer(
            available_from=now - timedelta(days=2),
            available_until=now - timedelta(days=1),
            **common,
        )
    assert set(exc.value.errors) == {"available_until"}


def test_an_unsolicited_offer_needs_its_collaborative_kind_and_membership(aid):
    elsewhere = f.CollaborativeFactory(name="Elsewhere", organisation=aid.outside)
    with pytest.raises(AidInvalid) as exc:
        give(aid, collaborative=None, kind="", details={})
    assert exc.value.errors == {
        "collaborative": "say which collaborative the offer is made in",
        "kind": "choose one of transfer, beds, staff, equipment, elective",
    }
    with pytest.raises(AidInvalid) as exc:
        give(aid, collaborative=elsewhere)
    assert exc.value.errors == {
        "collaborative": "South Hospitals NHS Trust is not a member of Elsewhere"
    }


def test_an_offer_for_a_request_no_longer_open_is_refused(aid):
    request = ask(aid)
    f.move(request, "withdrawn", by=asker(aid), reason="Beds opened.")
    with pytest.raises(AidInvalid) as exc:
        give(aid, request)  # as read before it was withdrawn
    assert exc.value.errors == {"request": "this request is no longer open"}
    request.refresh_from_db()
    with pytest.raises(AidInvalid) as exc:
        give(aid, request, quantity=0)  # as it is now: said with everything else wrong
    assert exc.value.errors == {
        "request": "this request is no longer open",
        "quantity": "give a whole number from 1 to 500",
    }


def test_an_offer_for_a_request_the_organisation_cannot_see_is_not_allowed(aid):
    request = ask(aid)
    outside_person = aid.people["outsider"]
    with pytest.raises(NotAllowed, match="not open to your organisation"):
        f.offer(by=outside_person, organisation=aid.outside, site=aid.outside_site, request=request)
    with pytest.raises(NotAllowed):
        give(aid, request, by=outside_person)
    assert not Offer.objects.exists()


def test_a_person_at_two_organisations_cannot_offer_for_the_one_a_request_does_not_reach(aid):
    # South's coordinator also arranges aid for the outsider, whom North's request does not
    # reach: the outsider may not answer it just because South may.
    f.member(helper(aid), aid.outside, Role.COORDINATOR)
    request = ask(aid)
    with pytest.raises(NotAllowed, match="not open to your organisation"):
        f.offer(by=helper(aid), organisation=aid.outside, site=aid.outside_site, request=request)
    assert give(aid, request).organisation == aid.south


def test_a_token_offers_for_its_own_organisation_only(aid):
    request = ask(aid)
    admin = f.UserFactory(username="south_admin")
    f.member(admin, aid.south, Role.ORG_ADMIN)
    token = f.aid_token(aid.south, by=admin)
    offer = give(aid, request, by=token)
    assert events("exchange.offer_made")[0].actor_token_id == token.pk
    north_token = f.aid_token(aid.north, by=aid.people[Role.ORG_ADMIN])
    with pytest.raises(NotAllowed):
        give(aid, request, by=north_token)
    assert offer.created_by is None


# ------------------------------------------------------------------ commitments


def test_the_requester_takes_up_part_of_an_offer_audited_and_told_to_the_offerer(aid):
    hooks = hooks_of(aid.north, aid.south)
    request = ask(aid, quantity=2)
    offer = give(aid, request, quantity=3)
    mark = last_event_id()
    c = f.commitment(by=asker(aid), offer=offer, quantity=2)
    assert (c.state, c.quantity, c.request, c.organisation) == ("committed", 2, request, aid.north)
    offer.refresh_from_db()
    assert offer.remaining == 1
    (event,) = events(after_id=mark)
    assert event.action == "exchange.committed" and event.actor_user == asker(aid)
    assert event.before["offer"]["remaining"] == 3 and event.after["offer"]["remaining"] == 1
    assert (event.after["quantity"], event.after["state"]) == (2, "committed")
    assert delivered(hooks["RS1"])[-1] == (
        "aid.commitment",
        {"offer": offer.pk, "commitment": c.pk, "organisation": "RS1"},
    )
    assert f"/aid/offers/{offer.pk}" in told(helper(aid))
    assert f"/aid/offers/{offer.pk}" not in told(asker(aid))
    assert queries.committed_to(request) == 2


def test_commitment_is_refused_beyond_what_the_request_still_needs(aid):
    request = ask(aid, quantity=3)
    first, second = give(aid, request, quantity=2), give(aid, request, quantity=2)
    f.commitment(by=asker(aid), offer=first, quantity=2)
    with pytest.raises(AidInvalid) as exc:
        f.commitment(by=asker(aid), offer=second, quantity=2)
    assert exc.value.errors == {"quantity": "the request needs 1 more, not 2"}
    f.commitment(by=asker(aid), offer=second, quantity=1)
    with pytest.raises(AidInvalid, match="the request needs 0 more, not 1"):
        f.commitment(by=asker(aid), offer=second, quantity=1)
    assert Offer.objects.get(pk=second.pk).remaining == 1


def test_commitment_is_refused_beyond_what_is_left_on_the_offer(aid):
    request = ask(aid, quantity=5)
    offer = give(aid, request, quantity=3)
    f.commitment(by=asker(aid), offer=offer, quantity=2)
    with pytest.raises(AidInvalid) as exc:
        f.commitment(by=asker(aid), offer=offer, quantity=2)
    assert exc.value.errors == {"quantity": "only 1 left on this offer, not 2"}
    for quantity in (0, 4, -1):
        with pytest.raises(AidInvalid) as exc:
            f.commitment(by=asker(aid), offer=offer, quantity=quantity)
        assert exc.value.errors == {"quantity": "give a whole number from 1 to 3"}
    assert Offer.objects.get(pk=offer.pk).remaining == 1


def test_nothing_can_be_committed_against_an_offer_that_is_not_open(aid):
    request = ask(aid, quantity=5)
    offer = give(aid, request)
    f.move(offer, "withdrawn", by=helper(aid), reason="Ward closed.")
    with pytest.raises(IllegalMove, match="This offer is withdrawn: nothing can be committed"):
        f.commitment(by=asker(aid), offer=offer)
    expiring = give(aid, request)
    actions.expire_due(now=expiring.available_until)
    with pytest.raises(IllegalMove, match="This offer is expired"):
        f.commitment(by=asker(aid), offer=expiring)


def test_nothing_can_be_committed_once_the_offers_window_has_closed_even_before_it_expires(aid):
    request = ask(aid)
    now = timezone.now()
    offer = actions.make_offer(
        by=helper(aid), organisation=aid.south, site=aid.south_site, request=request,
        quantity=1, available_from=now - timedelta(hours=1),
        available_until=now + timedelta(seconds=0.6), transport="offerer",
        cost_recovery="none", details=request.details,
    )  # fmt: skip
    time.sleep(0.7)
    with pytest.raises(IllegalMove, match="window has closed"):
        f.commitment(by=asker(aid), offer=offer)
    assert Offer.objects.get(pk=offer.pk).state == "offered"


def test_nothing_can_be_committed_for_a_request_no_longer_open(aid):
    request = ask(aid)
    offer = give(aid, request)
    f.move(request, "closed", by=asker(aid))
    with pytest.raises(IllegalMove, match="The request this offer answers is no longer open"):
        f.commitment(by=asker(aid), offer=offer)


def test_only_the_requester_takes_up_an_offer_made_for_its_request(third):
    aid = third
    request = ask(aid)
    offer = give(aid, request)
    for someone in (helper(aid), aid.people["third_coordinator"], aid.people[Role.VIEWER],
                    aid.people["outsider"], actions.EXPIRING):  # fmt: skip
        with pytest.raises(NotAllowed, match="Only the organisation that asked"):
            f.commitment(by=someone, offer=offer)
    assert not Commitment.objects.exists()


def test_an_unsolicited_offer_is_taken_up_by_an_organisation_in_its_audience(third):
    aid = third
    offer = give(aid, quantity=3)
    with pytest.raises(AidInvalid) as exc:
        f.commitment(by=asker(aid), offer=offer)
    assert exc.value.errors == {"organisation": "say which organisation takes up the offer"}
    c = f.commitment(by=asker(aid), offer=offer, quantity=2, organisation=aid.north)
    assert (c.organisation, c.request) == (aid.north, None)
    f.commitment(by=aid.people["third_coordinator"], offer=offer, organisation=aid.third)
    assert Offer.objects.get(pk=offer.pk).remaining == 0


def test_an_unsolicited_offer_is_refused_to_an_organisation_outside_its_audience(aid):
    offer = give(aid, quantity=3)
    with pytest.raises(NotAllowed, match="This offer is not open to Outside Hospitals"):
        f.commitment(by=aid.people["outsider"], offer=offer, organisation=aid.outside)
    # Nor may someone take it up on behalf of an organisation they do not arrange aid for.
    with pytest.raises(NotAllowed, match="You cannot arrange aid for North"):
        f.commitment(by=aid.people["outsider"], offer=offer, organisation=aid.north)
    narrow = give(aid, quantity=1, reach=Reach.ORGANISATION)
    with pytest.raises(NotAllowed):
        f.commitment(by=asker(aid), offer=narrow, organisation=aid.north)
    assert not Commitment.objects.exists()


# ------------------------------------------------------------------ moves


def test_every_move_is_audited_with_its_actor_and_the_state_before_and_after(aid):
    request = ask(aid, quantity=4)
    offers = [give(aid, request, quantity=1) for _ in range(3)]
    commitments = [f.commitment(by=asker(aid), offer=o) for o in offers]
    plan = [
        (commitments[0], "in_progress", helper(aid), "", "committed"),
        (commitments[0], "fulfilled", asker(aid), "", "in_progress"),
        (commitments[0], "returned", helper(aid), "", "fulfilled"),
        (commitments[1], "released", asker(aid), "Patient improved.", "committed"),
        (commitments[2], "in_progress", helper(aid), "", "committed"),
        (commitments[2], "released", helper(aid), "Crew stood down.", "in_progress"),
        (give(aid, request), "declined", asker(aid), "Too far.", "offered"),
        (give(aid, request), "withdrawn", helper(aid), "Ward closed.", "offered"),
        (request, "withdrawn", asker(aid), "Surge passed.", "open"),
        (ask(aid), "closed", asker(aid), "", "open"),
    ]
    for thing, to, by, reason, was in plan:
        mark = last_event_id()
        moved = f.move(thing, to, by=by, reason=reason)
        assert moved.state == to and moved.reason == reason
        (event, *_told) = AuditEvent.objects.filter(id__gt=mark).order_by("id")
        assert [e.action for e in _told] in ([], ["notifications.sent"] * len(_told))
        noun = type(thing).__name__.lower().replace("aidrequest", "request")
        assert event.action == f"exchange.{noun}_{to}"
        assert (event.actor_user, event.object_id) == (by, str(thing.pk))
        assert (event.before["state"], event.after["state"]) == (was, to)
        assert event.after["reason"] == reason
        thing.refresh_from_db()
        assert thing.state == to
    c0 = Commitment.objects.get(pk=commitments[0].pk)
    assert c0.started_at and c0.fulfilled_at and c0.ended_at
    assert c0.started_at <= c0.fulfilled_at <= c0.ended_at
    assert AidRequest.objects.get(pk=request.pk).ended_at is not None


def test_a_move_and_its_audit_event_commit_or_roll_back_together(aid):
    request = ask(aid)
    mark = last_event_id()
    with transaction.atomic():
        f.move(request, "closed", by=asker(aid))
        assert events("exchange.request_closed", after_id=mark)
        transaction.set_rollback(True)
    assert AidRequest.objects.get(pk=request.pk).state == "open"
    assert not events(after_id=mark)


def test_an_illegal_move_changes_nothing_and_records_nothing(aid):
    request = ask(aid)
    offer = give(aid, request)
    c = f.commitment(by=asker(aid), offer=offer)
    mark = last_event_id()
    refused = [
        (request, "expired", asker(aid), "Late."),
        (request, "closed", helper(aid), ""),
        (request, "withdrawn", asker(aid), "  "),
        (offer, "declined", helper(aid), "No."),
        (offer, "withdrawn", asker(aid), "No."),
        (offer, "offered", helper(aid), ""),
        (c, "in_progress", asker(aid), ""),
        (c, "fulfilled", helper(aid), ""),
        (c, "released", asker(aid), ""),
        (c, "released", aid.people["outsider"], "Because."),
    ]
    for thing, to, by, reason in refused:
        with pytest.raises(IllegalMove):
            f.move(thing, to, by=by, reason=reason)
    assert not AuditEvent.objects.filter(id__gt=mark).exists()
    assert (AidRequest.objects.get().state, Offer.objects.get().state) == ("open", "offered")
    assert Commitment.objects.get().state == "committed"


def test_an_unsolicited_offer_cannot_be_declined(aid):
    offer = give(aid)
    with pytest.raises(IllegalMove, match="Only an offer made in answer to a request"):
        f.move(offer, "declined", by=asker(aid), reason="No thanks.")


def test_releasing_before_fulfilment_gives_the_quantity_back_and_after_it_does_not(aid):
    request = ask(aid, quantity=5)
    offer = give(aid, request, quantity=5)
    early, started, done = (f.commitment(by=asker(aid), offer=offer, quantity=q) for q in (1, 2, 2))
    assert Offer.objects.get(pk=offer.pk).remaining == 0
    f.move(early, "released", by=helper(aid), reason="Patient stepped down.")
    assert Offer.objects.get(pk=offer.pk).remaining == 1
    f.move(started, "in_progress", by=helper(aid))
    f.move(started, "released", by=asker(aid), reason="Ambulance diverted.")
    assert Offer.objects.get(pk=offer.pk).remaining == 3
    assert queries.committed_to(request) == 2
    f.move(done, "in_progress", by=helper(aid))
    f.move(done, "fulfilled", by=helper(aid))
    released = f.move(done, "released", by=asker(aid))  # afterwards: no reason needed
    assert released.reason == "" and released.fulfilled_at is not None
    assert Offer.objects.get(pk=offer.pk).remaining == 3
    # Help that happened still counts against the request.
    assert queries.committed_to(request) == 2


def test_a_long_reason_is_kept_whole_up_to_its_limit_and_the_move_is_still_told(aid):
    request = ask(aid)
    give(aid, request)
    reason = "The surge has passed and beds have reopened on every ward. " * 8
    withdrawn = f.move(request, "withdrawn", by=asker(aid), reason=reason[:500])
    assert withdrawn.reason == reason[:500].strip()
    (note,) = [t for t in inbox(helper(aid)) if "withdrawn" in t]
    assert len(note) <= 500 and note.startswith("North Hospitals NHS Trust's request")
    assert note.endswith("…")


def test_moves_are_told_to_the_other_party_never_the_mover(aid):
    hooks = hooks_of(aid.north, aid.south)
    request = ask(aid, quantity=2)
    offer = give(aid, request, quantity=2)
    c = f.commitment(by=asker(aid), offer=offer)
    f.move(c, "in_progress", by=helper(aid))
    f.move(c, "fulfilled", by=asker(aid))
    kinds_at = {code: [k for k, _ in delivered(h)] for code, h in hooks.items()}
    assert kinds_at == {
        "RN1": ["aid.offer", "aid.changed"],
        "RS1": ["aid.request", "aid.commitment", "aid.changed"],
    }
    f.move(offer, "declined", by=asker(aid), reason="Covered now.")
    assert delivered(hooks["RS1"])[-1][0] == "aid.changed"
    assert delivered(hooks["RS1"])[-1][1]["state"] == "declined"
    assert not [t for t in inbox(asker(aid)) if "declined" in t]
    f.move(request, "closed", by=asker(aid))
    assert delivered(hooks["RS1"])[-1][1] == {"request": request.pk, "state": "closed",
                                               "organisation": "RS1"}  # fmt: skip
    assert [k for k, _ in delivered(hooks["RN1"])] == ["aid.offer", "aid.changed"]


def test_an_unsolicited_offer_withdrawn_is_told_to_those_who_took_some_up(third):
    aid = third
    offer = give(aid, quantity=3)
    f.commitment(by=asker(aid), offer=offer, organisation=aid.north)
    hooks = hooks_of(aid.north, aid.third)
    f.move(offer, "withdrawn", by=helper(aid), reason="Staff sick.")
    assert [k for k, _ in delivered(hooks["RN1"])] == ["aid.changed"]
    assert delivered(hooks["RT1"]) == []


# ------------------------------------------------------------------ scheduled work


def test_an_unmet_request_widens_after_the_collaboratives_set_time_once(aid):
    collaboratives_actions.update_collaborative(
        by=asker(aid),
        collaborative=aid.collab,
        thresholds={},
        reporting_interval_hours=aid.collab.reporting_interval_hours,
        aid_widen_after_minutes=30,
    )
    request = ask(aid, needed_in_hours=48)
    start = request.reach_since
    assert actions.widen_unmet(now=start + timedelta(minutes=29)) == []
    assert actions.widen_unmet(now=start + timedelta(minutes=30)) == [request.pk]
    # Run again for the same moment (a retry, a second worker): nothing more.
    assert actions.widen_unmet(now=start + timedelta(minutes=30)) == []
    request.refresh_from_db()
    assert request.reach == Reach.REGION
    (event,) = events("exchange.request_widened")
    assert event.actor_label == "system:aid-widening"
    # The clock restarts from the widening: the next step is another 30 minutes on.
    assert actions.widen_unmet(now=start + timedelta(minutes=59)) == []
    assert actions.widen_unmet(now=start + timedelta(minutes=60)) == [request.pk]
    assert actions.widen_unmet(now=start + timedelta(days=1)) == []
    assert AidRequest.objects.get(pk=request.pk).reach == Reach.PLATFORM


def test_a_request_fully_committed_or_no_longer_open_does_not_widen(aid):
    met = ask(aid, quantity=2)
    f.commitment(by=asker(aid), offer=give(aid, met, quantity=2), quantity=2)
    closed = ask(aid)
    f.move(closed, "closed", by=asker(aid))
    part = ask(aid, quantity=2)
    c = f.commitment(by=asker(aid), offer=give(aid, part, quantity=2), quantity=2)
    f.move(c, "released", by=asker(aid), reason="Not needed after all.")
    later = timezone.now() + timedelta(hours=2)
    assert actions.widen_unmet(now=later) == [part.pk]


def test_due_requests_and_offers_expire_once_with_their_reasons_and_are_told(aid):
    hooks = hooks_of(aid.north, aid.south)
    request = ask(aid, quantity=3, needed_in_hours=6)
    offer = give(aid, request, quantity=2, hours=3)
    f.commitment(by=asker(aid), offer=offer, quantity=1)
    standing = give(aid, quantity=1, hours=10)
    at = request.needed_by
    mark = last_event_id()
    assert actions.expire_due(now=at - timedelta(hours=4)) == ([], [])
    assert actions.expire_due(now=at) == ([request.pk], [offer.pk])
    assert actions.expire_due(now=at) == ([], [])
    request.refresh_from_db()
    offer.refresh_from_db()
    assert request.state == offer.state == "expired"
    assert request.reason.startswith("Needed by ") and request.reason.endswith(
        "; 1 of 3 committed by then."
    )
    assert offer.reason.endswith("; 1 of 2 taken up.")
    assert [e.action for e in events(after_id=mark)] == [
        "exchange.request_expired",
        "exchange.offer_expired",
    ]
    assert {e.actor_label for e in events(after_id=mark)} == {"system:aid-expiry"}
    assert Offer.objects.get(pk=standing.pk).state == "offered"
    # Both sides hear of each expiry, as an expiry.
    expired_at = {code: [d for k, d in delivered(h) if k == "aid.expired"] for code, h in
                  hooks.items()}  # fmt: skip
    assert {d.get("request") for d in expired_at["RN1"]} >= {request.pk}
    assert {d.get("offer") for d in expired_at["RN1"]} >= {offer.pk}
    assert {d.get("offer") for d in expired_at["RS1"]} >= {offer.pk}
    assert any(f"/aid/requests/{request.pk}" == link for link in told(asker(aid)))


def test_the_scheduled_jobs_widen_and_expire_for_their_slot(aid):
    request = ask(aid, needed_in_hours=3)
    slot = (request.reach_since + timedelta(hours=1)).isoformat()
    assert tasks.widen_unmet_requests.call(slot) == 1
    assert tasks.widen_unmet_requests.call(slot) == 0
    late = (request.needed_by + timedelta(minutes=5)).isoformat()
    assert tasks.expire_aid.call(late) == 1
    assert tasks.expire_aid.call(late) == 0
    assert AidRequest.objects.get(pk=request.pk).state == "expired"


def test_the_schedule_lists_the_exchanges_jobs_every_five_minutes():
    for name, path in (
        ("widen-unmet-aid-requests", "flotilla.exchange.tasks.widen_unmet_requests"),
        ("expire-aid", "flotilla.exchange.tasks.expire_aid"),
    ):
        e = entry(name)
        assert (e.task, e.when) == (path, "*/5 * * * *")


@pytest.mark.django_db(transaction=True)
def test_the_scheduled_jobs_run_through_the_worker_for_their_slot(aid):
    from tests.integration.jobs.test_jobs import run_worker

    request = ask(aid, needed_in_hours=0.05)
    slot = (request.needed_by + timedelta(minutes=1)).replace(second=0, microsecond=0)
    slot = slot.astimezone(UTC)
    for name in ("widen-unmet-aid-requests", "expire-aid"):
        assert jobs_actions.enqueue_slot(entry=entry(name), slot=slot) is not None
    run_worker()
    results = dict(DBTaskResult.objects.values_list("task_path", "return_value"))
    assert results["flotilla.exchange.tasks.expire_aid"] == 1
    assert AidRequest.objects.get(pk=request.pk).state == "expired"


# ------------------------------------------------------------------ who sees what


def viewer_of(*organisations, user=None) -> Viewer:
    return Viewer(
        label="test",
        organisation_ids=frozenset(o.pk for o in organisations),
        user_id=user.pk if user is not None else None,
    )


def test_a_request_is_seen_by_its_audience_as_it_widens(third):
    aid = third
    f.region("Y58", "South West", aid.north, aid.outside)
    far = f.OrganisationFactory(code="RF1", name="Far Hospitals NHS Trust")
    request = ask(aid, reach=Reach.ORGANISATION)

    def seen() -> set[str]:
        return {
            o.code
            for o in (aid.north, aid.south, aid.third, aid.outside, far)
            if queries.requests_seen_by(viewer_of(o)).filter(pk=request.pk).exists()
        }

    assert seen() == {"RN1"}
    actions.widen(by=asker(aid), request=request)
    assert seen() == {"RN1", "RS1", "RT1"}
    actions.widen(by=asker(aid), request=request)
    assert seen() == {"RN1", "RS1", "RT1", "RX1"}
    actions.widen(by=asker(aid), request=request)
    assert seen() == {"RN1", "RS1", "RT1", "RX1", "RF1"}
    assert not queries.requests_seen_by(viewer_of()).exists()
    platform = Viewer(label="platform", organisation_ids=frozenset(), platform=True)
    assert queries.requests_seen_by(platform).filter(pk=request.pk).exists()
    # Seen in every state afterwards, by the same audience.
    f.move(request, "closed", by=asker(aid))
    assert seen() == {"RN1", "RS1", "RT1", "RX1", "RF1"}
    assert queries.get_request(viewer_of(far), request.pk) == request


def test_an_offer_for_a_request_is_seen_by_the_two_parties_and_the_coordinators_only(third):
    aid = third
    request = ask(aid, reach=Reach.PLATFORM)
    offer = give(aid, request)

    def sees(viewer) -> bool:
        return queries.offers_seen_by(viewer).filter(pk=offer.pk).exists()

    assert sees(viewer_of(aid.north)) and sees(viewer_of(aid.south))
    assert sees(viewer_of(aid.third, user=aid.people["third_coordinator"]))
    assert not sees(viewer_of(aid.third, user=aid.people["third_viewer"]))
    assert not sees(viewer_of(aid.third))  # a token of a member: not a coordinator
    assert not sees(viewer_of(aid.outside, user=aid.people["outsider"]))
    assert not sees(viewer_of())
    assert sees(Viewer(label="platform", organisation_ids=frozenset(), platform=True))
    from django.http import Http404

    with pytest.raises(Http404):
        queries.get_offer(viewer_of(aid.third), offer.pk)
    assert queries.get_offer(viewer_of(aid.north), offer.pk) == offer
    c = f.commitment(by=asker(aid), offer=offer)
    assert queries.get_commitment(viewer_of(aid.south), c.pk) == c
    with pytest.raises(Http404):
        queries.get_commitment(viewer_of(aid.outside), c.pk)
    with pytest.raises(Http404):
        queries.get_request(viewer_of(aid.outside), 10**9)


def test_an_unsolicited_offer_is_seen_by_its_audience_and_its_takers_keep_seeing_it(third):
    aid = third
    offer = give(aid, quantity=2)
    for org, seen in ((aid.north, True), (aid.third, True), (aid.outside, False)):
        assert queries.offers_seen_by(viewer_of(org)).filter(pk=offer.pk).exists() is seen
    f.commitment(by=aid.people["third_coordinator"], offer=offer, organisation=aid.third)
    admin = f.UserFactory(username="third_admin")
    f.member(admin, aid.third, Role.ORG_ADMIN)
    collaboratives_actions.leave(by=admin, collaborative=aid.collab, organisation=aid.third)
    assert queries.offers_seen_by(viewer_of(aid.third)).filter(pk=offer.pk).exists()
    assert queries.commitments_seen_by(viewer_of(aid.third)).count() == 1
    assert not queries.requests_seen_by(viewer_of(aid.third)).exists()


def test_requests_offers_and_commitments_name_themselves_and_whose_people_act_for_them(aid):
    request = ask(aid, quantity=2)
    offer = give(aid, request, quantity=2)
    c = f.commitment(by=asker(aid), offer=offer)
    summary = "2 patients, critical care level 3, adult critical care, ventilation"
    assert str(request) == f"Request {request.pk}: {summary}"
    assert str(offer).startswith(f"Offer {offer.pk}: 2 patients, critical care level 3")
    assert str(c) == f"Commitment {c.pk}: 1 of offer {offer.pk}"
    assert request.acting_organisation_ids() == [aid.north.pk]
    assert offer.acting_organisation_ids() == [aid.south.pk]
