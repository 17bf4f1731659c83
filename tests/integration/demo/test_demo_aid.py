"""The demo's mutual aid: open requests and offers on the first run, a month of help in the
ledger, and every row where the lifecycle and the actions could have put it.

Most tests load the synthetic demo (a second or two); one loads the real one."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

import pytest
from django.core.management import call_command
from django.utils import timezone

from flotilla.audit.models import AuditEvent
from flotilla.authz.models import Membership, Role
from flotilla.collaboratives.models import Collaborative
from flotilla.demo import aid, loader
from flotilla.exchange import lifecycle, reciprocity
from flotilla.exchange.models import AidRequest, Commitment, Offer
from flotilla.notifications.models import Notification

pytestmark = pytest.mark.django_db

THINGS = {
    "request": (AidRequest, "exchange.aidrequest"),
    "offer": (Offer, "exchange.offer"),
    "commitment": (Commitment, "exchange.commitment"),
}


@pytest.fixture
def demo(tmp_path):
    """The synthetic demo, loaded by the command as `make run` does."""
    call_command("load-demo", "--if-empty", "--data-dir", str(tmp_path))
    return Collaborative.objects.get()


def test_the_demo_opens_with_requests_of_several_kinds_and_urgencies(demo):
    open_ = AidRequest.objects.filter(collaborative=demo, state="open")
    assert {"transfer", "staff", "equipment"} <= set(open_.values_list("kind", flat=True))
    assert len(set(open_.values_list("urgency", flat=True))) >= 3
    critical = open_.get(kind="transfer")
    assert critical.details["level_of_care"] in ("cc2", "cc3")
    # Open requests are still needed: in the future, and each from a site of its organisation.
    now = timezone.now()
    for r in open_:
        assert r.needed_by > now and r.site.organisation_id == r.organisation_id


def test_the_demo_has_an_answer_with_terms_a_standing_offer_and_help_under_way(demo):
    now = timezone.now()
    offered = Offer.objects.filter(collaborative=demo, state="offered")
    for o in offered:
        assert o.available_from < now < o.available_until
    answers = offered.filter(request__state="open", remaining__gt=0)
    assert answers.exists()
    answer = answers.first()
    assert answer.transport and answer.cost_recovery and answer.conditions
    standing = offered.get(request__isnull=True)
    assert standing.kind == "beds" and standing.details["bed_type"] == "cc_adult"
    assert standing.duration_hours == 72 and standing.remaining < standing.quantity
    assert Commitment.objects.filter(state="in_progress", offer__collaborative=demo).exists()
    assert Commitment.objects.filter(state="committed", offer__collaborative=demo).exists()


def test_a_month_of_help_between_several_trusts_is_in_the_ledger(demo):
    now = timezone.now()
    ledger = reciprocity.ledger_of(demo, since=now - timedelta(days=30))
    assert 10 <= len(ledger.exchanges) <= 20
    assert len({e.given_by.pk for e in ledger.exchanges}) >= 4
    assert len({e.received_by.pk for e in ledger.exchanges}) >= 4
    assert {e.kind for e in ledger.exchanges} == {
        "transfer",
        "beds",
        "staff",
        "equipment",
        "elective",
    }
    assert all(now - timedelta(days=30) <= e.fulfilled_at <= now for e in ledger.exchanges)
    assert any(e.state == "returned" for e in ledger.exchanges)
    assert sum(t.met_in_part for t in ledger.tallies) >= 2
    assert sum(t.not_met for t in ledger.tallies) >= 2
    # Days and hours, not the seconds a load takes.
    assert ledger.to_first_offer > timedelta(minutes=20)
    assert ledger.to_fulfilment > timedelta(hours=2)
    spread = {e.fulfilled_at.date() for e in ledger.exchanges}
    assert len(spread) >= 8


def test_the_history_has_a_release_a_decline_a_withdrawal_and_an_expiry_each_with_its_reason(
    demo,
):
    released = Commitment.objects.get(state="released", offer__collaborative=demo)
    assert released.reason and released.fulfilled_at is None
    assert Offer.objects.get(state="declined").reason
    assert Offer.objects.get(state="withdrawn").reason
    assert AidRequest.objects.get(state="withdrawn").reason
    expired = AidRequest.objects.get(state="expired")
    assert expired.reason.startswith("Needed by ")
    # Nobody could help, so it was shown to the region before it expired.
    assert expired.reach == 3 and expired.reach_since < expired.ended_at


def _path(obj_type: str, pk: int, thing: str) -> list[str]:
    """The states a row went through, read from its audit events."""
    states = [lifecycle.INITIAL[thing]]
    for action in (
        AuditEvent.objects.filter(object_type=obj_type, object_id=str(pk))
        .order_by("id")
        .values_list("action", flat=True)
    ):
        to = action.removeprefix(f"exchange.{thing}_")
        if to in lifecycle.STATES[thing]:
            states.append(to)
    return states


def test_every_exchange_row_got_where_it_is_by_moves_the_lifecycle_allows(demo):
    for thing, (model, obj_type) in THINGS.items():
        rows = list(model.objects.all())
        assert rows
        for row in rows:
            assert row.state in lifecycle.STATES[thing]
            path = _path(obj_type, row.pk, thing)
            assert path[-1] == row.state, (thing, row.pk, path)
            for before, after in pairwise(path):
                move = lifecycle.MOVES[(thing, before, after)]
                if move.reason_required and after == row.state:
                    assert row.reason.strip(), (thing, row.pk, after)


def test_every_exchange_row_has_times_in_the_order_things_happened(demo):
    now = timezone.now()
    for r in AidRequest.objects.all():
        assert r.created_at <= r.reach_since < now and r.created_at < r.needed_by
        assert (r.ended_at is None) == (r.state == "open")
        if r.ended_at:
            assert r.created_at < r.ended_at <= now
    for o in Offer.objects.select_related("request"):
        assert o.available_from < o.available_until and o.created_at <= now
        if o.request is not None:
            assert o.request.created_at < o.created_at
        assert (o.ended_at is None) == (o.state == "offered")
        if o.state == "expired":
            assert o.available_until < o.ended_at <= now
        elif o.state == "offered":
            assert o.available_until > now  # else the expiry job would have ended it
    for c in Commitment.objects.select_related("offer"):
        assert c.offer.created_at < c.created_at
        assert c.offer.available_from <= c.created_at < c.offer.available_until
        if c.state in ("in_progress", "fulfilled", "returned"):
            assert c.started_at is not None
        elif c.state == "committed":
            assert c.started_at is None
        assert (c.fulfilled_at is not None) == (c.state in ("fulfilled", "returned"))
        assert (c.ended_at is not None) == (c.state in ("returned", "released"))
        times = [t for t in (c.created_at, c.started_at, c.fulfilled_at, c.ended_at) if t]
        assert times == sorted(times) and times[-1] <= now


def test_the_exchange_is_arranged_by_demo_coordinators_of_the_organisations_concerned(demo):
    concerned = {}
    for r in AidRequest.objects.all():
        concerned[("exchange.aidrequest", str(r.pk))] = {r.organisation_id}
    for o in Offer.objects.select_related("request"):
        concerned[("exchange.offer", str(o.pk))] = {o.organisation_id} | (
            {o.request.organisation_id} if o.request else set()
        )
    for c in Commitment.objects.select_related("offer"):
        concerned[("exchange.commitment", str(c.pk))] = {c.organisation_id, c.offer.organisation_id}
    events = AuditEvent.objects.filter(action__startswith="exchange.")
    assert events.count() > 100
    for e in events.select_related("actor_user"):
        if e.actor_user is None:
            # Only the platform's own moves: widening and expiry, made by the demo.
            assert e.actor_label == "system:demo"
            assert e.action in (
                "exchange.request_widened",
                "exchange.request_expired",
                "exchange.offer_expired",
            ), e.action
            continue
        assert e.actor_user.username.startswith("demo-")
        coordinating = set(
            Membership.objects.filter(user=e.actor_user, role=Role.COORDINATOR).values_list(
                "organisation_id", flat=True
            )
        )
        assert coordinating & concerned[(e.object_type, e.object_id)], (e.action, e.object_id)


def test_the_history_is_moved_back_once_on_the_record_and_the_chain_still_holds(demo, capsys):
    (event,) = AuditEvent.objects.filter(action="demo.aid_history_backdated")
    assert event.actor_label == "system:demo"
    moved = event.after["seconds_moved_back"]
    requests = moved["exchange.aidrequest"]
    assert set(requests) == {str(pk) for pk in AidRequest.objects.values_list("pk", flat=True)}
    oldest = max(s["created_at"] for s in requests.values())
    assert 25 * 86400 < oldest < 30 * 86400
    # Nothing happened after the move back: it is the last thing the exchange did.
    last_exchange = AuditEvent.objects.filter(action__startswith="exchange.").latest("id")
    assert last_exchange.id < event.id
    call_command("verify-audit")
    assert "verified" in capsys.readouterr().out


def test_the_months_notifications_are_read_and_todays_are_new(demo):
    coordinator = Membership.objects.get(user__username="demo-coordinator").user
    unread = Notification.objects.filter(recipient=coordinator, read_at__isnull=True)
    assert unread.exists()
    assert Notification.objects.filter(recipient=coordinator, read_at__isnull=False).exists()
    # What is new is about what is open now: an open request or an offer still standing.
    open_now = {
        f"/aid/requests/{pk}"
        for pk in AidRequest.objects.filter(state="open").values_list("pk", flat=True)
    }
    open_now |= {
        f"/aid/offers/{pk}"
        for pk in Offer.objects.filter(state="offered").values_list("pk", flat=True)
    }
    for n in unread:
        assert n.link in open_now, n.text


def test_loading_again_if_empty_leaves_the_exchange_as_it_was(demo, tmp_path):
    before = (AidRequest.objects.count(), Offer.objects.count(), Commitment.objects.count())
    call_command("load-demo", "--if-empty", "--data-dir", str(tmp_path))
    assert (AidRequest.objects.count(), Offer.objects.count(), Commitment.objects.count()) == before


def test_the_real_demos_exchange_is_between_the_coordinators_trust_and_its_neighbours(
    shared_data,
):
    result = loader.load(data_dir=shared_data)
    assert result["aid"]["requests"] >= 15
    home = Membership.objects.get(user__username="demo-coordinator").organisation
    taking_part = set(AidRequest.objects.values_list("organisation_id", flat=True)) | set(
        Offer.objects.values_list("organisation_id", flat=True)
    )
    assert home.pk in taking_part and len(taking_part) == aid.PARTIES
    collab = Collaborative.objects.get(slug=result["collaborative"])
    members = set(collab.memberships.values_list("organisation_id", flat=True))
    assert taking_part <= members
    # Neighbours: every trust taking part is within 60 km of the coordinator's trust.
    from flotilla.exchange.matching import distance_km
    from flotilla.organisations.models import Organisation

    for org in Organisation.objects.filter(pk__in=taking_part):
        d = distance_km((home.latitude, home.longitude), (org.latitude, org.longitude))
        assert d is not None and d < 60


@pytest.mark.parametrize(
    "local",
    [
        "2026-11-30T00:05",  # just after midnight: yesterday's evening is the recent past
        "2026-12-01T23:50",
        "2027-03-28T01:30",  # the night the clocks go forward
    ],
)
def test_the_exchange_loads_whatever_the_time_of_day(local, tmp_path, monkeypatch):
    from datetime import datetime

    moment = datetime.fromisoformat(local).replace(tzinfo=timezone.get_current_timezone())
    monkeypatch.setattr(timezone, "now", lambda: moment)
    call_command("load-demo", "--data-dir", str(tmp_path))
    assert AidRequest.objects.filter(state="open", needed_by__gt=moment).count() == 4
    for c in Commitment.objects.all():
        times = [t for t in (c.created_at, c.started_at, c.fulfilled_at, c.ended_at) if t]
        assert times == sorted(times) and times[-1] <= moment
    assert not Offer.objects.filter(state="offered", available_until__lte=moment).exists()


class _Again(Exception):
    pass


def _story() -> list[tuple]:
    """The exchange as parties, states and times, without row ids."""
    requests = [
        ("request", r.organisation.code, r.kind, r.quantity, r.state, r.created_at, r.ended_at)
        for r in AidRequest.objects.select_related("organisation")
    ]
    commitments = [
        (c.offer.organisation.code, c.organisation.code, c.state, c.created_at, c.fulfilled_at)
        for c in Commitment.objects.select_related("offer__organisation", "organisation")
    ]
    return sorted([*requests, *commitments], key=str)


def _load_and_undo(tmp_path) -> list[tuple]:
    from django.db import transaction

    try:
        with transaction.atomic():
            call_command("load-demo", "--data-dir", str(tmp_path))
            story = _story()
            raise _Again
    except _Again:
        return story


def test_loaded_at_the_same_moment_the_exchange_is_the_same(tmp_path, monkeypatch):
    from datetime import datetime

    moment = datetime(2026, 12, 2, 14, 30, tzinfo=timezone.get_current_timezone())
    monkeypatch.setattr(timezone, "now", lambda: moment)
    first = _load_and_undo(tmp_path)
    assert len(first) > 30 and not AidRequest.objects.exists()
    call_command("load-demo", "--data-dir", str(tmp_path))
    assert _story() == first
