"""The shared picture: dashboard, organisation and site pages, CSV export."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.db.models import Min
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from flotilla.authz.checks import can
from flotilla.authz.permissions import Perm
from flotilla.picture import charts, export
from flotilla.picture.queries import (
    DASHBOARD_MEASURES,
    INDICATORS,
    OCCUPANCY,
    collaborative_picture,
    history,
)
from flotilla.reporting.models import Measure
from flotilla.sharing import policy

RANGES = {"day": timedelta(days=1), "week": timedelta(days=7), "season": timedelta(days=120)}
#: Shown as the latest status above the charts: the declared OPEL level and the narrative.
STATUS_MEASURES = ("opel_declared", "situation")
CHART_MEASURES = (
    "ga_occupied",
    "ga_open",
    "cc_adult_occupied",
    "cc_adult_open",
    "handover_over_60",
    "nctr",
)


def parse_at(request: HttpRequest) -> tuple[datetime | None, str]:
    """The `at` query parameter as an aware datetime, with an error message if unreadable."""
    raw = request.GET.get("at", "").strip()
    if not raw:
        return None, ""
    parsed = parse_datetime(raw)
    if parsed is None:
        return None, f"“{raw}” is not a date and time; use the form 2026-01-05T08:00"
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed, ""


def _dashboard_context(request: HttpRequest, slug: str) -> dict:
    viewer = policy.viewer_of(request.user)
    collab = policy.get_collaborative(viewer, slug)
    at, at_error = parse_at(request)
    picture = collaborative_picture(viewer, collab, at)
    return {
        "collab": collab,
        "picture": picture,
        # The dashboard is a wide table: let it use a wide screen.
        "containerClasses": "flotilla-wide",
        "can_manage": can(request.user, Perm.MANAGE_COLLABORATIVE, collab),
        "at_error": at_error,
        "at_param": request.GET.get("at", ""),
        "occupancy": OCCUPANCY,
        "indicators": INDICATORS,
        "measures": {m.code: m for m in Measure.objects.filter(code__in=DASHBOARD_MEASURES)},
    }


@login_required
def dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    return render(request, "picture/dashboard.jinja", _dashboard_context(request, slug))


@login_required
def dashboard_table(request: HttpRequest, slug: str) -> HttpResponse:
    """The live part of the dashboard, polled by htmx."""
    return render(request, "picture/_table.jinja", _dashboard_context(request, slug))


@login_required
def dashboard_csv(request: HttpRequest, slug: str) -> HttpResponse:
    """The dashboard's figures as CSV, as at the same moment the page shows."""
    ctx = _dashboard_context(request, slug)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = ctx["picture"].at.strftime("%Y%m%dT%H%M")
    response["Content-Disposition"] = f'attachment; filename="{slug}-{stamp}.csv"'
    export.write_rows(csv.writer(response), export.picture_rows(ctx["picture"]))
    return response


def _entity_page(request: HttpRequest, code: str, site_code: str | None) -> HttpResponse:
    viewer = policy.viewer_of(request.user)
    org = policy.get_organisation(viewer, code)
    site = policy.get_site(viewer, site_code) if site_code else None
    if site is not None and site.organisation_id != org.pk:
        raise Http404("Not found")
    range_name = request.GET.get("range", "week")
    range_name = range_name if range_name in RANGES else "week"
    at, at_error = parse_at(request)
    until = at or timezone.now()
    since = until - RANGES[range_name]
    data, shared = history(viewer, org, site, CHART_MEASURES, since, until)
    if request.GET.get("format") == "csv":
        return _history_csv(org, site, data, range_name, shared)
    # Gaps are judged against how often this organisation is expected to report.
    hours = (
        policy.collaboratives(viewer)
        .filter(memberships__organisation=org, memberships__left_at__isnull=True)
        .aggregate(h=Min("reporting_interval_hours"))["h"]
    )
    interval = timedelta(hours=hours or 24)
    labels = dict(
        Measure.objects.filter(code__in=CHART_MEASURES + STATUS_MEASURES).values_list(
            "code", "label"
        )
    )
    here = site.pk if site else None
    status = [
        (labels.get(v.measure, v.measure), v)
        for v in policy.read_latest(viewer, until, {org.pk}, STATUS_MEASURES).values
        if v.site_id == here
    ]
    now = timezone.now()
    chart_list = [
        {
            "chart": charts.line_chart(labels.get(code, code), data[code], since, until, interval)
            if shared.charted(code)
            else None,
            "label": labels.get(code, code),
            "access": a,
            "shown_until": min(until, now - timedelta(hours=a.delay_hours)) if a else None,
        }
        for code in CHART_MEASURES
        for a in [shared.access[code]]
    ]
    return render(
        request,
        "picture/entity.jinja",
        {
            "org": org,
            "site": site,
            "sites": org.sites.all(),
            "charts": chart_list,
            "grants": policy.grants_to(viewer, org),
            "status": sorted(status, key=lambda s: STATUS_MEASURES.index(s[1].measure)),
            "range_name": range_name,
            "ranges": list(RANGES),
            "since": since,
            "until": until,
            "at_error": at_error,
            "at_param": request.GET.get("at", ""),
        },
    )


def _history_csv(org, site, data, range_name: str, shared: policy.History) -> HttpResponse:
    """The charted values as CSV: what the page shows, a row per value (missing: empty)."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = site.code if site else org.code
    response["Content-Disposition"] = f'attachment; filename="{name}-{range_name}.csv"'
    rows = (
        (
            org.code,
            site.code if site else "",
            code,
            "" if v is None else f"{v:g}",
            t.isoformat(),
            shared.access[code].detail,  # type: ignore[union-attr]
        )
        for code, points in data.items()
        for t, v in points
    )
    export.write_rows(csv.writer(response), rows)
    return response


def _public_or_login(request: HttpRequest, code: str, site_code: str | None) -> HttpResponse:
    """Anyone may see what an organisation shares with the public; otherwise sign in first."""
    try:
        return _entity_page(request, code, site_code)
    except Http404:
        if request.user.is_authenticated:
            raise
        return redirect_to_login(request.get_full_path())


def organisation(request: HttpRequest, code: str) -> HttpResponse:
    return _public_or_login(request, code, None)


def site(request: HttpRequest, code: str, site_code: str) -> HttpResponse:
    return _public_or_login(request, code, site_code)
