"""API for a collaborative's shared work: its objectives with their progress, the RAID log,
a decision with the picture as it stood, and the daily calls' minutes.

Reading needs a token with the `read` scope of one of the collaborative's members; for any
other organisation the collaborative answers 404, as one that does not exist. A token sees
what its organisation's people see on the pages: an objective's progress is worked out, and
a decision's picture shown, through the sharing policy as the organisation may see them now
(`coordination.queries`), never from stored figures. Nothing is changed through the API:
keeping the log and running the call are people's work, done on the pages.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from django.db.models import prefetch_related_objects
from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import Field, Path, Query, Router, Schema

from flotilla import formatting
from flotilla.authz.api_auth import READ_ERRORS, Slug, Stated, has_nul, require_scope
from flotilla.authz.models import TokenScope
from flotilla.collaboratives.models import Collaborative
from flotilla.collaboratives.queries import find_collaborative
from flotilla.coordination import queries
from flotilla.coordination.models import ItemKind, LogItem, SystemCall
from flotilla.picture.queries import Picture
from flotilla.sharing import policy

router = Router(tags=["working together"])

#: A day in a path, as the pages write it (2026-12-01). A day that matches but does not
#: exist (2026-02-31) names no call: 404.
DAY_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
#: A decision's reference: D and its number (D3).
DECISION_PATTERN = r"^D[1-9][0-9]{0,8}$"
#: The largest id a filter may name (the database's integer keys).
MAX_ID = 2**31 - 1
#: How many calls the list gives, newest first (`queries.calls_of`).
CALLS_LISTED = 60
NOT_SHARED = formatting.why_missing(withheld=True)


# ------------------------------------------------------------------ schemas


class MemberProgressOut(Schema):
    code: str = Field(..., description="The member (ODS code).")
    value: float | None = Field(
        ...,
        description="Its figure as shown to you: exact, or rounded when shared banded (an "
        "occupancy as a ratio; a banded occupancy as its band's lower edge). Null when no "
        "figure is shown to you (never 0).",
    )
    text: str = Field(..., description="The figure in words (a band, a status), or —.")
    met: bool | None = Field(
        ...,
        description="Whether it meets the target; null when what you may see does not settle it.",
    )
    why: str = Field(
        ...,
        description="Why it cannot be judged (not shared with you, shared with you later "
        "than this, not reported, reported as missing, shared with you as its status only, "
        "shared with you only roughly); empty when it can.",
    )


class ProgressOut(Schema):
    value: float | None = Field(
        ...,
        description="Across the system: the total of a count, or the occupancy as a ratio, "
        "from the exact figures shown to you; null when those do not give it (missing is "
        "never counted as 0). For every member: how many members meet the target.",
    )
    met: bool | None = Field(
        ...,
        description="True: on track; false: off track; null: the figures you may see do not "
        "settle it.",
    )
    text: str = Field(..., description="The progress in words, saying what could not be counted.")
    counted: int = Field(..., description="Members whose figure it could count or judge.")
    expected: int = Field(..., description="Members expected to have this figure.")
    members: list[MemberProgressOut] = Field(
        ...,
        description="For an every-member objective, each member expected to have the figure; "
        "empty for one across the system.",
    )


class ObjectiveOut(Schema):
    id: int
    statement: str
    owner: str | None = Field(..., description="Who owns it (username); null: nobody yet.")
    measure: str = Field(..., description="The figure (a catalogue measure or indicator code).")
    scope: Literal["system", "every_member"] = Field(
        ..., description="system: the collaborative's figure; every_member: each member's own."
    )
    comparison: Literal["at_most", "at_least"]
    target: float = Field(
        ..., description="In the figure's own unit; an occupancy as a ratio (0.92 for 92%)."
    )
    description: str = Field(..., description="The target in words.")
    closed: bool
    closed_at: datetime | None
    closed_reason: str
    progress: ProgressOut | None = Field(
        ..., description="Now, as your organisation may see it; null once the objective is closed."
    )


class FlagsOut(Schema):
    overdue: bool = Field(
        ...,
        description="Open, and past its date: an action's due date, a risk's review date, a "
        "decision still to be taken past its due date.",
    )
    unowned: bool = Field(..., description="An open risk, action or issue with no owner.")
    escalated: bool = Field(..., description="Escalated to its sponsor, and still open.")
    due_soon: bool = Field(..., description="Open, and its date is today or tomorrow.")


class ItemOut(Schema):
    reference: str = Field(..., description="Its kind's letter and number: R4, A12, I2, D7.")
    kind: Literal["risk", "action", "issue", "decision"]
    title: str
    detail: str
    owner: str | None = Field(..., description="Who owns it (username); null: nobody.")
    due_on: date | None = Field(
        ...,
        description="An action's due date, a risk's next review, a pending decision's due date.",
    )
    likelihood: int | None = Field(..., description="A risk's likelihood, 1 to 5; else null.")
    impact: int | None = Field(..., description="A risk's impact, 1 to 5; else null.")
    score: int | None = Field(..., description="A risk's likelihood × impact (1–25); else null.")
    mitigation: str
    rationale: str = Field(..., description="A decision's: why it was decided.")
    decided_by: str = Field(..., description="A decision's: who decided, in words.")
    decided_at: datetime | None = Field(..., description="A decision's: when it was taken.")
    status: Literal["open", "in_progress", "done", "closed"]
    closed_reason: str
    escalated_at: datetime | None
    flags: FlagsOut
    workstream_id: int | None = Field(..., description="Its workstream; null: the whole log's.")
    workstream_name: str | None
    call_day: date | None = Field(..., description="The day of the call it was recorded in.")


class FigureOut(Schema):
    org_code: str
    site_code: str | None
    measure: str
    value: float | None = Field(
        ...,
        description="As you may see it now: exact, or rounded to the nearest 5 when shared "
        "banded; null when missing or shared as status only (never 0).",
    )
    text: str | None
    missing_reason: str = Field(..., description="Why the owner reported no value; else empty.")
    detail: str = Field(..., description="How the owner shares it with you: exact, banded, status.")
    rag: str = Field(..., description="red, amber, green or none.")
    as_of: datetime


class WithheldOut(Schema):
    org_code: str
    measures: list[str] = Field(..., description="The measures it does not share with you.")
    reason: str


class DelayedOut(Schema):
    org_code: str
    site_code: str | None
    measure: str
    delay_hours: int
    reason: str


class SnapshotOut(Schema):
    at: datetime = Field(..., description="When the decision was taken.")
    rows: list[FigureOut]
    withheld: list[WithheldOut] = Field(
        ..., description="Per member, what it does not share with you now (never counted as 0)."
    )
    delayed: list[DelayedOut] = Field(
        ..., description="Figures reported by then but shared with you too late to show yet."
    )


class DecisionOut(ItemOut):
    picture: SnapshotOut | None = Field(
        ...,
        description="The picture as it stood when the decision was taken, as your "
        "organisation's grants in force now let it see it; null for a decision still to be "
        "taken.",
    )


class CallOut(Schema):
    held_on: date
    note_taker: str = Field(..., description="Who took the notes (username).")
    attendees: list[str] = Field(..., description="The members present (ODS codes).")
    notes: str
    minutes_sent_at: datetime | None = Field(..., description="Null: the minutes not sent yet.")
    actions: list[ItemOut] = Field(..., description="The actions recorded in the call.")
    decisions: list[ItemOut] = Field(..., description="The decisions recorded in the call.")
    others: list[ItemOut] = Field(..., description="Risks and issues recorded in the call.")


# ------------------------------------------------------------------ shaping


def _collaborative(request: HttpRequest, slug: str) -> tuple[policy.Viewer, Collaborative]:
    viewer = policy.viewer_of(require_scope(request, TokenScope.READ))
    if has_nul(slug):
        raise Http404
    return viewer, find_collaborative(viewer.organisation_ids, slug)


def _username(user: Any) -> str | None:
    return user.get_username() if user is not None else None


def _progress(p: queries.Progress) -> dict[str, Any]:
    return {
        "value": p.value,
        "met": p.met,
        "text": p.text,
        "counted": p.counted,
        "expected": p.expected,
        "members": [
            {"code": m.code, "value": m.value, "text": m.text, "met": m.met, "why": m.why}
            for m in p.members
        ],
    }


def _item(i: LogItem, today: date) -> dict[str, Any]:
    flags = queries.flags(i, today)
    return {
        "reference": i.reference,
        "kind": i.kind,
        "title": i.title,
        "detail": i.detail,
        "owner": _username(i.owner),
        "due_on": i.due_on,
        "likelihood": i.likelihood,
        "impact": i.impact,
        "score": i.score,
        "mitigation": i.mitigation,
        "rationale": i.rationale,
        "decided_by": i.decided_by,
        "decided_at": i.decided_at,
        "status": i.status,
        "closed_reason": i.closed_reason,
        "escalated_at": i.escalated_at,
        "flags": {
            "overdue": flags.overdue,
            "unowned": flags.unowned,
            "escalated": flags.escalated,
            "due_soon": flags.due_soon,
        },
        "workstream_id": i.workstream_id,
        "workstream_name": i.workstream.name if i.workstream else None,
        "call_day": i.call.held_on if i.call else None,
    }


def _snapshot(picture: Picture) -> dict[str, Any]:
    """A decision's picture as the policy shows it to the viewer (`queries.decision_picture`)."""
    rows = [
        {
            "org_code": row.organisation.code,
            "site_code": row.site.code if row.site else None,
            "measure": code,
            "value": fig.value,
            "text": fig.text,
            "missing_reason": fig.missing_reason,
            "detail": fig.detail,
            "rag": fig.rag,
            "as_of": fig.as_of,
        }
        for row in picture.all_rows
        for code, fig in sorted(row.figures.items())
    ]
    withheld = [
        {"org_code": row.organisation.code, "measures": sorted(row.withheld), "reason": NOT_SHARED}
        for row in picture.all_rows
        if row.site is None and row.withheld
    ]
    delayed = [
        {
            "org_code": row.organisation.code,
            "site_code": row.site.code if row.site else None,
            "measure": code,
            "delay_hours": hours,
            "reason": formatting.why_missing(delayed=hours),
        }
        for row in picture.all_rows
        for code, hours in sorted(row.delayed.items())
    ]
    return {"at": picture.at, "rows": rows, "withheld": withheld, "delayed": delayed}


def _call(c: SystemCall, today: date) -> dict[str, Any]:
    items = sorted(c.items.all(), key=lambda i: (i.kind, i.number))
    out = [_item(i, today) for i in items]
    return {
        "held_on": c.held_on,
        "note_taker": c.note_taker.get_username(),
        "attendees": sorted(o.code for o in c.attendees.all()),
        "notes": c.notes,
        "minutes_sent_at": c.minutes_sent_at,
        "actions": [o for o in out if o["kind"] == ItemKind.ACTION],
        "decisions": [o for o in out if o["kind"] == ItemKind.DECISION],
        "others": [o for o in out if o["kind"] not in (ItemKind.ACTION, ItemKind.DECISION)],
    }


def _with_items(calls: list[SystemCall]) -> list[SystemCall]:
    prefetch_related_objects(calls, "attendees", "items__owner", "items__workstream", "items__call")
    return calls


# ------------------------------------------------------------------ operations


@router.get(
    "/collaboratives/{slug}/objectives",
    response={200: list[ObjectiveOut], **READ_ERRORS},
    summary="Shared objectives",
)
def list_objectives(request: HttpRequest, slug: Slug) -> list[dict[str, Any]]:
    """The collaborative's objectives, open ones first, each with its progress now as the
    token's organisation may see it (through the sharing policy: a figure not shared with it
    is never guessed at, and missing is never 0). 404 unless the organisation is a member.
    Needs a `read` token."""
    viewer, collab = _collaborative(request, slug)
    open_ = queries.objectives_of(collab)
    found = queries.progress(viewer, open_)
    return [
        {
            "id": o.pk,
            "statement": o.statement,
            "owner": _username(o.owner),
            "measure": o.measure,
            "scope": o.scope,
            "comparison": o.comparison,
            "target": o.target,
            "description": queries.describe(o),
            "closed": o.closed_at is not None,
            "closed_at": o.closed_at,
            "closed_reason": o.closed_reason,
            "progress": _progress(found[o.pk]) if o.pk in found else None,
        }
        for o in [*open_, *queries.objectives_of(collab, closed=True)]
    ]


@router.get(
    "/collaboratives/{slug}/log",
    response={200: list[ItemOut], **READ_ERRORS},
    summary="The RAID log",
)
def list_log_items(
    request: HttpRequest,
    slug: Slug,
    kind: Annotated[
        Literal["risk", "action", "issue", "decision"] | None,
        Query(description="Only items of this kind (default: every kind)."),
    ] = None,
    status: Annotated[
        Literal["open", "all"],
        Query(description="open (default: open or in progress) or all, done and closed too."),
    ] = "open",
    workstream: Annotated[
        int | None,
        Query(ge=1, le=MAX_ID, description="Only this workstream's items (its id); 404 if none."),
    ] = None,
) -> list[dict[str, Any]]:
    """The collaborative's RAID log by kind, newest first within each, with what needs
    attention flagged. 404 unless the token's organisation is a member. Needs a `read`
    token."""
    _, collab = _collaborative(request, slug)
    stream = queries.get_workstream(collab, workstream) if workstream is not None else None
    items = queries.log_of(
        collab,
        workstream=stream,
        kinds=[kind] if kind else None,
        open_only=status == "open",
    )
    today = timezone.localdate()
    return [_item(i, today) for i in items]


@router.get(
    "/collaboratives/{slug}/decisions/{reference}",
    response={200: DecisionOut, **READ_ERRORS},
    summary="A decision",
)
def get_decision(
    request: HttpRequest,
    slug: Slug,
    reference: Annotated[
        str, Path(pattern=DECISION_PATTERN, description="The decision's reference, as D3.")
    ],
) -> dict[str, Any]:
    """One decision: what was decided, why, by whom and when, and the picture as it stood
    then, shown as the token's organisation's grants in force now let it see it (a figure
    shared banded is banded, one no longer shared is withheld). 404 unless the organisation
    is a member, or if the collaborative has no such decision. Needs a `read` token."""
    viewer, collab = _collaborative(request, slug)
    found = (
        queries.log_of(collab, kinds=[ItemKind.DECISION])
        .select_related("snapshot")
        .filter(number=int(reference[1:]))
        .first()
    )
    if found is None:
        raise Http404("Not found")
    picture = queries.decision_picture(viewer, found)
    return {
        **_item(found, timezone.localdate()),
        "picture": _snapshot(picture) if picture is not None else None,
    }


@router.get(
    "/collaboratives/{slug}/calls",
    response={200: list[CallOut], **READ_ERRORS},
    summary="Daily calls",
)
def list_calls(request: HttpRequest, slug: Slug) -> list[dict[str, Any]]:
    """The collaborative's daily calls, newest first (the latest 60), each with its minutes:
    who took the notes, who attended, the notes, when the minutes were sent, and what was
    recorded in it. 404 unless the token's organisation is a member. Needs a `read` token."""
    _, collab = _collaborative(request, slug)
    today = timezone.localdate()
    return [_call(c, today) for c in _with_items(queries.calls_of(collab)[:CALLS_LISTED])]


@router.get(
    "/collaboratives/{slug}/calls/{day}",
    response={200: CallOut, **READ_ERRORS},
    summary="A call's minutes",
)
def get_call(
    request: HttpRequest,
    slug: Slug,
    day: Annotated[
        str,
        Stated(format="date"),
        Path(pattern=DAY_PATTERN, description="The day it was held, as 2026-12-01."),
    ],
) -> dict[str, Any]:
    """The minutes of the call held on one day. 404 unless the token's organisation is a
    member, or if no call was held that day. Needs a `read` token."""
    _, collab = _collaborative(request, slug)
    try:
        held_on = date.fromisoformat(day)
    except ValueError as exc:  # 2026-02-31 looks like a day but is none
        raise Http404("Not found") from exc
    found = queries.call_on(collab, held_on)
    if found is None:
        raise Http404("Not found")
    return _call(_with_items([found])[0], timezone.localdate())
