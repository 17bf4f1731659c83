"""Answers worked out once and served, for a few seconds, to every viewer who may see exactly
the same (ADR 0038, widened by ADR 0039).

The dashboard's live refresh and the picture API are read like that by many people at once,
so `shared_answer` lets the first of them work the answer out and the others within
`SHARED_ANSWER_SECONDS` be given it, with:

- **The key**, never the person. For a live read of some owners' data (`owners`): what the
  viewer may see of each of them (`seen_of`: each group's detail and delay, not which grant
  gives it nor whose the data is), so that the members of a collaborative who all share
  openly, each seeing its own data in full and the others' exactly in real time, are given
  one answer. The answer is then worked out as a stand-in viewer holding exactly that and
  nothing else (`standing_in`), so it cannot hold anything of the viewer who happened to
  ask first. Otherwise: the viewer's organisations, platform flag and collaborative.
  Either way with the platform flag, the collaborative and what is asked. What a viewer
  may see is itself kept (`_seen`), by all an access map depends on (the viewer's
  organisations, platform flag and collaborative), under the policy version and never past
  the first expiry of a grant reaching the viewer, for up to `SEEN_SECONDS` whatever the
  answers' own time: so most requests ask no grants, even when the answer is new.
- **Every read still on the record**: the reads made while the answer was worked out are
  gathered (`ledger.capturing`), and noted in each reader's own name each time it is given,
  the first time included; reads of a reader's own organisation are not noted for them, as
  ever.
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
import math
import time
from collections.abc import Callable, Hashable, Iterable
from typing import TypeVar

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.db.models import Min

from flotilla.sharing import ledger
from flotilla.sharing.models import PolicyVersion
from flotilla.sharing.policy.engine import Seen, _reaching, seen_of, standing_in
from flotilla.sharing.policy.rules import Viewer

T = TypeVar("T")

#: The cache alias answers are kept in (settings.CACHES).
CACHE = "shared-answers"

#: The longest a process keeps what a viewer may see (`_seen`). What keeps it right is the
#: policy version, raised by every change of a grant or of a membership, and the first
#: expiry of a grant reaching the viewer (a grant is in force from the moment it is made, so
#: nothing else changes it with time); this bound only limits how long a change made
#: around the actions (a direct edit of the database, which `verify-audit` names) goes
#: unnoticed by a process.
SEEN_SECONDS = 300.0


def policy_version() -> int:
    """The number raised by every change of a grant or a collaborative's membership."""
    return PolicyVersion.objects.filter(pk=1).values_list("version", flat=True).first() or 0


def _key(audience: Hashable, asked: Hashable) -> str:
    return hashlib.sha256(repr((audience, asked)).encode()).hexdigest()


def _first_expiry(viewer: Viewer) -> float:
    """When the first grant reaching the viewer expires (a POSIX time; infinity if never)."""
    if viewer.platform:  # sees everything, through no grant
        return math.inf
    first = _reaching(viewer).aggregate(first=Min("expires_at"))["first"]
    return math.inf if first is None else first.timestamp()


def _seen(viewer: Viewer, owners: Iterable[int], version: int, now: float) -> tuple[Seen, float]:
    """`seen_of(viewer, owners)` and when the first grant reaching the viewer expires, kept
    by the viewer's organisations, platform flag and collaborative (all an access map
    depends on), under the policy version it was worked out under, never past that expiry
    and for at most `SEEN_SECONDS`: longer than an answer, which also holds figures that
    change with every report, while what may be seen changes only with the policy."""
    cache = caches[CACHE]
    wanted = tuple(sorted(set(owners)))
    audience = ("seen", sorted(viewer.organisation_ids), viewer.platform)
    key = _key(audience, (viewer.collaborative_id, wanted))
    kept = cache.get(key)
    if kept is not None:
        kept_version, until, first, seen = kept
        if kept_version == version and min(until, first) > now:
            return seen, first
    seen, first = seen_of(viewer, wanted), _first_expiry(viewer)
    until = now + SEEN_SECONDS
    cache.set(key, (version, until, first, seen), timeout=min(until, first) - now)
    return seen, first


def shared_answer(
    viewer: Viewer,
    asked: Hashable,
    work_out: Callable[[Viewer], T],
    *,
    owners: Iterable[int] | None = None,
) -> T:
    """`work_out(as_viewer)`'s answer for `viewer` to `asked` (a hashable description of the
    question and its parameters), worked out now or given from a viewer who may see exactly
    the same and asked the same within `SHARED_ANSWER_SECONDS` (see the module docstring).

    `owners`: the organisations whose data a *live* answer reads (a collaborative's members);
    the answer is then shared by everyone who may see the same of them, and worked out as a
    stand-in holding just that. Without it, by viewers of the same organisations, as
    `viewer`. `work_out` must read through the policy as the viewer it is given, and return
    a picklable value that does not depend on who the person is."""
    seconds = settings.SHARED_ANSWER_SECONDS
    if seconds <= 0 or connection.in_atomic_block:
        return work_out(viewer)
    cache = caches[CACHE]
    version = policy_version()
    now = time.time()
    seen, first = (None, None) if owners is None else _seen(viewer, owners, version, now)
    who: Hashable = sorted(viewer.organisation_ids) if seen is None else ("seen", seen)
    key = _key((who, viewer.platform, viewer.collaborative_id), asked)
    kept = cache.get(key)
    if kept is not None:
        kept_version, expires, reads, answer = kept
        if kept_version == version and expires > now:
            ledger.note(viewer, reads)
            return answer  # type: ignore[no-any-return]
    expires = min(now + seconds, _first_expiry(viewer) if first is None else first)
    if seen is None:
        with ledger.capturing() as reads:
            answer = work_out(viewer)
    else:
        with ledger.capturing(record=False) as reads, standing_in(seen) as stand_in:
            answer = work_out(stand_in)
        ledger.note(viewer, reads)
    cache.set(key, (version, expires, reads, answer), timeout=expires - now)
    return answer
