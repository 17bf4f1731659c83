"""An organisation's admins: who has read its data (the access record), who can see it
(its sharing grants, as the policy computes them), and adding, changing and revoking grants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from flotilla import csvsafe
from flotilla.authz.checks import can, require
from flotilla.authz.permissions import Perm
from flotilla.formatting import plural
from flotilla.organisations.models import Organisation
from flotilla.sharing import actions, ledger, policy
from flotilla.sharing.forms import DETAIL_EXPLAINED, GrantForm, group_hints, initial_for
from flotilla.sharing.models import AccessEvent, AudienceKind, Detail, Grant
from flotilla.sharing.policy import rules
from flotilla.sharing.policy.rules import GROUPS, Access, Accesses

PAGE_SIZE = 200
#: More organisations than this see the data (through grants to every organisation): the
#: ones not named by a grant all see the same, so they are counted in one row, not listed.
TABLE_LIMIT = 50


@login_required
def access_record(request: HttpRequest, code: str) -> HttpResponse:
    org = get_object_or_404(Organisation, code=code.upper())
    require(request.user, Perm.VIEW_ACCESS_RECORD, org)
    # Every read up to now, not only those the minute's schedule has chained yet.
    ledger.flush()
    events = AccessEvent.objects.filter(owner=org).order_by("-at", "-id")
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{org.code}-access-record.csv"'
        writer = csvsafe.writer(response)
        writer.writerow(["at", "reader", "reader_organisations", "groups", "where"])
        codes = dict(Organisation.objects.values_list("id", "code"))
        for e in events.iterator(chunk_size=2000):
            writer.writerow(
                [
                    e.at.isoformat(),
                    e.reader_label,
                    " ".join(codes.get(i, str(i)) for i in e.reader_organisations),
                    " ".join(e.groups),
                    e.what,
                ]
            )
        return response
    return render(
        request,
        "sharing/access_record.jinja",
        {"org": org, "events": events[:PAGE_SIZE], "total": events.count(), "page_size": PAGE_SIZE},
    )


def _managed(request: HttpRequest, code: str) -> Organisation:
    """The organisation, or 404 for anyone who may not manage its sharing."""
    org = get_object_or_404(Organisation, code=code.upper())
    require(request.user, Perm.MANAGE_SHARING, org)
    return org


def _owned(org: Organisation, grant_id: int) -> Grant:
    """One of `org`'s grants, or 404 (another organisation's grant is not found here)."""
    return get_object_or_404(
        Grant.objects.select_related("collaborative", "audience_organisation"),
        pk=grant_id,
        owner=org,
    )


@dataclass(frozen=True)
class Row:
    """A row of 'what each organisation sees': who, then the accesses per group, finest first
    (empty: not shared)."""

    label: str
    cells: list[Accesses]


def _seen_by(org: Organisation, audiences: list[policy.Audience]) -> tuple[list[Row], Row | None]:
    """What each organisation sees of `org`, by name; and, when grants to every organisation
    reach more than `TABLE_LIMIT`, the others (who all see the same) as one counted row."""
    views = policy.organisation_views(org)
    named = {o.pk for a in audiences for o in a.organisations} & set(views)
    listed = set(views) if len(views) <= TABLE_LIMIT else named
    names = dict(Organisation.objects.filter(pk__in=listed).values_list("pk", "name"))
    rows = sorted(
        (Row(names[i], [views[i].get(g, ()) for g in GROUPS]) for i in listed),
        key=lambda r: r.label,
    )
    public = [a.grant for a in audiences if a.grant.audience == AudienceKind.PUBLIC]
    if public:
        rows.append(
            Row(
                "Anyone, without signing in",
                [
                    rules.combine(
                        Access(p.detail, p.delay_hours, p.pk) for p in public if g in p.groups
                    )
                    for g in GROUPS
                ],
            )
        )
    hidden = [i for i in views if i not in listed]
    rest = None
    if hidden:
        n = len(hidden)
        label = plural(n, "more organisation", "more organisations")
        rest = Row(label, [views[hidden[0]].get(g, ()) for g in GROUPS])
    return rows, rest


@dataclass(frozen=True)
class Past:
    """A grant in the history: how it stands now, and the grant that replaced it, if any."""

    grant: Grant
    status: str
    at: datetime | None
    by: str
    replaced_by: int | None


def _history(org: Organisation, now: datetime) -> list[Past]:
    grants = list(
        Grant.objects.filter(owner=org)
        .select_related("collaborative", "audience_organisation")
        .order_by("-created_at", "-id")
    )
    replaced_by = {g.replaces_id: g.pk for g in grants if g.replaces_id}
    out = []
    for g in grants:
        if g.ended_at is not None:
            status, at, by = g.get_end_reason_display(), g.ended_at, g.ended_by_label
        elif not g.in_force(now):
            status, at, by = "Expired", g.expires_at, ""
        else:
            status, at, by = "In force", None, ""
        out.append(Past(g, status, at, by, replaced_by.get(g.pk)))
    return out


@login_required
def who_can_see(request: HttpRequest, code: str) -> HttpResponse:
    """Who can see this organisation's data, computed by the policy that enforces it."""
    org = get_object_or_404(Organisation, code=code.upper())
    require(request.user, Perm.VIEW_ACCESS_RECORD, org)
    audiences = policy.audiences(org)
    rows, rest = _seen_by(org, audiences)
    return render(
        request,
        "sharing/who_can_see.jinja",
        {
            "org": org,
            "audiences": audiences,
            "rows": rows,
            "rest": rest,
            "groups": GROUPS,
            "history": _history(org, timezone.now()),
            "can_manage": can(request.user, Perm.MANAGE_SHARING, org),
            "explained": DETAIL_EXPLAINED,
            "labels": dict(Detail.choices),
        },
    )


def _form_page(
    request: HttpRequest, org: Organisation, form: GrantForm, grant: Grant | None = None
) -> HttpResponse:
    return render(
        request,
        "sharing/grant_form.jinja",
        {
            "org": org,
            "form": form,
            "grant": grant,
            "errors": form.error_list() if form.is_bound else [],
            "audiences": AudienceKind.choices,
            "groups": GROUPS,
            "hints": group_hints(),
            "details": Detail.choices,
            "explained": DETAIL_EXPLAINED,
        },
    )


def _posted(request: HttpRequest) -> QueryDict | None:
    return request.POST if request.method == "POST" else None


@login_required
def grant_new(request: HttpRequest, code: str) -> HttpResponse:
    """Share some of the organisation's data with an audience, from the next request."""
    org = _managed(request, code)
    form = GrantForm(_posted(request), organisation=org, initial={"delay_hours": 0})
    if form.is_bound and form.is_valid():
        try:
            grant = actions.add_grant(by=request.user, owner=org, terms=form.terms())
        except actions.GrantInvalid as exc:
            form.add_grant_errors(exc.errors)
        else:
            messages.success(
                request,
                f"Grant {grant.pk} added: {grant.audience_label} can see "
                f"{', '.join(grant.groups)} from the next request.",
            )
            return redirect("sharing:who_can_see", org.code)
    return _form_page(request, org, form)


@login_required
def grant_edit(request: HttpRequest, code: str, grant_id: int) -> HttpResponse:
    """Change a grant in force: it ends, and a new grant with the new terms replaces it."""
    org = _managed(request, code)
    grant = _owned(org, grant_id)
    if not grant.in_force(timezone.now()):
        raise Http404("Not found")
    form = GrantForm(_posted(request), organisation=org, initial=initial_for(grant))
    if form.is_bound and form.is_valid():
        try:
            new = actions.change_grant(by=request.user, grant=grant, terms=form.terms())
        except actions.GrantInvalid as exc:
            form.add_grant_errors(exc.errors)
        else:
            messages.success(
                request,
                f"Grant {grant.pk} ended and grant {new.pk} replaces it, from the next request. "
                "Both are in the history.",
            )
            return redirect("sharing:who_can_see", org.code)
    return _form_page(request, org, form, grant)


@login_required
@require_POST
def grant_revoke(request: HttpRequest, code: str, grant_id: int) -> HttpResponse:
    """Stop a grant from the next request; it stays in the history."""
    org = _managed(request, code)
    grant = _owned(org, grant_id)
    try:
        actions.revoke_grant(by=request.user, grant=grant)
    except actions.GrantInvalid as exc:
        messages.error(request, f"Grant {grant.pk} was not revoked. {exc.errors['grant']}.")
    else:
        messages.success(
            request,
            f"Grant {grant.pk} revoked: what it shared with {grant.audience_label} is no longer "
            "shown, from the next request. It stays in the history.",
        )
    return redirect("sharing:who_can_see", org.code)
