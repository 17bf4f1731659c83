"""Who sees which on-call directory: the one visibility rule of this app.

An organisation's directory is shared through the sharing policy, as its `contacts` measure
group, like narrative text: only under a grant at exact detail (banded and status-only
grants show none of it). Its own people see every current entry. Anyone else sees an entry
once it is old enough, since it was added or last changed, for the delay of some grant of
that kind that reaches them (`rules.shown_under`), so a grant a day late shows yesterday's
list, without today's additions and changes. Where nothing is shared the directory is
withheld, and pages say so rather than show an empty list.

`policy.group_access` alone decides what is shared, and puts the reads on the owners'
access records. Pages, the API and exports ask here and never filter by viewer themselves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.http import Http404
from django.utils import timezone

from flotilla.collaboratives.models import Collaborative
from flotilla.collaboratives.queries import members_of
from flotilla.directory.models import OnCallEntry
from flotilla.organisations.models import Organisation
from flotilla.sharing import policy

#: The measure group that shares a directory (metric catalogue), and how it is held.
GROUP, KIND = "contacts", "text"


@dataclass(frozen=True)
class Directory:
    """One organisation's directory as one viewer may see it."""

    organisation: Organisation
    #: The current entries shown to the viewer, in the organisation's order.
    entries: list[OnCallEntry] = field(default_factory=list)
    #: Not shared with the viewer at all: say so, never show it as empty.
    withheld: bool = False
    #: The viewer is one of the organisation's own people.
    own: bool = False
    #: Shared, but this many hours late at the freshest (0: as changes are made; None when
    #: withheld): entries added or changed within it are not shown yet.
    delay_hours: int | None = None


def _directories(
    viewer: policy.Viewer, organisations: Iterable[Organisation], now: datetime | None = None
) -> list[Directory]:
    orgs = list(organisations)
    now = now or timezone.now()
    held = policy.group_access(viewer, [o.pk for o in orgs], GROUP, KIND)
    shown: dict[int, list[OnCallEntry]] = defaultdict(list)
    current = (
        OnCallEntry.objects.filter(organisation_id__in=list(held), ended_at__isnull=True)
        .select_related("site")
        .order_by("organisation_id", "position", "pk")
    )
    for entry in current:
        if policy.rules.shown_under(held[entry.organisation_id], entry.updated_at, now, now):
            shown[entry.organisation_id].append(entry)
    return [
        Directory(
            organisation=o,
            entries=shown.get(o.pk, []),
            withheld=o.pk not in held,
            own=o.pk in viewer.organisation_ids,
            delay_hours=held[o.pk][-1].delay_hours if o.pk in held else None,
        )
        for o in orgs
    ]


def entries_seen_by(
    viewer: policy.Viewer, organisation: Organisation, now: datetime | None = None
) -> Directory:
    """`organisation`'s directory as `viewer` may see it (`Directory.withheld` when it is
    not shared with them). Ask only about an organisation the viewer may know of
    (`policy.get_organisation`)."""
    (directory,) = _directories(viewer, [organisation], now)
    return directory


def directories(
    viewer: policy.Viewer, collaborative: Collaborative, now: datetime | None = None
) -> list[Directory]:
    """Every active member's directory, by name, as `viewer` may see each. Ask only about
    a collaborative the viewer may open (`find_collaborative`)."""
    return _directories(viewer, members_of(collaborative), now)


def get_entry(organisation: Organisation, pk: int) -> OnCallEntry:
    """A current entry of `organisation`'s (for its managers' change and remove pages), or
    404. Who may change it is checked by `actions`."""
    entry = (
        OnCallEntry.objects.select_related("organisation", "site")
        .filter(pk=pk, organisation=organisation, ended_at__isnull=True)
        .first()
    )
    if entry is None:
        raise Http404("Not found")
    return entry
