"""The access record as its owner would read it: every read so far, chained."""

from __future__ import annotations

from typing import Any

from flotilla.sharing import ledger
from flotilla.sharing.models import AccessEvent


def recorded() -> Any:
    """Access events, after the pending reads have been chained (as the access record page
    does before it shows them)."""
    ledger.flush()
    return AccessEvent.objects
