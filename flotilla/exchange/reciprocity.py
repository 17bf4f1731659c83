"""The reciprocity ledger: who helped whom with what, and how fast, per collaborative.

Visible to the collaborative's members (the aid arranged in it is their shared record; the
offers' terms stay with the parties). Counted from commitments, which say who gave (the
offer's organisation) and who received (the commitment's organisation):

- **given / received**: help that happened, counted in the kind's own units (fulfilled, and
  afterwards returned or released; a release before fulfilment did not happen);
- **requests**: raised, met in full (fulfilled quantity reaches the quantity asked), met in
  part, not met (ended with nothing fulfilled), still open;
- **times**: from a request being raised to its first offer, its first commitment and its
  first fulfilment, as medians over the requests that got that far.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Min, QuerySet

from flotilla import csvsafe
from flotilla.collaboratives.models import Collaborative
from flotilla.exchange import kinds, queries
from flotilla.exchange.models import AidRequest, Commitment
from flotilla.organisations.models import Organisation


@dataclass
class Exchange:
    """One piece of help that happened."""

    given_by: Organisation
    received_by: Organisation
    kind: str
    what: str
    quantity: int
    committed_at: datetime
    fulfilled_at: datetime
    state: str
    request_id: int | None


@dataclass
class Tally:
    """One organisation's side of the ledger."""

    organisation: Organisation
    given: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    received: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    requests: int = 0
    met_in_full: int = 0
    met_in_part: int = 0
    not_met: int = 0
    still_open: int = 0

    @property
    def given_total(self) -> int:
        return sum(self.given.values())

    @property
    def received_total(self) -> int:
        return sum(self.received.values())


@dataclass
class Ledger:
    exchanges: list[Exchange]
    tallies: list[Tally]
    #: Median time from a request to its first offer, commitment and fulfilment (None: none).
    to_first_offer: timedelta | None
    to_commitment: timedelta | None
    to_fulfilment: timedelta | None


def _median(spans: list[timedelta]) -> timedelta | None:
    if not spans:
        return None
    return timedelta(seconds=statistics.median(s.total_seconds() for s in spans))


def happened_in(collaborative: Collaborative) -> QuerySet[Commitment]:
    """The commitments of a collaborative's offers that were fulfilled, newest first."""
    return (
        Commitment.objects.filter(queries.HAPPENED, offer__collaborative=collaborative)
        .select_related("offer", "offer__organisation", "organisation")
        .order_by("-fulfilled_at", "-pk")
    )


def ledger_of(collaborative: Collaborative, since: datetime | None = None) -> Ledger:
    """The collaborative's ledger (since a moment, or all of it). Ask only for a
    collaborative the asker belongs to (`collaboratives.queries.find_collaborative`)."""
    done = happened_in(collaborative)
    requests = AidRequest.objects.filter(collaborative=collaborative).select_related("organisation")
    if since is not None:
        done = done.filter(fulfilled_at__gte=since)
        requests = requests.filter(created_at__gte=since)
    exchanges = [
        Exchange(
            given_by=c.offer.organisation,
            received_by=c.organisation,
            kind=c.offer.kind,
            what=kinds.describe(c.offer.kind, c.quantity, c.offer.details),
            quantity=c.quantity,
            committed_at=c.created_at,
            fulfilled_at=c.fulfilled_at,  # type: ignore[arg-type]
            state=c.state,
            request_id=c.request_id,
        )
        for c in done
    ]
    tallies: dict[int, Tally] = {}

    def tally(org: Organisation) -> Tally:
        return tallies.setdefault(org.pk, Tally(org))

    for e in exchanges:
        tally(e.given_by).given[e.kind] += e.quantity
        tally(e.received_by).received[e.kind] += e.quantity
    timed = requests.annotate(
        first_offer=Min("offers__created_at"),
        first_commitment=Min("commitments__created_at"),
        first_fulfilment=Min("commitments__fulfilled_at"),
    )
    fulfilled = queries.totals(requests.values("pk"), queries.HAPPENED)
    spans: dict[str, list[timedelta]] = defaultdict(list)
    for r in timed:
        t = tally(r.organisation)
        t.requests += 1
        got = fulfilled.get(r.pk, 0)
        if got >= r.quantity:
            t.met_in_full += 1
        elif got:
            t.met_in_part += 1
        elif r.state == "open":
            t.still_open += 1
        else:
            t.not_met += 1
        for name in ("first_offer", "first_commitment", "first_fulfilment"):
            moment = getattr(r, name)
            if moment is not None:
                spans[name].append(moment - r.created_at)
    ordered = sorted(tallies.values(), key=lambda t: (-t.given_total, t.organisation.name))
    return Ledger(
        exchanges,
        ordered,
        _median(spans["first_offer"]),
        _median(spans["first_commitment"]),
        _median(spans["first_fulfilment"]),
    )


#: The ledger's CSV columns, for pages and API alike: one row per piece of help given.
CSV_COLUMNS = (
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
)


def write_csv(ledger: Ledger, out: Any) -> None:
    """Write the ledger's exchanges to `out` (a file or a response) as CSV, through the one
    CSV writer that defuses formulas."""
    writer = csvsafe.writer(out)
    writer.writerow(CSV_COLUMNS)
    for e in ledger.exchanges:
        writer.writerow(
            (
                e.given_by.code,
                e.given_by.name,
                e.received_by.code,
                e.received_by.name,
                e.kind,
                e.what,
                e.quantity,
                e.committed_at.isoformat(),
                e.fulfilled_at.isoformat(),
                e.state,
                e.request_id,
            )
        )
