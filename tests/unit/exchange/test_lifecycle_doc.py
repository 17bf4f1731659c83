"""The negotiation's diagrams in docs/mutual-aid.md say exactly what `lifecycle.MOVES` allows."""

from __future__ import annotations

import re
from pathlib import Path

from flotilla.exchange import lifecycle

DOC = Path(__file__).resolve().parents[3] / "docs" / "mutual-aid.md"
BLOCK = re.compile(r"```mermaid\n(stateDiagram-v2\n.*?)```", re.DOTALL)
EDGE = re.compile(r"^\s*(\[\*\]|\w+)\s*-->\s*(\[\*\]|\w+)\s*(?::\s*(.*?))?\s*$")


def diagrams() -> dict[str, list[tuple[str, str, str]]]:
    """Each diagram's thing (its `%% thing:` line) → its arrows (from, to, label)."""
    found: dict[str, list[tuple[str, str, str]]] = {}
    for block in BLOCK.findall(DOC.read_text()):
        thing = re.search(r"%% thing: (\w+)", block)
        assert thing, "each diagram names its thing in a `%% thing:` comment"
        edges = [m.groups() for line in block.splitlines() if (m := EDGE.match(line))]
        found[thing.group(1)] = [(a, b, label or "") for a, b, label in edges]
    return found


def label(move: lifecycle.Move) -> str:
    """How a move is written on its arrow: verb (who, reason, quantity back on the offer)."""
    notes = [move.by.value]
    if move.reason_required:
        notes.append("reason")
    if move.gives_back:
        notes.append("quantity back on the offer")
    return f"{move.verb} ({', '.join(notes)})"


def test_there_is_one_diagram_for_each_thing_that_moves():
    assert set(diagrams()) == set(lifecycle.STATES) == {"request", "offer", "commitment"}


def test_every_move_is_drawn_and_nothing_else_is():
    drawn = {
        (thing, a, b): text
        for thing, edges in diagrams().items()
        for a, b, text in edges
        if "[*]" not in (a, b)
    }
    assert set(drawn) == set(lifecycle.MOVES)


def test_each_arrow_says_who_makes_the_move_and_whether_a_reason_is_needed():
    for thing, edges in diagrams().items():
        for a, b, text in edges:
            if "[*]" not in (a, b):
                assert text == label(lifecycle.MOVES[(thing, a, b)]), (thing, a, b)


def test_each_diagram_starts_where_things_start_and_ends_where_nothing_more_can_happen():
    for thing, edges in diagrams().items():
        starts = {b for a, b, _ in edges if a == "[*]"}
        ends = {a for a, b, _ in edges if b == "[*]"}
        assert starts == {lifecycle.INITIAL[thing]}
        assert ends == {s for s in lifecycle.STATES[thing] if lifecycle.terminal(thing, s)}
