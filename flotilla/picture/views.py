"""The shared picture: dashboard, organisation and site pages, CSV export."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.db.models import Min
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from markupsafe import Markup

from flotilla import catalogue
from flotilla.authz.checks import can
from flotilla.authz.permissions import Perm
from flotilla.collaboratives.queries import collaboratives_of, find_collaborative, member_ids
from flotilla.escalation import queries as escalation
from flotilla.formatting import when, why_missing
from flotilla.picture import charts, export
from flotilla.picture.queries import collaborative_picture, history, table_view, trouble
from flotilla.planning import queries as planning
from flotilla.sharing import policy

RANGES = {"day": timedelta(days=1), "week": timedelta(days=7), "season": timedelta(days=120)}
#: How many days of a forecast each range draws after the history.
FAN_DAYS = {"day": 3, "week": 7, "season": 14}
#: The dashboard shows beside today's figure what its forecast expects this many days ahead.
EXPECTED_IN_DAYS = 3
#: Shown as the latest status above the charts (the declared OPEL level and the narrative),
#: and charted: as the metric catalogue's entity page declares.
STATUS_MEASURES = catalogue.current().entity_status
CHART_MEASURES = catalogue.current().entity_charts


def parse_at(request: HttpRequest) -> tuple[datetime | None, str, str]:
    """The `at` query parameter as an aware datetime (None: now), an error message if it is
    unreadable, and a notice if it is in the future (then it is taken as now)."""
    raw = request.GET.get("at", "").strip()
    if not raw:
        return None, "", ""
    try:
        parsed = parse_datetime(raw)
    except ValueError:  # well formed but impossible, such as 31 February
        parsed = None
    if parsed is None:
        return None, f"“{raw}” is not a date and time; use the form 2026-01-05T08:00", ""
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    if parsed > timezone.now():
        return None, "", f"You asked for {when(parsed)}, which is in the future; showing now."
    return parsed, "", ""


def _query(at_param: str, params: dict[str, str]) -> str:
    """A query string ('?…', or '' for none) for the same moment with these parameters."""
    full = ({"at": at_param} if at_param else {}) | params
    return "?" + urlencode(full) if full else ""


def _page_context(request: HttpRequest, slug: str) -> dict:
    """What the dashboard page needs besides the figures: the collaborative (404 to anyone
    outside it), the moment and the table's view as asked, and the links that keep them."""
    viewer = policy.viewer_of(request.user)
    collab = find_collaborative(viewer.organisation_ids, slug)
    at, at_error, at_notice = parse_at(request)
    view, view_errors = table_view(request.GET)
    # A time that was moved to now is not carried into links: the page is live again.
    at_param = request.GET.get("at", "") if at else ""
    dashboard_url = reverse("picture:dashboard", args=[collab.slug])
    return {
        "viewer": viewer,
        "at": at,
        "collab": collab,
        "expected_days": EXPECTED_IN_DAYS,
        "view": view,
        "view_errors": view_errors,
        "at_notice": at_notice,
        "at_params": {"at": at_param} if at_param else {},
        "link": lambda params: dashboard_url + _query(at_param, params),
        "query": lambda params: _query(at_param, params),
        "beds": view.dashboard.beds,
        # The dashboard is a wide table: let it use a wide screen.
        "containerClasses": "flotilla-wide",
        "at_error": at_error,
        "at_param": at_param if not at_error else request.GET.get("at", ""),
        "indicators": view.dashboard.indicators,
    }


def _with_figures(ctx: dict) -> dict:
    """The page's context with the figures the viewer may see: the picture, the levels, what
    the forecasts expect, and who is in trouble."""
    viewer, collab, at, view = ctx["viewer"], ctx["collab"], ctx["at"], ctx["view"]
    picture = collaborative_picture(viewer, collab, at, view.dashboard.measures, view)
    levels = escalation.collaborative_levels(
        viewer, collab, at, members=picture.members, declared=picture.declared_levels()
    )
    return ctx | {
        "picture": picture,
        "levels": levels,
        "expected": _expected(viewer, picture, view.dashboard.measures, at),
        "trouble": trouble(picture, view),
    }


def _dashboard_context(request: HttpRequest, slug: str) -> dict:
    return _with_figures(_page_context(request, slug))


def _shown(ctx: dict) -> dict:
    """The dashboard's table, rendered, and what the page around it says of the figures:
    nothing of the person, so worked out once for everyone who may see the same of the
    members and shared between them for a few seconds, by the page and its live refresh
    alike (ADR 0038, 0039)."""

    def work_out(viewer: policy.Viewer) -> dict:
        full = _with_figures(ctx | {"viewer": viewer})
        return {
            "table": render_to_string("picture/_table.jinja", full),
            "is_live": full["picture"].is_live,
            "coverage_hours": full["picture"].coverage_hours,
        }

    collab, at = ctx["collab"], ctx["at"]
    view = tuple(sorted(ctx["view"].params().items()))
    asked = ("dashboard", collab.slug, view, at, ctx["at_param"])
    # Live, it reads the members' data as they share it now; as at a past moment, as they
    # shared it then, which is the viewer's own question.
    owners = member_ids(collab) if at is None else None
    shown = policy.shared_answer(ctx["viewer"], asked, work_out, owners=owners)
    return shown | {"table": Markup(shown["table"])}


def _expected(
    viewer: policy.Viewer, picture, measures, at: datetime | None
) -> dict[tuple[int, int | None, str], planning.Day]:
    """(organisation, site, measure) → the day `EXPECTED_IN_DAYS` after today of its newest
    forecast the viewer may see, for the dashboard's forecast measures (absent: none)."""
    wanted = [m for m in measures if m in planning.forecast_measures()]
    if not wanted:
        return {}
    day = timezone.localtime(at or timezone.now()).date() + timedelta(days=EXPECTED_IN_DAYS)
    orgs = {r.organisation.pk: r.organisation for r in picture.all_rows}
    out = {}
    seen_on_day = planning.forecasts_seen_by(
        viewer, orgs.values(), measures=wanted, at=at, target=day
    )
    for seen in seen_on_day:
        for d in seen.days:
            if d.target == day:
                out[(seen.organisation.pk, seen.site_id, seen.measure)] = d
    return out


@login_required
def dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    ctx = _page_context(request, slug)
    manage = {"can_manage": can(request.user, Perm.MANAGE_COLLABORATIVE, ctx["collab"])}
    return render(request, "picture/dashboard.jinja", ctx | _shown(ctx) | manage)


@login_required
def dashboard_table(request: HttpRequest, slug: str) -> HttpResponse:
    """The live part of the dashboard, polled by htmx."""
    return HttpResponse(_shown(_page_context(request, slug))["table"])


@login_required
def dashboard_csv(request: HttpRequest, slug: str) -> HttpResponse:
    """The dashboard's figures as CSV, as at the same moment the page shows."""
    ctx = _dashboard_context(request, slug)
    problems = [ctx["at_error"], *ctx["view_errors"].values()]
    if any(problems):
        return HttpResponse(
            " ".join(p for p in problems if p), status=400, content_type="text/plain; charset=utf-8"
        )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = ctx["picture"].at.strftime("%Y%m%dT%H%M")
    response["Content-Disposition"] = f'attachment; filename="{slug}-{stamp}.csv"'
    export.write_rows(response, export.picture_rows(ctx["picture"]))
    return response


def _entity_page(request: HttpRequest, code: str, site_code: str | None) -> HttpResponse:
    viewer = policy.viewer_of(request.user)
    org = policy.get_organisation(viewer, code)
    site = policy.get_site(viewer, site_code) if site_code else None
    if site is not None and site.organisation_id != org.pk:
        raise Http404("Not found")
    range_name = request.GET.get("range", "week")
    range_name = range_name if range_name in RANGES else "week"
    at, at_error, at_notice = parse_at(request)
    until = at or timezone.now()
    since = until - RANGES[range_name]
    data, shared = history(viewer, org, site, CHART_MEASURES, since, until)
    if request.GET.get("format") == "csv":
        return _history_csv(org, site, data, range_name, shared)
    # Gaps are judged against how often this organisation is expected to report.
    hours = (
        collaboratives_of(viewer.organisation_ids)
        .filter(memberships__organisation=org, memberships__left_at__isnull=True)
        .aggregate(h=Min("reporting_interval_hours"))["h"]
    )
    interval = timedelta(hours=hours or 24)
    cat = catalogue.current()
    labels = {m.code: m.label for m in cat.measures}
    counts = {m.code for m in cat.measures if m.kind == "count"}
    here = site.pk if site else None
    latest = policy.read_latest(viewer, until, {org.pk}, STATUS_MEASURES)
    shown = {v.measure: v for v in latest.values if v.site_id == here}
    late = latest.delayed_at(org.pk, here)
    # Each status measure, or why there is none (not reported, not shared, not yet visible).
    status = [
        (
            labels.get(code, code),
            shown.get(code),
            why_missing((org.pk, code) in latest.withheld, late.get(code, 0)),
        )
        for code in STATUS_MEASURES
    ]
    now = timezone.now()
    # Each charted measure's newest forecast the viewer may see, drawn as a fan after it.
    forecast = {
        s.measure: s
        for s in planning.forecasts_seen_by(
            viewer,
            [org],
            site=site,
            measures=[c for c in CHART_MEASURES if c in planning.forecast_measures()],
            at=at,
        )
    }
    chart_list = [
        {
            "chart": charts.line_chart(
                labels.get(code, code),
                data[code],
                since,
                until,
                interval,
                code in counts,
                _fan(fc, FAN_DAYS[range_name]) if fc else None,
            )
            if shared.charted(code)
            else None,
            "label": labels.get(code, code),
            "access": a,
            "shown_until": min(until, now - timedelta(hours=a.delay_hours)) if a else None,
            "forecast": fc if shared.charted(code) else None,
        }
        for code in CHART_MEASURES
        for a, fc in [(shared.access[code], forecast.get(code))]
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
            "computed": escalation.levels_of(viewer, org, levels_only=True) if site is None else [],
            "status": status,
            "range_name": range_name,
            "ranges": list(RANGES),
            "since": since,
            "until": until,
            "at_error": at_error,
            "at_notice": at_notice,
            "at_param": request.GET.get("at", "") if at or at_error else "",
        },
    )


def _fan(seen: planning.Seen, days: int) -> list[charts.FanPoint]:
    """A forecast's first `days` days as a chart's fan, each at the time of day of the
    newest figure it was made from."""
    return [
        charts.FanPoint(
            seen.as_of + timedelta(days=d.horizon),
            d.values[0.025],
            d.values[0.25],
            d.values[0.5],
            d.values[0.75],
            d.values[0.975],
        )
        for d in seen.days[:days]
    ]


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
            export.figure(v),
            t.isoformat(),
            shared.detail_of(code, t),
        )
        for code, points in data.items()
        for t, v in points
    )
    export.write_rows(response, rows)
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
