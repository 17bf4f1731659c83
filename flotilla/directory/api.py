"""API for the on-call directory: an organisation's entries that the token's organisation
may see (`GET /api/organisations/{code}/on-call`, with a `read` token).

What is shown is decided by `directory.queries`, as on the pages: the organisation's own
tokens see every current entry; others see it only under a grant of the `contacts` group at
exact detail, each entry once it is old enough for that grant's delay. A directory not
shared with the token's organisation answers 200 with `withheld: true` and no entries
(never an empty list that looks like "nobody"); an organisation that shares nothing at all
with it, or does not exist, answers 404. Entries are changed by people, on the page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import Http404, HttpRequest
from ninja import Field, Router, Schema

from flotilla.authz.api_auth import READ_ERRORS, OrgCode, SafeStr, has_nul, require_scope
from flotilla.authz.models import TokenScope
from flotilla.directory import queries
from flotilla.directory.models import OnCallEntry, Route
from flotilla.sharing import policy

router = Router(tags=["directory"])


class EntryOut(Schema):
    """One on-call entry."""

    id: int
    site: SafeStr | None = Field(
        None, description="The site (ODS code); null: the whole organisation."
    )
    site_name: SafeStr | None = None
    role: SafeStr = Field(..., description="The role on call, like 'Site manager on call'.")
    name: SafeStr = Field("", description="Who is on call, when the organisation names them.")
    route: SafeStr = Field(..., description="How to reach them: " + ", ".join(Route.values) + ".")
    contact: SafeStr = Field(..., description="The number, bleep, address or channel.")
    hours: SafeStr = Field(..., description="When the route answers, like '24/7'.")
    notes: SafeStr = ""
    position: int = Field(..., description="Its place in the organisation's list, lowest first.")
    updated_at: datetime = Field(..., description="When it was added or last changed.")


class DirectoryOut(Schema):
    """An organisation's on-call directory as the token's organisation may see it."""

    organisation: SafeStr = Field(..., description="ODS code.")
    organisation_name: SafeStr
    withheld: bool = Field(
        ...,
        description="True: the organisation does not share its on-call contacts with yours "
        "(entries is empty because nothing is shown, not because there is nobody).",
    )
    delay_hours: int | None = Field(
        None,
        description="Shared this many hours late: entries added or changed more recently are "
        "not shown yet. 0: as they are made; null when withheld.",
    )
    entries: list[EntryOut]


def _entry(e: OnCallEntry) -> dict[str, Any]:
    return {
        "id": e.pk,
        "site": e.site.code if e.site else None,
        "site_name": e.site.name if e.site else None,
        "role": e.role,
        "name": e.name,
        "route": e.route,
        "contact": e.contact,
        "hours": e.hours,
        "notes": e.notes,
        "position": e.position,
        "updated_at": e.updated_at,
    }


@router.get(
    "/organisations/{code}/on-call",
    response={200: DirectoryOut, **READ_ERRORS},
    summary="An organisation's on-call directory",
)
def organisation_on_call(request: HttpRequest, code: OrgCode) -> dict[str, Any]:
    """Who to call at an organisation: its current on-call entries, in its order, as your
    organisation may see them. 404 unless the organisation shares something with yours.
    Needs a `read` token."""
    viewer = policy.viewer_of(require_scope(request, TokenScope.READ))
    if has_nul(code):
        raise Http404
    org = policy.get_organisation(viewer, code)
    d = queries.entries_seen_by(viewer, org)
    return {
        "organisation": org.code,
        "organisation_name": org.name,
        "withheld": d.withheld,
        "delay_hours": d.delay_hours,
        "entries": [_entry(e) for e in d.entries],
    }
