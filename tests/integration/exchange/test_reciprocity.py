"""The reciprocity ledger: help that happened, given and received per kind in the kind's own
units; requests met in full, in part, not met or still open; median times to the first
offer, commitment and fulfilment; and the ledger since a moment."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from flotilla.authz.models import Role
from flotilla.exchange import actions, reciprocity
from flotilla.exchange.models import AidRequest, Commitment
from tests import factories as f

pytestmark = pytest.mark.django_db

STAFF = {"role": "registered_nurse", "grade": "Band 5", "shifts": "Nights"}


def north_asks(aid, **kw):
    return f.aid_request(
        by=aid.people[Role.COORDINATOR], organisation=aid.north, collaborative=aid.collab,
        site=aid.north_site, **kw,
    )  # fmt: skip


def south_asks(aid, **kw):
    return f.aid_request(
        by=aid.people["south_coordinator"], organisation=aid.south, collaborative=aid.collab,
        site=aid.south_site, **kw,
    )  # fmt: skip


def helped(request, offerer_by, offerer, site, taker_by, quantity, *, fulfil=True):
    """An offer for `request`, `quantity` of it taken up, and (if `fulfil`) carried out."""
    offer = f.offer(by=offerer_by, organisation=offerer, site=site, request=request,
                    quantity=quantity)  # fmt: skip
    c = actions.commit(by=taker_by, offer=offer, quantity=quantity)
    if fulfil:
        c = f.move(c, "in_progress", by=offerer_by)
        c = f.move(c, "fulfilled", by=offerer_by)
    return c


def _at(obj, **stamps):
    """Move a row's timestamps (the ledger's times are measured from them)."""
    type(obj).objects.filter(pk=obj.pk).update(**stamps)


def test_the_ledger_counts_help_that_happened_per_kind_and_the_fate_of_each_request(aid):
    north, south = aid.people[Role.COORDINATOR], aid.people["south_coordinator"]
    full = north_asks(aid, quantity=2)
    helped(full, south, aid.south, aid.south_site, north, 2)
    part = north_asks(aid, kind="staff", details=STAFF, quantity=3)
    helped(part, south, aid.south, aid.south_site, north, 1)
    helped(part, south, aid.south, aid.south_site, north, 1, fulfil=False)
    unmet = north_asks(aid)
    c = helped(unmet, south, aid.south, aid.south_site, north, 1, fulfil=False)
    f.move(c, "released", by=north, reason="Not needed.")
    f.move(unmet, "withdrawn", by=north, reason="Managed ourselves.")
    still = south_asks(aid, kind="staff", details=STAFF, quantity=4)
    back = helped(still, north, aid.north, aid.north_site, south, 1)
    f.move(back, "returned", by=north)
    ledger = reciprocity.ledger_of(aid.collab)
    tallies = {t.organisation.code: t for t in ledger.tallies}
    n, s = tallies["RN1"], tallies["RS1"]
    assert dict(s.given) == {"transfer": 2, "staff": 1} and dict(s.received) == {"staff": 1}
    assert dict(n.received) == {"transfer": 2, "staff": 1} and dict(n.given) == {"staff": 1}
    assert (n.given_total, n.received_total, s.given_total, s.received_total) == (1, 3, 3, 1)
    assert (n.requests, n.met_in_full, n.met_in_part, n.not_met, n.still_open) == (3, 1, 1, 1, 0)
    # South's request is open, with 1 of 4 fulfilled: met in part, not "still open".
    assert (s.requests, s.met_in_part, s.still_open) == (1, 1, 0)
    assert [t.organisation.code for t in ledger.tallies] == ["RS1", "RN1"]  # most given first
    assert len(ledger.exchanges) == 3
    assert {(e.given_by.code, e.received_by.code, e.kind, e.quantity, e.state)
            for e in ledger.exchanges} == {
        ("RS1", "RN1", "transfer", 2, "fulfilled"),
        ("RS1", "RN1", "staff", 1, "fulfilled"),
        ("RN1", "RS1", "staff", 1, "returned"),
    }  # fmt: skip


def test_a_request_with_nothing_yet_is_still_open_and_one_ended_with_nothing_is_not_met(aid):
    north = aid.people[Role.COORDINATOR]
    north_asks(aid)
    f.move(north_asks(aid), "closed", by=north)
    ledger = reciprocity.ledger_of(aid.collab)
    (t,) = ledger.tallies
    assert (t.requests, t.still_open, t.not_met, t.met_in_full, t.met_in_part) == (2, 1, 1, 0, 0)
    assert ledger.exchanges == [] and ledger.to_first_offer is None
    assert (ledger.to_commitment, ledger.to_fulfilment) == (None, None)


def test_help_released_after_it_happened_still_counts(aid):
    north, south = aid.people[Role.COORDINATOR], aid.people["south_coordinator"]
    request = north_asks(aid, quantity=1)
    c = helped(request, south, aid.south, aid.south_site, north, 1)
    f.move(c, "released", by=north)
    (t,) = [t for t in reciprocity.ledger_of(aid.collab).tallies if t.organisation == aid.north]
    assert (t.met_in_full, dict(t.received)) == (1, {"transfer": 1})


def test_the_times_are_medians_from_each_request_to_its_first_offer_commitment_and_help(aid):
    north, south = aid.people[Role.COORDINATOR], aid.people["south_coordinator"]
    base = timezone.now() - timedelta(days=2)
    spans = []
    for minutes in (10, 30, 50):
        request = north_asks(aid, quantity=1)
        c = helped(request, south, aid.south, aid.south_site, north, 1)
        _at(request, created_at=base)
        _at(c.offer, created_at=base + timedelta(minutes=minutes))
        _at(c, created_at=base + timedelta(minutes=2 * minutes),
            fulfilled_at=base + timedelta(minutes=3 * minutes))  # fmt: skip
        spans.append(minutes)
    never = north_asks(aid)  # no offer: left out of the medians
    _at(never, created_at=base)
    ledger = reciprocity.ledger_of(aid.collab)
    assert ledger.to_first_offer == timedelta(minutes=30)
    assert ledger.to_commitment == timedelta(minutes=60)
    assert ledger.to_fulfilment == timedelta(minutes=90)
    assert reciprocity._median([timedelta(1), timedelta(2)]) == timedelta(days=1.5)


def test_since_a_moment_the_ledger_counts_only_what_was_asked_or_happened_since(aid):
    north, south = aid.people[Role.COORDINATOR], aid.people["south_coordinator"]
    old = north_asks(aid, quantity=1)
    c_old = helped(old, south, aid.south, aid.south_site, north, 1)
    week_ago = timezone.now() - timedelta(days=7)
    _at(old, created_at=week_ago)
    _at(c_old, fulfilled_at=week_ago + timedelta(hours=1))
    new = north_asks(aid, quantity=2)
    helped(new, south, aid.south, aid.south_site, north, 1)
    since = timezone.now() - timedelta(days=1)
    ledger = reciprocity.ledger_of(aid.collab, since=since)
    (e,) = ledger.exchanges
    assert e.request_id == new.pk and e.fulfilled_at >= since
    tallies = {t.organisation.code: t for t in ledger.tallies}
    assert (tallies["RN1"].requests, tallies["RN1"].met_in_part) == (1, 1)
    everything = reciprocity.ledger_of(aid.collab)
    assert len(everything.exchanges) == 2
    assert {t.organisation.code: t.requests for t in everything.tallies}["RN1"] == 2


def test_the_ledger_is_the_collaboratives_own(aid):
    other = f.CollaborativeFactory(name="Elsewhere", organisation=aid.north)
    north, south = aid.people[Role.COORDINATOR], aid.people["south_coordinator"]
    helped(north_asks(aid), south, aid.south, aid.south_site, north, 1)
    empty = reciprocity.ledger_of(other)
    assert (empty.exchanges, empty.tallies) == ([], [])
    assert reciprocity.happened_in(aid.collab).count() == Commitment.objects.count() == 1
    assert AidRequest.objects.filter(collaborative=other).count() == 0
