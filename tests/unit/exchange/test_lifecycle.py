"""The negotiation as data: `lifecycle.MOVES` is the whole table, and `step` allows exactly
what it says, by exactly the party it names, with a reason exactly where one is required."""

from __future__ import annotations

import itertools
import re

import pytest

from flotilla.exchange import lifecycle
from flotilla.exchange.lifecycle import MOVES, STATES, IllegalMove, Party, step

SIDES = (Party.REQUESTER, Party.OFFERER, Party.PLATFORM)
#: Every set of sides a mover may speak for (both, within one organisation).
SPEAKING_FOR = [set(c) for n in range(4) for c in itertools.combinations(SIDES, n)]
EVERY_TRIPLE = [
    (thing, a, b) for thing, states in STATES.items() for a in states for b in (*states, "lost")
]


def allowed(move: lifecycle.Move) -> set[Party]:
    if move.by == Party.EITHER:
        return {Party.REQUESTER, Party.OFFERER}
    return {move.by}


def test_the_table_is_exactly_the_negotiation():
    assert {k: (m.by, m.reason_required, m.verb, m.gives_back) for k, m in MOVES.items()} == {
        ("request", "open", "closed"): (Party.REQUESTER, False, "close", False),
        ("request", "open", "withdrawn"): (Party.REQUESTER, True, "withdraw", False),
        ("request", "open", "expired"): (Party.PLATFORM, True, "expire", False),
        ("offer", "offered", "withdrawn"): (Party.OFFERER, True, "withdraw", False),
        ("offer", "offered", "declined"): (Party.REQUESTER, True, "decline", False),
        ("offer", "offered", "expired"): (Party.PLATFORM, True, "expire", False),
        ("commitment", "committed", "in_progress"): (Party.OFFERER, False, "start", False),
        ("commitment", "committed", "released"): (Party.EITHER, True, "release", True),
        ("commitment", "in_progress", "fulfilled"): (Party.EITHER, False, "fulfil", False),
        ("commitment", "in_progress", "released"): (Party.EITHER, True, "release", True),
        ("commitment", "fulfilled", "returned"): (Party.EITHER, False, "return", False),
        ("commitment", "fulfilled", "released"): (Party.EITHER, False, "release", False),
    }


def test_every_move_joins_two_known_states_of_its_thing_and_starts_from_a_live_one():
    for thing, a, b in MOVES:
        assert a in STATES[thing] and b in STATES[thing] and a != b
        assert not lifecycle.terminal(thing, a)
        assert lifecycle.INITIAL[thing] in STATES[thing]


@pytest.mark.parametrize("key", sorted(MOVES))
def test_every_move_from_a_live_state_is_made_by_its_party_with_its_reason(key):
    thing, a, b = key
    move = MOVES[key]
    for sides in SPEAKING_FOR:
        for reason in ("", "   ", "Beds reopened."):
            ok = bool(sides & allowed(move)) and (not move.reason_required or reason.strip())
            if ok:
                assert step(thing, a, b, sides, reason) is move
            else:
                with pytest.raises(IllegalMove):
                    step(thing, a, b, sides, reason)
    assert lifecycle.moves_from(thing, a)[b] is move


def test_terminal_states_have_no_moves_and_every_other_state_has_some():
    terminal = {
        (thing, s)
        for thing, states in STATES.items()
        for s in states
        if lifecycle.terminal(thing, s)
    }
    assert terminal == {
        ("request", "closed"),
        ("request", "withdrawn"),
        ("request", "expired"),
        ("offer", "withdrawn"),
        ("offer", "declined"),
        ("offer", "expired"),
        ("commitment", "returned"),
        ("commitment", "released"),
    }
    for thing, s in terminal:
        assert lifecycle.moves_from(thing, s) == {}
    for thing, states in STATES.items():
        for s in states:
            if (thing, s) not in terminal:
                assert lifecycle.moves_from(thing, s)


@pytest.mark.parametrize("triple", [t for t in EVERY_TRIPLE if t not in MOVES])
def test_a_move_not_in_the_table_is_refused_whoever_asks_with_whatever_reason(triple):
    thing, a, b = triple
    for sides in SPEAKING_FOR:
        with pytest.raises(IllegalMove, match=f"^An? {thing} that is "):
            step(thing, a, b, sides, "Because.")


def test_a_move_by_the_wrong_party_is_refused_naming_who_may_make_it():
    with pytest.raises(IllegalMove, match=r"^Only the organisation that asked can close"):
        step("request", "open", "closed", {Party.OFFERER}, "")
    with pytest.raises(IllegalMove, match=r"^Only the organisation that offered can withdraw"):
        step("offer", "offered", "withdrawn", {Party.REQUESTER}, "No staff.")
    with pytest.raises(IllegalMove, match=r"^Only Flotilla itself can expire this request"):
        step("request", "open", "expired", {Party.REQUESTER, Party.OFFERER}, "Late.")
    with pytest.raises(IllegalMove, match=r"^Only the two organisations involved can release"):
        step("commitment", "committed", "released", {Party.PLATFORM}, "No.")
    with pytest.raises(IllegalMove, match=r"^Only the organisation that offered can start"):
        step("commitment", "committed", "in_progress", {Party.REQUESTER}, "")


def test_either_party_may_make_an_either_move_and_the_platform_only_expires():
    either = [k for k, m in MOVES.items() if m.by == Party.EITHER]
    assert either
    for thing, a, b in either:
        for side in (Party.REQUESTER, Party.OFFERER):
            step(thing, a, b, {side}, "Ward closed.")
    platform = {k for k, m in MOVES.items() if m.by == Party.PLATFORM}
    assert platform == {("request", "open", "expired"), ("offer", "offered", "expired")}
    for thing, a, b in set(MOVES) - platform:
        with pytest.raises(IllegalMove):
            step(thing, a, b, {Party.PLATFORM}, "Ward closed.")


def test_a_reason_is_needed_exactly_where_the_table_requires_one():
    for (thing, a, b), move in MOVES.items():
        sides = allowed(move)
        if move.reason_required:
            with pytest.raises(IllegalMove, match="a reason is needed"):
                step(thing, a, b, sides, " \n\t")
        else:
            assert step(thing, a, b, sides, "") is move


def test_only_a_release_before_fulfilment_gives_the_quantity_back():
    assert {k for k, m in MOVES.items() if m.gives_back} == {
        ("commitment", "committed", "released"),
        ("commitment", "in_progress", "released"),
    }


def test_every_state_has_a_label_pages_can_show():
    for states in STATES.values():
        for s in states:
            assert lifecycle.LABELS[s][0].isupper()
    assert set(lifecycle.LABELS) == {s for states in STATES.values() for s in states}


def test_a_move_to_an_unknown_state_is_refused_in_words():
    with pytest.raises(IllegalMove, match=r"^A request that is open cannot become lost"):
        step("request", "open", "lost", {Party.REQUESTER}, "")


def _diagram_edges(doc: str) -> set[tuple[str, str, str]]:
    """The edges drawn in the module docstring: chains `a ─▶ b`, branches `├─▶ c` from the
    head of the line above, `a | b` alternatives, and joins `└──┴──▶ d` from the states
    their corners stand under."""
    edges: set[tuple[str, str, str]] = set()
    word = re.compile(r"[a-z_]+")
    thing = head = None
    chain_line = ""
    for line in doc.splitlines():
        text = re.sub(r"\(.*", "", line).rstrip()  # the words in brackets say who and why
        if m := re.match(r"\s*(request|offer|commitment):", text):
            thing, chain_line = m.group(1), text
            body = text[m.end() :]
            parts = [p.strip() for p in re.split(r"[─]*▶", body)]
            states = [[w for w in word.findall(p)] for p in parts]
            head = states[0][0]
            for left, right in itertools.pairwise(states):
                for target in right:
                    edges.add((thing, left[-1] if len(left) == 1 else left[0], target))
        elif thing and re.match(r"\s*[├└]─*▶", text):
            (target,) = word.findall(text)
            edges.add((thing, head, target))
        elif thing and "┴" in text and "▶" in text:
            (target,) = word.findall(text)
            for col, ch in enumerate(text):
                if ch in "└┴":
                    above = [
                        w.group() for w in word.finditer(chain_line) if w.start() <= col < w.end()
                    ]
                    assert len(above) == 1, (line, col)
                    edges.add((thing, above[0], target))
    return edges


def test_the_diagram_in_the_module_docstring_draws_exactly_the_table():
    assert lifecycle.__doc__ is not None
    assert _diagram_edges(lifecycle.__doc__) == set(MOVES)
