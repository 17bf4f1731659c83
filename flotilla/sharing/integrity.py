"""Grants against the audit record (see `flotilla.audit.integrity`)."""

from __future__ import annotations

from flotilla.audit.integrity import SET, Difference, differences, events, expected_states
from flotilla.sharing.actions import snapshot
from flotilla.sharing.models import EndReason, Grant

OBJECT_TYPE = "sharing.grant"


def check() -> tuple[int, list[Difference]]:
    """(grants checked, every grant that is not as its audit events leave it)."""
    expected = expected_states(OBJECT_TYPE)
    # A change ends the old grant and audits only the new one, which names the grant it
    # replaces: the old one must have ended, as changed.
    for _, after in events("sharing.grant_changed"):
        old = str((after or {}).get("replaces"))
        state = expected.get(old)
        if state is not None:
            expected[old] = {**state, "ended_at": SET, "end_reason": EndReason.CHANGED.value}
    current = {str(g.pk): snapshot(g) for g in Grant.objects.order_by("pk")}
    return len(current), differences("grant", expected, current)
