"""The shared work as CSV files, for the collaborative's members (404 for anyone else):
objectives with their progress, the RAID log, decisions with the picture as it stood, and a
call's minutes.

Every file has a header row and is written through `flotilla.csvsafe` (text a spreadsheet
would run as a formula is defused). Figures are numbers; a figure that is not shown is an
empty cell, never 0, with why in the `why_missing` column. Progress and a decision's picture
come from `coordination.queries`, through the sharing policy as the reader may see them now,
exactly as on the pages.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone

from flotilla import csvsafe
from flotilla.coordination import queries
from flotilla.coordination.models import ItemKind, LogItem
from flotilla.coordination.views._common import here
from flotilla.formatting import why_missing
from flotilla.picture.export import cell, figure

OBJECTIVE_COLUMNS = (
    "objective",
    "statement",
    "owner",
    "measure",
    "scope",
    "comparison",
    "target",
    "closed_at",
    "member",
    "value",
    "met",
    "counted",
    "expected",
    "progress",
    "why_missing",
)
LOG_COLUMNS = (
    "reference",
    "kind",
    "title",
    "detail",
    "owner",
    "due_on",
    "likelihood",
    "impact",
    "score",
    "mitigation",
    "status",
    "closed_reason",
    "escalated_at",
    "overdue",
    "unowned",
    "escalated",
    "workstream_id",
    "workstream",
    "call_day",
    "rationale",
    "decided_by",
    "decided_at",
)
DECISION_COLUMNS = (
    "reference",
    "title",
    "rationale",
    "decided_by",
    "decided_at",
    "status",
    "workstream",
    "call_day",
    "org_code",
    "site_code",
    "measure",
    "value",
    "detail",
    "as_of",
    "why_missing",
)
MINUTES_COLUMNS = (
    "held_on",
    "note_taker",
    "attendees",
    "minutes_sent_at",
    "notes",
    "reference",
    "kind",
    "title",
    "owner",
    "due_on",
    "status",
    "rationale",
    "decided_by",
    "decided_at",
)
KINDS = set(ItemKind.values)
FLAGS = ("overdue", "unowned", "escalated")


def _csv(name: str, columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csvsafe.writer(response)
    writer.writerow(columns)
    writer.writerows(rows)
    return response


def _when(value: date | datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def _yes(value: bool | None) -> str:
    """true, false, or empty when it cannot be told."""
    return "" if value is None else str(value).lower()


def _name(user: Any) -> str:
    return user.get_username() if user is not None else ""


# ------------------------------------------------------------------ objectives


def _objective_rows(objectives: list[Any], progress: dict[int, Any]) -> Iterator[list[Any]]:
    for o in objectives:
        own = [
            o.pk,
            o.statement,
            _name(o.owner),
            o.measure,
            o.scope,
            o.comparison,
            figure(o.target),
            _when(o.closed_at),
        ]
        p = progress.get(o.pk)
        if p is None:
            yield [*own, "", "", "", "", "", "", "closed: progress is no longer worked out"]
            continue
        why = "" if p.value is not None else p.text
        yield [*own, "", figure(p.value), _yes(p.met), p.counted, p.expected, p.text, why]
        # An every-member objective: a row for each member, as the reader may see its figure.
        for m in p.members:
            yield [*own, m.code, figure(m.value), _yes(m.met), "", "", m.text, m.why]


@login_required
def objectives_csv(request: HttpRequest, slug: str) -> HttpResponse:
    """Each objective with its progress now (open ones first), and for one that every member
    must meet, a row for each member."""
    h = here(request, slug)
    current = queries.objectives_of(h.collab)
    progress = queries.progress(h.viewer, current)
    found = [*current, *queries.objectives_of(h.collab, closed=True)]
    stamp = timezone.localdate().isoformat()
    return _csv(
        f"{h.collab.slug}-objectives-{stamp}.csv",
        OBJECTIVE_COLUMNS,
        _objective_rows(found, progress),
    )


# ------------------------------------------------------------------ the RAID log


def _log_row(i: LogItem, today: date) -> list[Any]:
    flags = queries.flags(i, today)
    return [
        i.reference,
        i.kind,
        i.title,
        i.detail,
        _name(i.owner),
        _when(i.due_on),
        i.likelihood,
        i.impact,
        i.score,
        i.mitigation,
        i.status,
        i.closed_reason,
        _when(i.escalated_at),
        _yes(flags.overdue),
        _yes(flags.unowned),
        _yes(flags.escalated),
        i.workstream_id,
        i.workstream.name if i.workstream else "",
        _when(i.call.held_on if i.call else None),
        i.rationale,
        i.decided_by,
        _when(i.decided_at),
    ]


@login_required
def log_csv(request: HttpRequest, slug: str) -> HttpResponse:
    """The RAID log as the log page filters it (`kind`, `only`, `show=all`), or one
    workstream's (`workstream`, its id)."""
    h = here(request, slug)
    kind = request.GET.get("kind", "")
    stream = None
    if request.GET.get("workstream"):
        try:
            stream = queries.get_workstream(h.collab, int(request.GET["workstream"]))
        except (ValueError, OverflowError) as exc:
            raise Http404("Not found") from exc
    items = list(
        queries.log_of(
            h.collab,
            workstream=stream,
            kinds=[kind] if kind in KINDS else None,
            open_only=request.GET.get("show") != "all",
        )
    )
    today = timezone.localdate()
    only = request.GET.get("only", "")
    if only in FLAGS:
        items = [i for i in items if getattr(queries.flags(i, today), only)]
    return _csv(
        f"{h.collab.slug}-log-{today.isoformat()}.csv",
        LOG_COLUMNS,
        (_log_row(i, today) for i in items),
    )


# ------------------------------------------------------------------ decisions


def _decision_rows(viewer: Any, decision: LogItem) -> Iterator[list[Any]]:
    """The decision, and the picture as it stood when it was taken as the viewer may see it
    now (`queries.decision_picture`): a row per figure, and per figure not shown, why."""
    own = [
        decision.reference,
        decision.title,
        decision.rationale,
        decision.decided_by,
        _when(decision.decided_at),
        decision.status,
        decision.workstream.name if decision.workstream else "",
        _when(decision.call.held_on if decision.call else None),
    ]
    picture = queries.decision_picture(viewer, decision)
    if picture is None:
        yield [*own, "", "", "", "", "", "", "not decided yet"]
        return
    written = 0
    for row in picture.all_rows:
        org, site = row.organisation.code, row.site.code if row.site else ""
        for code, fig in sorted(row.figures.items()):
            if fig.missing_reason:
                why = f"reported as missing: {fig.missing_reason}"
            elif fig.value is None and fig.text is None:
                why = "shared with you as its status only"
            else:
                why = ""
            value = cell(fig.missing_reason, fig.text, fig.value)
            yield [*own, org, site, code, value, fig.detail, _when(fig.as_of), why]
            written += 1
        # Withheld is said once per organisation (it holds for its sites too), as in the API.
        absent = {c: why_missing(withheld=True) for c in row.withheld if row.site is None}
        absent.update({c: why_missing(delayed=h) for c, h in row.delayed.items()})
        for code, why in sorted(absent.items()):
            yield [*own, org, site, code, "", "", "", why]
            written += 1
    if not written:
        yield [*own, "", "", "", "", "", "", "nothing reported by then"]


@login_required
def decisions_csv(request: HttpRequest, slug: str) -> HttpResponse:
    """Every decision in the log, newest first, each with the picture as it stood when it
    was taken, as the reader may see it now: one row per figure."""
    h = here(request, slug)
    decisions = queries.log_of(h.collab, kinds=[ItemKind.DECISION]).select_related("snapshot")
    stamp = timezone.localdate().isoformat()
    return _csv(
        f"{h.collab.slug}-decisions-{stamp}.csv",
        DECISION_COLUMNS,
        (row for d in decisions for row in _decision_rows(h.viewer, d)),
    )


# ------------------------------------------------------------------ minutes


@login_required
def minutes_csv(request: HttpRequest, slug: str, day: date) -> HttpResponse:
    """A call's minutes: a row for each item recorded in it (actions, then decisions, then
    the rest), each with the call's note-taker, attendance and notes; a call with nothing
    recorded gives one row."""
    h = here(request, slug)
    found = queries.call_on(h.collab, day)
    if found is None:
        raise Http404("Not found")
    call = [
        _when(found.held_on),
        _name(found.note_taker),
        " ".join(sorted(o.code for o in found.attendees.all())),
        _when(found.minutes_sent_at),
        found.notes,
    ]
    order = {ItemKind.ACTION: 0, ItemKind.DECISION: 1}
    items = sorted(
        found.items.select_related("owner"), key=lambda i: (order.get(i.kind, 2), i.kind, i.number)
    )
    rows = [
        [
            *call,
            i.reference,
            i.kind,
            i.title,
            _name(i.owner),
            _when(i.due_on),
            i.status,
            i.rationale,
            i.decided_by,
            _when(i.decided_at),
        ]
        for i in items
    ] or [[*call, *[""] * 9]]
    return _csv(f"{h.collab.slug}-minutes-{day.isoformat()}.csv", MINUTES_COLUMNS, rows)
