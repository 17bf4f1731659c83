"""Write audit events. Called only from other actions, inside their transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from flotilla.audit.models import AuditEvent
from flotilla.audit.principals import as_principal


class AuditOutsideTransaction(RuntimeError):
    """An audit event must commit or roll back with the change it describes."""


@dataclass(frozen=True)
class Event:
    """One change of state to record (see `record`)."""

    action: str
    obj: Any = None
    object_type: str = ""
    object_id: str = ""
    organisation_id: int | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


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
    """Record one change of state, whole, in the caller's transaction.

    Refuses to run outside an atomic block, so the event commits or rolls back with the
    change it describes. Takes no lock: the event waits to be linked onto the audit chain by
    `chain_waiting` (the worker, every minute; ADR 0040), so concurrent actions never queue
    behind each other to record themselves.
    """
    event = Event(action, obj, object_type, object_id, organisation_id, before, after)
    (recorded,) = record_many(by=by, events=[event])
    return recorded


def record_many(*, by: Any, events: Sequence[Event]) -> list[AuditEvent]:
    """Record several changes of state by one actor in one INSERT (for work that changes
    many rows at once, such as evaluating alerts). As `record`: inside the caller's
    transaction only, waiting to be chained."""
    if not connection.in_atomic_block:
        actions = ", ".join(sorted({e.action for e in events}))
        raise AuditOutsideTransaction(
            f"audit of {actions} must run inside the action's transaction"
        )
    if not events:
        return []
    actor = as_principal(by)

    now = timezone.now()
    return AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                at=now,
                actor_user=actor.user,
                actor_token_id=actor.token_id,
                actor_label=actor.label,
                action=e.action,
                object_type=e.object_type or (e.obj._meta.label_lower if e.obj is not None else ""),
                object_id=e.object_id or (str(e.obj.pk) if e.obj is not None else ""),
                organisation_id=e.organisation_id,
                before=e.before,
                after=e.after,
            )
            for e in events
        ]
    )


#: The most waiting events one transaction of `chain_waiting` links.
CHAIN_BATCH = 2000


def chain_waiting(batch: int = CHAIN_BATCH) -> int:
    """Link every event waiting to be chained onto the audit chain, in the order they were
    written; how many (ADR 0040).

    Each batch is one transaction under the chain head's lock, so runs queue and an event is
    linked once. Safe to run at any time, as often as wanted: the schedule runs it every
    minute (`chain-audit-record`), and `export-audit-head` runs it before exporting.
    """
    return in_batches(AuditEvent.chain_waiting, batch)


def in_batches(link: Callable[[int], int], batch: int) -> int:
    """Call `link(batch)`, each call in a transaction of its own, until one links fewer than
    `batch`; how many in all. The one loop of the chains fed from waiting rows (the audit
    record's, and the access record's inbox, ADR 0022)."""
    linked = 0
    while True:
        with transaction.atomic():
            done = link(batch)
        linked += done
        if done < batch:
            return linked


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
