"""API for forecasts: an organisation's newest daily forecasts you may see (JSON and CSV).

Tokens with the `read` scope. Every read goes through `planning.queries`, and so through the
sharing policy: a forecast is shared as its measure's group is (audience, delay, detail);
banded quantiles are rounded to the nearest 5, and a forecast shared as status only is left
out (it has no number to show).
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import Field, Router, Schema

from flotilla import csvsafe
from flotilla.authz.api_auth import READ_ERRORS, OrgCode, has_nul, require_scope
from flotilla.authz.models import TokenScope
from flotilla.organisations.models import Organisation
from flotilla.planning import queries
from flotilla.sharing import policy

router = Router(tags=["forecasts"])


class DayOut(Schema):
    date: dt.date
    horizon: int = Field(..., description="Days after the origin day, 1 to 14.")
    median: float
    q025: float = Field(..., description="The 2.5% quantile: the 95% band's lower edge.")
    q10: float
    q25: float = Field(..., description="The 25% quantile: the 50% band's lower edge.")
    q75: float = Field(..., description="The 75% quantile: the 50% band's upper edge.")
    q90: float
    q975: float = Field(..., description="The 97.5% quantile: the 95% band's upper edge.")


class ForecastOut(Schema):
    org_code: str
    site_code: str | None = Field(..., description="Null for the organisation's own figures.")
    measure: str
    origin: dt.date = Field(..., description="The last day of the daily history it was made from.")
    as_of: dt.datetime = Field(..., description="The report time of the newest figure it used.")
    computed_at: dt.datetime
    method: str = Field(
        ...,
        description="The model, or the fallback: 'ensemble', 'short series (n points): last "
        "value', 'flat series: constant'.",
    )
    points: int = Field(..., description="Days with a figure in the history it was made from.")
    detail: str = Field(..., description="exact, or banded (rounded to the nearest 5).")
    delay_hours: int = Field(..., description="How late the owner shares the figures with you.")
    days: list[DayOut]


def _seen(request: HttpRequest, code: str) -> tuple[Organisation, list[queries.Seen]]:
    viewer = policy.viewer_of(require_scope(request, TokenScope.READ))
    if has_nul(code):
        raise Http404
    org = policy.get_organisation(viewer, code)
    return org, queries.forecasts_seen_by(viewer, [org])


def _out(org: Organisation, seen: list[queries.Seen]) -> list[dict[str, Any]]:
    sites = dict(org.sites.values_list("id", "code"))
    return [
        {
            "org_code": org.code,
            "site_code": sites.get(s.site_id) if s.site_id else None,
            "measure": s.measure,
            "origin": s.origin,
            "as_of": s.as_of,
            "computed_at": s.computed_at,
            "method": s.method,
            "points": s.points,
            "detail": s.access.detail,
            "delay_hours": s.access.delay_hours,
            "days": [
                {
                    "date": d.target,
                    "horizon": d.horizon,
                    "median": d.values[0.5],
                    "q025": d.values[0.025],
                    "q10": d.values[0.1],
                    "q25": d.values[0.25],
                    "q75": d.values[0.75],
                    "q90": d.values[0.9],
                    "q975": d.values[0.975],
                }
                for d in s.days
            ],
        }
        for s in seen
    ]


@router.get(
    "/organisations/{code}/forecasts",
    response={200: list[ForecastOut], **READ_ERRORS},
    summary="An organisation's forecasts",
)
def organisation_forecasts(request: HttpRequest, code: OrgCode) -> list[dict[str, Any]]:
    """The newest daily forecast you may see of each forecast measure of the organisation and
    of each of its sites, 1 to 14 days ahead, with the median and the 50%, 80% and 95%
    bands. 404 unless the organisation is the token's own or shares something with it; an
    empty list when it shares no forecast measure's group with you (or only as status)."""
    org, seen = _seen(request, code)
    return _out(org, seen)


#: The CSV's columns, in order.
CSV_COLUMNS = (
    "org_code",
    "site_code",
    "measure",
    "origin",
    "as_of",
    "method",
    "date",
    "horizon",
    "q0.025",
    "q0.1",
    "q0.25",
    "median",
    "q0.75",
    "q0.9",
    "q0.975",
    "detail",
    "delay_hours",
)


@router.get(
    "/organisations/{code}/forecasts.csv",
    response=READ_ERRORS,
    summary="An organisation's forecasts (CSV)",
    openapi_extra={
        "responses": {
            "200": {
                "description": "One row per forecast day you may see: "
                + ", ".join(CSV_COLUMNS)
                + " (site_code empty for the organisation's own figures).",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        }
    },
)
def organisation_forecasts_csv(request: HttpRequest, code: OrgCode) -> HttpResponse:
    """The organisation's forecasts as CSV, for a spreadsheet."""
    org, seen = _seen(request, code)
    out = io.StringIO()
    writer = csvsafe.writer(out)
    writer.writerow(CSV_COLUMNS)
    for f in _out(org, seen):
        for d in f["days"]:
            writer.writerow(
                [
                    f["org_code"],
                    f["site_code"] or "",
                    f["measure"],
                    f["origin"].isoformat(),
                    f["as_of"].isoformat(),
                    f["method"],
                    d["date"].isoformat(),
                    d["horizon"],
                    *(
                        csvsafe.Numeral(d[k], ".1f")
                        for k in ("q025", "q10", "q25", "median", "q75", "q90", "q975")
                    ),
                    f["detail"],
                    f["delay_hours"],
                ]
            )
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{org.code}-forecasts.csv"'
    return response
