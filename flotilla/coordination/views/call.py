"""The daily system call: the brief (a page and a one-page PDF), the calls held, and the
minutes page where the note-taker records attendance, actions and decisions as the call goes,
then sends the minutes to the members."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from flotilla.collaboratives.models import Collaborative
from flotilla.coordination import actions, pdf, queries
from flotilla.coordination.brief import brief as make_brief
from flotilla.coordination.forms import ItemForm, MinutesForm
from flotilla.coordination.models import ItemKind, SystemCall
from flotilla.coordination.views._common import Here, attempt, here
from flotilla.formatting import error_summary


@login_required
def brief(request: HttpRequest, slug: str) -> HttpResponse:
    """Today's brief, generated now from live data as the reader may see it."""
    h = here(request, slug)
    found = make_brief(h.viewer, h.collab)
    return render(
        request,
        "coordination/brief.jinja",
        {
            "h": h,
            "collab": h.collab,
            "b": found,
            "today_call": queries.call_on(h.collab, timezone.localdate()),
        },
    )


@login_required
def brief_pdf(request: HttpRequest, slug: str) -> HttpResponse:
    """The same brief as a one-page PDF, to print or send."""
    h = here(request, slug)
    found = make_brief(h.viewer, h.collab)
    response = HttpResponse(pdf.render(found), content_type="application/pdf")
    name = f"{h.collab.slug}-brief-{found.day.isoformat()}.pdf"
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response


@login_required
def calls(request: HttpRequest, slug: str) -> HttpResponse:
    """The calls held; those who may start today's (POST), and go to its minutes."""
    h = here(request, slug)
    if request.method == "POST":
        h.require()
        call = actions.start_call(
            by=request.user, collaborative=h.collab, held_on=timezone.localdate()
        )
        return redirect("coordination:call", h.collab.slug, call.held_on)
    return render(
        request,
        "coordination/calls.jinja",
        {
            "h": h,
            "collab": h.collab,
            "calls": queries.calls_of(h.collab),
            "today": timezone.localdate(),
        },
    )


def _call_or_404(collab: Collaborative, day: date) -> SystemCall:
    found = queries.call_on(collab, day)
    if found is None:
        raise Http404("Not found")
    return found


@login_required
def call(request: HttpRequest, slug: str, day: date) -> HttpResponse:
    """A call's minutes: attendance and notes (POST saves them), the actions and decisions
    recorded in it, and the quick forms that record more."""
    h = here(request, slug)
    found = _call_or_404(h.collab, day)
    members = h.members()
    form = MinutesForm(
        request.POST or None,
        members=members,
        initial={
            "attendees": [str(o.pk) for o in found.attendees.all()],
            "notes": found.notes,
        },
    )
    if request.method == "POST":
        h.require()
        saved = attempt(
            form,
            lambda: actions.record_attendance(
                by=request.user,
                call=found,
                attendees=[form.members[k] for k in form.cleaned_data["attendees"]],
                notes=form.cleaned_data["notes"],
            ),
        )
        if saved is not None:
            messages.success(request, "Attendance and notes saved.")
            return redirect("coordination:call", h.collab.slug, day)
    return _call_page(request, h, found, form, _item_form(request, h, None))


def _item_form(request: HttpRequest, h: Here, data: Any) -> ItemForm:
    return ItemForm(
        data,
        people=h.people(),
        workstreams=queries.workstreams_of(h.collab),
        initial={"due_on": timezone.localdate() + timedelta(days=1)},
    )


def _call_page(
    request: HttpRequest, h: Here, found: SystemCall, form: MinutesForm, item_form: ItemForm
) -> HttpResponse:
    items = list(found.items.select_related("owner").order_by("kind", "number"))
    return render(
        request,
        "coordination/call.jinja",
        {
            "h": h,
            "collab": h.collab,
            "c": found,
            "actions": [i for i in items if i.kind == ItemKind.ACTION],
            "decisions": [i for i in items if i.kind == ItemKind.DECISION],
            "others": [i for i in items if i.kind not in (ItemKind.ACTION, ItemKind.DECISION)],
            "form": form,
            "item_form": item_form,
            "errors": error_summary(form) + error_summary(item_form),
            "is_today": found.held_on == timezone.localdate(),
        },
    )


@login_required
@require_POST
def call_item(request: HttpRequest, slug: str, day: date) -> HttpResponse:
    """Record an action or a decision in the call (a decision taken now keeps the picture)."""
    h = here(request, slug)
    h.require()
    found = _call_or_404(h.collab, day)
    item_form = _item_form(request, h, request.POST)
    made = attempt(
        item_form,
        lambda: actions.add_item(
            by=request.user, collaborative=h.collab, call=found, **item_form.values()
        ),
    )
    if made is not None:
        messages.success(request, f"{made.reference} recorded: {made.title}")
        return redirect("coordination:call", h.collab.slug, day)
    form = MinutesForm(
        None,
        members=h.members(),
        initial={
            "attendees": [str(o.pk) for o in found.attendees.all()],
            "notes": found.notes,
        },
    )
    return _call_page(request, h, found, form, item_form)


@login_required
@require_POST
def send_minutes(request: HttpRequest, slug: str, day: date) -> HttpResponse:
    h = here(request, slug)
    h.require()
    found = _call_or_404(h.collab, day)
    told = actions.send_minutes(by=request.user, call=found)
    messages.success(request, f"Minutes sent to {told} people of the members.")
    return redirect("coordination:call", h.collab.slug, day)
