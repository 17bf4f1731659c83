"""The inbox: read what happened, mark it read, clear it. Everyone sees only their own."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from flotilla.notifications import actions, queries


def _chosen(request: HttpRequest) -> list[int] | None:
    """The notification a button names, or None for "all of mine"; 404 for a malformed id."""
    raw = request.POST.get("notification", "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise Http404("Not found")
    return [int(raw)]


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    notes = queries.inbox(request.user)
    return render(
        request,
        "notifications/inbox.jinja",
        {"notifications": notes, "unread": sum(1 for n in notes if not n.is_read)},
    )


@login_required
@require_POST
def read(request: HttpRequest) -> HttpResponse:
    ids = _chosen(request)
    done = actions.mark_read(by=request.user, recipient=request.user, ids=ids)
    if ids is None and done:
        messages.success(request, "Everything in your inbox is marked as read.")
    return redirect("notifications:inbox")


@login_required
@require_POST
def clear(request: HttpRequest) -> HttpResponse:
    ids = _chosen(request)
    done = actions.clear(by=request.user, recipient=request.user, ids=ids)
    if ids is None:
        messages.success(
            request, "Your inbox is empty." if done else "Your inbox was already empty."
        )
    return redirect("notifications:inbox")
