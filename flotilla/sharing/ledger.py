"""Collect the reads made while serving one request, then record them in one go."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone


@dataclass
class Ledger:
    """Owner organisation id → the measure groups read from it, for one reader."""

    what: str
    reads: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    viewer: Any = None


_current: ContextVar[Ledger | None] = ContextVar("flotilla_access_ledger", default=None)
#: The reads noted inside each `capturing` block open, innermost last.
_captures: ContextVar[tuple[dict[int, set[str]], ...]] = ContextVar(
    "flotilla_access_captures", default=()
)
#: Inside `capturing(record=False)`: reads are gathered, and left for the caller to note.
_gathering_only: ContextVar[bool] = ContextVar("flotilla_access_gathering_only", default=False)


def note(viewer: Any, owner_groups: dict[int, set[str]], what: str = "") -> None:
    """Note reads of other organisations' data; recorded now, or when the request ends."""
    others = {o: g for o, g in owner_groups.items() if o not in viewer.organisation_ids and g}
    if not others:
        return
    for captured in _captures.get():
        for owner, groups in others.items():
            captured.setdefault(owner, set()).update(groups)
    if _gathering_only.get():
        return
    ledger = _current.get()
    if ledger is None:
        write(viewer, others, what or "direct")
        return
    ledger.viewer = viewer
    for owner, groups in others.items():
        ledger.reads[owner] |= groups


@contextmanager
def collecting(what: str) -> Iterator[Ledger]:
    """Collect notes made inside the block, and record them once at its end."""
    ledger = Ledger(what=what)
    token = _current.set(ledger)
    try:
        yield ledger
    finally:
        _current.reset(token)
        if ledger.reads:
            write(ledger.viewer, ledger.reads, ledger.what)


@contextmanager
def capturing(record: bool = True) -> Iterator[dict[int, set[str]]]:
    """Also gather the reads noted inside the block into the dict it gives (owner id → measure
    groups). The gathering says what an answer worked out in the block read, so that serving
    that answer to another reader can note the same reads in that reader's name
    (`policy.shared_answer`). They are recorded as ever, unless `record` is False: then
    they are only gathered, and the caller notes them in the name of whoever they were read
    for (reads made as a stand-in viewer, `policy.standing_in`, are nobody's own)."""
    captured: dict[int, set[str]] = {}
    token = _captures.set((*_captures.get(), captured))
    gathering = _gathering_only.set(_gathering_only.get() or not record)
    try:
        yield captured
    finally:
        _gathering_only.reset(gathering)
        _captures.reset(token)


def write(viewer: Any, reads: dict[int, set[str]], what: str) -> None:
    """Record the reads of one request as pending: one row, whatever the number of owners
    read; one INSERT, no lock (ADR 0022). `flush` chains them, one access event per owner."""
    from flotilla.sharing.models import PendingAccess

    PendingAccess.objects.create(
        at=timezone.now(),
        reader_user_id=viewer.user_id,
        reader_token_id=viewer.token_id,
        reader_label=viewer.label,
        reader_organisations=sorted(viewer.organisation_ids),
        reads=[[owner, sorted(groups)] for owner, groups in sorted(reads.items())],
        what=what[:300],
    )


#: The most requests' pending reads one `flush` moves onto the chain in one transaction
#: (about 5,000 access events when each read a dashboard of twenty organisations).
FLUSH_BATCH = 250


def flush(batch: int = FLUSH_BATCH) -> int:
    """Move every pending read onto the "access" chain, oldest request first, one access
    event per request and owner; how many events were chained.

    Each batch of `batch` requests is one transaction: the chain head is locked (so flushes
    queue, as writers did before), the pending rows are read under that lock, appended with
    the time they were read, and deleted. A flush that fails leaves them pending for the next
    one; two flushes never chain a read twice, because the second waits for the head and then
    finds the rows gone. Safe to run at any time, as often as wanted.
    """
    from flotilla.audit.actions import in_batches
    from flotilla.sharing.models import PendingAccess

    if not PendingAccess.objects.exists():
        return 0
    chained = 0

    def link(n: int) -> int:
        nonlocal chained
        requests, events = _chain_oldest(n)
        chained += events
        return requests

    in_batches(link, batch)
    return chained


#: The fields of a pending request copied onto each of its access events.
READER_FIELDS = (
    "at",
    "reader_user_id",
    "reader_token_id",
    "reader_label",
    "reader_organisations",
    "what",
)


def _chain_oldest(batch: int) -> tuple[int, int]:
    """Append the reads of the oldest `batch` pending requests to the chain, in the order
    they were recorded and by owner within a request, and delete them; (how many requests,
    how many events). Inside the caller's transaction."""
    from flotilla.sharing.models import AccessEvent, PendingAccess

    taken: list[int] = []

    def oldest(_now: Any) -> list[AccessEvent]:
        # Read under the head's lock: a flush waiting for it finds these rows gone.
        rows = list(
            PendingAccess.objects.order_by("id").values("id", "reads", *READER_FIELDS)[:batch]
        )
        taken.extend(r.pop("id") for r in rows)
        return [
            AccessEvent(owner_id=owner, groups=groups, **{k: r[k] for k in READER_FIELDS})
            for r in rows
            for owner, groups in r["reads"]
        ]

    events = AccessEvent.append(oldest)
    PendingAccess.objects.filter(pk__in=taken).delete()
    return len(taken), len(events)


class AccessRecordMiddleware:
    """Records, after each request, whose data it read (one row per data owner)."""

    def __init__(self, get_response: Callable[[Any], Any]):
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        with collecting(f"{request.method} {request.path}"):
            return self.get_response(request)
