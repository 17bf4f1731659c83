"""Write audit events. Called only from other actions, inside their transaction."""

from __future__ import annotations

from typing import Any

from django.db import connection

from flotilla.audit.models import AuditEvent
from flotilla.audit.principals import as_principal


class AuditOutsideTransaction(RuntimeError):
    """An audit event must commit or roll back with the change it describes."""


def record(
    *,
    by: Any,
    action: str,
    obj: Any = None,
    object_type: str = "",
    object_id: str = "",
    organisation_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record one change of state as the next link of the audit chain.

    Refuses to run outside an atomic block. Locks the chain head until the caller's
    transaction ends, so concurrent actions append one after the other and never fork the
    chain; a rolled-back action takes its event and the head's move back with it.
    """
    if not connection.in_atomic_block:
        raise AuditOutsideTransaction(f"audit of {action} must run inside the action's transaction")
    actor = as_principal(by)
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    (event,) = AuditEvent.append(
        lambda now: [
            AuditEvent(
                at=now,
                actor_user=actor.user,
                actor_token_id=actor.token_id,
                actor_label=actor.label,
                action=action,
                object_type=object_type,
                object_id=object_id,
                organisation_id=organisation_id,
                before=before,
                after=after,
            )
        ]
    )
    return event
