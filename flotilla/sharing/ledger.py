"""Collect the reads made while serving one request, then record them in one go."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction


@dataclass
class Ledger:
    """Owner organisation id → the measure groups read from it, for one reader."""

    what: str
    reads: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    viewer: Any = None


_current: ContextVar[Ledger | None] = ContextVar("flotilla_access_ledger", default=None)


def note(viewer: Any, owner_groups: dict[int, set[str]], what: str = "") -> None:
    """Note reads of other organisations' data; recorded now, or when the request ends."""
    others = {o: g for o, g in owner_groups.items() if o not in viewer.organisation_ids and g}
    if not others:
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


def write(viewer: Any, reads: dict[int, set[str]], what: str) -> None:
    """Append one access event per owner to the "access" chain: one lock, one INSERT."""
    from flotilla.sharing.models import AccessEvent

    with transaction.atomic(savepoint=False):
        AccessEvent.append(
            lambda now: [
                AccessEvent(
                    at=now,
                    owner_id=owner,
                    reader_user_id=viewer.user_id,
                    reader_token_id=viewer.token_id,
                    reader_label=viewer.label,
                    reader_organisations=sorted(viewer.organisation_ids),
                    groups=sorted(groups),
                    what=what[:300],
                )
                for owner, groups in sorted(reads.items())
            ]
        )


class AccessRecordMiddleware:
    """Records, after each request, whose data it read (one row per data owner)."""

    def __init__(self, get_response: Callable[[Any], Any]):
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        with collecting(f"{request.method} {request.path}"):
            return self.get_response(request)
