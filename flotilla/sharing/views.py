"""The access record of an organisation's data, for that organisation's admins only."""

from __future__ import annotations

import csv

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from flotilla.authz.checks import require
from flotilla.authz.permissions import Perm
from flotilla.registry.models import Organisation
from flotilla.sharing import policy
from flotilla.sharing.models import AccessEvent

PAGE_SIZE = 200


@login_required
def access_record(request: HttpRequest, code: str) -> HttpResponse:
    org = get_object_or_404(Organisation, code=code.upper())
    require(request.user, Perm.VIEW_ACCESS_RECORD, org)
    events = AccessEvent.objects.filter(owner=org).order_by("-at", "-id")
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{org.code}-access-record.csv"'
        writer = csv.writer(response)
        writer.writerow(["at", "reader", "reader_organisations", "groups", "where"])
        codes = dict(Organisation.objects.values_list("id", "code"))
        for e in events.iterator(chunk_size=2000):
            writer.writerow(
                [
                    e.at.isoformat(),
                    e.reader_label,
                    " ".join(codes.get(i, str(i)) for i in e.reader_organisations),
                    " ".join(e.groups),
                    e.what,
                ]
            )
        return response
    return render(
        request,
        "sharing/access_record.jinja",
        {"org": org, "events": events[:PAGE_SIZE], "total": events.count(), "page_size": PAGE_SIZE},
    )


@login_required
def who_can_see(request: HttpRequest, code: str) -> HttpResponse:
    """Who can see this organisation's data, computed by the policy that enforces it."""
    org = get_object_or_404(Organisation, code=code.upper())
    require(request.user, Perm.VIEW_ACCESS_RECORD, org)
    return render(
        request, "sharing/who_can_see.jinja", {"org": org, "audiences": policy.audiences(org)}
    )
