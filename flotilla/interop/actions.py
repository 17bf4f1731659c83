"""Every write of the interoperability app: one transaction each, audited.

Importing an EDXL-RM message creates the request or offer through `flotilla.exchange.actions`
(its own rules and audit) and, in the same transaction, remembers the message's id
(`ImportedMessage`), so that the same message imported again changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone

from flotilla.audit import actions as audit
from flotilla.exchange.models import AidRequest, Offer
from flotilla.interop.models import ImportedMessage
from flotilla.organisations.models import Organisation


def _snapshot(row: ImportedMessage) -> dict[str, Any]:
    return {
        "message_id": row.message_id,
        "content_type": row.content_type,
        "request": row.request_id,
        "offer": row.offer_id,
    }


def import_once(
    *,
    by: Any,
    organisation: Organisation,
    message_id: str,
    content_type: str,
    create: Callable[[], AidRequest | Offer],
) -> tuple[ImportedMessage, bool]:
    """Make what one message asks (`create()`, through the exchange's actions) unless this
    organisation imported a message with this id before: returns (the record, made now).

    The record is inserted first, in the same transaction as the thing, so of two concurrent
    imports of one message exactly one creates: on PostgreSQL the second insert waits on the
    unique index and then reads the winner's record; on SQLite the second waits for the write
    lock. A refused creation rolls the record back with it.
    """
    with transaction.atomic():
        row, made = ImportedMessage.objects.get_or_create(
            organisation=organisation,
            message_id=message_id,
            defaults={"content_type": content_type, "imported_at": timezone.now()},
        )
        if not made:
            return row, False
        thing = create()
        if isinstance(thing, AidRequest):
            row.request = thing
        else:
            row.offer = thing
        row.save(update_fields=["request", "offer"])
        audit.record(
            by=by,
            action="interop.edxl_rm_imported",
            obj=row,
            organisation_id=organisation.pk,
            after=_snapshot(row),
        )
        return row, True
