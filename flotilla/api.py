"""The JSON API: one NinjaAPI, deny-by-default, with one error shape for every refusal.

Every operation needs an API token (`auth=` is set here, for the whole API); an operation
that should be open must say `auth=None` itself. Routers live with their apps
(`flotilla/<app>/api.py`). Refusals always look like
`{"detail": "...", "errors": [{"index": 3, "field": "values[3].value", "message": "..."}]}`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from flotilla.alerts.api import router as alerts_router
from flotilla.authz.api_auth import TokenAuth
from flotilla.coordination.api import router as coordination_router
from flotilla.directory.api import router as directory_router
from flotilla.escalation.api import router as escalation_router
from flotilla.exchange.actions import AidInvalid, NotAllowed
from flotilla.exchange.api import api_field
from flotilla.exchange.api import router as exchange_router
from flotilla.exchange.lifecycle import IllegalMove
from flotilla.interop.api import router as interop_router
from flotilla.picture.api import router as picture_router
from flotilla.planning.api import router as planning_router
from flotilla.reporting.api import router as reporting_router
from flotilla.reporting.validation import ReportRejected
from flotilla.sharing.api import router as sharing_router

api = NinjaAPI(
    title="Flotilla API",
    version="1",
    description=(
        "Report an organisation's position, read the shared picture of its collaboratives "
        "(as each owner's sharing grants allow), manage its own sharing grants, and ask for, "
        "offer and take up mutual aid in the exchange. "
        "Authenticate with `Authorization: Bearer <token>`; an organisation admin issues "
        "tokens with the `submit`, `read`, `sharing` or `aid` scope (the exchange: `read` or "
        "`aid` to read, `aid` to act for the organisation)."
    ),
    urls_namespace="api",
    docs_url="/docs",
    auth=TokenAuth(),
)
api.add_router("/", reporting_router)
api.add_router("/", picture_router)
api.add_router("/", sharing_router)
api.add_router("/", exchange_router)
api.add_router("/", escalation_router)
api.add_router("/", alerts_router)
api.add_router("/", planning_router)
api.add_router("/", coordination_router)
api.add_router("/", directory_router)
api.add_router("/", interop_router)

#: Friendlier words for pydantic's error types that clients meet most.
_MESSAGES = {
    "timezone_aware": "give the time with its UTC offset, for example 2026-01-05T08:00:00+00:00",
}


def _error(
    request: HttpRequest,
    status: int,
    detail: str,
    errors: Sequence[dict[str, Any]] = (),
) -> HttpResponse:
    return api.create_response(request, {"detail": detail, "errors": list(errors)}, status=status)


def _field_and_index(loc: Sequence[Any]) -> tuple[str, int | None]:
    """('body', 'payload', 'values', 3, 'value') → ('values[3].value', 3).

    The index is the position in the report's `values`, the only list clients number.
    """
    parts = list(loc)
    source = parts.pop(0) if parts else ""
    if source == "body" and len(parts) > 1:
        parts.pop(0)  # the view's parameter name means nothing to a client
    field = ""
    for part in parts:
        if isinstance(part, int):
            field += f"[{part}]"
        else:
            field += f".{part}" if field else str(part)
    index = parts[1] if len(parts) > 1 and parts[0] == "values" else None
    return field, index if isinstance(index, int) else None


@api.exception_handler(ValidationError)
def _invalid_request(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = []
    for e in exc.errors:
        field, index = _field_and_index(e.get("loc", ()))
        kind = e.get("type", "")
        if kind == "value_error" and "error" in e.get("ctx", {}):
            message = str(e["ctx"]["error"])  # our own validators' words, without a prefix
        else:
            message = _MESSAGES.get(kind, e.get("msg", "invalid"))
        errors.append({"index": index, "field": field, "message": message})
    return _error(request, 422, "The request is not valid.", errors)


@api.exception_handler(ReportRejected)
def _report_rejected(request: HttpRequest, exc: ReportRejected) -> HttpResponse:
    errors = [{"index": p.row, "field": p.field, "message": p.message} for p in exc.problems]
    return _error(request, 422, "The report has errors; nothing was stored.", errors)


@api.exception_handler(AidInvalid)
def _aid_invalid(request: HttpRequest, exc: AidInvalid) -> HttpResponse:
    # One error per field, named as the request body names it; nothing was stored.
    errors = [
        {"index": None, "field": api_field(name), "message": message}
        for name, message in exc.errors.items()
    ]
    return _error(request, 422, "The request is not valid.", errors)


@api.exception_handler(IllegalMove)
def _illegal_move(request: HttpRequest, exc: IllegalMove) -> HttpResponse:
    # A move the negotiation does not allow from where things stand: nothing changed.
    return _error(request, 409, f"{exc} Nothing was changed.")


@api.exception_handler(NotAllowed)
def _not_allowed(request: HttpRequest, exc: NotAllowed) -> HttpResponse:
    return _error(request, 403, str(exc))


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = _error(
        request,
        401,
        "A valid API token is needed: send 'Authorization: Bearer <token>'. "
        "The token may be wrong or revoked.",
    )
    response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return _error(request, 403, str(exc) or "Forbidden")


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    # Never says why: outsiders must not learn whether the thing exists.
    return _error(request, 404, "Not found")


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return _error(request, 413, "The request body is too large; send fewer values per call.")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return _error(request, exc.status_code, exc.message)
