"""The jobs page: for platform staff only; everyone else is told it does not exist."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from flotilla.jobs import queries


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    # Staff status is the platform operator's (Django's own flag, set by `createsuperuser` or
    # the admin), not an organisation role: no role in any organisation shows this page.
    if not request.user.is_staff:
        raise Http404("Not found")
    return render(request, "jobs/overview.jinja", queries.overview())
