"""The negotiation's states and the moves between them, as plain data (after OASIS EDXL-RM).

Three things move: a request (asked for help), an offer (help put forward, in answer to a
request or unsolicited) and a commitment (part of an offer taken up). Each move says which
party may make it and whether a reason is required. Everything that changes state looks the
move up here (`step`); a move not in the table is refused and changes nothing.

    request:     open ──▶ closed            (requester: the need has passed or was met)
                      ├─▶ withdrawn         (requester, reason)
                      └─▶ expired           (the platform, reason: past needed-by)
    offer:       offered ─▶ withdrawn       (offerer, reason)
                         ├▶ declined        (requester, reason: only an offer answering them)
                         └▶ expired         (the platform, reason: its window has closed)
    commitment:  committed ─▶ in_progress ─▶ fulfilled ─▶ returned | released
                     │             │
                     └─────────────┴──▶ released (either party, reason; the quantity goes
                                                   back on the offer)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Party(StrEnum):
    """Who may make a move: the organisation that asked, the one that offered, either, or the
    platform itself (a scheduled job)."""

    REQUESTER = "requester"
    OFFERER = "offerer"
    EITHER = "either"
    PLATFORM = "platform"


@dataclass(frozen=True)
class Move:
    by: Party
    reason_required: bool
    #: What the button says and the audit record calls it.
    verb: str
    #: Whether the committed quantity goes back on the offer (commitments only).
    gives_back: bool = False

    def made_by(self, parties: set[Party]) -> bool:
        """Whether a mover speaking for these sides may make this move."""
        allowed = {self.by}
        if self.by == Party.EITHER:
            allowed |= {Party.REQUESTER, Party.OFFERER}
        return bool(parties & allowed)


REQUEST_STATES = ("open", "closed", "withdrawn", "expired")
OFFER_STATES = ("offered", "withdrawn", "declined", "expired")
COMMITMENT_STATES = ("committed", "in_progress", "fulfilled", "returned", "released")

#: (thing, from state, to state) → the move. The whole negotiation, in one place.
MOVES: dict[tuple[str, str, str], Move] = {
    ("request", "open", "closed"): Move(Party.REQUESTER, False, "close"),
    ("request", "open", "withdrawn"): Move(Party.REQUESTER, True, "withdraw"),
    ("request", "open", "expired"): Move(Party.PLATFORM, True, "expire"),
    ("offer", "offered", "withdrawn"): Move(Party.OFFERER, True, "withdraw"),
    ("offer", "offered", "declined"): Move(Party.REQUESTER, True, "decline"),
    ("offer", "offered", "expired"): Move(Party.PLATFORM, True, "expire"),
    ("commitment", "committed", "in_progress"): Move(Party.OFFERER, False, "start"),
    ("commitment", "committed", "released"): Move(Party.EITHER, True, "release", True),
    ("commitment", "in_progress", "fulfilled"): Move(Party.EITHER, False, "fulfil"),
    ("commitment", "in_progress", "released"): Move(Party.EITHER, True, "release", True),
    ("commitment", "fulfilled", "returned"): Move(Party.EITHER, False, "return"),
    ("commitment", "fulfilled", "released"): Move(Party.EITHER, False, "release"),
}

STATES: dict[str, tuple[str, ...]] = {
    "request": REQUEST_STATES,
    "offer": OFFER_STATES,
    "commitment": COMMITMENT_STATES,
}

#: The state each thing starts in.
INITIAL: dict[str, str] = {"request": "open", "offer": "offered", "commitment": "committed"}

#: Words for a state, as pages show them.
LABELS: dict[str, str] = {
    "open": "Open",
    "closed": "Closed",
    "withdrawn": "Withdrawn",
    "expired": "Expired",
    "offered": "Offered",
    "declined": "Declined",
    "committed": "Committed",
    "in_progress": "In progress",
    "fulfilled": "Fulfilled",
    "returned": "Returned",
    "released": "Released",
}


class IllegalMove(Exception):
    """A move the table does not allow, or by the wrong party, or without its reason."""


def terminal(thing: str, state: str) -> bool:
    """Whether nothing more can happen to a thing in this state."""
    return not any(t == thing and s == state for t, s, _ in MOVES)


def moves_from(thing: str, state: str) -> dict[str, Move]:
    """The states a thing can move to from `state`, with their moves."""
    return {to: m for (t, s, to), m in MOVES.items() if t == thing and s == state}


def _declinable(thing: str, to: str, answers_request: bool) -> bool:
    """Only an offer made in answer to a request has someone to decline it."""
    return not (thing == "offer" and to == "declined" and not answers_request)


def open_to(
    thing: str, state: str, parties: set[Party], *, answers_request: bool = True
) -> dict[str, Move]:
    """The moves from `state` a mover speaking for `parties` may make (`answers_request`:
    whether the offer answers a request). What pages and the API offer as buttons."""
    return {
        to: m
        for to, m in moves_from(thing, state).items()
        if m.made_by(parties) and _declinable(thing, to, answers_request)
    }


def step(
    thing: str,
    state: str,
    to: str,
    parties: set[Party],
    reason: str,
    *,
    answers_request: bool = True,
) -> Move:
    """The move from `state` to `to`, if one of `parties` (the sides the mover speaks for:
    both, when an organisation helps itself across its sites) may make it with this reason;
    else IllegalMove with the sentence to show. `answers_request`: whether the offer moved
    answers a request (an offer nobody asked for cannot be declined)."""
    move = MOVES.get((thing, state, to))
    if move is None:
        article = "An" if thing[0] in "aeiou" else "A"
        raise IllegalMove(
            f"{article} {thing} that is {LABELS[state].lower()} cannot become "
            f"{LABELS.get(to, to).lower()}."
        )
    if not _declinable(thing, to, answers_request):
        raise IllegalMove("Only an offer made in answer to a request can be declined.")
    if not move.made_by(parties):
        who = {
            Party.REQUESTER: "the organisation that asked",
            Party.OFFERER: "the organisation that offered",
            Party.EITHER: "the two organisations involved",
            Party.PLATFORM: "Flotilla itself",
        }[move.by]
        raise IllegalMove(f"Only {who} can {move.verb} this {thing}.")
    if move.reason_required and not reason.strip():
        raise IllegalMove(f"Say why you {move.verb} this {thing}: a reason is needed.")
    return move
