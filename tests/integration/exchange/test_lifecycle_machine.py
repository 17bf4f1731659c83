"""The negotiation driven at random through the actions: requests raised, offers made, parts
taken up, things moved (legally or not, by either side, the platform or an outsider), widened
and expired, with random quantities. After every step the books balance:

- every offer has `0 <= remaining <= quantity`, and what is committed against it (all but
  releases before fulfilment) plus what remains is exactly its quantity;
- no request has more committed to it than it asked for;
- everything ended says why where the table requires a reason;
- every change made has exactly one audit event `exchange.*`, and a refused one has none and
  changes nothing.

Derandomised (the `ci` profile): the same 25 runs of up to 20 steps every time.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from flotilla.audit.models import AuditEvent
from flotilla.authz.models import Role
from flotilla.exchange import actions, lifecycle
from flotilla.exchange.actions import AidInvalid, IllegalMove, NotAllowed
from flotilla.exchange.models import AidRequest, Commitment, Offer
from flotilla.exchange.queries import ACTIVE_COMMITMENTS, committed_to
from tests import factories as f

REFUSED = (AidInvalid, IllegalMove, NotAllowed)
MODELS = {"request": AidRequest, "offer": Offer, "commitment": Commitment}
WHO = ("requester", "offerer", "platform", "outsider")


def audit_count() -> int:
    return AuditEvent.objects.filter(action__startswith="exchange.").count()


def world() -> tuple:
    """Everything that can change, to compare before and after a refused step."""
    return (
        list(AidRequest.objects.order_by("pk").values_list("pk", "state", "reach", "reason")),
        list(Offer.objects.order_by("pk").values_list("pk", "state", "remaining", "reason")),
        list(Commitment.objects.order_by("pk").values_list("pk", "state", "quantity", "reason")),
        audit_count(),
    )


def test_any_sequence_of_steps_keeps_the_books_balanced_and_every_change_audited(aid):
    people = {
        "requester": aid.people[Role.COORDINATOR],
        "offerer": aid.people["south_coordinator"],
        "platform": actions.EXPIRING,
        "outsider": aid.people["outsider"],
    }

    class Negotiation(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.atomic = transaction.atomic()
            self.atomic.__enter__()
            self.ids: dict[str, list[int]] = {"request": [], "offer": [], "commitment": []}
            self.audited = audit_count()
            self.moves = 0

        def teardown(self) -> None:
            transaction.set_rollback(True)
            self.atomic.__exit__(None, None, None)

        def attempt(self, step, audited: int = 1):
            """Run a step: counted when it succeeds, and changing nothing when refused."""
            before = world()
            try:
                result = step()
            except REFUSED:
                assert world() == before
                return None
            self.audited += audited
            return result

        @rule(quantity=st.integers(1, 4), reach=st.integers(1, 4))
        def ask(self, quantity, reach):
            request = self.attempt(
                lambda: f.aid_request(
                    by=people["requester"],
                    organisation=aid.north,
                    collaborative=aid.collab,
                    site=aid.north_site,
                    quantity=quantity,
                    reach=reach,
                )
            )
            if request is not None:
                self.ids["request"].append(request.pk)

        @rule(which=st.integers(0, 5), quantity=st.integers(1, 5), answer=st.booleans())
        def offer(self, which, quantity, answer):
            request = None
            if answer and self.ids["request"]:
                pk = self.ids["request"][which % len(self.ids["request"])]
                request = AidRequest.objects.get(pk=pk)
            kw = {}
            if request is None:
                kw = {"collaborative": aid.collab, "kind": "transfer",
                      "details": {"level_of_care": "cc3", "bed_type": "cc_adult"}}  # fmt: skip
            offer = self.attempt(
                lambda: f.offer(
                    by=people["offerer"],
                    organisation=aid.south,
                    site=aid.south_site,
                    request=request,
                    quantity=quantity,
                    **kw,
                )
            )
            if offer is not None:
                self.ids["offer"].append(offer.pk)

        @rule(which=st.integers(0, 5), quantity=st.integers(0, 6), who=st.sampled_from(WHO))
        def commit(self, which, quantity, who):
            if not self.ids["offer"]:
                return
            offer = Offer.objects.get(pk=self.ids["offer"][which % len(self.ids["offer"])])
            taker = None if offer.request_id else aid.north
            c = self.attempt(
                lambda: actions.commit(
                    by=people[who], offer=offer, quantity=quantity, organisation=taker
                )
            )
            if c is not None:
                # The platform speaks for every organisation, as in raising and offering;
                # for an answered request only the requester may take up.
                assert who == "requester" or (who == "platform" and taker is not None)
                self.ids["commitment"].append(c.pk)

        @rule(
            thing=st.sampled_from(tuple(MODELS)),
            which=st.integers(0, 5),
            to=st.sampled_from(sorted({s for states in lifecycle.STATES.values() for s in states})),
            who=st.sampled_from(WHO),
            reason=st.sampled_from(("", "  ", "The ward reopened.")),
        )
        def move(self, thing, which, to, who, reason):
            if not self.ids[thing]:
                return
            obj = MODELS[thing].objects.get(pk=self.ids[thing][which % len(self.ids[thing])])
            was = obj.state
            moved = self.attempt(lambda: f.move(obj, to, by=people[who], reason=reason))
            legal = (thing, was, to) in lifecycle.MOVES
            if moved is not None:
                assert legal and moved.state == to
                self.moves += 1

        @rule(which=st.integers(0, 5), who=st.sampled_from(WHO))
        def widen(self, which, who):
            if self.ids["request"]:
                pk = self.ids["request"][which % len(self.ids["request"])]
                request = AidRequest.objects.get(pk=pk)
                self.attempt(lambda: actions.widen(by=people[who], request=request))

        @rule(days=st.sampled_from((0, 1, 4)))
        def expire(self, days):
            before = audit_count()
            requests, offers = actions.expire_due(now=timezone.now() + timedelta(days=days))
            assert audit_count() - before == len(requests) + len(offers)
            self.audited += len(requests) + len(offers)
            assert actions.expire_due(now=timezone.now() + timedelta(days=days)) == ([], [])

        @invariant()
        def offers_never_promise_more_than_they_hold(self):
            for offer in Offer.objects.filter(pk__in=self.ids["offer"]):
                assert 0 <= offer.remaining <= offer.quantity
                active = Commitment.objects.filter(ACTIVE_COMMITMENTS, offer=offer)
                assert sum(c.quantity for c in active) + offer.remaining == offer.quantity

        @invariant()
        def requests_never_get_more_than_they_asked_for(self):
            for request in AidRequest.objects.filter(pk__in=self.ids["request"]):
                assert committed_to(request) <= request.quantity

        @invariant()
        def everything_ended_says_why_where_a_reason_is_required(self):
            for thing, model in MODELS.items():
                for obj in model.objects.filter(pk__in=self.ids[thing]):
                    if thing == "commitment":
                        needs = obj.state == "released" and obj.fulfilled_at is None
                    else:
                        needs = obj.state in ("withdrawn", "declined", "expired")
                    assert obj.reason.strip() or not needs, (thing, obj.state)
                    assert obj.state in lifecycle.STATES[thing]

        @invariant()
        def every_change_has_its_audit_event(self):
            assert audit_count() == self.audited

    run_state_machine_as_test(
        Negotiation,
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
