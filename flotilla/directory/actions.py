"""Every write of the on-call directory: add, change and end (remove) an entry.

Each runs in one transaction with its audit event, and only for people who hold
`Perm.MANAGE_DIRECTORY` in the organisation that owns the directory (its coordinators and
admins). Refusals raise `DirectoryError`: a sentence, and the fields at fault (field →
words), which the page puts beside each box and the API names in its 422.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from flotilla.audit import actions as audit
from flotilla.audit.principals import as_principal
from flotilla.authz.checks import can
from flotilla.authz.permissions import Perm
from flotilla.directory import validation
from flotilla.directory.models import OnCallEntry
from flotilla.organisations.models import Organisation, Site


class DirectoryError(Exception):
    """A change that cannot be made: a sentence, and the fields at fault (field → words)."""

    def __init__(self, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or {}


class _Keep:
    """A field `change_entry` leaves as it is (not given)."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()


def snapshot(e: OnCallEntry) -> dict[str, Any]:
    """The entry as the audit log keeps it."""
    return {
        "organisation": e.organisation.code,
        "site": e.site.code if e.site_id and e.site else None,
        "role": e.role,
        "name": e.name,
        "route": e.route,
        "contact": e.contact,
        "hours": e.hours,
        "notes": e.notes,
        "position": e.position,
        "ended": e.ended_at is not None,
    }


def _refuse_unless_manager(by: Any, organisation: Organisation) -> None:
    if not can(by, Perm.MANAGE_DIRECTORY, organisation):
        raise DirectoryError(
            f"Only coordinators and admins of {organisation.name} can change its on-call directory"
        )


def _user_of(by: Any) -> Any:
    """The person acting (None for the platform itself), for `updated_by` and `ended_by`."""
    return as_principal(by).user


def _checked(organisation: Organisation, values: dict[str, Any]) -> dict[str, Any]:
    """The values cleaned, or `DirectoryError` naming every field at fault."""
    values = validation.cleaned(values)
    errors = validation.check(values)
    site = values.get("site")
    if site is not None and site.organisation_id != organisation.pk:
        errors["site"] = f"Choose one of {organisation.name}'s sites, or none"
    if errors:
        raise DirectoryError("The entry has errors; nothing was saved", errors)
    return values


def add_entry(
    *,
    by: Any,
    organisation: Organisation,
    role: str,
    contact: str,
    hours: str,
    route: str = "phone",
    name: str = "",
    site: Site | None = None,
    notes: str = "",
    position: int | None = None,
) -> OnCallEntry:
    """Add an entry to `organisation`'s directory, at `position` or else at the end."""
    _refuse_unless_manager(by, organisation)
    values = _checked(
        organisation,
        {
            "role": role,
            "name": name,
            "route": route,
            "contact": contact,
            "hours": hours,
            "notes": notes,
            "site": site,
            "position": position,
        },
    )
    now = timezone.now()
    with transaction.atomic():
        # Two additions at once may take the same place; the list then orders them by age.
        if values["position"] is None:
            last = OnCallEntry.objects.filter(
                organisation=organisation, ended_at__isnull=True
            ).aggregate(last=Max("position"))["last"]
            values["position"] = 0 if last is None else last + 1
        entry = OnCallEntry.objects.create(
            organisation=organisation,
            created_at=now,
            updated_at=now,
            updated_by=_user_of(by),
            **values,
        )
        audit.record(
            by=by,
            action="directory.entry_added",
            obj=entry,
            organisation_id=organisation.pk,
            after=snapshot(entry),
        )
    return entry


def _locked_current(entry: OnCallEntry) -> OnCallEntry:
    # Only the entry's row is locked: PostgreSQL refuses FOR UPDATE on the nullable side of
    # the outer join to its site.
    return (
        OnCallEntry.objects.select_for_update(of=("self",))
        .select_related("organisation", "site")
        .get(pk=entry.pk)
    )


def change_entry(
    *,
    by: Any,
    entry: OnCallEntry,
    role: str = KEEP,
    name: str = KEEP,
    route: str = KEEP,
    contact: str = KEEP,
    hours: str = KEEP,
    notes: str = KEEP,
    site: Site | None = KEEP,
    position: int = KEEP,
) -> OnCallEntry:
    """Change the fields given (the others stay as they are). A change that changes nothing
    records nothing and keeps the entry's `updated_at` (its viewers' delay runs on)."""
    organisation = entry.organisation
    _refuse_unless_manager(by, organisation)
    given = {
        k: v
        for k, v in {
            "role": role,
            "name": name,
            "route": route,
            "contact": contact,
            "hours": hours,
            "notes": notes,
            "site": site,
            "position": position,
        }.items()
        if v is not KEEP
    }
    if "position" in given and given["position"] is None:
        errors = {"position": validation.MESSAGES["position"]}
        raise DirectoryError("The entry has errors; nothing was saved", errors)
    with transaction.atomic():
        locked = _locked_current(entry)
        if locked.ended_at is not None:
            raise DirectoryError("This entry was removed from the directory: add it again")
        current = {k: getattr(locked, k) for k in ("role", "name", "route", "contact", "hours")}
        current |= {"notes": locked.notes, "site": locked.site, "position": locked.position}
        values = _checked(organisation, {**current, **given})
        changes = {k: v for k, v in values.items() if v != current[k]}
        if changes:
            now = timezone.now()
            changes |= {"updated_at": now, "updated_by": _user_of(by)}
            audit.change(
                by=by,
                obj=locked,
                action="directory.entry_changed",
                snapshot=snapshot,
                changes=changes,
                organisation_id=organisation.pk,
            )
    return locked


def end_entry(*, by: Any, entry: OnCallEntry) -> OnCallEntry:
    """Remove an entry from the directory: it is ended (kept, with who and when) and no
    longer shown. Ending an ended entry changes nothing."""
    _refuse_unless_manager(by, entry.organisation)
    with transaction.atomic():
        locked = _locked_current(entry)
        if locked.ended_at is None:
            audit.change(
                by=by,
                obj=locked,
                action="directory.entry_ended",
                snapshot=snapshot,
                changes={"ended_at": timezone.now(), "ended_by": _user_of(by)},
                organisation_id=locked.organisation_id,
            )
    return locked
