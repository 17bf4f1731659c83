"""The dedicated team's page: the hours each workstream asked for against the hours allocated
to it, week by week, with the gap; each person's weeks across the workstreams; who changed
what, from the audit record. Those who may set asks, allocate, and move hours from one
workstream to another in one step (each its own POST route, back to the page)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from flotilla.coordination import actions, queries
from flotilla.coordination.actions import CoordinationError
from flotilla.coordination.forms import AllocateForm, AskForm, MoveForm, TeamForm
from flotilla.coordination.views._common import Here, here
from flotilla.formatting import error_summary

#: How many changes the page lists.
HISTORY = 20


def _start(request: HttpRequest) -> date:
    """The first week shown: the Monday of ?week= (any day of it will do), else this week."""
    try:
        chosen = date.fromisoformat(request.GET.get("week", ""))
    except ValueError:
        chosen = timezone.localdate()
    if not 1900 <= chosen.year <= 2999:  # the links either side must stay real dates
        chosen = timezone.localdate()
    return queries.monday_of(chosen)


def _here_url(h: Here, start: date) -> str:
    return f"{reverse('coordination:team', args=[h.collab.slug])}?{urlencode({'week': start})}"


def _forms(h: Here, start: date, data: Any = None, posted: type | None = None) -> dict[str, Any]:
    """The page's three forms: the one posted bound to `data`, the others fresh, starting
    at the first week shown."""
    workstreams, people = queries.team_choices(h.collab)
    out = {}
    for key, form_class, week_field in (
        ("ask_form", AskForm, "ask_week"),
        ("allocate_form", AllocateForm, "week"),
        ("move_form", MoveForm, "move_week"),
    ):
        bound = data if form_class is posted else None
        out[key] = form_class(
            bound, workstreams=workstreams, people=people, initial={week_field: start}
        )
    return out


def _history_of(request: HttpRequest, form: TeamForm) -> tuple[Any, Any]:
    """The workstream or person whose history ?workstream= or ?person= asks for, if any
    (one the forms offer)."""
    workstream = form.workstream_map.get(request.GET.get("workstream", ""))
    person = form.people.get(request.GET.get("person", ""))
    return workstream, None if workstream else person


def _page(request: HttpRequest, h: Here, start: date, forms: dict[str, Any]) -> HttpResponse:
    weeks = queries.weeks_from(start)
    view = queries.team_view(h.collab, weeks)
    workstream, person = _history_of(request, forms["ask_form"])
    errors = [e for form in forms.values() for e in error_summary(form)]
    return render(
        request,
        "coordination/team.jinja",
        {
            "h": h,
            "collab": h.collab,
            "view": view,
            "start": start,
            "earlier": start - timedelta(weeks=len(weeks)),
            "later": start + timedelta(weeks=len(weeks)),
            "this_week": queries.monday_of(timezone.localdate()),
            "history": queries.team_history(
                h.collab, workstream=workstream, user=person, limit=HISTORY
            ),
            "history_of": workstream.name if workstream else (person and person.get_username()),
            "hours": queries.hours,
            "errors": errors,
            **forms,
        },
    )


@login_required
def team(request: HttpRequest, slug: str) -> HttpResponse:
    h = here(request, slug)
    start = _start(request)
    return _page(request, h, start, _forms(h, start))


def _change(
    request: HttpRequest,
    slug: str,
    form_class: type[TeamForm],
    change: Callable[[Any, dict[str, Any]], str],
) -> HttpResponse:
    """Make a change from a posted form: back to the page (at the same weeks) saying what
    was done, or the page again with the action's refusals beside the boxes they name."""
    h = here(request, slug)
    h.require()
    start = _start(request)
    forms = _forms(h, start, request.POST, form_class)
    form = next(f for f in forms.values() if isinstance(f, form_class))
    if form.is_valid():
        try:
            messages.success(request, change(request.user, form.values()))
            return redirect(_here_url(h, start))
        except CoordinationError as exc:
            for name, text in exc.errors.items():
                form.add_error(form.field_for(name), text)
            if not exc.errors:
                form.add_error(None, str(exc))
    return _page(request, h, start, forms)


def _week_words(week: date) -> str:
    return f"the week of Mon {week:%-d %b %Y}"


@login_required
@require_POST
def team_ask(request: HttpRequest, slug: str) -> HttpResponse:
    def change(by: Any, v: dict[str, Any]) -> str:
        ask = actions.set_ask(by=by, **v)
        return (
            f"{ask.workstream.name} asks for {queries.hours(ask.hours)} hours in "
            f"{_week_words(ask.week)}."
        )

    return _change(request, slug, AskForm, change)


@login_required
@require_POST
def team_allocate(request: HttpRequest, slug: str) -> HttpResponse:
    def change(by: Any, v: dict[str, Any]) -> str:
        row = actions.allocate(by=by, **v)
        return (
            f"{row.user.get_username()} has {queries.hours(row.hours)} hours on "
            f"{row.workstream.name} in {_week_words(row.week)}."
        )

    return _change(request, slug, AllocateForm, change)


@login_required
@require_POST
def team_move(request: HttpRequest, slug: str) -> HttpResponse:
    def change(by: Any, v: dict[str, Any]) -> str:
        source, target = actions.reallocate(by=by, **v)
        return (
            f"Moved {queries.hours(Decimal(v['hours']))} hours of {source.user.get_username()}'s "
            f"week of Mon {source.week:%-d %b %Y} from {source.workstream.name} (now "
            f"{queries.hours(source.hours)}) to {target.workstream.name} (now "
            f"{queries.hours(target.hours)})."
        )

    return _change(request, slug, MoveForm, change)
