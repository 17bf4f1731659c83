"""Hash chains: each link's hash covers its content and the hash of the link before it.

Pure functions with no Django, so that the rules can be read, and tested, on their own. A
chain is a sequence of links numbered 1, 2, 3, ... with no gaps; link n stores the hash of
link n-1 (`prev_hash`, 64 zeros for link 1) and its own hash over (seq, payload, prev_hash).
Changing, removing or moving any link breaks a check at that link or the one after it.
Nothing here knows about audit events: a payload is any JSON-able mapping, so other records
(reads, for example) can have chains of their own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

#: The `prev_hash` of the first link.
GENESIS = "0" * 64


def _encode(value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            # A naive time means different instants on different machines.
            raise ValueError(f"cannot chain a naive datetime: {value!r}")
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    raise TypeError(f"cannot chain a {type(value).__name__}: {value!r}")


def canonical(value: Any) -> bytes:
    """The one byte form of `value` that is hashed: sorted keys, no spaces, ASCII only.

    Datetimes become ISO 8601 in UTC with microseconds (they must be timezone-aware); any
    other type that JSON lacks is refused rather than guessed at.
    """
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=_encode
    ).encode("ascii")


def as_stored(value: Any) -> Any:
    """`value` as a JSON column gives it back, on SQLite and on PostgreSQL.

    Hash what will be read back, not what was passed in, or the verifier would disagree:
    tuples come back as lists and keys as strings everywhere, and PostgreSQL's jsonb turns
    -0.0 into 0.0 and whole floats written with an exponent (1e+16) into integers.
    """
    return None if value is None else _as_jsonb(json.loads(json.dumps(value)))


def _as_jsonb(value: Any) -> Any:
    if isinstance(value, float):
        if value == 0:
            return 0.0
        if value.is_integer() and abs(value) >= 1e16:
            return int(value)
        return value
    if isinstance(value, dict):
        return {k: _as_jsonb(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_jsonb(v) for v in value]
    return value


def link_hash(seq: int, payload: Mapping[str, Any], prev_hash: str) -> str:
    """The hex SHA-256 of one link: its position, its content and the link before it."""
    body = {"seq": seq, "payload": dict(payload), "prev_hash": prev_hash}
    return hashlib.sha256(canonical(body)).hexdigest()


@dataclass(frozen=True)
class Link:
    """One stored link as read back; `ref` says how to find its row (for example "id 42")."""

    seq: int
    payload: Mapping[str, Any]
    prev_hash: str
    hash: str
    ref: str = ""


@dataclass(frozen=True)
class Anchor:
    """A (seq, hash) pair kept outside the links that the chain must still pass through."""

    seq: int
    hash: str
    #: Named in messages, e.g. "the chain head" or "the exported head".
    name: str


@dataclass(frozen=True)
class Verdict:
    """What `verify` found: how many links were good and the first problem, if any."""

    count: int
    last_seq: int
    last_hash: str
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def short(h: str) -> str:
    return h[:16] + "…" if len(h) > 16 else h


def _missing(first: int, last: int) -> str:
    return f"event {first}" if first == last else f"events {first} to {last}"


def verify(links: Iterable[Link], anchors: Iterable[Anchor] = ()) -> Verdict:
    """Check links given in seq order; stop at the first bad one and say what it looks like.

    The checks, in the order that names the right link for each kind of tampering:
    a gap in seq (a link deleted), a `prev_hash` that is not the previous link's hash
    (links moved, or removed and renumbered), a hash that does not match the content
    (a link modified), and every anchor's seq holding the anchor's hash. Reads one link
    at a time, so memory does not grow with the chain.
    """
    pending = sorted(anchors, key=lambda a: a.seq)
    expected, prev_hash, count = 1, GENESIS, 0

    def verdict(problem: str | None = None) -> Verdict:
        return Verdict(count, expected - 1, prev_hash, problem)

    while pending and pending[0].seq <= 0:
        anchor = pending.pop(0)
        if anchor.seq < 0 or anchor.hash != GENESIS:
            return verdict(f"{anchor.name} (seq {anchor.seq}, {short(anchor.hash)}) is not a link")
    for link in links:
        at = f"event seq {link.seq}" + (f" ({link.ref})" if link.ref else "")
        if link.seq > expected:
            where = f"after seq {expected - 1}" if expected > 1 else "at the start"
            return verdict(
                f"sequence gap {where}: {_missing(expected, link.seq - 1)} missing (deleted)"
            )
        if link.seq < expected:
            return verdict(f"{at} comes again after seq {expected - 1} (out of order)")
        content_ok = link_hash(link.seq, link.payload, link.prev_hash) == link.hash
        if link.prev_hash != prev_hash:
            if content_ok:
                why = "reordered or removed"
            else:
                # Its hash is not right for this seq either: it was moved here.
                why = "reordered: its own hash does not fit this position"
            return verdict(
                f"{at} links to {short(link.prev_hash)} but the previous hash is "
                f"{short(prev_hash)} ({why})"
            )
        if not content_ok:
            return verdict(f"{at}: hash does not match its content (modified)")
        while pending and pending[0].seq == link.seq:
            anchor = pending.pop(0)
            if anchor.hash != link.hash:
                return verdict(
                    f"{at} has hash {short(link.hash)} but {anchor.name} records "
                    f"{short(anchor.hash)} (the chain was rewritten up to here)"
                )
        prev_hash, expected, count = link.hash, expected + 1, count + 1
    if pending:
        anchor = pending[-1]
        return verdict(
            f"the chain ends at seq {expected - 1} but {anchor.name} is at seq {anchor.seq}: "
            f"{_missing(expected, anchor.seq)} missing (deleted or truncated)"
        )
    return verdict()
