"""The morning summary: each collaborative's picture in a sentence, for its coordinators.

Each member organisation's coordinators get the summary as their organisation sees the
picture: the job reads *as that organisation* through the sharing policy
(`policy.acting_for`), so a member sharing only its status appears as "red", never as a
figure, and the reads land on each owner's access record, labelled as this job's
(`policy.on_the_record`). One summary per collaborative, organisation and day (a unique row),
so running the job twice, or on two workers, sends it once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from flotilla.audit import actions as audit
from flotilla.audit.principals import Principal
from flotilla.authz.checks import people_with
from flotilla.authz.permissions import Perm
from flotilla.collaboratives.models import Collaborative, CollaborativeMembership
from flotilla.formatting import when
from flotilla.notifications import actions as notifications
from flotilla.organisations.models import Organisation
from flotilla.picture.models import Summary
from flotilla.picture.queries import Picture, TableView, collaborative_picture, table_view, trouble
from flotilla.sharing import policy

SUMMARIES = Principal.system("morning summary")

#: How many organisations a summary names before it says "and N more".
NAMED = 3


def _occupancy(row: Any) -> str:
    """A red G&A occupancy as the viewer may see it: a figure, a band, or only its colour."""
    fig = row.derived.get("ga_occupancy")
    if fig is None:
        return row.organisation.name
    if fig.exact and fig.value is not None:
        return f"{row.organisation.name} {fig.value:.0%}"
    if fig.band is not None:
        return f"{row.organisation.name} {fig.band[0]:.0%}–{fig.band[1]:.0%}"
    return f"{row.organisation.name} (red)"


def _names(items: list[str]) -> str:
    shown = items[:NAMED]
    more = len(items) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more else "")


def compose(picture: Picture, view: TableView) -> str:
    """The summary in words, from what the viewer is shown."""
    name = picture.collaborative.name
    at = when(picture.at)
    parts = [p.text for p in trouble(picture, view)]
    if not parts:
        return f"{name} at {at}: no member at OPEL 4, over the red line or overdue."
    red = [
        _occupancy(r) for r in picture.all_rows if r.site is None and r.rag("ga_occupancy") == "red"
    ]
    text = f"{name} at {at}: " + "; ".join(parts) + "."
    if red:
        text += f" Over the G&A red line: {_names(red)}."
    return text[:500]


def summarise(
    collaborative: Collaborative, organisation: Organisation, now: datetime | None = None
) -> str:
    """The collaborative's summary as `organisation` sees it (the reads go on the record)."""
    viewer = policy.acting_for(organisation, "morning summary")
    view, _ = table_view({})
    with policy.on_the_record(f"job morning summary of {collaborative.slug}"):
        picture = collaborative_picture(viewer, collaborative, at=now, view=view)
    return compose(picture, view)


def send(*, now: datetime | None = None, by: Any = SUMMARIES) -> list[Summary]:
    """Send today's summary of every collaborative to every member organisation's
    coordinators that has not had it; returns the summaries sent."""
    now = now or timezone.now()
    day = timezone.localdate(now)
    sent = []
    memberships = (
        CollaborativeMembership.objects.filter(left_at__isnull=True)
        .select_related("collaborative", "organisation")
        .order_by("collaborative__name", "organisation__name")
    )
    # One query for today's summaries already sent, not one per membership.
    already = set(
        Summary.objects.filter(day=day).values_list("collaborative_id", "organisation_id")
    )
    for m in memberships:
        if (m.collaborative_id, m.organisation_id) in already:
            continue
        people = people_with(Perm.MANAGE_COLLABORATIVE, m.organisation_id)
        if not people:
            continue
        text = summarise(m.collaborative, m.organisation, now)
        try:
            with transaction.atomic():
                summary = Summary.objects.create(
                    collaborative=m.collaborative,
                    organisation=m.organisation,
                    day=day,
                    sent_at=now,
                    text=text,
                )
                notifications.notify(
                    by=by,
                    recipients=people,
                    text=text,
                    # Inbox and email only, never a webhook: the sentence carries other
                    # organisations' figures as this organisation may see them, and a webhook
                    # would carry them out of Flotilla's sight (webhooks send codes, not data).
                    link=reverse("picture:dashboard", args=[m.collaborative.slug]),
                )
                audit.record(
                    by=by,
                    action="picture.summary_sent",
                    obj=summary,
                    organisation_id=m.organisation_id,
                    after={"collaborative": m.collaborative.slug, "day": day.isoformat()},
                )
        except IntegrityError:
            continue  # another worker sent it a moment ago
        sent.append(summary)
    return sent
