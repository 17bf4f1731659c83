"""The planning page (balance a collaborative's load from the live picture) and the drafts
it puts to organisations."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from flotilla.authz.checks import can
from flotilla.authz.permissions import Perm
from flotilla.collaboratives.queries import find_collaborative
from flotilla.exchange.actions import AidInvalid
from flotilla.exchange.models import CostRecovery, Transport, Urgency
from flotilla.organisations.models import Site
from flotilla.planning import actions, balancing, maps, queries
from flotilla.planning.models import AidDraft, DraftSide, DraftState
from flotilla.sharing import policy


def _plan_context(request: HttpRequest, slug: str, params: Any) -> dict[str, Any]:
    """The planning page's context for these parameters (the query, or a posted form)."""
    viewer = policy.viewer_of(request.user)
    collab = find_collaborative(viewer.organisation_ids, slug)
    beds = balancing.bed_types()
    asked = "bed" in params
    bed = params.get("bed", "ga" if "ga" in beds else next(iter(beds)))
    errors: dict[str, str] = {}
    result: balancing.Plan | balancing.Outlook | None = None
    days_value = params.get("days", "0")
    if asked:
        try:
            bed, safe, radius = balancing.check_request(
                collab, bed, params.get("safe_occupancy", ""), params.get("radius_km", "")
            )
            days, los = (
                balancing.check_outlook_request(days_value, params.get("los_days", ""))
                if days_value != "0"
                else (0, balancing.DEFAULT_LOS_DAYS)
            )
        except balancing.PlanInvalid as invalid:
            errors = invalid.errors
        else:
            if days:
                result = balancing.outlook(
                    viewer,
                    collab,
                    bed=bed,
                    safe_occupancy=safe,
                    radius_km=radius,
                    days=days,
                    los_days=los,
                )
            else:
                result = balancing.static_plan(
                    viewer, collab, bed=bed, safe_occupancy=safe, radius_km=radius
                )
    default_safe = balancing.default_safe_occupancy(collab, bed if bed in beds else "ga")
    return {
        "collab": collab,
        "beds": beds,
        "bed": bed,
        "errors": errors,
        "plan": result,
        "map": maps.plan_map(result) if result is not None else None,
        "safe_value": params.get("safe_occupancy", f"{default_safe * 100:g}"),
        "radius_value": params.get("radius_km", f"{balancing.DEFAULT_RADIUS_KM:g}"),
        "days_value": days_value,
        "days_choices": balancing.DAYS_CHOICES,
        "los_value": params.get("los_days", f"{balancing.DEFAULT_LOS_DAYS:g}"),
        "los_range": balancing.LOS_DAYS_RANGE,
        "outlook": isinstance(result, balancing.Outlook),
        "safe_range": balancing.SAFE_OCCUPANCY_RANGE,
        "radius_range": balancing.RADIUS_KM_RANGE,
        "can_draft": can(request.user, Perm.MANAGE_COLLABORATIVE, collab)
        and bed in actions.TRANSFER_FOR_BED,
        "move_key": actions.move_key,
    }


@login_required
def plan(request: HttpRequest, slug: str) -> HttpResponse:
    """The form, and the plan once it is asked for (a read: it changes nothing, so GET)."""
    context = _plan_context(request, slug, request.GET)
    return render(request, "planning/plan.jinja", context, status=400 if context["errors"] else 200)


@login_required
@require_POST
def make_drafts(request: HttpRequest, slug: str) -> HttpResponse:
    """Turn the chosen moves into drafts. The plan is made again from the picture as it is
    now: only moves still in it are drafted, with today's numbers."""
    context = _plan_context(request, slug, request.POST)
    collab, result = context["collab"], context["plan"]
    if not can(request.user, Perm.MANAGE_COLLABORATIVE, collab):
        raise Http404("Not found")
    if result is not None:
        try:
            drafts = actions.draft_moves(
                by=request.user, plan=result, chosen=request.POST.getlist("move")
            )
        except actions.DraftError as refused:
            context["errors"] = refused.errors
        else:
            moves = len(drafts) // 2
            messages.success(
                request,
                f"{moves} {'move is' if moves == 1 else 'moves are'} now drafts: each sender "
                "has a draft request and each receiver a draft offer, to raise or dismiss.",
            )
            return redirect("planning:drafts", collab.slug)
    return render(request, "planning/plan.jinja", context, status=400)


@login_required
def drafts(request: HttpRequest, slug: str) -> HttpResponse:
    """The drafts this person made for the collaborative, and what became of them."""
    viewer = policy.viewer_of(request.user)
    collab = find_collaborative(viewer.organisation_ids, slug)
    return render(
        request,
        "planning/drafts.jinja",
        {"collab": collab, "drafts": list(queries.drafts_made_by(request.user, collab))},
    )


def _draft_context(request: HttpRequest, d: AidDraft, errors: dict[str, str]) -> dict[str, Any]:
    sites = list(Site.objects.filter(organisation=d.organisation).order_by("name"))
    return {
        "d": d,
        "sentence": actions.sentence(d) if d.state == DraftState.WAITING else "",
        "may_decide": d.state == DraftState.WAITING and can(request.user, Perm.ARRANGE_AID, d),
        "sites": sites,
        # The place the plan moved patients at, when it was a site; else the person chooses.
        "site_id": str(d.site_id or ""),
        "urgencies": Urgency.choices,
        "transports": Transport.choices,
        "cost_recoveries": CostRecovery.choices,
        "errors": errors,
        "form": request.POST if request.method == "POST" else {},
    }


@login_required
def draft(request: HttpRequest, pk: int) -> HttpResponse:
    d = queries.get_draft(request.user, pk)
    return render(request, "planning/draft.jinja", _draft_context(request, d, {}))


def _whole(errors: dict[str, str], name: str, raw: str, lo: int, hi: int) -> int | None:
    try:
        value = int(raw)
    except ValueError:
        errors[name] = f"give a whole number from {lo} to {hi}"
        return None
    if not lo <= value <= hi:
        errors[name] = f"give a whole number from {lo} to {hi}"
        return None
    return value


@login_required
@require_POST
def raise_draft(request: HttpRequest, pk: int) -> HttpResponse:
    """Raise the draft on the aid board, as it is or changed."""
    d = queries.get_draft(request.user, pk)
    if not can(request.user, Perm.ARRANGE_AID, d):
        raise Http404("Not found")
    p = request.POST
    errors: dict[str, str] = {}
    quantity = _whole(errors, "quantity", p.get("quantity", ""), 1, 10000)
    site = Site.objects.filter(organisation=d.organisation, pk=p.get("site") or 0).first()
    if site is None:
        errors["site"] = f"choose one of {d.organisation.name}'s sites"
    hours = _whole(errors, "hours", p.get("hours", "24"), 1, 24 * 14)
    made: Any = None
    if not errors:
        assert quantity is not None and hours is not None
        try:
            made = actions.raise_draft(
                by=request.user,
                draft=d,
                quantity=quantity,
                site=site,
                urgency=p.get("urgency", Urgency.WITHIN_4H),
                needed_by=timezone.now() + timedelta(hours=hours),
                available_hours=hours,
                transport=p.get("transport", Transport.SHARED),
                cost_recovery=p.get("cost_recovery", CostRecovery.NONE),
                note=p.get("note", ""),
            )
        except (AidInvalid, actions.DraftError) as refused:
            errors = dict(refused.errors)
        except actions.NotAllowed:
            raise Http404("Not found") from None
    if made is None:
        return render(
            request, "planning/draft.jinja", _draft_context(request, d, errors), status=400
        )
    if d.side == DraftSide.REQUEST:
        messages.success(request, f"Your request is on the aid board: {made.summary}.")
        return redirect("exchange:request", made.pk)
    messages.success(request, f"Your offer is on the aid board: {made.summary}.")
    return redirect("exchange:offer", made.pk)


@login_required
@require_POST
def dismiss_draft(request: HttpRequest, pk: int) -> HttpResponse:
    d = queries.get_draft(request.user, pk)
    try:
        actions.dismiss_draft(by=request.user, draft=d, reason=request.POST.get("reason", ""))
    except actions.DraftError as refused:
        return render(
            request, "planning/draft.jinja", _draft_context(request, d, refused.errors), status=400
        )
    except actions.NotAllowed:
        raise Http404("Not found") from None
    messages.success(request, "The draft is dismissed; the planner can read why.")
    return redirect("exchange:board", d.collaborative.slug)
