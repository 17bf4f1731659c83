"""Answers worked out once and served, for a few seconds, to every viewer who may see exactly
the same (ADR 0038).

What a viewer may see is decided by who they are to the policy: their organisations, whether
they are the platform operator, and the collaborative they act as a body for. Two people of
the same organisations, reading the same thing with the same parameters at nearly the same
moment, are shown the same figures. The dashboard's live refresh and the picture API are
read like that by many people at once, so `shared_answer` lets the first of them work the
answer out and the others within `SHARED_ANSWER_SECONDS` be given it, with:

- **The key**: the viewer's organisations, platform flag and collaborative, and what is
  asked; never the person. Anything that depends on the person must not be in the answer.
- **Every read still on the record**: the reads noted while the answer was worked out are
  gathered (`ledger.capturing`), and noted again, in the reader's own name, each time it is
  served.
- **No answer outlives a change of who may see what**: each answer keeps the policy version
  it was worked out under (`PolicyVersion`, raised in the transaction of every change of a
  grant or of a collaborative's membership) and is not served once the version has moved;
  nor past the moment the first grant reaching the viewer expires.
- **Live reads only**: inside a transaction (a write, or a test) it is off, so nothing read
  there, which may not be committed, is shared.
- **Process-local and bounded**: a local-memory cache of its own (`CACHES["shared-answers"]`)
  with a limit on its entries; a deployment with many processes shares less, never more.

Figures reported after an answer was worked out reach its later readers up to
`SHARED_ANSWER_SECONDS` late, as do values whose delay ends in that time.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Hashable
from typing import TypeVar

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.db.models import Min

from flotilla.sharing import ledger
from flotilla.sharing.models import PolicyVersion
from flotilla.sharing.policy.engine import _reaching
from flotilla.sharing.policy.rules import Viewer

T = TypeVar("T")

#: The cache alias answers are kept in (settings.CACHES).
CACHE = "shared-answers"


def policy_version() -> int:
    """The number raised by every change of a grant or a collaborative's membership."""
    return PolicyVersion.objects.filter(pk=1).values_list("version", flat=True).first() or 0


def _key(viewer: Viewer, asked: Hashable) -> str:
    audience = (sorted(viewer.organisation_ids), viewer.platform, viewer.collaborative_id)
    return hashlib.sha256(repr((audience, asked)).encode()).hexdigest()


def _expires(viewer: Viewer, now: float, seconds: float) -> float:
    """`seconds` from `now`, or sooner: when the first grant reaching the viewer expires."""
    until = now + seconds
    if viewer.platform:  # sees everything, through no grant
        return until
    first = _reaching(viewer).aggregate(first=Min("expires_at"))["first"]
    return until if first is None else min(until, first.timestamp())


def shared_answer(viewer: Viewer, asked: Hashable, work_out: Callable[[], T]) -> T:
    """`work_out()`'s answer for `viewer` to `asked` (a hashable description of the question
    and its parameters), worked out now or given from a viewer who may see exactly the same
    and asked the same within `SHARED_ANSWER_SECONDS` (see the module docstring).

    `work_out` must read through the policy as `viewer` and return a picklable value that
    does not depend on who the person is."""
    seconds = settings.SHARED_ANSWER_SECONDS
    if seconds <= 0 or connection.in_atomic_block:
        return work_out()
    cache = caches[CACHE]
    key = _key(viewer, asked)
    version = policy_version()
    now = time.time()
    kept = cache.get(key)
    if kept is not None:
        kept_version, expires, reads, answer = kept
        if kept_version == version and expires > now:
            ledger.note(viewer, reads)
            return answer  # type: ignore[no-any-return]
    expires = _expires(viewer, now, seconds)
    with ledger.capturing() as reads:
        answer = work_out()
    cache.set(key, (version, expires, reads, answer), timeout=expires - now)
    return answer
