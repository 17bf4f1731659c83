"""Every write of the coordination app: roles, objectives, workstreams, the RAID log, the
daily call and its minutes, and the reminders of actions falling due.

Each change runs in one transaction with its audit event (before and after). Who may make
it is decided by `rules.may_coordinate` on `authz` (the collaborative's coordinators and the
people holding a role in it); an item's owner may also move their own item on. Refusals
raise `CoordinationError` with a sentence and, where a field is at fault, its words.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Max, Sum
from django.urls import reverse
from django.utils import timezone

from flotilla.audit import actions as audit
from flotilla.audit.principals import Principal
from flotilla.collaboratives.models import Collaborative
from flotilla.collaboratives.queries import members_of
from flotilla.coordination import queries, rules
from flotilla.coordination.models import (
    Allocation,
    Ask,
    CollaborativeRole,
    Comparison,
    ItemKind,
    ItemStatus,
    LogItem,
    Objective,
    RoleKind,
    Scope,
    Snapshot,
    SystemCall,
    Workstream,
    WorkstreamStatus,
)
from flotilla.notifications import actions as notifications
from flotilla.organisations.models import Organisation
from flotilla.sharing import policy

#: Who sends the reminders of actions falling due.
NUDGER = Principal.system("coordination")
#: An action's owner is reminded once a day from this many days before it is due.
NUDGE_DAYS = 1
#: Longest text of a title, a statement or a reason (the models' limits).
TITLE_MAX, REASON_MAX = 300, 500


class CoordinationError(Exception):
    """A change that cannot be made: a sentence, and the fields at fault (field → words)."""

    def __init__(self, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or {}


def _name(user: Any) -> str | None:
    return user.get_username() if user is not None else None


def _names(users: Iterable[Any]) -> list[str]:
    return sorted(u.get_username() for u in users)


def _require(by: Any, collaborative: Collaborative, what: str) -> None:
    if not rules.may_coordinate(by, collaborative):
        raise CoordinationError(
            f"Only the collaborative's coordinators and the people holding a role in it can {what}"
        )


def _text(errors: dict[str, str], field: str, value: str, limit: int, words: str) -> str:
    value = (value or "").strip()
    if not value:
        errors[field] = words
    elif len(value) > limit:
        errors[field] = f"Keep it to {limit} characters (it has {len(value)})"
    return value


def _person_of_member(errors: dict[str, str], field: str, user: Any, collab: Collaborative) -> None:
    """A person named in the collaborative's work must belong to one of its members."""
    if user is not None and not rules.person_of_member(user, collab):
        errors[field] = f"{user.get_username()} is not in any member organisation"


def _fail(errors: dict[str, str]) -> None:
    if errors:
        raise CoordinationError("Check the fields marked", errors)


def _lock(collaborative: Collaborative) -> None:
    """Changes that read before they write under one collaborative (the next log number, the
    day's one call, a person's week across the team) take this lock first, before any row,
    so two at once go one after the other."""
    Collaborative.objects.select_for_update().filter(pk=collaborative.pk).first()


# ------------------------------------------------------------------ roles


def role_snapshot(r: CollaborativeRole) -> dict[str, Any]:
    return {
        "collaborative": r.collaborative.slug,
        "user": r.user.get_username(),
        "organisation": r.organisation.code,
        "kind": r.kind,
        "started_at": r.started_at.isoformat(),
        "ended_at": r.ended_at.isoformat() if r.ended_at else None,
    }


def assign_role(
    *, by: Any, collaborative: Collaborative, user: Any, organisation: Organisation, kind: str
) -> CollaborativeRole:
    """Give a person a role in the collaborative, held for one of their member
    organisations. Holding it already changes nothing."""
    if not rules.manages(by, collaborative):
        raise CoordinationError("Only the collaborative's coordinators can give roles in it")
    errors: dict[str, str] = {}
    if kind not in RoleKind.values:
        errors["kind"] = "Choose a role"
    if organisation.pk not in {m.pk for m in members_of(collaborative)}:
        errors["organisation"] = "Choose a member of the collaborative"
    elif not rules.belongs(user, organisation):
        errors["user"] = f"{user.get_username()} is not in {organisation.name}"
    _fail(errors)
    with transaction.atomic():
        held = (
            CollaborativeRole.objects.select_for_update()
            .filter(collaborative=collaborative, user=user, kind=kind, ended_at__isnull=True)
            .first()
        )
        if held is not None:
            return held
        role = CollaborativeRole.objects.create(
            collaborative=collaborative,
            user=user,
            organisation=organisation,
            kind=kind,
            started_at=timezone.now(),
        )
        audit.record(by=by, action="role_given", obj=role, after=role_snapshot(role))
    return role


def end_role(*, by: Any, role: CollaborativeRole) -> CollaborativeRole:
    if not rules.manages(by, role.collaborative):
        raise CoordinationError("Only the collaborative's coordinators can end roles in it")
    with transaction.atomic():
        role = CollaborativeRole.objects.select_for_update().get(pk=role.pk)
        if role.ended_at is None:
            audit.change(
                by=by,
                obj=role,
                action="role_ended",
                snapshot=role_snapshot,
                changes={"ended_at": timezone.now()},
            )
    return role


# ------------------------------------------------------------------ objectives


def objective_snapshot(o: Objective) -> dict[str, Any]:
    return {
        "collaborative": o.collaborative.slug,
        "statement": o.statement,
        "owner": _name(o.owner),
        "measure": o.measure,
        "scope": o.scope,
        "comparison": o.comparison,
        "target": o.target,
        "closed_at": o.closed_at.isoformat() if o.closed_at else None,
        "closed_reason": o.closed_reason,
    }


def _objective_fields(
    collaborative: Collaborative,
    statement: str,
    measure: str,
    scope: str,
    comparison: str,
    target: float | None,
    owner: Any,
) -> dict[str, Any]:
    errors: dict[str, str] = {}
    statement = _text(errors, "statement", statement, TITLE_MAX, "Say what the objective is")
    kind = rules.objective_measures().get(measure)
    if kind is None:
        errors["measure"] = "Choose a figure from the list"
    if scope not in Scope.values:
        errors["scope"] = "Choose across the system or for every member"
    elif kind == "level" and scope == Scope.SYSTEM:
        errors["scope"] = "Levels do not add up: choose for every member"
    if comparison not in Comparison.values:
        errors["comparison"] = "Choose at most or at least"
    if target is None:
        errors["target"] = "Give the target as a number"
    elif kind == "ratio" and not 0 < target <= 1.5:
        errors["target"] = "Give an occupancy as a percentage between 0 and 150"
    elif target < 0:
        errors["target"] = "A target cannot be negative"
    _person_of_member(errors, "owner", owner, collaborative)
    _fail(errors)
    return {
        "statement": statement,
        "measure": measure,
        "scope": scope,
        "comparison": comparison,
        "target": float(target),  # type: ignore[arg-type]
        "owner": owner,
    }


def add_objective(
    *,
    by: Any,
    collaborative: Collaborative,
    statement: str,
    measure: str,
    scope: str,
    comparison: str,
    target: float | None,
    owner: Any = None,
) -> Objective:
    """A shared objective: a statement, an owner, and a target on a live figure (an
    occupancy as a ratio: 0.85 for 85%)."""
    _require(by, collaborative, "add objectives")
    values = _objective_fields(collaborative, statement, measure, scope, comparison, target, owner)
    with transaction.atomic():
        o = Objective.objects.create(
            collaborative=collaborative, created_by=by, created_at=timezone.now(), **values
        )
        audit.record(by=by, action="objective_added", obj=o, after=objective_snapshot(o))
    return o


def change_objective(
    *,
    by: Any,
    objective: Objective,
    statement: str,
    measure: str,
    scope: str,
    comparison: str,
    target: float | None,
    owner: Any = None,
) -> Objective:
    _require(by, objective.collaborative, "change objectives")
    values = _objective_fields(
        objective.collaborative, statement, measure, scope, comparison, target, owner
    )
    with transaction.atomic():
        objective = Objective.objects.select_for_update().get(pk=objective.pk)
        if objective.closed_at is not None:
            raise CoordinationError("This objective is closed")
        audit.change(
            by=by,
            obj=objective,
            action="objective_changed",
            snapshot=objective_snapshot,
            changes=values,
        )
    return objective


def close_objective(*, by: Any, objective: Objective, reason: str) -> Objective:
    """Close an objective (met, dropped, replaced), with why. It stays readable."""
    _require(by, objective.collaborative, "close objectives")
    errors: dict[str, str] = {}
    reason = _text(errors, "reason", reason, REASON_MAX, "Say why it is closed")
    _fail(errors)
    with transaction.atomic():
        objective = Objective.objects.select_for_update().get(pk=objective.pk)
        if objective.closed_at is not None:
            raise CoordinationError("This objective is already closed")
        audit.change(
            by=by,
            obj=objective,
            action="objective_closed",
            snapshot=objective_snapshot,
            changes={"closed_at": timezone.now(), "closed_reason": reason},
        )
    return objective


# ------------------------------------------------------------------ workstreams


def workstream_snapshot(w: Workstream) -> dict[str, Any]:
    return {
        "collaborative": w.collaborative.slug,
        "name": w.name,
        "purpose": w.purpose,
        "objectives": sorted(o.pk for o in w.objectives.all()),
        "sponsor": _name(w.sponsor),
        "leads": _names(w.leads.all()),
        "members": _names(w.members.all()),
        "status": w.status,
        "closed_reason": w.closed_reason,
    }


def _workstream_fields(
    collaborative: Collaborative,
    name: str,
    purpose: str,
    objectives: Iterable[Objective],
    sponsor: Any,
    leads: Iterable[Any],
    members: Iterable[Any],
    status: str,
    closed_reason: str,
    current: Workstream | None = None,
) -> dict[str, Any]:
    errors: dict[str, str] = {}
    name = _text(errors, "name", name, 200, "Give the workstream a name")
    taken = Workstream.objects.filter(collaborative=collaborative, name__iexact=name)
    if current is not None:
        taken = taken.exclude(pk=current.pk)
    if name and taken.exists():
        errors["name"] = f"The collaborative already has a workstream called {name}"
    objectives, leads, members = list(objectives), list(leads), list(members)
    if any(o.collaborative_id != collaborative.pk for o in objectives):
        errors["objectives"] = "Choose objectives of this collaborative"
    _person_of_member(errors, "sponsor", sponsor, collaborative)
    for field, people in (("leads", leads), ("members", members)):
        for person in people:
            _person_of_member(errors, field, person, collaborative)
    if status not in WorkstreamStatus.values:
        errors["status"] = "Choose a status"
    closed_reason = (closed_reason or "").strip()
    if status == WorkstreamStatus.CLOSED:
        closed_reason = _text(
            errors, "closed_reason", closed_reason, REASON_MAX, "Say why it is closed"
        )
    else:
        closed_reason = ""
    _fail(errors)
    return {
        "name": name,
        "purpose": (purpose or "").strip(),
        "sponsor": sponsor,
        "status": status,
        "closed_reason": closed_reason,
        "objectives": objectives,
        "leads": leads,
        "members": members,
    }


def _set_people(w: Workstream, values: dict[str, Any]) -> None:
    w.objectives.set(values.pop("objectives"))
    w.leads.set(values.pop("leads"))
    w.members.set(values.pop("members"))


def add_workstream(
    *,
    by: Any,
    collaborative: Collaborative,
    name: str,
    purpose: str = "",
    objectives: Iterable[Objective] = (),
    sponsor: Any = None,
    leads: Iterable[Any] = (),
    members: Iterable[Any] = (),
    status: str = WorkstreamStatus.ACTIVE,
) -> Workstream:
    _require(by, collaborative, "add workstreams")
    values = _workstream_fields(
        collaborative, name, purpose, objectives, sponsor, leads, members, status, ""
    )
    with transaction.atomic():
        people = {k: values.pop(k) for k in ("objectives", "leads", "members")}
        w = Workstream.objects.create(
            collaborative=collaborative, created_by=by, created_at=timezone.now(), **values
        )
        _set_people(w, people)
        audit.record(by=by, action="workstream_added", obj=w, after=workstream_snapshot(w))
    return w


def change_workstream(
    *,
    by: Any,
    workstream: Workstream,
    name: str,
    purpose: str = "",
    objectives: Iterable[Objective] = (),
    sponsor: Any = None,
    leads: Iterable[Any] = (),
    members: Iterable[Any] = (),
    status: str = WorkstreamStatus.ACTIVE,
    closed_reason: str = "",
) -> Workstream:
    """Change a workstream: its people, objectives, or status (closing needs a reason)."""
    collab = workstream.collaborative
    _require(by, collab, "change workstreams")
    values = _workstream_fields(
        collab,
        name,
        purpose,
        objectives,
        sponsor,
        leads,
        members,
        status,
        closed_reason,
        current=workstream,
    )
    with transaction.atomic():
        w = Workstream.objects.select_for_update().get(pk=workstream.pk)
        before = workstream_snapshot(w)
        people = {k: values.pop(k) for k in ("objectives", "leads", "members")}
        for field, value in values.items():
            setattr(w, field, value)
        w.save()
        _set_people(w, people)
        after = workstream_snapshot(w)
        if after != before:
            audit.record(by=by, action="workstream_changed", obj=w, before=before, after=after)
    return w


# ------------------------------------------------------------------ the RAID log


def item_snapshot(i: LogItem) -> dict[str, Any]:
    return {
        "collaborative": i.collaborative.slug,
        "reference": i.reference,
        "workstream": i.workstream_id,
        "kind": i.kind,
        "title": i.title,
        "detail": i.detail,
        "owner": _name(i.owner),
        "due_on": i.due_on.isoformat() if i.due_on else None,
        "likelihood": i.likelihood,
        "impact": i.impact,
        "mitigation": i.mitigation,
        "rationale": i.rationale,
        "decided_by": i.decided_by,
        "decided_at": i.decided_at.isoformat() if i.decided_at else None,
        "snapshot": i.snapshot_id,
        "status": i.status,
        "closed_reason": i.closed_reason,
        "escalated_at": i.escalated_at.isoformat() if i.escalated_at else None,
        "escalation_note": i.escalation_note,
        "call": i.call_id,
    }


def _scale(errors: dict[str, str], field: str, value: int | None, needed: bool) -> int | None:
    if value is None:
        if needed:
            errors[field] = f"Give the {field} from 1 (low) to 5 (high)"
        return None
    if not 1 <= value <= 5:
        errors[field] = f"Give the {field} from 1 (low) to 5 (high)"
    return value


def _item_fields(
    collaborative: Collaborative,
    kind: str,
    title: str,
    workstream: Workstream | None,
    detail: str,
    owner: Any,
    due_on: date | None,
    likelihood: int | None,
    impact: int | None,
    mitigation: str,
    rationale: str,
    decided_by: str,
    decided: bool,
) -> dict[str, Any]:
    errors: dict[str, str] = {}
    if kind not in ItemKind.values:
        errors["kind"] = "Choose a risk, an action, an issue or a decision"
    title = _text(errors, "title", title, TITLE_MAX, "Say what it is in a line")
    if workstream is not None and workstream.collaborative_id != collaborative.pk:
        errors["workstream"] = "Choose a workstream of this collaborative"
    _person_of_member(errors, "owner", owner, collaborative)
    is_risk = kind == ItemKind.RISK
    likelihood = _scale(errors, "likelihood", likelihood, is_risk)
    impact = _scale(errors, "impact", impact, is_risk)
    if kind == ItemKind.ACTION and due_on is None:
        errors["due_on"] = "Give the date the action is due"
    if kind == ItemKind.RISK and due_on is None:
        errors["due_on"] = "Give the date the risk is next reviewed"
    if kind == ItemKind.DECISION and decided:
        rationale = _text(errors, "rationale", rationale, 5000, "Say why it was decided")
        decided_by = _text(errors, "decided_by", decided_by, 300, "Say who decided")
    if kind == ItemKind.DECISION and not decided and due_on is None:
        errors["due_on"] = "Give the date the decision is due"
    _fail(errors)
    return {
        "kind": kind,
        "title": title,
        "workstream": workstream,
        "detail": (detail or "").strip(),
        "owner": owner,
        "due_on": due_on,
        "likelihood": likelihood if is_risk else None,
        "impact": impact if is_risk else None,
        "mitigation": (mitigation or "").strip() if is_risk else "",
        "rationale": rationale if kind == ItemKind.DECISION else "",
        "decided_by": decided_by if kind == ItemKind.DECISION else "",
    }


def take_snapshot(*, collaborative: Collaborative, at: datetime) -> Snapshot:
    """The collaborative's figures as they stand at `at`, kept (inside the caller's
    transaction). Shown only through `sharing.policy.read_frozen`."""
    member_ids = sorted(m.pk for m in members_of(collaborative))
    return Snapshot.objects.create(
        collaborative=collaborative,
        taken_at=at,
        member_ids=member_ids,
        values=policy.freeze(member_ids, at),
    )


def _taken(collaborative: Collaborative, now: datetime) -> dict[str, Any]:
    """What taking a decision sets: when, the picture then (in the caller's transaction),
    and done."""
    return {
        "decided_at": now,
        "snapshot": take_snapshot(collaborative=collaborative, at=now),
        "status": ItemStatus.DONE,
    }


def add_item(
    *,
    by: Any,
    collaborative: Collaborative,
    kind: str,
    title: str,
    workstream: Workstream | None = None,
    detail: str = "",
    owner: Any = None,
    due_on: date | None = None,
    likelihood: int | None = None,
    impact: int | None = None,
    mitigation: str = "",
    rationale: str = "",
    decided_by: str = "",
    decided: bool = True,
    call: SystemCall | None = None,
) -> LogItem:
    """Add a risk, action, issue or decision to the collaborative's log (or a workstream's).
    A decision taken is stamped with the moment and keeps a snapshot of the picture then;
    one still to be taken (`decided=False`) has a due date, and is taken with `decide`."""
    _require(by, collaborative, "add to the log")
    values = _item_fields(
        collaborative,
        kind,
        title,
        workstream,
        detail,
        owner,
        due_on,
        likelihood,
        impact,
        mitigation,
        rationale,
        decided_by,
        decided,
    )
    if call is not None and call.collaborative_id != collaborative.pk:
        raise CoordinationError("That call is another collaborative's")
    with transaction.atomic():
        _lock(collaborative)  # numbered per kind: two additions never take one number
        top = LogItem.objects.filter(collaborative=collaborative, kind=kind).aggregate(
            n=Max("number")
        )["n"]
        now = timezone.now()
        if kind == ItemKind.DECISION and decided:
            values |= _taken(collaborative, now)
        item = LogItem.objects.create(
            collaborative=collaborative,
            number=(top or 0) + 1,
            call=call,
            created_by=by,
            created_at=now,
            **values,
        )
        audit.record(by=by, action="log_item_added", obj=item, after=item_snapshot(item))
    return item


def change_item(
    *,
    by: Any,
    item: LogItem,
    title: str,
    workstream: Workstream | None = None,
    detail: str = "",
    owner: Any = None,
    due_on: date | None = None,
    likelihood: int | None = None,
    impact: int | None = None,
    mitigation: str = "",
    rationale: str = "",
    decided_by: str = "",
) -> LogItem:
    """Change what an open item says. A decision's moment and snapshot never change."""
    _require(by, item.collaborative, "change the log")
    values = _item_fields(
        item.collaborative,
        item.kind,
        title,
        workstream,
        detail,
        owner,
        due_on,
        likelihood,
        impact,
        mitigation,
        rationale,
        decided_by,
        item.decided_at is not None,
    )
    values.pop("kind")
    with transaction.atomic():
        item = LogItem.objects.select_for_update().get(pk=item.pk)
        if item.is_closed:
            raise CoordinationError(f"{item.reference} is closed")
        audit.change(
            by=by, obj=item, action="log_item_changed", snapshot=item_snapshot, changes=values
        )
    return item


def decide(
    *, by: Any, item: LogItem, rationale: str, decided_by: str, call: SystemCall | None = None
) -> LogItem:
    """Take a decision that was waiting: its rationale and who decided, stamped with the
    moment and a snapshot of the picture then. It is then done."""
    _require(by, item.collaborative, "record decisions")
    if item.kind != ItemKind.DECISION:
        raise CoordinationError(f"{item.reference} is not a decision")
    errors: dict[str, str] = {}
    rationale = _text(errors, "rationale", rationale, 5000, "Say why it was decided")
    decided_by = _text(errors, "decided_by", decided_by, 300, "Say who decided")
    _fail(errors)
    if call is not None and call.collaborative_id != item.collaborative_id:
        raise CoordinationError("That call is another collaborative's")
    with transaction.atomic():
        item = LogItem.objects.select_for_update().get(pk=item.pk)
        if item.decided_at is not None or item.is_closed:
            raise CoordinationError(f"{item.reference} has been decided or closed already")
        now = timezone.now()
        audit.change(
            by=by,
            obj=item,
            action="log_item_decided",
            snapshot=item_snapshot,
            changes={
                "rationale": rationale,
                "decided_by": decided_by,
                "call": call or item.call,
                **_taken(item.collaborative, now),
            },
        )
    return item


def set_status(*, by: Any, item: LogItem, status: str, reason: str = "") -> LogItem:
    """Move an item on: in progress, done, or closed (closing needs a reason; so does
    reopening). The item's owner may do this as well as the coordinators."""
    if not (rules.may_coordinate(by, item.collaborative) or item.owner_id == by.pk):
        raise CoordinationError(
            "Only the item's owner, the collaborative's coordinators and the people holding "
            "a role in it can change its status"
        )
    errors: dict[str, str] = {}
    if status not in ItemStatus.values:
        errors["status"] = "Choose a status"
    needs_reason = status == ItemStatus.CLOSED
    reason = (reason or "").strip()
    if needs_reason:
        reason = _text(errors, "reason", reason, REASON_MAX, "Say why it is closed")
    _fail(errors)
    with transaction.atomic():
        item = LogItem.objects.select_for_update().get(pk=item.pk)
        if item.status == status:
            return item
        if item.is_closed and status not in (ItemStatus.DONE, ItemStatus.CLOSED):
            reason = _text(errors, "reason", reason, REASON_MAX, "Say why it is reopened")
            _fail(errors)
        audit.change(
            by=by,
            obj=item,
            action="log_item_status",
            snapshot=item_snapshot,
            changes={"status": status, "closed_reason": reason},
        )
    return item


def escalate(*, by: Any, item: LogItem, note: str) -> LogItem:
    """Escalate an item to its sponsor (the workstream's, else the collaborative's
    executive sponsors), who are told at once. Escalating again tells them again."""
    if not (rules.may_coordinate(by, item.collaborative) or item.owner_id == by.pk):
        raise CoordinationError(
            "Only the item's owner, the collaborative's coordinators and the people holding "
            "a role in it can escalate it"
        )
    errors: dict[str, str] = {}
    note = _text(errors, "note", note, REASON_MAX, "Say what you need the sponsor to do")
    _fail(errors)
    sponsors = rules.sponsors_of(item)
    if not sponsors:
        raise CoordinationError(
            "There is no sponsor to escalate to: give the workstream a sponsor, or the "
            "collaborative an executive sponsor"
        )
    with transaction.atomic():
        item = LogItem.objects.select_for_update().get(pk=item.pk)
        if item.is_closed:
            raise CoordinationError(f"{item.reference} is closed")
        audit.change(
            by=by,
            obj=item,
            action="log_item_escalated",
            snapshot=item_snapshot,
            changes={"escalated_at": timezone.now(), "escalated_by": by, "escalation_note": note},
        )
        notifications.notify(
            by=by,
            recipients=sponsors,
            text=(
                f"{item.reference} escalated to you in {item.collaborative.name} by "
                f"{by.get_username()}: {item.title}. {note}"
            ),
            link=reverse("coordination:item", args=[item.collaborative.slug, item.pk]),
            kind="coordination.escalated",
        )
    return item


# ------------------------------------------------------------------ the daily call


def call_snapshot(c: SystemCall) -> dict[str, Any]:
    return {
        "collaborative": c.collaborative.slug,
        "held_on": c.held_on.isoformat(),
        "note_taker": _name(c.note_taker),
        "attendees": sorted(o.code for o in c.attendees.all()),
        "notes": c.notes,
        "minutes_sent_at": c.minutes_sent_at.isoformat() if c.minutes_sent_at else None,
    }


def start_call(*, by: Any, collaborative: Collaborative, held_on: date) -> SystemCall:
    """Open the day's call, with `by` taking the notes; the day's call if it is open
    already (one a day)."""
    _require(by, collaborative, "run the daily call")
    with transaction.atomic():
        _lock(collaborative)
        call = SystemCall.objects.filter(collaborative=collaborative, held_on=held_on).first()
        if call is not None:
            return call
        call = SystemCall.objects.create(
            collaborative=collaborative, held_on=held_on, started_at=timezone.now(), note_taker=by
        )
        audit.record(by=by, action="call_started", obj=call, after=call_snapshot(call))
    return call


def record_attendance(
    *, by: Any, call: SystemCall, attendees: Iterable[Organisation], notes: str
) -> SystemCall:
    """Who attended (member organisations) and the call's notes."""
    _require(by, call.collaborative, "keep the call's minutes")
    attendees = list(attendees)
    member_ids = {m.pk for m in members_of(call.collaborative)}
    if any(o.pk not in member_ids for o in attendees):
        raise CoordinationError("Check the fields marked", {"attendees": "Choose members"})
    with transaction.atomic():
        call = SystemCall.objects.select_for_update().get(pk=call.pk)
        before = call_snapshot(call)
        call.notes = (notes or "").strip()
        call.save(update_fields=["notes"])
        call.attendees.set(attendees)
        after = call_snapshot(call)
        if after != before:
            audit.record(by=by, action="call_minuted", obj=call, before=before, after=after)
    return call


def send_minutes(*, by: Any, call: SystemCall) -> int:
    """Send the minutes to the people of every member; returns how many were told. Sending
    again (after a correction) tells them again, saying so."""
    _require(by, call.collaborative, "send the call's minutes")
    with transaction.atomic():
        call = SystemCall.objects.select_for_update().get(pk=call.pk)
        again = call.minutes_sent_at is not None
        audit.change(
            by=by,
            obj=call,
            action="minutes_sent",
            snapshot=call_snapshot,
            changes={"minutes_sent_at": timezone.now()},
        )
        people = rules.people_of_members(call.collaborative)
        items = list(call.items.all())
        actions = sum(1 for i in items if i.kind == ItemKind.ACTION)
        decisions = sum(1 for i in items if i.kind == ItemKind.DECISION)
        notifications.notify(
            by=by,
            recipients=people,
            text=(
                f"{'Corrected minutes' if again else 'Minutes'} of {call.collaborative.name}'s "
                f"call on {call.held_on:%a %-d %b}: {actions} action"
                f"{'' if actions == 1 else 's'}, {decisions} decision"
                f"{'' if decisions == 1 else 's'}."
            ),
            link=reverse("coordination:call", args=[call.collaborative.slug, call.held_on]),
            kind="coordination.minutes",
        )
    return len(people)


def nudge_due(*, today: date | None = None) -> int:
    """Remind each owner of an open action due within `NUDGE_DAYS` (or overdue) once a day;
    returns how many reminders went. Idempotent: `nudged_on` is set in the same transaction
    as the reminder, under a lock."""
    today = today or timezone.localdate()
    sent = 0
    due = LogItem.objects.filter(
        kind=ItemKind.ACTION,
        status__in=[ItemStatus.OPEN, ItemStatus.IN_PROGRESS],
        owner__isnull=False,
        due_on__lte=today + timedelta(days=NUDGE_DAYS),
    ).exclude(nudged_on=today)
    for pk in due.values_list("pk", flat=True):
        with transaction.atomic():
            # The item's row only: PostgreSQL refuses FOR UPDATE on the nullable side of the
            # outer join to its owner.
            item = (
                LogItem.objects.select_for_update(of=("self",))
                .select_related("collaborative", "owner")
                .get(pk=pk)
            )
            if item.nudged_on == today or item.is_closed:
                continue
            audit.change(
                by=NUDGER,
                obj=item,
                action="log_item_nudged",
                snapshot=item_snapshot,
                changes={"nudged_on": today},
            )
            if item.due_on < today:
                when = f"was due on {item.due_on:%a %-d %b}"
            elif item.due_on == today:
                when = "is due today"
            else:
                when = f"is due on {item.due_on:%a %-d %b}"
            notifications.notify(
                by=NUDGER,
                recipients=[item.owner],
                text=f"Your action {item.reference} in {item.collaborative.name} {when}: "
                f"{item.title}",
                link=reverse("coordination:item", args=[item.collaborative.slug, item.pk]),
                kind="coordination.nudge",
            )
            sent += 1
    return sent


# --- the dedicated team
#
# Hours of a named person's week given to a workstream (`Allocation`), and the hours each
# workstream asks for (`Ask`). The rows hold the figure now; the audit events are their
# history (`queries.team_history`). Rows are never deleted: taking everything away leaves 0.

#: One allocation's hours: the most a week can hold (the table's check says the same).
ALLOCATION_MAX = Decimal(80)
#: A person's hours in one week across all the collaborative's workstreams. The same ceiling
#: as one allocation, so that splitting a week between workstreams never lets more through
#: than a single workstream could take. 80 is more than two full-time NHS weeks (37.5 hours
#: under Agenda for Change): it refuses weeks no one can work (40 hours on each of three
#: workstreams) without second-guessing a surge week. Counted within this collaborative
#: only: its people may not see what another collaborative has given the same person.
WEEK_MAX = Decimal(80)
#: An ask's hours: the most its column holds.
ASK_MAX = Decimal("9999.9")
#: Hours are kept to a tenth (six minutes).
TENTH = Decimal("0.1")


def allocation_snapshot(a: Allocation) -> dict[str, Any]:
    return {
        "collaborative": a.workstream.collaborative.slug,
        "workstream_id": a.workstream_id,
        "workstream": a.workstream.name,
        "user": a.user.get_username(),
        "week": a.week.isoformat(),
        "hours": float(a.hours),
    }


def ask_snapshot(a: Ask) -> dict[str, Any]:
    return {
        "collaborative": a.workstream.collaborative.slug,
        "workstream_id": a.workstream_id,
        "workstream": a.workstream.name,
        "week": a.week.isoformat(),
        "hours": float(a.hours),
    }


def _week(errors: dict[str, str], field: str, week: Any) -> date | None:
    """A week is given by its Monday; any other day is refused, naming the Monday meant."""
    if isinstance(week, datetime) or not isinstance(week, date):
        errors[field] = "Give the week as the date of its Monday, like 2026-03-02"
        return None
    if week.weekday() != 0:
        monday = week - timedelta(days=week.weekday())
        errors[field] = (
            f"A week is given by its Monday: {week:%a %-d %b %Y} is a {week:%A}. "
            f"Its week starts on Mon {monday:%-d %b %Y}"
        )
        return None
    return week


def _hours(
    errors: dict[str, str], field: str, value: Any, most: Decimal, what: str
) -> Decimal | None:
    """Hours from 0 to `most`, to a tenth at most."""
    if value is None or value == "":
        errors[field] = f"Give the {what} in hours"
        return None
    try:
        hours = Decimal(str(value))
    except (InvalidOperation, ValueError):
        hours = Decimal("NaN")
    if not hours.is_finite():
        errors[field] = f"Give the {what} as a number of hours, like 7.5"
    elif hours < 0:
        errors[field] = f"Hours cannot be negative: give 0 to {most:f} ({hours:f} given)"
    elif hours > most:
        errors[field] = f"Give at most {most:f} hours ({hours:f} given)"
    elif hours != hours.quantize(TENTH):
        errors[field] = f"Give hours to a tenth at most, like 7.5 ({hours:f} given)"
    else:
        return hours.quantize(TENTH)
    return None


def _in_team(user: Any, collaborative: Collaborative) -> bool:
    return any(
        r.kind == RoleKind.TEAM and r.user_id == user.pk for r in rules.current_roles(collaborative)
    )


def _week_total(user: Any, collaborative: Collaborative, week: date, leaving: Any) -> Decimal:
    """The person's hours that week on the collaborative's workstreams, but for `leaving`."""
    others = Allocation.objects.filter(
        workstream__collaborative=collaborative, user=user, week=week
    ).exclude(workstream=leaving)
    return others.aggregate(total=Sum("hours"))["total"] or Decimal(0)


def set_ask(*, by: Any, workstream: Workstream, week: date, hours: Any) -> Ask:
    """How many of the dedicated team's hours `workstream` asks for in the week starting on
    Monday `week` (0 or more). Asking the same again records nothing; an ask is never
    deleted (0 withdraws it). A closed workstream may lower its asks but not raise them.
    Returns the ask as it now stands (unsaved, with no id, when there was none and 0 was
    asked)."""
    collaborative = workstream.collaborative
    _require(by, collaborative, "set what a workstream asks of the dedicated team")
    errors: dict[str, str] = {}
    week = _week(errors, "week", week)  # type: ignore[assignment]
    wanted = _hours(errors, "hours", hours, ASK_MAX, "hours asked")
    _fail(errors)
    assert wanted is not None
    with transaction.atomic():
        _lock(collaborative)
        ask = Ask.objects.select_for_update().filter(workstream=workstream, week=week).first()
        now = ask.hours if ask is not None else Decimal(0)
        if wanted == now:
            return ask or Ask(workstream=workstream, week=week, hours=wanted)
        if wanted > now and workstream.status == WorkstreamStatus.CLOSED:
            raise CoordinationError(
                "Check the fields marked", {"workstream": f"{workstream.name} is closed"}
            )
        if ask is None:
            ask = Ask.objects.create(workstream=workstream, week=week, hours=wanted)
            audit.record(by=by, action="team_asked", obj=ask, after=ask_snapshot(ask))
        else:
            audit.change(
                by=by,
                obj=ask,
                action="team_asked",
                snapshot=ask_snapshot,
                changes={"hours": wanted},
            )
    return ask


def allocate(*, by: Any, workstream: Workstream, user: Any, week: date, hours: Any) -> Allocation:
    """Give `user` `hours` of the week starting on Monday `week` on `workstream` (replacing
    what they had there). 0 takes it all away and keeps the row at 0.

    Giving more needs the person to hold a current dedicated-team role in the collaborative
    and the workstream not to be closed, and may not take their week across the
    collaborative's workstreams past `WEEK_MAX`; giving less is always allowed, so that the
    weeks of someone who has left the team can be cleared. The same hours again records
    nothing. Returns the allocation as it now stands (unsaved, with no id, when there was
    none and 0 was given)."""
    collaborative = workstream.collaborative
    _require(by, collaborative, "allocate the dedicated team's time")
    errors: dict[str, str] = {}
    week = _week(errors, "week", week)  # type: ignore[assignment]
    wanted = _hours(errors, "hours", hours, ALLOCATION_MAX, "hours allocated")
    if user is None:
        errors["user"] = "Choose a person of the dedicated team"
    _fail(errors)
    assert wanted is not None
    with transaction.atomic():
        _lock(collaborative)
        row = (
            Allocation.objects.select_for_update()
            .filter(workstream=workstream, user=user, week=week)
            .first()
        )
        now = row.hours if row is not None else Decimal(0)
        if wanted == now:
            return row or Allocation(workstream=workstream, user=user, week=week, hours=wanted)
        if wanted > now:
            _may_take_more(errors, "user", "workstream", workstream, user)
            _fail(errors)
            _within_week(errors, "hours", collaborative, user, week, workstream, wanted)
            _fail(errors)
        if row is None:
            row = Allocation.objects.create(
                workstream=workstream, user=user, week=week, hours=wanted
            )
            audit.record(by=by, action="team_allocated", obj=row, after=allocation_snapshot(row))
        else:
            audit.change(
                by=by,
                obj=row,
                action="team_allocated",
                snapshot=allocation_snapshot,
                changes={"hours": wanted},
            )
    return row


def _may_take_more(
    errors: dict[str, str],
    person_field: str,
    workstream_field: str,
    workstream: Workstream,
    user: Any,
) -> None:
    collaborative = workstream.collaborative
    if not _in_team(user, collaborative):
        errors[person_field] = (
            f"{user.get_username()} is not in {collaborative.name}'s dedicated team: give them "
            "a dedicated-team role first"
        )
    if workstream.status == WorkstreamStatus.CLOSED:
        errors[workstream_field] = f"{workstream.name} is closed: it takes no more hours"


def _within_week(
    errors: dict[str, str],
    field: str,
    collaborative: Collaborative,
    user: Any,
    week: date,
    workstream: Workstream,
    wanted: Decimal,
) -> None:
    others = _week_total(user, collaborative, week, workstream)
    if others + wanted > WEEK_MAX:
        errors[field] = (
            f"That would give {user.get_username()} {queries.hours(others + wanted)} hours in the "
            f"week of Mon {week:%-d %b %Y} across the workstreams, more than "
            f"{queries.hours(WEEK_MAX)}: they have {queries.hours(others)} hours elsewhere that "
            f"week, so at most {queries.hours(WEEK_MAX - others)} can go here"
        )


def reallocate(
    *,
    by: Any,
    user: Any,
    week: date,
    hours: Any,
    from_workstream: Workstream,
    to_workstream: Workstream,
) -> tuple[Allocation, Allocation]:
    """Move `hours` of `user`'s week from one workstream to another in one step: both rows
    change in one transaction or neither does. Returns (from, to) as they now stand.

    The collaborative is locked first (`_lock`), then both rows (`select_for_update`)
    and read afresh, so two moves at once queue and never take the same hours twice; moving
    more than is allocated is refused, saying how many there are. The person's week total
    does not change. Recorded as two `team_reallocated` events in the same transaction, one
    on each row with its own before and after, and each saying what moved from where to
    where: each row's history is then read from the events of that row alone, and the two
    commit or roll back together."""
    collaborative = from_workstream.collaborative
    _require(by, collaborative, "move the dedicated team's time")
    errors: dict[str, str] = {}
    week = _week(errors, "week", week)  # type: ignore[assignment]
    moving = _hours(errors, "hours", hours, ALLOCATION_MAX, "hours to move")
    if moving is not None and moving == 0:
        errors["hours"] = "Give the hours to move: more than 0"
    if user is None:
        errors["user"] = "Choose a person of the dedicated team"
    if to_workstream.collaborative_id != collaborative.pk:
        errors["to_workstream"] = "Choose a workstream of the same collaborative"
    elif to_workstream.pk == from_workstream.pk:
        errors["to_workstream"] = "Choose a different workstream to move the hours to"
    _fail(errors)
    assert moving is not None
    with transaction.atomic():
        _lock(collaborative)
        rows = {
            r.workstream_id: r
            for r in Allocation.objects.select_for_update()
            .filter(workstream__in=[from_workstream, to_workstream], user=user, week=week)
            .order_by("pk")
        }
        source = rows.get(from_workstream.pk)
        have = source.hours if source is not None else Decimal(0)
        if moving > have:
            raise CoordinationError(
                "Check the fields marked",
                {
                    "hours": (
                        f"{user.get_username()} has {queries.hours(have)} hours on "
                        f"{from_workstream.name} in the week of Mon {week:%-d %b %Y}: you cannot "
                        f"move {queries.hours(moving)}"
                    )
                },
            )
        _may_take_more(errors, "user", "to_workstream", to_workstream, user)
        _fail(errors)
        assert source is not None
        target = rows.get(to_workstream.pk)
        # A row the move creates had nothing before it (as `allocate` records a new row).
        befores = [allocation_snapshot(source), allocation_snapshot(target) if target else None]
        if target is None:
            target = Allocation(workstream=to_workstream, user=user, week=week, hours=Decimal(0))
        source.hours = have - moving
        target.hours = target.hours + moving
        source.save(update_fields=["hours"])
        target.save()
        moved = {
            "hours": float(moving),
            "from": from_workstream.name,
            "from_id": from_workstream.pk,
            "to": to_workstream.name,
            "to_id": to_workstream.pk,
        }
        audit.record_many(
            by=by,
            events=[
                audit.Event(
                    "team_reallocated",
                    obj=row,
                    before=before,
                    after={**allocation_snapshot(row), "moved": moved},
                )
                for row, before in zip((source, target), befores, strict=True)
            ],
        )
    return source, target
