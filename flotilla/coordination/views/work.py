"""The shared work's pages: the overview, objectives with their progress, workstreams, the
RAID log and its items (a decision with the picture as it stood), and roles."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from flotilla.authz.models import Membership
from flotilla.coordination import actions, queries, rules
from flotilla.coordination.forms import (
    CloseForm,
    DecideForm,
    EscalateForm,
    ItemForm,
    ObjectiveForm,
    RoleForm,
    StatusForm,
    WorkstreamForm,
)
from flotilla.coordination.models import CollaborativeRole, ItemKind, RoleKind
from flotilla.coordination.views._common import Here, attempt, here
from flotilla.escalation import queries as escalation
from flotilla.formatting import error_summary
from flotilla.picture.queries import table_view, trouble

KIND_WORDS = dict(ItemKind.choices)


def _log_counts(items: list[Any]) -> dict[str, int]:
    today = timezone.localdate()
    flags = [queries.flags(i, today) for i in items]
    return {
        "open": sum(1 for i in items if not i.is_closed),
        "overdue": sum(1 for f in flags if f.overdue),
        "unowned": sum(1 for f in flags if f.unowned),
        "escalated": sum(1 for f in flags if f.escalated),
    }


@login_required
def overview(request: HttpRequest, slug: str) -> HttpResponse:
    """Objectives with their progress, workstreams, and what in the log needs attention."""
    h = here(request, slug)
    objectives = queries.objectives_of(h.collab)
    items = list(queries.log_of(h.collab))
    return render(
        request,
        "coordination/overview.jinja",
        {
            "h": h,
            "collab": h.collab,
            "objectives": objectives,
            "progress": queries.progress(h.viewer, objectives),
            "describe": queries.describe,
            "workstreams": queries.workstreams_of(h.collab),
            "counts": _log_counts(items),
            "roles": rules.current_roles(h.collab),
            "role_words": dict(RoleKind.choices),
        },
    )


# ------------------------------------------------------------------ objectives


@login_required
def objectives(request: HttpRequest, slug: str) -> HttpResponse:
    h = here(request, slug)
    form = ObjectiveForm(request.POST or None, people=h.people())
    if request.method == "POST":
        h.require()
        made = attempt(
            form,
            lambda: actions.add_objective(by=request.user, collaborative=h.collab, **form.values()),
        )
        if made is not None:
            messages.success(request, "Objective added.")
            return redirect("coordination:objective", h.collab.slug, made.pk)
    found = queries.objectives_of(h.collab)
    return render(
        request,
        "coordination/objectives.jinja",
        {
            "h": h,
            "collab": h.collab,
            "objectives": found,
            "closed": queries.objectives_of(h.collab, closed=True),
            "progress": queries.progress(h.viewer, found, trend_days=1),
            "describe": queries.describe,
            "form": form,
            "errors": error_summary(form),
        },
    )


@login_required
def objective(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """One objective: its progress member by member as the viewer may see it, its trend over
    the last week, and (for those who may) closing it."""
    h = here(request, slug)
    found = queries.get_objective(h.collab, pk)
    form = CloseForm(request.POST or None)
    if request.method == "POST":
        h.require()
        if attempt(
            form,
            lambda: actions.close_objective(
                by=request.user, objective=found, reason=form.cleaned_data["reason"]
            ),
        ):
            messages.success(request, "Objective closed.")
            return redirect("coordination:objective", h.collab.slug, found.pk)
    progress = (
        queries.progress(h.viewer, [found], trend_days=queries.TREND_DAYS)[found.pk]
        if found.closed_at is None
        else None
    )
    return render(
        request,
        "coordination/objective.jinja",
        {
            "h": h,
            "collab": h.collab,
            "o": found,
            "p": progress,
            "describe": queries.describe,
            "shown": queries.shown,
            "workstreams": list(found.workstreams.all()),
            "form": form,
            "errors": error_summary(form),
        },
    )


# ------------------------------------------------------------------ workstreams


def _workstream_form(
    request: HttpRequest, h: Here, initial: dict[str, Any] | None = None
) -> WorkstreamForm:
    return WorkstreamForm(
        request.POST or None,
        initial=initial,
        people=h.people(),
        objectives=queries.objectives_of(h.collab),
    )


@login_required
def workstreams(request: HttpRequest, slug: str) -> HttpResponse:
    h = here(request, slug)
    form = _workstream_form(request, h)
    if request.method == "POST":
        h.require()
        made = attempt(
            form,
            lambda: actions.add_workstream(
                by=request.user, collaborative=h.collab, **form.values()
            ),
        )
        if made is not None:
            messages.success(request, "Workstream added.")
            return redirect("coordination:workstream", h.collab.slug, made.pk)
    return render(
        request,
        "coordination/workstreams.jinja",
        {
            "h": h,
            "collab": h.collab,
            "workstreams": queries.workstreams_of(h.collab),
            "form": form,
            "errors": error_summary(form),
        },
    )


@login_required
def workstream(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    h = here(request, slug)
    found = queries.get_workstream(h.collab, pk)
    initial = {
        "name": found.name,
        "purpose": found.purpose,
        "objectives": [str(o.pk) for o in found.objectives.all()],
        "sponsor": str(found.sponsor_id or ""),
        "leads": [str(u.pk) for u in found.leads.all()],
        "members": [str(u.pk) for u in found.members.all()],
        "status": found.status,
        "closed_reason": found.closed_reason,
    }
    form = _workstream_form(request, h, initial)
    if request.method == "POST":
        h.require()
        changed = attempt(
            form,
            lambda: actions.change_workstream(
                by=request.user,
                workstream=found,
                closed_reason=form.cleaned_data["closed_reason"],
                **form.values(),
            ),
        )
        if changed is not None:
            messages.success(request, "Workstream changed.")
            return redirect("coordination:workstream", h.collab.slug, found.pk)
    items = list(queries.log_of(h.collab, workstream=found))
    today = timezone.localdate()
    return render(
        request,
        "coordination/workstream.jinja",
        {
            "h": h,
            "collab": h.collab,
            "w": found,
            "items": items,
            "flags": {i.pk: queries.flags(i, today) for i in items},
            "kind_words": KIND_WORDS,
            "form": form,
            "errors": error_summary(form),
        },
    )


# ------------------------------------------------------------------ the RAID log


def _item_form(request: HttpRequest, h: Here) -> ItemForm:
    return ItemForm(
        request.POST or None, people=h.people(), workstreams=queries.workstreams_of(h.collab)
    )


@login_required
def log(request: HttpRequest, slug: str) -> HttpResponse:
    """The collaborative's RAID log, filtered by kind and workstream, open items by default;
    overdue, unowned and escalated items are flagged. Those who may add items here."""
    h = here(request, slug)
    form = _item_form(request, h)
    if request.method == "POST":
        h.require()
        made = attempt(
            form,
            lambda: actions.add_item(by=request.user, collaborative=h.collab, **form.values()),
        )
        if made is not None:
            messages.success(request, f"{made.reference} added to the log.")
            return redirect("coordination:log", h.collab.slug)
    kind = request.GET.get("kind", "")
    kinds = [kind] if kind in KIND_WORDS else None
    show_all = request.GET.get("show") == "all"
    items = list(queries.log_of(h.collab, kinds=kinds, open_only=not show_all))
    today = timezone.localdate()
    flags = {i.pk: queries.flags(i, today) for i in items}
    only = request.GET.get("only", "")
    if only in ("overdue", "unowned", "escalated"):
        items = [i for i in items if getattr(flags[i.pk], only)]
    return render(
        request,
        "coordination/log.jinja",
        {
            "h": h,
            "collab": h.collab,
            "items": items,
            "flags": flags,
            "kind": kind if kinds else "",
            "only": only,
            "show_all": show_all,
            "kind_words": KIND_WORDS,
            "form": form,
            "errors": error_summary(form),
        },
    )


@login_required
def item(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """One log item. A decision shows the picture as it stood when it was taken, as this
    viewer may see it now."""
    h = here(request, slug)
    found = queries.get_item(h.collab, pk)
    own = found.owner_id == request.user.pk
    context: dict[str, Any] = {
        "h": h,
        "collab": h.collab,
        "i": found,
        "flags": queries.flags(found),
        "kind_words": KIND_WORDS,
        "may_move": h.may or own,
        "status_form": StatusForm(initial={"status": found.status}),
        "escalate_form": EscalateForm(),
        "decide_form": DecideForm(),
        "sponsors": rules.sponsors_of(found),
    }
    picture = queries.decision_picture(h.viewer, found)
    if picture is not None:
        view, _ = table_view({})
        dashboard = reverse("picture:dashboard", args=[h.collab.slug])
        at = picture.at.isoformat()
        context |= {
            "picture": picture,
            "view": view,
            "levels": escalation.collaborative_levels(h.viewer, h.collab, picture.at),
            "trouble": trouble(picture, view),
            "link": lambda params: f"{dashboard}?{urlencode({'at': at} | params)}",
            "expected": {},
            "expected_days": 3,
            "containerClasses": "flotilla-wide",
        }
    return render(request, "coordination/item.jinja", context)


def _item_change(
    request: HttpRequest, slug: str, pk: int, form_class: Any, change: Any
) -> HttpResponse:
    h = here(request, slug)
    found = queries.get_item(h.collab, pk)
    form = form_class(request.POST)
    done = attempt(form, lambda: change(found, form.cleaned_data))
    if done is None:
        for text in [m for errs in form.errors.values() for m in errs]:
            messages.error(request, text)
    return redirect("coordination:item", h.collab.slug, found.pk)


@login_required
@require_POST
def item_status(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    def change(found: Any, d: dict[str, Any]) -> Any:
        done = actions.set_status(
            by=request.user, item=found, status=d["status"], reason=d["reason"]
        )
        messages.success(request, f"{done.reference} is now {done.get_status_display().lower()}.")
        return done

    return _item_change(request, slug, pk, StatusForm, change)


@login_required
@require_POST
def item_escalate(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    def change(found: Any, d: dict[str, Any]) -> Any:
        done = actions.escalate(by=request.user, item=found, note=d["note"])
        names = ", ".join(u.get_username() for u in rules.sponsors_of(done))
        messages.success(request, f"{done.reference} escalated; {names} told.")
        return done

    return _item_change(request, slug, pk, EscalateForm, change)


@login_required
@require_POST
def item_decide(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    def change(found: Any, d: dict[str, Any]) -> Any:
        done = actions.decide(
            by=request.user, item=found, rationale=d["rationale"], decided_by=d["decided_by"]
        )
        messages.success(
            request, f"{done.reference} decided; the picture as it stands is kept with it."
        )
        return done

    return _item_change(request, slug, pk, DecideForm, change)


# ------------------------------------------------------------------ roles


@login_required
def roles(request: HttpRequest, slug: str) -> HttpResponse:
    """Who holds which role in the collaborative; its coordinators give and end roles."""
    h = here(request, slug)
    memberships = list(
        Membership.objects.filter(organisation__in=h.members())
        .select_related("user", "organisation")
        .order_by("organisation__name", "user__username")
    )
    form = RoleForm(request.POST or None, memberships=memberships)
    if request.method == "POST":
        if not h.manages:
            raise Http404("Not found")
        if form.is_valid():
            chosen = form.options[form.cleaned_data["person"]]
            made = attempt(
                form,
                lambda: actions.assign_role(
                    by=request.user,
                    collaborative=h.collab,
                    user=chosen.user,
                    organisation=chosen.organisation,
                    kind=form.cleaned_data["kind"],
                ),
            )
            if made is not None:
                messages.success(request, "Role given.")
                return redirect("coordination:roles", h.collab.slug)
    return render(
        request,
        "coordination/roles.jinja",
        {
            "h": h,
            "collab": h.collab,
            "roles": rules.current_roles(h.collab),
            "role_words": dict(RoleKind.choices),
            "form": form,
            "errors": error_summary(form),
        },
    )


@login_required
@require_POST
def end_role(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    h = here(request, slug)
    found = CollaborativeRole.objects.filter(collaborative=h.collab, pk=pk).first()
    if found is None or not h.manages:
        raise Http404("Not found")
    actions.end_role(by=request.user, role=found)
    messages.success(request, "Role ended.")
    return redirect("coordination:roles", h.collab.slug)
