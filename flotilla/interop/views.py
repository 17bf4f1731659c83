"""The standards' documents as downloads from the pages, for people who take a file to
another system by hand: the same documents the API gives (`flotilla/interop/api/`), made
by the same read modules as the signed-in person may see them (through the sharing policy
and the exchange's queries, on the owners' access record)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from flotilla.collaboratives.queries import find_collaborative, members_of
from flotilla.exchange import queries as exchange_queries
from flotilla.interop import edxl_rm, have, saner
from flotilla.sharing import policy


def _download(document: bytes | str, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(document, content_type=f"{content_type}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _stamp() -> str:
    return timezone.localtime().strftime("%Y%m%dT%H%M")


@login_required
def collaborative_saner(request: HttpRequest, slug: str) -> HttpResponse:
    """The members' bed counts now, as a FHIR SANER Bundle, as the person may see them."""
    viewer = policy.viewer_of(request.user)
    collaborative = find_collaborative(viewer.organisation_ids, slug)
    bundle = saner.bundle_for(viewer, members_of(collaborative))
    return _download(
        saner.as_json(bundle),
        "application/fhir+json",
        f"{collaborative.slug}-{_stamp()}-saner.json",
    )


@login_required
def collaborative_have(request: HttpRequest, slug: str) -> HttpResponse:
    """The members' hospital status now, as an EDXL-HAVE 2.0 document."""
    viewer = policy.viewer_of(request.user)
    collaborative = find_collaborative(viewer.organisation_ids, slug)
    return _download(
        have.for_collaborative(viewer, collaborative),
        have.MEDIA_TYPE,
        f"{collaborative.slug}-{_stamp()}-have.xml",
    )


@login_required
def aid_request_edxl_rm(request: HttpRequest, pk: int) -> HttpResponse:
    """An aid request's thread as EDXL-RM 1.0 messages: what the person may see of it."""
    viewer = policy.viewer_of(request.user)
    aid = exchange_queries.get_request(viewer, pk)
    return _download(
        edxl_rm.thread(viewer, aid), have.MEDIA_TYPE, f"aid-request-{aid.pk}-edxl-rm.xml"
    )


@login_required
def aid_offer_edxl_rm(request: HttpRequest, pk: int) -> HttpResponse:
    """A standing offer's thread as EDXL-RM 1.0 messages: what the person may see of it."""
    viewer = policy.viewer_of(request.user)
    offer = exchange_queries.get_offer(viewer, pk)
    return _download(
        edxl_rm.offer_thread(viewer, offer), have.MEDIA_TYPE, f"aid-offer-{offer.pk}-edxl-rm.xml"
    )
