"""Write audit events. Called only from other actions, inside their transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from django.db.models import Model

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


def register(
    *,
    by: Any,
    model: type[Model],
    key: dict[str, Any],
    values: dict[str, Any],
    snapshot: Callable[[Any], dict[str, Any]],
    noun: str,
    on_create: dict[str, Any] | None = None,
    organisation_of: Callable[[Any], int | None] | None = None,
) -> Any:
    """Create the row found by `key` with `values`, or bring the existing one up to date,
    recording `<noun>_registered` or `<noun>_updated` (with `snapshot` before and after) in
    the same transaction; nothing is written or recorded when nothing changed.

    The one shape for reference records that are loaded again and again (organisations,
    sites, regions, systems): the row is locked while it is compared, so two loaders never
    both create it or overwrite each other unseen. `on_create` values are set only on a new
    row; `organisation_of` says whose record the event belongs on.
    """
    with transaction.atomic():
        obj = model._default_manager.select_for_update().filter(**key).first()
        if obj is None:
            obj = model._default_manager.create(**key, **(on_create or {}), **values)
            record(
                by=by,
                action=f"{noun}_registered",
                obj=obj,
                organisation_id=organisation_of(obj) if organisation_of else None,
                after=snapshot(obj),
            )
            return obj
        before = snapshot(obj)
        for field, value in values.items():
            setattr(obj, field, value)
        after = snapshot(obj)
        if after != before:
            obj.save()
            record(
                by=by,
                action=f"{noun}_updated",
                obj=obj,
                organisation_id=organisation_of(obj) if organisation_of else None,
                before=before,
                after=after,
            )
    return obj


def change(
    *,
    by: Any,
    obj: Model,
    action: str,
    snapshot: Callable[[Any], dict[str, Any]],
    changes: dict[str, Any],
    organisation_id: int | None = None,
    after_extra: dict[str, Any] | None = None,
) -> AuditEvent:
    """Set `changes` on a row the caller has locked, save only those fields, and record
    `action` with the row's `snapshot` before and after (plus `after_extra`), all in the
    caller's transaction. The one shape for "snapshot, change, audit" in every app."""
    before = snapshot(obj)
    for field, value in changes.items():
        setattr(obj, field, value)
    obj.save(update_fields=list(changes))
    return record(
        by=by,
        action=action,
        obj=obj,
        organisation_id=organisation_id,
        before=before,
        after={**snapshot(obj), **(after_extra or {})},
    )
