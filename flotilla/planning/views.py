"""The planning page: balance a collaborative's load from the live picture."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from flotilla.collaboratives.queries import find_collaborative
from flotilla.planning import balancing, maps
from flotilla.sharing import policy


@login_required
def plan(request: HttpRequest, slug: str) -> HttpResponse:
    """The form, and the plan once it is asked for (a read: it changes nothing, so GET)."""
    viewer = policy.viewer_of(request.user)
    collab = find_collaborative(viewer.organisation_ids, slug)
    beds = balancing.bed_types()
    asked = "bed" in request.GET
    bed = request.GET.get("bed", "ga" if "ga" in beds else next(iter(beds)))
    errors: dict[str, str] = {}
    result = None
    if asked:
        try:
            bed, safe, radius = balancing.check_request(
                collab, bed, request.GET.get("safe_occupancy", ""), request.GET.get("radius_km", "")
            )
        except balancing.PlanInvalid as invalid:
            errors = invalid.errors
        else:
            result = balancing.static_plan(
                viewer, collab, bed=bed, safe_occupancy=safe, radius_km=radius
            )
    default_safe = balancing.default_safe_occupancy(collab, bed if bed in beds else "ga")
    context = {
        "collab": collab,
        "beds": beds,
        "bed": bed,
        "errors": errors,
        "plan": result,
        "map": maps.plan_map(result) if result is not None else None,
        "safe_value": request.GET.get("safe_occupancy", f"{default_safe * 100:g}"),
        "radius_value": request.GET.get("radius_km", f"{balancing.DEFAULT_RADIUS_KM:g}"),
        "safe_range": balancing.SAFE_OCCUPANCY_RANGE,
        "radius_range": balancing.RADIUS_KM_RANGE,
    }
    return render(request, "planning/plan.jinja", context, status=400 if errors else 200)
