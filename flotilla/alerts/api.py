"""API for alerts: the alerts a token's organisation may see (JSON, or CSV with
`?format=csv`), one alert with who acknowledged it and when, and a collaborative's logic.

Reading needs a token with the `read` scope. A token acts for an organisation, not for a
person, and it sees what its organisation's people see of the collaboratives' rules (never a
person's own rules): an alert is listed only when the sharing policy lets the organisation
see the figure that opened it (`alerts.queries`), else it answers 404. Acknowledging is a
person's act (the alert names who acknowledged it), so it is done on the alert's page, not
through the API (docs/adr/0019-alerts.md).
"""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Annotated, Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema

from flotilla import csvsafe
from flotilla.alerts import logic, queries
from flotilla.alerts.models import Alert, AlertRule
from flotilla.authz.api_auth import (
    READ_ERRORS,
    SLUG_LENGTH,
    Slug,
    path_id,
    require_scope,
    safe_text,
)
from flotilla.authz.models import TokenScope
from flotilla.collaboratives.queries import find_collaborative
from flotilla.sharing import policy

router = Router(tags=["alerts"])

MAX_PAGE = 500
AlertId = path_id("The alert's id.")
#: A collaborative's slug in a query string.
SlugFilter = safe_text(SLUG_LENGTH)
StateFilter = Literal["open", "acknowledged", "resolved", "unresolved", "any"]

CSV_COLUMNS = [
    "id",
    "collaborative",
    "rule",
    "rule_kind",
    "organisation",
    "organisation_name",
    "measure",
    "value",
    "as_of",
    "forecast_day",
    "latest_value",
    "latest_as_of",
    "state",
    "opened_at",
    "acknowledged_by",
    "acknowledged_at",
    "resolved_at",
    "resolved_why",
    "times_reopened",
]


class AlertOut(Schema):
    """An alert as the token's organisation may see it."""

    id: int
    collaborative: str = Field(..., description="The rule's collaborative (slug).")
    rule: int
    rule_kind: str = Field(..., description=", ".join(logic.KINDS))
    rule_description: str
    organisation: str | None = Field(None, description="The member concerned (ODS code).")
    organisation_name: str | None = None
    measure: str = Field(..., description="The figure watched (catalogue code).")
    value: float | None = Field(None, description="The figure that opened it.")
    as_of: datetime = Field(
        ...,
        description="When that figure was reported for (for a forecast: the report time of "
        "the newest figure the forecast was made from).",
    )
    forecast_day: date | None = Field(
        None,
        description="For a forecast rule: the first day the forecast that opened it reached "
        "the threshold.",
    )
    latest_value: float | None = Field(None, description="The newest figure you may see.")
    latest_as_of: datetime
    state: str = Field(..., description="open, acknowledged or resolved (as at what you may see).")
    opened_at: datetime
    acknowledged_by: str | None = Field(None, description="Who acknowledged it (username).")
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    resolved_why: str = ""
    times_reopened: int = Field(
        ..., description="Times it re-opened within the rule's minimum interval."
    )


class RuleOut(Schema):
    id: int
    kind: str
    description: str
    measure: str
    organisation: str | None = Field(None, description="One member (ODS code); null: every member.")
    threshold: float | None
    clear_at: float | None
    within_days: int | None = Field(
        None, description="A forecast rule: how many days ahead it looks (else null)."
    )
    quantile: float | None = Field(
        None,
        description="A forecast rule: the forecast quantile it reads ("
        + ", ".join(f"{q:g}" for q in logic.QUANTILE_CHOICES)
        + "; 0.5 is the median), else null.",
    )
    min_interval_minutes: int
    created_at: datetime


def _out(a: Alert) -> dict[str, Any]:
    seen_resolved = a.seen_resolved_at  # type: ignore[attr-defined]
    return {
        "id": a.pk,
        "collaborative": a.rule.collaborative.slug,
        "rule": a.rule_id,
        "rule_kind": a.rule.kind,
        "rule_description": a.rule.describe(),
        "organisation": a.organisation.code if a.organisation else None,
        "organisation_name": a.organisation.name if a.organisation else None,
        "measure": a.measure,
        "value": a.value,
        "as_of": a.as_of,
        "forecast_day": a.target,
        "latest_value": a.seen_last_value,  # type: ignore[attr-defined]
        "latest_as_of": a.seen_last_as_of,  # type: ignore[attr-defined]
        "state": a.seen_state,  # type: ignore[attr-defined]
        "opened_at": a.opened_at,
        "acknowledged_by": a.acknowledged_by.get_username() if a.acknowledged_by else None,
        "acknowledged_at": a.acknowledged_at,
        "resolved_at": seen_resolved,
        "resolved_why": a.resolved_why if seen_resolved else "",
        "times_reopened": a.times_reopened,
    }


def _csv(rows: list[dict[str, Any]]) -> HttpResponse:
    out = io.StringIO()
    w = csvsafe.writer(out)
    w.writerow(CSV_COLUMNS)
    for r in rows:
        w.writerow([r[c].isoformat() if isinstance(r[c], date) else r[c] for c in CSV_COLUMNS])
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="alerts.csv"'
    return response


@router.get(
    "/alerts",
    response={200: list[AlertOut], **READ_ERRORS},
    summary="Alerts",
    openapi_extra={
        "responses": {
            "200": {
                "description": "The alerts, newest first; with format=csv one row each: "
                + ", ".join(CSV_COLUMNS)
                + ".",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/AlertOut"},
                        }
                    },
                    "text/csv": {"schema": {"type": "string"}},
                },
            }
        }
    },
)
def list_alerts(
    request: HttpRequest,
    state: Annotated[
        StateFilter,
        Query(description="Only those in this state (default unresolved: open or acknowledged)."),
    ] = "unresolved",
    collaborative: Annotated[
        SlugFilter | None, Query(description="Only those of this collaborative's rules (slug).")
    ] = None,
    format: Annotated[Literal["json", "csv"], Query(description="json (default) or csv.")] = "json",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="At most this many.")] = 100,
) -> Any:
    """The alerts of the collaboratives' rules the token's organisation may see, newest
    first: only those whose figure the organisation may see (exactly, for a count or an
    occupancy). Needs a `read` token."""
    token = require_scope(request, TokenScope.READ)
    viewer = policy.viewer_of(token)
    collab_id = None
    if collaborative is not None:
        collab_id = find_collaborative(viewer.organisation_ids, collaborative.strip()).pk
    states = {
        "unresolved": [logic.OPEN, logic.ACKNOWLEDGED],
        "any": list(logic.STATES),
    }.get(state, [state])
    found = queries.alerts_seen_by(viewer, states=states, collaborative_id=collab_id, limit=limit)
    rows = [_out(a) for a in found]
    if format == "csv":
        return _csv(rows)
    return rows


@router.get("/alerts/{alert_id}", response={200: AlertOut, **READ_ERRORS}, summary="An alert")
def get_alert(request: HttpRequest, alert_id: AlertId) -> dict[str, Any]:
    """One alert, with who acknowledged it and when. 404 unless the token's organisation
    may see it. Needs a `read` token."""
    token = require_scope(request, TokenScope.READ)
    return _out(queries.get_alert(policy.viewer_of(token), alert_id))


@router.get(
    "/collaboratives/{slug}/alert-rules",
    response={200: list[RuleOut], **READ_ERRORS},
    summary="A collaborative's alert rules",
)
def list_alert_rules(request: HttpRequest, slug: Slug) -> list[dict[str, Any]]:
    """The collaborative's own alert rules in force (not people's personal ones). 404 unless
    the token's organisation is a member. Needs a `read` token."""
    token = require_scope(request, TokenScope.READ)
    collab = find_collaborative(policy.viewer_of(token).organisation_ids, slug)
    found: list[AlertRule] = queries.rules_of(collab)
    return [
        {
            "id": r.pk,
            "kind": r.kind,
            "description": r.describe(),
            "measure": r.measure,
            "organisation": r.organisation.code if r.organisation else None,
            "threshold": r.threshold,
            "clear_at": r.clear_at,
            "within_days": r.within_days,
            "quantile": r.quantile,
            "min_interval_minutes": r.min_interval_minutes,
            "created_at": r.created_at,
        }
        for r in found
    ]
