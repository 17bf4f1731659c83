"""Write audit events. Called only from other actions, inside their transaction."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.utils import timezone

from flotilla.audit import chain
from flotilla.audit.models import AuditEvent, ChainHead
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
    head = ChainHead.lock(AuditEvent.CHAIN)
    event = AuditEvent(
        # Taken under the lock, so times never go backwards along the chain.
        at=timezone.now(),
        actor_user=actor.user,
        actor_token_id=actor.token_id,
        actor_label=actor.label,
        action=action,
        object_type=object_type,
        object_id=object_id,
        organisation_id=organisation_id,
        before=chain.as_stored(before),
        after=chain.as_stored(after),
    )
    for name in ("actor_token_id", "actor_label", "object_id", "organisation_id"):
        # Hash values as the database will give them back (an id passed as "5" reads as 5).
        setattr(event, name, AuditEvent._meta.get_field(name).to_python(getattr(event, name)))
    event.link_after(head)
    event.save(force_insert=True)
    head.save(update_fields=["seq", "hash"])
    return event
