"""Reporting pages: the form (pre-filled, 'no change' in one click) and file upload."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from flotilla import catalogue
from flotilla.authz.checks import organisations_where, require
from flotilla.authz.permissions import Perm
from flotilla.formatting import plural
from flotilla.organisations.models import Organisation, Site
from flotilla.reporting import actions
from flotilla.reporting.forms import cells_from_post, sections
from flotilla.reporting.models import Source, Submission
from flotilla.reporting.queries import LatestValue
from flotilla.reporting.validation import ReportRejected, report_time


def _target(request: HttpRequest, code: str) -> tuple[Organisation, Site | None]:
    org = get_object_or_404(Organisation, code=code.upper())
    require(request.user, Perm.SUBMIT_REPORT, org)
    site_code = request.GET.get("site") or request.POST.get("site") or ""
    site = None
    if site_code:
        site = org.sites.filter(code=site_code.upper()).first()
        if site is None:
            raise Http404("Not found")
    return org, site


@login_required
def start(request: HttpRequest) -> HttpResponse:
    """Where can this person report? Straight to the form if there is only one place."""
    orgs = Organisation.objects.filter(
        id__in=organisations_where(request.user, Perm.SUBMIT_REPORT)
    ).prefetch_related("sites")
    if len(orgs) == 1 and not orgs[0].sites.exists():
        return redirect("reporting:form", orgs[0].code)
    return render(request, "reporting/start.jinja", {"orgs": orgs})


def _form_context(org: Organisation, site: Site | None) -> dict:
    cat = catalogue.current()
    latest = actions.latest_observations(organisation_id=org.pk, site_id=site.pk if site else None)
    primary, further = sections(cat, org.kind)
    return {
        "org": org,
        "site": site,
        "primary": primary,
        "further": further,
        "latest": latest,
        "last_submission": _newest_figures_submission(latest.values()),
        "last_as_of": max((o.as_of for o in latest.values()), default=None),
    }


def _newest_figures_submission(latest: Iterable[LatestValue]) -> Submission | None:
    """The report that filed the newest of these figures (the latest received of those at the
    newest time): who sent the figures the form says are the last, and how. Found through
    the current value's row, so its cost does not grow with the history kept."""
    newest = max(latest, key=lambda o: (o.as_of, o.received_at), default=None)
    if newest is None:
        return None
    return (
        Submission.objects.filter(
            observations__series_id=newest.series_id,
            observations__as_of=newest.as_of,
            observations__is_current=True,
        )
        .select_related("submitted_by")
        .first()
    )


@login_required
def form(request: HttpRequest, code: str) -> HttpResponse:
    org, site = _target(request, code)
    # The form's figures are read only to show the form: a report saved is redirected.
    ctx: dict[str, Any] = {"values": {}, "field_errors": {}, "errors": [], "warnings": []}
    if request.method == "POST":
        now = report_time(timezone.now())
        cells, problems = cells_from_post(
            request.POST, catalogue.current(), org.pk, site.pk if site else None, now
        )
        if not cells and not problems:
            problems_text = "Enter at least one figure, or confirm there is no change"
            ctx["errors"] = [{"text": problems_text, "anchor": ""}]
        elif not problems:
            try:
                result = actions.record_report(
                    by=request.user, organisation_id=org.pk, source=Source.FORM, cells=cells
                )
            except ReportRejected as exc:
                problems = exc.problems
            else:
                text = (
                    f"Report saved: {result.stored} figures as of {timezone.localtime(now):%H:%M}."
                )
                for w in result.warnings:
                    messages.warning(request, f"Check {w.field}: {w.message}")
                messages.success(request, text)
                return redirect(_back(org, site))
        if problems:
            ctx["field_errors"] = {p.field: p.message for p in problems}
            ctx["errors"] = [{"text": p.message, "anchor": f"id_{p.field}"} for p in problems]
        ctx["values"] = request.POST
    return render(request, "reporting/form.jinja", {**_form_context(org, site), **ctx})


def _back(org: Organisation, site: Site | None) -> str:
    from django.urls import reverse

    url = reverse("reporting:form", args=[org.code])
    return f"{url}?site={site.code}" if site else url


@login_required
@require_POST
def no_change(request: HttpRequest, code: str) -> HttpResponse:
    org, site = _target(request, code)
    try:
        result = actions.confirm_no_change(
            by=request.user, organisation_id=org.pk, site_id=site.pk if site else None
        )
    except ReportRejected as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            f"Confirmed: no change. {result.stored} figures are now shown as of "
            f"{timezone.localtime():%H:%M}.",
        )
    return redirect(_back(org, site))


@login_required
def upload(request: HttpRequest, code: str) -> HttpResponse:
    """Upload a CSV for your organisation: a published sitrep or our long-format template
    (recognised from the header), or a file in a layout one of the shipped mappings reads."""
    from flotilla.reporting.importers.mapped import shipped
    from flotilla.reporting.imports import ImportRejected, import_file

    org = get_object_or_404(Organisation, code=code.upper())
    require(request.user, Perm.IMPORT_REPORTS, org)
    layouts = shipped()
    ctx: dict = {
        "org": org,
        "outcome": None,
        "problems": [],
        "errors": [],
        "layouts": layouts,
        "layout": "",
    }
    if request.method == "POST":
        upload = request.FILES.get("file")
        on_conflict = "last" if request.POST.get("on_conflict") == "last" else "reject"
        ctx["layout"] = layout = request.POST.get("layout", "")
        if layout and layout not in layouts:
            ctx["errors"] = [{"text": "Choose one of the layouts listed", "anchor": "layout"}]
        elif upload is None:
            ctx["errors"] = [{"text": "Choose a CSV file to upload", "anchor": "id_file"}]
        else:
            allowed = set(organisations_where(request.user, Perm.IMPORT_REPORTS))
            try:
                ctx["outcome"] = import_file(
                    by=request.user,
                    path_or_stream=upload,
                    name=upload.name,
                    on_conflict=on_conflict,
                    allowed_organisation_ids=allowed,
                    mapping=layouts.get(layout),
                )
            except ImportRejected as exc:
                ctx["problems"] = exc.problems
                ctx["errors"] = [
                    {
                        "text": "The file was not imported: "
                        f"{plural(len(exc.problems), 'problem')}. Nothing was stored.",
                        "anchor": "problems",
                    }
                ]
    return render(request, "reporting/upload.jinja", ctx)
