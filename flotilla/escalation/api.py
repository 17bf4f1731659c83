"""API for escalation levels: a collaborative's members' computed and declared levels with its
system level (JSON and CSV), and an organisation's levels explained and their history.

Tokens with the `read` scope. Every read goes through `escalation.queries`, and so through
the sharing policy: levels under the owner's escalation grant, the figures behind a level
only where the owner shares them exactly.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Annotated, Any

from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from flotilla import csvsafe
from flotilla.authz.api_auth import (
    READ_ERRORS,
    OrgCode,
    QueryTime,
    Slug,
    field_errors,
    has_nul,
    require_scope,
)
from flotilla.authz.models import TokenScope
from flotilla.collaboratives.queries import find_collaborative, members_of
from flotilla.escalation import queries
from flotilla.escalation.models import ComputedLevel, DifferenceNote
from flotilla.sharing import policy

router = Router(tags=["escalation"])

#: The longest span one history call returns.
MAX_HISTORY = timedelta(days=400)


class ParameterOut(Schema):
    code: str
    label: str
    unit: str
    value: float | None = Field(..., description="Null when a figure it needs is missing.")
    score: int | None = Field(..., description="1 to 4; null when the value is missing.")
    weight: float
    next_threshold: float | None = Field(..., description="Where the score goes up; null at 4.")
    to_next: float | None
    floor: float | None = Field(..., description="What the value must drop under to lose a point.")


class ExplanationOut(Schema):
    score: float | None = Field(..., description="The weighted mean score, 1 to 4.")
    parameters: list[ParameterOut]
    missing: list[str] = Field(..., description="Parameters with no figure: never scored as 1.")
    to_next_level: float | None
    to_lower: list[str] = Field(..., description="Changes that would bring the level down one.")


class LevelOut(Schema):
    org_code: str
    level: int | None = Field(..., description="1 to 4; null when too few figures were reported.")
    as_of: datetime = Field(..., description="The report time of the newest figure used.")
    computed_at: datetime
    profile: str = Field(..., description="The profile code and version that produced it.")
    delay_hours: int = Field(..., description="How late the owner shares its level with you.")
    declared_level: int | None = Field(..., description="The level it declares, if shared.")
    declared_as_of: datetime | None
    disagrees: bool
    notes: list[str] = Field(..., description="Why the declared level differs, in its words.")
    explanation: ExplanationOut | None = Field(
        ...,
        description="Null unless the owner shares with you exactly every figure behind it.",
    )


class LeftOutOut(Schema):
    org_code: str
    why: str


class DeclaredOut(Schema):
    level: int
    reason: str
    declared_at: datetime


class SystemOut(Schema):
    level: int | None
    declared: DeclaredOut | None = Field(..., description="The level its coordinators declare.")
    rule: str
    computed_at: datetime
    counted: int
    left_out: list[LeftOutOut]


class CollaborativeLevelsOut(Schema):
    collaborative: str
    system: SystemOut | None
    members: list[LevelOut]


class HistoryPointOut(Schema):
    as_of: datetime
    level: int | None
    profile: str | None = Field(..., description="Computed levels: the profile; declared: null.")


class LevelHistoryOut(Schema):
    org_code: str
    since: datetime
    until: datetime
    computed: list[HistoryPointOut]
    declared: list[HistoryPointOut]


def _level(seen: queries.Seen, notes: dict[int, list[str]]) -> dict[str, Any]:
    c = seen.computed
    x = c.explanation
    return {
        "org_code": c.organisation.code,
        "level": c.level,
        "as_of": c.as_of,
        "computed_at": c.computed_at,
        "profile": f"{c.profile.code} {c.profile.version}",
        "delay_hours": seen.access.delay_hours,
        "declared_level": int(seen.declared) if seen.declared is not None else None,
        "declared_as_of": seen.declared_as_of,
        "disagrees": seen.disagrees,
        "notes": notes.get(c.pk, []),
        "explanation": {
            "score": x.get("score"),
            "parameters": x.get("parameters", []),
            "missing": x.get("missing", []),
            "to_next_level": x.get("to_next_level"),
            "to_lower": [ch["text"] for ch in x.get("to_lower", [])],
        }
        if seen.figures_shown
        else None,
    }


def _notes(levels: list[ComputedLevel]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for n in DifferenceNote.objects.filter(computed__in=levels).order_by("written_at"):
        out.setdefault(n.computed_id, []).append(n.reason)
    return out


def _collaborative_levels(request: HttpRequest, slug: str) -> dict[str, Any]:
    viewer = policy.viewer_of(require_scope(request, TokenScope.READ))
    if has_nul(slug):
        raise Http404
    collab = find_collaborative(viewer.organisation_ids, slug)
    levels = queries.collaborative_levels(viewer, collab)
    codes = {m.pk: m.code for m in members_of(collab)}
    seen = [levels.members[pk] for pk in codes if pk in levels.members]
    notes = _notes([s.computed for s in seen])
    system = levels.system
    return {
        "collaborative": collab.slug,
        "system": {
            "level": system.level,
            "declared": {
                "level": levels.declared.level,
                "reason": levels.declared.reason,
                "declared_at": levels.declared.declared_at,
            }
            if levels.declared
            else None,
            "rule": system.rule,
            "computed_at": system.computed_at,
            "counted": len(system.counted),
            "left_out": [
                {"org_code": codes.get(x["organisation"], ""), "why": x["why"]}
                for x in system.left_out
            ],
        }
        if system
        else None,
        "members": [_level(s, notes) for s in seen],
    }


@router.get(
    "/collaboratives/{slug}/escalation",
    response={200: CollaborativeLevelsOut, **READ_ERRORS},
    summary="Escalation levels",
)
def collaborative_levels(request: HttpRequest, slug: Slug) -> dict[str, Any]:
    """Each member's newest computed level you may see, beside its declared level, and the
    collaborative's system level with who was left out and why. 404 unless the token's
    organisation is a member. A member that does not share its escalation level with you is
    absent; the explanation of a level is null unless its figures are shared with you
    exactly."""
    return _collaborative_levels(request, slug)


#: The CSV's columns, in order.
CSV_COLUMNS = (
    "org_code",
    "computed_level",
    "declared_level",
    "disagrees",
    "as_of",
    "profile",
    "score",
    "delay_hours",
)


@router.get(
    "/collaboratives/{slug}/escalation.csv",
    response=READ_ERRORS,
    summary="Escalation levels (CSV)",
    openapi_extra={
        "responses": {
            "200": {
                "description": "One row per member whose level you may see: "
                + ", ".join(CSV_COLUMNS)
                + " (score empty unless its figures are shared with you exactly).",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        }
    },
)
def collaborative_levels_csv(request: HttpRequest, slug: Slug) -> HttpResponse:
    """The members' levels as CSV, for a spreadsheet."""
    data = _collaborative_levels(request, slug)
    out = io.StringIO()
    writer = csvsafe.writer(out)
    writer.writerow(CSV_COLUMNS)
    for m in data["members"]:
        x = m["explanation"]
        writer.writerow(
            [
                m["org_code"],
                m["level"] if m["level"] is not None else "",
                m["declared_level"] if m["declared_level"] is not None else "",
                "yes" if m["disagrees"] else "no",
                m["as_of"].isoformat(),
                m["profile"],
                csvsafe.Numeral(x["score"], ".3f") if x and x["score"] is not None else "",
                m["delay_hours"],
            ]
        )
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{data["collaborative"]}-levels.csv"'
    return response


@router.get(
    "/organisations/{code}/escalation",
    response={200: list[LevelOut], **READ_ERRORS},
    summary="An organisation's level, explained",
)
def organisation_levels(request: HttpRequest, code: OrgCode) -> list[dict[str, Any]]:
    """The organisation's newest computed level under each profile that scores it, as you may
    see it, with its explanation where its figures are shared with you exactly. 404 unless
    the organisation is the token's own or shares something with it; an empty list when it
    does not share its escalation level with you."""
    viewer = policy.viewer_of(require_scope(request, TokenScope.READ))
    if has_nul(code):
        raise Http404
    org = policy.get_organisation(viewer, code)
    seen = queries.levels_of(viewer, org)
    notes = _notes([s.computed for s in seen])
    return [_level(s, notes) for s in seen]


@router.get(
    "/organisations/{code}/escalation/history",
    response={200: LevelHistoryOut, **READ_ERRORS},
    summary="An organisation's levels over time",
)
def organisation_level_history(
    request: HttpRequest,
    code: OrgCode,
    since: Annotated[QueryTime | None, Query(description="Default: 14 days before until.")] = None,
    until: Annotated[QueryTime | None, Query(description="Default: now.")] = None,
) -> dict[str, Any]:
    """Computed and declared levels between two times, newest first, as you may see them.

    Besides what this document states, the API checks what no schema can (422 on `since`):
    `since` not after `until`, and at most 400 days before it (one parameter against another;
    `until` is now when left out, and `since` 14 days before `until`)."""
    viewer = policy.viewer_of(require_scope(request, TokenScope.READ))
    if has_nul(code):
        raise Http404
    org = policy.get_organisation(viewer, code)
    until = until or timezone.now()
    since = since or until - timedelta(days=14)
    if since > until:
        raise field_errors("query", [("since", "since must not be after until")])
    if until - since > MAX_HISTORY:
        raise field_errors("query", [("since", f"ask for at most {MAX_HISTORY.days} days")])
    computed = queries.history_seen_by(viewer, org, since, at=until)
    declared = queries.declared_history_seen_by(viewer, org, since, until)
    return {
        "org_code": org.code,
        "since": since,
        "until": until,
        "computed": [
            {"as_of": c.as_of, "level": c.level, "profile": f"{c.profile.code} {c.profile.version}"}
            for c, _ in computed
        ],
        "declared": [
            {"as_of": t, "level": int(v) if v is not None else None, "profile": None}
            for t, v in reversed(declared)
        ],
    }
