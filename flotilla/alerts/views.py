"""Alert pages: a person's alerts (live by htmx polling), one alert with its Acknowledge
button, a collaborative's rules (subscribe, and for its coordinators add and end), and a
person's own logic.

What is shown is decided by `alerts.queries` (404 for an alert the viewer may not see,
never 403); every change goes through `alerts.actions`, which refuse in their own words.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from flotilla.alerts import actions, logic, queries
from flotilla.alerts.forms import RuleForm
from flotilla.alerts.models import AlertRule
from flotilla.authz.checks import can
from flotilla.authz.permissions import Perm
from flotilla.collaboratives.models import Collaborative
from flotilla.collaboratives.queries import collaboratives_of, find_collaborative, members_of
from flotilla.formatting import error_summary
from flotilla.sharing import policy

STATE_WORDS = {logic.OPEN: "Open", logic.ACKNOWLEDGED: "Acknowledged", logic.RESOLVED: "Resolved"}
STATE_TAGS = {
    logic.OPEN: "nhsuk-tag--red",
    logic.ACKNOWLEDGED: "nhsuk-tag--yellow",
    logic.RESOLVED: "nhsuk-tag--grey",
}


def _common() -> dict[str, Any]:
    return {"state_words": STATE_WORDS, "state_tags": STATE_TAGS, "kinds": logic.KINDS}


@login_required
def mine(request: HttpRequest) -> HttpResponse:
    """The alerts of the rules the person subscribes to or owns, that they may see: open
    and acknowledged, then resolved in the last week. Its lists alone for htmx's polling."""
    viewer = policy.viewer_of(request.user)
    since = timezone.now() - timedelta(days=7)
    found = queries.alerts_seen_by(viewer, subscribed_only=True, since=since)
    ctx = {
        **_common(),
        "unresolved": [a for a in found if a.seen_state != logic.RESOLVED],
        "resolved": [a for a in found if a.seen_state == logic.RESOLVED],
        "collaboratives": list(collaboratives_of(viewer.organisation_ids).order_by("name")),
    }
    template = "alerts/_lists.jinja" if request.htmx else "alerts/mine.jinja"
    response = render(request, template, ctx)
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
def alert_page(request: HttpRequest, pk: int) -> HttpResponse:
    viewer = policy.viewer_of(request.user)
    alert = queries.get_alert(viewer, pk)
    return render(
        request,
        "alerts/alert.jinja",
        {
            **_common(),
            "alert": alert,
            # "Who to call" only where the organisation shares something with the person
            # (its directory page answers 404 otherwise).
            "directory_open": alert.organisation is not None
            and policy.readable(viewer, alert.organisation.pk),
            "may_acknowledge": alert.seen_state == logic.OPEN
            and queries.may_acknowledge(request.user, alert),
        },
    )


@login_required
@require_POST
def acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    viewer = policy.viewer_of(request.user)
    alert = queries.get_alert(viewer, pk)
    try:
        actions.acknowledge(by=request.user, alert=alert)
    except actions.AlertError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Acknowledged for the team. It resolves when the figure clears.")
    return redirect("alerts:alert", alert.pk)


def _rule_form(request: HttpRequest, members: list[Any]) -> RuleForm:
    return RuleForm(request.POST or None, members=members)


def _add(request: HttpRequest, form: RuleForm, collab: Collaborative, personal: bool) -> bool:
    """Add the rule from a posted form; errors land on the form's fields."""
    if not form.is_valid():
        return False
    try:
        actions.add_rule(by=request.user, collaborative=collab, personal=personal, **form.values())
    except actions.AlertError as exc:
        for name, text in exc.errors.items():
            form.add_error(name if name in form.fields else None, text)
        if not exc.errors:
            form.add_error(None, str(exc))
        return False
    return True


@login_required
def collaborative_rules(request: HttpRequest, slug: str) -> HttpResponse:
    """The collaborative's rules: everyone of its members subscribes or not; its
    coordinators add rules (POST) and end them."""
    viewer = policy.viewer_of(request.user)
    collab = find_collaborative(viewer.organisation_ids, slug)
    manages = can(request.user, Perm.MANAGE_COLLABORATIVE, collab)
    members = members_of(collab)
    form = _rule_form(request, members)
    if request.method == "POST":
        if not manages:
            raise Http404("Not found")
        if _add(request, form, collab, personal=False):
            messages.success(request, "Rule added. You are subscribed to it.")
            return redirect("alerts:collaborative_rules", collab.slug)
    found = queries.rules_of(collab)
    return render(
        request,
        "alerts/collaborative_rules.jinja",
        {
            **_common(),
            "collab": collab,
            "rules": found,
            "subscribed": queries.subscribed(request.user, found),
            "open_counts": queries.open_counts(viewer, [r.pk for r in found]),
            "manages": manages,
            "form": form,
            "errors": error_summary(form),
            "measures": logic.measures_offered(),
        },
    )


@login_required
def personal_rules(request: HttpRequest) -> HttpResponse:
    """The person's own rules, in any of their collaboratives (POST adds one)."""
    viewer = policy.viewer_of(request.user)
    collabs = list(collaboratives_of(viewer.organisation_ids).order_by("name"))
    chosen = None
    if request.method == "POST":
        chosen = next((c for c in collabs if c.slug == request.POST.get("collaborative")), None)
    members = members_of(chosen) if chosen else [m for c in collabs for m in members_of(c)]
    form = _rule_form(request, list({m.pk: m for m in members}.values()))
    collab_error = ""
    if request.method == "POST":
        if chosen is None:
            collab_error = "Choose one of your collaboratives"
            form.is_valid()
        elif _add(request, form, chosen, personal=True):
            messages.success(request, "Rule added. Its alerts are shown and told to you only.")
            return redirect("alerts:personal_rules")
    errors = error_summary(form) if request.method == "POST" else []
    if collab_error:
        errors.insert(0, {"text": collab_error, "anchor": "id_collaborative"})
    return render(
        request,
        "alerts/personal_rules.jinja",
        {
            **_common(),
            "rules": queries.personal_rules(request.user),
            "collaboratives": collabs,
            "chosen": chosen,
            "collab_error": collab_error,
            "form": form,
            "errors": errors,
        },
    )


def _rule_seen(request: HttpRequest, pk: int) -> AlertRule:
    """A rule the person may see: their collaboratives' rules and their own; else 404."""
    viewer = policy.viewer_of(request.user)
    rule = AlertRule.objects.select_related("collaborative").filter(pk=pk).first()
    if rule is None or rule.collaborative_id not in queries.member_collaboratives(viewer):
        raise Http404("Not found")
    if rule.owner_id is not None and rule.owner_id != request.user.pk:
        raise Http404("Not found")
    return rule


def _back(rule: AlertRule) -> HttpResponse:
    if rule.owner_id is not None:
        return redirect("alerts:personal_rules")
    return redirect("alerts:collaborative_rules", rule.collaborative.slug)


@login_required
@require_POST
def end_rule(request: HttpRequest, pk: int) -> HttpResponse:
    rule = _rule_seen(request, pk)
    try:
        actions.end_rule(by=request.user, rule=rule)
    except actions.AlertError as exc:
        raise Http404("Not found") from exc
    messages.success(request, "Rule ended. Its open alerts have resolved.")
    return _back(rule)


@login_required
@require_POST
def subscription(request: HttpRequest, pk: int) -> HttpResponse:
    """Subscribe (`subscribe=1`) or unsubscribe (`subscribe=0`) to a collaborative's rule."""
    rule = _rule_seen(request, pk)
    if rule.owner_id is not None:
        raise Http404("Not found")
    try:
        if request.POST.get("subscribe") == "0":
            actions.unsubscribe(by=request.user, rule=rule)
            messages.success(request, "Unsubscribed: you will not be told of this rule's alerts.")
        else:
            actions.subscribe(by=request.user, rule=rule)
            messages.success(request, "Subscribed: you will be told of this rule's alerts.")
    except actions.AlertError as exc:
        messages.error(request, str(exc))
    return _back(rule)
