"""The on-call directory's pages: an organisation's directory (its coordinators and admins
add, change and remove entries there), and a collaborative's "Who to call" across its
members, as a page and as CSV.

Every page needs signing in. An organisation's directory is 404 (never 403) for anyone it
shares nothing with (`policy.get_organisation`), and a collaborative's for anyone not of a
member. What is shown of each directory is decided by `directory.queries`; every change goes
through `directory.actions`, which refuse in their own words.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from flotilla import csvsafe
from flotilla.authz.checks import can
from flotilla.authz.permissions import Perm
from flotilla.collaboratives.queries import collaboratives_of, find_collaborative
from flotilla.directory import actions, queries
from flotilla.directory.forms import EntryForm, initial_for
from flotilla.directory.models import OnCallEntry
from flotilla.formatting import error_summary
from flotilla.organisations.models import Organisation
from flotilla.sharing import policy

#: The columns of a collaborative's directory as CSV, one row per entry shown, and one per
#: member with none to show saying why (`status`).
CSV_COLUMNS = [
    "organisation",
    "organisation_name",
    "status",
    "site",
    "site_name",
    "role",
    "name",
    "route",
    "contact",
    "hours",
    "notes",
    "updated_at",
]
LISTED, NOT_SHARED, NONE_LISTED = "listed", "not shared with you", "none listed"


def _organisation(request: HttpRequest, code: str) -> tuple[policy.Viewer, Organisation, bool]:
    """The viewer, the organisation (404 unless it shares something with them), and whether
    the person manages its directory."""
    viewer = policy.viewer_of(request.user)
    org = policy.get_organisation(viewer, code)
    return viewer, org, can(request.user, Perm.MANAGE_DIRECTORY, org)


def _save(
    request: HttpRequest, form: EntryForm, org: Organisation, entry: OnCallEntry | None
) -> bool:
    """Add or change an entry from a posted form; errors land on the form's fields."""
    if not form.is_valid():
        return False
    values = form.values()
    try:
        if entry is None:
            actions.add_entry(by=request.user, organisation=org, **values)
        else:
            if values["position"] is None:
                values.pop("position")  # blank: keep its place
            actions.change_entry(by=request.user, entry=entry, **values)
    except actions.DirectoryError as exc:
        for name, text in exc.errors.items():
            form.add_error(name if name in form.fields else None, text)
        if not exc.errors:
            form.add_error(None, str(exc))
        return False
    return True


def _shared_collaboratives(viewer: policy.Viewer, org: Organisation) -> list[Any]:
    """The viewer's collaboratives that `org` is a member of, by name (for "who to call
    across" links)."""
    theirs = collaboratives_of([org.pk]).values("id")
    return list(collaboratives_of(viewer.organisation_ids).filter(id__in=theirs).order_by("name"))


@login_required
def organisation(request: HttpRequest, code: str) -> HttpResponse:
    """An organisation's directory as the person may see it; its managers add (POST)."""
    viewer, org, manages = _organisation(request, code)
    form = EntryForm(request.POST or None, organisation=org)
    if request.method == "POST":
        if not manages:
            raise Http404("Not found")
        if _save(request, form, org, None):
            messages.success(request, "Entry added to the directory.")
            return redirect("directory:organisation", org.code)
    return render(
        request,
        "directory/organisation.jinja",
        {
            "org": org,
            "directory": queries.entries_seen_by(viewer, org),
            "manages": manages,
            "may_share": can(request.user, Perm.MANAGE_SHARING, org),
            "form": form,
            "errors": error_summary(form) if request.method == "POST" else [],
            "collaboratives": _shared_collaboratives(viewer, org),
        },
    )


def _managed_entry(request: HttpRequest, code: str, pk: int) -> tuple[Organisation, OnCallEntry]:
    """A current entry of an organisation whose directory the person manages; else 404."""
    _viewer, org, manages = _organisation(request, code)
    if not manages:
        raise Http404("Not found")
    return org, queries.get_entry(org, pk)


@login_required
def change(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    """Change one entry (its organisation's managers only)."""
    org, entry = _managed_entry(request, code, pk)
    if request.method == "POST":
        form = EntryForm(request.POST, organisation=org)
        if _save(request, form, org, entry):
            messages.success(request, "Entry changed.")
            return redirect("directory:organisation", org.code)
    else:
        form = EntryForm(initial=initial_for(entry), organisation=org)
    return render(
        request,
        "directory/change.jinja",
        {"org": org, "entry": entry, "form": form, "errors": error_summary(form)},
    )


@login_required
@require_POST
def end(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    """Remove one entry from the directory (it is ended and kept)."""
    org, entry = _managed_entry(request, code, pk)
    try:
        actions.end_entry(by=request.user, entry=entry)
    except actions.DirectoryError as exc:
        raise Http404("Not found") from exc
    messages.success(request, f"Removed: {entry.role}.")
    return redirect("directory:organisation", org.code)


@login_required
def collaborative(request: HttpRequest, slug: str) -> HttpResponse:
    """Who to call at each member of a collaborative, as the person may see it."""
    viewer = policy.viewer_of(request.user)
    collab = find_collaborative(viewer.organisation_ids, slug)
    return render(
        request,
        "directory/collaborative.jinja",
        {"collab": collab, "directories": queries.directories(viewer, collab)},
    )


def csv_rows(found: list[queries.Directory]) -> list[list[object]]:
    """A collaborative's directories as CSV rows (`CSV_COLUMNS`)."""
    rows: list[list[object]] = []
    for d in found:
        org = [d.organisation.code, d.organisation.name]
        if d.withheld or not d.entries:
            rows.append([*org, NOT_SHARED if d.withheld else NONE_LISTED, *[""] * 9])
        for e in d.entries:
            rows.append(
                [
                    *org,
                    LISTED,
                    e.site.code if e.site else "",
                    e.site.name if e.site else "",
                    e.role,
                    e.name,
                    e.route,
                    e.contact,
                    e.hours,
                    e.notes,
                    e.updated_at.isoformat(),
                ]
            )
    return rows


@login_required
def collaborative_csv(request: HttpRequest, slug: str) -> HttpResponse:
    """The collaborative's Who to call page as CSV."""
    viewer = policy.viewer_of(request.user)
    collab = find_collaborative(viewer.organisation_ids, slug)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{collab.slug}-on-call.csv"'
    w = csvsafe.writer(response)
    w.writerow(CSV_COLUMNS)
    w.writerows(csv_rows(queries.directories(viewer, collab)))
    return response
