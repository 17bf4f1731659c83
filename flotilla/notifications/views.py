"""The inbox and how a person hears (their own only); an organisation's webhooks and what was
sent to them (its admins only; everyone else gets 404)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from flotilla.authz.checks import organisations_where, require
from flotilla.authz.permissions import Perm
from flotilla.notifications import actions, queries
from flotilla.notifications.kinds import EVENT_KINDS
from flotilla.notifications.models import Channel, Delivery, DeliveryStatus, Webhook
from flotilla.organisations.models import Organisation


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


# -- a person's own preferences and emails ---------------------------------------------------


def _hour_field(request: HttpRequest, name: str, what: str) -> int:
    raw = request.POST.get(name, "").strip()
    if not raw.isdigit():
        raise actions.NotificationError(f"Choose {what}")
    return int(raw)


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    error, anchor = "", ""
    p = queries.preferences_for(request.user)
    if request.method == "POST":
        quiet = request.POST.get("quiet") == "yes"
        digest = request.POST.get("digest") == "yes"
        try:
            quiet_from = quiet_until = None
            anchor = "quiet_from"
            if quiet:
                quiet_from = _hour_field(request, "quiet_from", "when quiet hours start")
                quiet_until = _hour_field(request, "quiet_until", "when quiet hours end")
            anchor = "digest_hour"
            digest_hour = p.digest_hour
            if digest:
                digest_hour = _hour_field(request, "digest_hour", "the hour of the daily digest")
            anchor = "quiet_from"
            actions.set_preferences(
                by=request.user,
                person=request.user,
                email=request.POST.get("email") == "yes",
                quiet_from=quiet_from,
                quiet_until=quiet_until,
                digest=digest,
                digest_hour=digest_hour,
            )
        except actions.NotificationError as exc:
            error = str(exc)
        else:
            messages.success(request, "Your notification settings are saved.")
            return redirect("notifications:preferences")
    managed = Organisation.objects.filter(
        pk__in=organisations_where(request.user, Perm.MANAGE_WEBHOOKS)
    ).order_by("name")
    return render(
        request,
        "notifications/preferences.jinja",
        {
            "p": p,
            "hours": range(24),
            "error": error,
            "anchor": anchor,
            "managed": managed,
            "has_email": bool(request.user.email),
        },
    )


@login_required
def sent(request: HttpRequest) -> HttpResponse:
    return render(
        request, "notifications/sent.jinja", {"deliveries": queries.deliveries_to(request.user)}
    )


# -- an organisation's webhooks --------------------------------------------------------------


def _org(request: HttpRequest, code: str) -> Organisation:
    org = get_object_or_404(Organisation, code=code.upper())
    require(request.user, Perm.MANAGE_WEBHOOKS, org)
    return org


def _anchor_for(message: str) -> str:
    if "name" in message:
        return "id_name"
    if "kind" in message:
        return f"kind-{next(iter(EVENT_KINDS))}"
    return "id_url"


@login_required
def webhooks(request: HttpRequest, code: str) -> HttpResponse:
    org = _org(request, code)
    secret, error, created = "", "", None
    form: dict[str, Any] = {"name": "", "url": "", "kinds": []}
    if request.method == "POST":
        form = {
            "name": request.POST.get("name", ""),
            "url": request.POST.get("url", ""),
            "kinds": request.POST.getlist("kinds"),
        }
        try:
            created, secret = actions.add_webhook(by=request.user, organisation=org, **form)
        except actions.NotificationError as exc:
            error = str(exc)
        else:
            form = {"name": "", "url": "", "kinds": []}
    return render(
        request,
        "notifications/webhooks.jinja",
        {
            "org": org,
            "webhooks": queries.webhooks_of(org),
            "kinds": EVENT_KINDS,
            "secret": secret,
            "created": created,
            "error": error,
            "anchor": _anchor_for(error),
            "form": form,
            "dead": len(queries.dead_letters(org)),
        },
    )


def _webhook(org: Organisation, pk: int) -> Webhook:
    return get_object_or_404(Webhook, pk=pk, organisation=org, removed_at__isnull=True)


@login_required
@require_POST
def webhook_remove(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    org = _org(request, code)
    hook = actions.remove_webhook(by=request.user, webhook=_webhook(org, pk))
    messages.success(request, f"Webhook {hook.name} removed. Nothing more is sent to it.")
    return redirect("notifications:webhooks", org.code)


@login_required
@require_POST
def webhook_test(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    org = _org(request, code)
    hook = _webhook(org, pk)
    actions.send_test(by=request.user, webhook=hook)
    messages.success(
        request, f"A test event is on its way to {hook.name}. Its outcome is listed below."
    )
    return redirect("notifications:webhook_deliveries", org.code)


@login_required
def webhook_deliveries(request: HttpRequest, code: str) -> HttpResponse:
    org = _org(request, code)
    return render(
        request,
        "notifications/webhook_deliveries.jinja",
        {
            "org": org,
            "dead": queries.dead_letters(org),
            "deliveries": queries.webhook_deliveries(org),
        },
    )


@login_required
@require_POST
def replay(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    org = _org(request, code)
    d = get_object_or_404(Delivery, pk=pk, organisation=org, channel=Channel.WEBHOOK)
    if d.status != DeliveryStatus.DEAD:
        messages.success(request, "That delivery is not a dead letter: nothing to replay.")
        return redirect("notifications:webhook_deliveries", org.code)
    try:
        actions.replay(by=request.user, delivery=d)
    except actions.NotificationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Delivery {d.uuid} will be sent again in a moment.")
    return redirect("notifications:webhook_deliveries", org.code)
