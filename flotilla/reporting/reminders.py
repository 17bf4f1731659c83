"""Reminders that a report is due, and taking them down when the report comes.

Every member of a collaborative is expected to report at least every
`reporting_interval_hours`, or every `surge_reporting_interval_hours` while the collaborative
is in surge (`Collaborative.effective_reporting_interval_hours`). When that much time has
passed since an organisation's newest report (or since it joined, if it never reported), the
people who can report for it get one reminder for that due time, in the inbox and by email
(their preferences permitting). Run every few minutes by the worker (`flotilla.jobs.schedule`);
running it twice, or on two workers at once, sends one reminder per due time (a unique row per
organisation, collaborative and due time).

The reminder concerns the organisation's own reporting, so it reads only the organisation's
own report times: no other organisation's data is read here.

The next report newer than the one the reminder was sent after clears it, in that report's
transaction: the reminder is marked cleared and its inbox notifications read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from flotilla.audit import actions as audit
from flotilla.audit.principals import Principal
from flotilla.authz.checks import people_with
from flotilla.authz.permissions import Perm
from flotilla.collaboratives.models import CollaborativeMembership
from flotilla.formatting import plural, when
from flotilla.notifications import actions as notifications
from flotilla.notifications.models import Notification
from flotilla.organisations.models import OrganisationKind
from flotilla.reporting.models import Observation, Reminder
from flotilla.sql import for_update, placeholders

#: Who sends reminders.
REMINDERS = Principal.system("reporting reminders")

#: Organisations that commission care and report nothing of their own.
NON_REPORTING = (OrganisationKind.COMMISSIONER,)


def last_reports(organisation_ids: Iterable[int]) -> dict[int, datetime]:
    """Organisation id → the newest report time among its current figures (sites included)."""
    rows = (
        Observation.objects.filter(
            series__organisation_id__in=list(organisation_ids), is_current=True
        )
        .values("series__organisation_id")
        .annotate(last=Max("as_of"))
    )
    return {r["series__organisation_id"]: r["last"] for r in rows}


def _due(membership: CollaborativeMembership, last: datetime | None) -> datetime:
    interval = timedelta(hours=membership.collaborative.effective_reporting_interval_hours)
    return (last or membership.joined_at) + interval


def send_due(*, now: datetime | None = None, by: Any = REMINDERS) -> list[Reminder]:
    """Send a reminder for every active membership whose report is due and not yet reminded
    for that due time; returns the reminders sent."""
    now = now or timezone.now()
    memberships = list(
        CollaborativeMembership.objects.filter(left_at__isnull=True)
        .exclude(organisation__kind__in=NON_REPORTING)
        .select_related("organisation", "collaborative")
        .order_by("collaborative__name", "organisation__name")
    )
    last = last_reports({m.organisation_id for m in memberships})
    due = {m: _due(m, last.get(m.organisation_id)) for m in memberships}
    due = {m: at for m, at in due.items() if at <= now}
    # One query for the reminders already sent for these due times, not one per membership.
    already = set(
        Reminder.objects.filter(due_at__in=set(due.values())).values_list(
            "organisation_id", "collaborative_id", "due_at"
        )
    )
    sent = []
    for m, due_at in due.items():
        if (m.organisation_id, m.collaborative_id, due_at) in already:
            continue
        try:
            sent.append(_remind(by, m, due_at, last.get(m.organisation_id), now))
        except IntegrityError:
            continue  # another worker sent this one a moment ago
    return sent


def _remind(
    by: Any, m: CollaborativeMembership, due_at: datetime, last: datetime | None, now: datetime
) -> Reminder:
    org, collab = m.organisation, m.collaborative
    with transaction.atomic():
        reminder = Reminder.objects.create(
            organisation=org,
            collaborative=collab,
            due_at=due_at,
            last_report_at=last,
            sent_at=now,
        )
        since = f"last reported {when(last, now)}" if last else "has not reported yet"
        every = f"expected every {plural(collab.effective_reporting_interval_hours, 'hour')}"
        if collab.in_surge:
            every += f" while {collab.name} is in surge"
        notes = notifications.notify(
            by=by,
            recipients=people_with(Perm.SUBMIT_REPORT, org.pk),
            text=f"{org.name}'s report to {collab.name} was due at {when(due_at, now)} "
            f"({since}; {every}). Report now, or confirm nothing has changed.",
            link=reverse("reporting:form", args=[org.code]),
            kind="report.overdue",
            organisation=org,
        )
        reminder.notification_ids = [n.pk for n in notes]
        reminder.save(update_fields=["notification_ids"])
        audit.record(
            by=by,
            action="reporting.reminder_sent",
            obj=reminder,
            organisation_id=org.pk,
            after={
                "collaborative": collab.slug,
                "due_at": due_at.isoformat(),
                "last_report_at": last.isoformat() if last else None,
                "interval_hours": collab.effective_reporting_interval_hours,
                "surge": collab.in_surge,
                "recipients": len(notes),
            },
        )
    return reminder


def clear_after_report(*, by: Any, newest: dict[int, datetime]) -> int:
    """Clear the open reminders of organisations that just reported something newer than
    what they had when reminded (`newest`: organisation id → newest time in the report).
    Called inside the report's transaction; returns how many were cleared."""
    if not newest:
        return 0
    # Every report asks, and most find none: the statement is written out (ADR 0046).
    organisations = sorted(newest)
    sql = (
        f"SELECT * FROM {Reminder._meta.db_table} WHERE cleared_at IS NULL"
        f" AND organisation_id IN ({placeholders(organisations)}){for_update()}"
    )
    reminders = [
        r
        for r in Reminder.objects.raw(sql, organisations)
        if r.last_report_at is None or newest[r.organisation_id] > r.last_report_at
    ]
    if not reminders:
        return 0
    now = timezone.now()
    Reminder.objects.filter(pk__in=[r.pk for r in reminders]).update(cleared_at=now)
    by_recipient: dict[int, list[int]] = defaultdict(list)
    ids = [pk for r in reminders for pk in r.notification_ids]
    for recipient, pk in Notification.objects.filter(pk__in=ids).values_list("recipient", "pk"):
        by_recipient[recipient].append(pk)
    for recipient, pks in sorted(by_recipient.items()):
        notifications.mark_read(by=by, recipient=recipient, ids=pks)
    for r in reminders:
        audit.record(
            by=by,
            action="reporting.reminder_cleared",
            obj=r,
            organisation_id=r.organisation_id,
            before={"cleared_at": None},
            after={"cleared_at": now.isoformat()},
        )
    return len(reminders)
