"""Current state against the audit record: does each row that decides who sees what (grants,
memberships and their roles, API tokens) hold what its last audited event says it should?

The hash chains prove that the audit record was not altered; they say nothing of a row changed
in the database directly, around the actions. A grant widened by an UPDATE, a membership
inserted by hand or a token's secret swapped would go unseen. `verify-audit` therefore also
compares every such row with the state its audit events leave it in (the apps that own the
rows say how: `sharing.integrity`, `authz.integrity`), and names each difference.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flotilla.audit.models import AuditEvent


class _Set:
    """In an expected state: any value but none (a time the audit record implies but does not
    hold, such as when a grant replaced by another ended)."""

    def __repr__(self) -> str:
        return "set"


SET: Any = _Set()


@dataclass(frozen=True)
class Difference:
    """One row that is not as the audit record says: which (e.g. "grant 12") and how."""

    what: str
    problem: str

    def __str__(self) -> str:
        return f"{self.what}: {self.problem}"


def expected_states(object_type: str) -> dict[str, dict[str, Any] | None]:
    """Object id → the state its last audited event left it in (None when that event removed
    it), for every object of `object_type` ever audited."""
    expected: dict[str, dict[str, Any] | None] = {}
    rows = (
        AuditEvent.objects.filter(object_type=object_type)
        .order_by("id")
        .values_list("object_id", "after")
        .iterator(chunk_size=2000)
    )
    for object_id, after in rows:
        expected[object_id] = after
    return expected


def events(action: str) -> Iterable[tuple[str, dict[str, Any] | None]]:
    """(object id, state after) of every event of one action, in the order written (for one
    object, the order of its changes: ADR 0040)."""
    return (
        AuditEvent.objects.filter(action=action)
        .order_by("id")
        .values_list("object_id", "after")
        .iterator(chunk_size=2000)
    )


def differences(
    noun: str,
    expected: Mapping[str, dict[str, Any] | None],
    current: Mapping[str, dict[str, Any]],
) -> list[Difference]:
    """Each row in `current` (id → state now) against `expected` (id → the state its audit
    events leave it in, None if they removed it). A key the expected state lacks (an event
    recorded before the key was audited) is not compared."""
    found = []
    for object_id, now in current.items():
        what = f"{noun} {object_id}"
        if object_id not in expected:
            found.append(Difference(what, "is not in the audit record: added outside Flotilla"))
            continue
        state = expected[object_id]
        if state is None:
            found.append(Difference(what, "was removed in the audit record, yet is present"))
            continue
        for key, value in state.items():
            actual = now.get(key)
            if value is SET and actual is not None:
                continue
            if key in now and actual != value:
                found.append(
                    Difference(what, f"{key} is {actual!r}; the audit record says {value!r}")
                )
    for object_id in sorted(set(expected) - set(current), key=_natural):
        if expected[object_id] is not None:
            found.append(Difference(f"{noun} {object_id}", "was deleted outside Flotilla"))
    return found


def _natural(object_id: str) -> tuple[int, str]:
    return (int(object_id), "") if object_id.isdigit() else (0, object_id)
