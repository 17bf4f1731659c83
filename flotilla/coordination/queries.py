"""Reading a collaborative's shared work: objectives and their progress, workstreams, the
RAID log with what needs attention, and decisions with the picture as it stood.

Progress is computed from the picture as the viewer may see it (`picture.queries`, on the
sharing policy): a figure the viewer is not shown is never guessed at. When some members'
figures are withheld, delayed, coarse or missing, progress says how many it could count and
judges only what those figures settle.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import CharField, Q, QuerySet
from django.db.models.functions import Cast
from django.http import Http404
from django.utils import timezone

from flotilla import catalogue
from flotilla.audit.models import AuditEvent
from flotilla.collaboratives.models import Collaborative
from flotilla.coordination.models import (
    Allocation,
    Ask,
    Comparison,
    ItemKind,
    ItemStatus,
    LogItem,
    Objective,
    RoleKind,
    Scope,
    SystemCall,
    Workstream,
    WorkstreamStatus,
)
from flotilla.coordination.rules import current_roles, measure_label, objective_measures
from flotilla.formatting import number
from flotilla.picture.queries import Figure, Frozen, Picture, Row, collaborative_picture
from flotilla.sharing import policy
from flotilla.sharing.policy.rules import BANDED, STEP

#: How far back an objective's trend looks, in days (one point a day, and now).
TREND_DAYS = 7
#: Open items: not done and not closed.
OPEN = Q(status__in=[ItemStatus.OPEN, ItemStatus.IN_PROGRESS])


# ------------------------------------------------------------------ objectives


def objectives_of(collaborative: Collaborative, closed: bool = False) -> list[Objective]:
    found = collaborative.objectives.select_related("owner").order_by("created_at", "pk")
    return list(found.filter(closed_at__isnull=not closed))


def get_objective(collaborative: Collaborative, pk: int) -> Objective:
    found = collaborative.objectives.select_related("owner", "collaborative").filter(pk=pk).first()
    if found is None:
        raise Http404("Not found")
    return found


def _measures_for(objective: Objective) -> list[str]:
    """The picture's measures an objective's figure is read from."""
    if objective_measures().get(objective.measure) == "ratio":
        bed = catalogue.current().indicator(objective.measure).measures
        return list(bed)
    return [objective.measure]


def shown(objective: Objective, value: float | None) -> str:
    """A figure in the objective's unit: an occupancy as a percentage."""
    if value is None:
        return "not known"
    if objective_measures().get(objective.measure) == "ratio":
        return f"{value * 100:.1f}%"
    return number(value)


def describe(objective: Objective) -> str:
    """The target in words: "G&A occupancy at most 92.0% across the system"."""
    label = measure_label(objective.measure)
    way = Comparison(objective.comparison).label
    return f"{label} {way} {shown(objective, objective.target)} {Scope(objective.scope).label}"


def _meets(objective: Objective, low: float, high: float) -> bool | None:
    """Whether a figure known to lie between `low` and `high` meets the target: None when
    the range straddles it."""
    if objective.comparison == Comparison.AT_MOST:
        if high <= objective.target:
            return True
        return False if low > objective.target else None
    if low >= objective.target:
        return True
    return False if high < objective.target else None


@dataclass
class MemberProgress:
    """One member's figure for an every-member objective, as the viewer sees it."""

    name: str
    code: str
    #: The figure shown (a band's lower edge when banded), None when none is shown.
    value: float | None
    text: str
    met: bool | None
    #: Why it cannot be judged, when it cannot.
    why: str = ""


@dataclass(frozen=True)
class TrendPoint:
    at: datetime
    #: The figure, or the part of it over the members counted (see `counted`).
    value: float | None
    counted: int
    expected: int

    @property
    def whole(self) -> bool:
        return self.counted == self.expected


@dataclass
class Progress:
    objective: Objective
    #: The figure: the system's (total or occupancy), or, for every member, how many meet.
    value: float | None
    text: str
    #: True: on track; False: off track; None: the figures the viewer may see do not settle it.
    met: bool | None
    #: Members counted / expected to report this figure.
    counted: int
    expected: int
    members: list[MemberProgress] = field(default_factory=list)
    #: For a system figure that cannot be worked out: the same figure over the members
    #: counted only (a part of a total; an occupancy of those members' beds).
    part: float | None = None
    #: One a day and now, oldest first, each as the viewer may see it then.
    trend: list[TrendPoint] = field(default_factory=list)

    @property
    def shown_value(self) -> float | None:
        """The figure, or else the part counted."""
        return self.value if self.value is not None else self.part

    @property
    def status(self) -> str:
        return {True: "On track", False: "Off track", None: "Cannot tell"}[self.met]

    @property
    def direction(self) -> str:
        """Better, worse or level since the oldest point of the trend that has a figure."""
        # Figures over different sets of members are not compared: only whole ones, or else
        # parts over as many members as now.
        last = self.trend[-1] if self.trend else None
        known = [
            t.value
            for t in self.trend
            if t.value is not None
            and last
            and (t.counted, t.expected) == (last.counted, last.expected)
        ]
        if len(known) < 2 or known[0] == known[-1]:
            return "no change" if len(known) >= 2 else "not enough figures for a trend"
        lower_is_better = self.objective.comparison == Comparison.AT_MOST
        if self.objective.scope == Scope.EVERY_MEMBER:
            lower_is_better = False  # the trend counts members meeting it
        better = (known[-1] < known[0]) == lower_is_better
        return "improving" if better else "worsening"


def _own_figure(row: Row | None, code: str, ratio: bool) -> Figure | None:
    if row is None:
        return None
    return (row.derived if ratio else row.figures).get(code)


def _member(objective: Objective, picture: Picture, org: Any) -> MemberProgress:
    ratio = objective_measures().get(objective.measure) == "ratio"
    row = next(
        (r for r in picture.all_rows if r.organisation.pk == org.pk and r.site is None), None
    )
    fig = _own_figure(row, objective.measure, ratio)
    base = {"name": org.name, "code": org.code}
    wanted = set(_measures_for(objective))
    if fig is None:
        if row is not None and wanted & row.withheld:
            why = "not shared with you"
        elif row is not None and wanted & set(row.delayed):
            why = "shared with you later than this"
        else:
            why = "not reported"
        return MemberProgress(**base, value=None, text="—", met=None, why=why)
    if fig.is_missing:
        return MemberProgress(**base, value=None, text="—", met=None, why="reported as missing")
    if fig.value is None:
        return MemberProgress(
            **base, value=None, text=fig.rag, met=None, why="shared with you as its status only"
        )
    if fig.detail == BANDED:
        if fig.band is not None:
            low, high = fig.band
            text = f"{low * 100:.0f}–{high * 100:.0f}%"
        else:
            low, high = fig.value - STEP / 2, fig.value + STEP / 2
            text = f"about {number(fig.value)}"
        met = _meets(objective, low, high)
        why = "" if met is not None else "shared with you only roughly"
        return MemberProgress(**base, value=fig.value, text=text, met=met, why=why)
    met = _meets(objective, fig.value, fig.value)
    return MemberProgress(**base, value=fig.value, text=shown(objective, fig.value), met=met)


def _expected(objective: Objective, picture: Picture) -> list[Any]:
    """The members expected to have this figure: those reporting any of its measures or
    withholding them from the viewer (as the picture's totals count them)."""
    wanted = set(_measures_for(objective))
    out = []
    for org in picture.expected:
        rows = [r for r in picture.all_rows if r.organisation.pk == org.pk]
        if any(wanted & (set(r.figures) | set(r.delayed) | r.withheld) for r in rows):
            out.append(org)
    return out


def _part_occupancy(picture: Picture, occupied: str, open_: str) -> tuple[float, int] | None:
    """Occupancy over the members whose own exact counts of both the viewer sees, and how
    many they are; None when there are none. Said as what it is, never as the system's."""
    occ = opn = 0.0
    members = 0
    for row in picture.all_rows:
        if row.site is not None:
            continue
        a, b = row.figures.get(occupied), row.figures.get(open_)
        if a is None or b is None or not (a.exact and b.exact):
            continue
        if a.is_missing or b.is_missing or not b.value:
            continue
        occ, opn, members = occ + (a.value or 0), opn + b.value, members + 1
    return (occ / opn, members) if members else None


def _judge(objective: Objective, picture: Picture) -> Progress:
    expected = _expected(objective, picture)
    if objective.scope == Scope.EVERY_MEMBER:
        members = [_member(objective, picture, org) for org in expected]
        meeting = sum(1 for m in members if m.met is True)
        failing = sum(1 for m in members if m.met is False)
        counted = meeting + failing
        met = False if failing else (True if members and counted == len(members) else None)
        text = f"{meeting} of {len(members)} members meet it"
        if failing:
            text += f"; {failing} {'does' if failing == 1 else 'do'} not"
        if counted < len(members):
            text += f"; {len(members) - counted} cannot be judged from what you may see"
        return Progress(objective, float(meeting), text, met, counted, len(members), members)
    if objective_measures().get(objective.measure) == "ratio":
        occupied, open_ = _measures_for(objective)
        occ, opn = picture.totals.get(occupied), picture.totals.get(open_)
        value = picture.total_occupancy(catalogue.current().indicator(objective.measure).bed_type)
        counted = min(occ.included if occ else 0, opn.included if opn else 0)
        whole = max(occ.expected if occ else 0, opn.expected if opn else 0)
        if value is None:
            part = _part_occupancy(picture, occupied, open_)
            if part is None:
                text = "Cannot be worked out: no member's exact bed figures are shown to you"
                return Progress(objective, None, text, None, 0, whole)
            share, members = part
            text = (
                f"{shown(objective, share)} across the {members} of {whole} members whose "
                f"exact bed figures you see; the others' are not shown to you exactly or "
                f"missing, so the system's cannot be worked out"
            )
            return Progress(objective, None, text, None, members, whole, part=share)
        met = _meets(objective, value, value)
        return Progress(objective, value, f"{shown(objective, value)} now", met, counted, whole)
    total = picture.totals.get(objective.measure)
    if total is None or total.value is None:
        whole = total.expected if total else 0
        text = f"No exact figure is shown to you for any of {whole} members"
        return Progress(objective, None, text, None, 0, whole)
    if total.complete:
        met = _meets(objective, total.value, total.value)
        text = f"{shown(objective, total.value)} now"
        return Progress(objective, total.value, text, met, total.included, total.expected)
    # Counts are never negative: a part already over an upper target settles it.
    low, high = total.value, float("inf")
    met = _meets(objective, low, high)
    text = (
        f"At least {shown(objective, total.value)}: the exact figures of {total.included} of "
        f"{total.expected} members; the others are not shown to you or missing"
    )
    return Progress(objective, None, text, met, total.included, total.expected, part=total.value)


def _point(at: datetime, p: Progress) -> TrendPoint:
    return TrendPoint(at, p.shown_value, p.counted, p.expected)


def progress(
    viewer: policy.Viewer,
    objectives: Iterable[Objective],
    *,
    trend_days: int = 0,
    now: datetime | None = None,
) -> dict[int, Progress]:
    """Objective id → its progress now as the viewer may see it, and with `trend_days`, its
    figure at this time on each of the days before (one picture per moment, shared by
    every objective of the collaborative)."""
    objectives = list(objectives)
    if not objectives:
        return {}
    collab = objectives[0].collaborative
    measures = sorted({m for o in objectives for m in _measures_for(o)})
    moment = now or timezone.now()
    live = collaborative_picture(viewer, collab, at=now, measures=measures)
    out = {o.pk: _judge(o, live) for o in objectives}
    if trend_days:
        for back in range(trend_days, 0, -1):
            at = moment - timedelta(days=back)
            then = collaborative_picture(viewer, collab, at=at, measures=measures)
            for o in objectives:
                out[o.pk].trend.append(_point(at, _judge(o, then)))
        for o in objectives:
            out[o.pk].trend.append(_point(moment, out[o.pk]))
    return out


# ------------------------------------------------------------------ workstreams


def workstreams_of(collaborative: Collaborative) -> list[Workstream]:
    return list(
        collaborative.workstreams.select_related("sponsor")
        .prefetch_related("leads", "members", "objectives")
        .order_by("status", "name")
    )


def get_workstream(collaborative: Collaborative, pk: int) -> Workstream:
    found = collaborative.workstreams.select_related("sponsor").filter(pk=pk).first()
    if found is None:
        raise Http404("Not found")
    return found


# ------------------------------------------------------------------ the RAID log


@dataclass
class Flags:
    overdue: bool
    unowned: bool
    escalated: bool
    due_soon: bool


def flags(item: LogItem, today: date | None = None) -> Flags:
    """What needs attention: overdue (an action or a decision past its date, a risk past
    its review), unowned (an open risk, action or issue with no owner), escalated."""
    today = today or timezone.localdate()
    is_open = not item.is_closed
    pending_decision = item.kind == ItemKind.DECISION and item.decided_at is None
    dated = item.kind in (ItemKind.ACTION, ItemKind.RISK) or pending_decision
    overdue = is_open and dated and item.due_on is not None and item.due_on < today
    due_soon = (
        is_open
        and dated
        and item.due_on is not None
        and today <= item.due_on <= today + timedelta(days=1)
    )
    unowned = is_open and item.kind != ItemKind.DECISION and item.owner_id is None
    return Flags(overdue, unowned, is_open and item.escalated_at is not None, due_soon)


def log_of(
    collaborative: Collaborative,
    *,
    workstream: Workstream | None = None,
    kinds: Iterable[str] | None = None,
    open_only: bool = False,
) -> QuerySet[LogItem]:
    items = collaborative.log_items.select_related("owner", "workstream", "call")
    if workstream is not None:
        items = items.filter(workstream=workstream)
    if kinds is not None:
        items = items.filter(kind__in=list(kinds))
    if open_only:
        items = items.filter(OPEN)
    return items.order_by("kind", "-number")


def get_item(collaborative: Collaborative, pk: int) -> LogItem:
    found = (
        collaborative.log_items.select_related("owner", "workstream", "snapshot", "call")
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise Http404("Not found")
    return found


def overdue_actions(collaborative: Collaborative, today: date | None = None) -> list[LogItem]:
    today = today or timezone.localdate()
    return list(
        log_of(collaborative, kinds=[ItemKind.ACTION], open_only=True)
        .filter(due_on__lt=today)
        .order_by("due_on", "number")
    )


def decisions_due(collaborative: Collaborative, today: date | None = None) -> list[LogItem]:
    """Decisions waiting to be taken, due by tomorrow (or overdue)."""
    today = today or timezone.localdate()
    return list(
        log_of(collaborative, kinds=[ItemKind.DECISION], open_only=True)
        .filter(decided_at__isnull=True, due_on__lte=today + timedelta(days=1))
        .order_by("due_on", "number")
    )


def decision_picture(viewer: policy.Viewer, item: LogItem) -> Picture | None:
    """The picture as it stood when the decision was taken, as this viewer may see it now
    (their grants in force decide: never more than they may see)."""
    snap = item.snapshot
    if snap is None:
        return None
    frozen = Frozen(at=snap.taken_at, member_ids=list(snap.member_ids), values=list(snap.values))
    return collaborative_picture(viewer, item.collaborative, frozen=frozen)


# ------------------------------------------------------------------ the daily call


def call_on(collaborative: Collaborative, held_on: date) -> SystemCall | None:
    return (
        collaborative.calls.select_related("note_taker")
        .prefetch_related("attendees")
        .filter(held_on=held_on)
        .first()
    )


def calls_of(collaborative: Collaborative) -> list[SystemCall]:
    return list(collaborative.calls.select_related("note_taker").order_by("-held_on")[:60])


# --- the dedicated team

#: How many weeks the team page shows from the chosen Monday.
TEAM_WEEKS = 4
#: The audit actions of the team's asks and allocations.
TEAM_ACTIONS = ("team_asked", "team_allocated", "team_reallocated")


def hours(value: Decimal | float | None) -> str:
    """Hours as a person reads them: 8, 7.5."""
    if value is None:
        return number(None)
    return number(float(value), 0 if float(value).is_integer() else 1)


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def weeks_from(monday: date, count: int = TEAM_WEEKS) -> list[date]:
    return [monday + timedelta(weeks=n) for n in range(count)]


@dataclass
class WorkstreamWeek:
    """One workstream's week: the hours it asked for (None: no ask) and those allocated."""

    week: date
    asked: Decimal | None
    allocated: Decimal
    #: (person, hours) allocated, by username; people at 0 are left out.
    people: list[tuple[Any, Decimal]] = field(default_factory=list)

    @property
    def gap(self) -> Decimal:
        """Allocated less asked (no ask counts as 0): below 0 the workstream is short of what
        it asked for, above 0 it has more."""
        return self.allocated - (self.asked or Decimal(0))

    @property
    def state(self) -> str:
        """Under, over or met what was asked; "" when nothing was asked or allocated."""
        if self.asked is None and not self.allocated:
            return ""
        if self.gap < 0:
            return "under"
        return "over" if self.gap > 0 else "met"


@dataclass
class WorkstreamRow:
    workstream: Workstream
    weeks: list[WorkstreamWeek]


@dataclass
class PersonWeek:
    week: date
    total: Decimal
    #: (workstream, hours), by workstream name; workstreams at 0 are left out.
    workstreams: list[tuple[Workstream, Decimal]] = field(default_factory=list)


@dataclass
class PersonRow:
    user: Any
    #: Holds a dedicated-team role now (someone who has left keeps their rows, shown).
    in_team: bool
    weeks: list[PersonWeek]


@dataclass
class TeamView:
    weeks: list[date]
    workstreams: list[WorkstreamRow]
    people: list[PersonRow]
    #: Per week: (hours asked, hours allocated) across the workstreams.
    totals: list[tuple[Decimal, Decimal]]


def team_members(collaborative: Collaborative) -> list[Any]:
    """The people holding a dedicated-team role now, by username."""
    held = [r.user for r in current_roles(collaborative) if r.kind == RoleKind.TEAM]
    return sorted(held, key=lambda u: u.get_username())


def team_view(collaborative: Collaborative, weeks: list[date]) -> TeamView:
    """Hours asked against hours allocated, per workstream and week, with the gap; and each
    person's hours per week across the workstreams. Shows every workstream that is not
    closed, and a closed one still holding hours in these weeks; every member of the team,
    and anyone else with hours in these weeks (someone who has left it)."""
    asks = {
        (a.workstream_id, a.week): a.hours
        for a in Ask.objects.filter(workstream__collaborative=collaborative, week__in=weeks)
    }
    allocations = list(
        Allocation.objects.filter(
            workstream__collaborative=collaborative, week__in=weeks, hours__gt=0
        ).select_related("user", "workstream")
    )
    busy = {w for w, _ in asks} | {a.workstream_id for a in allocations}
    workstreams = [
        w
        for w in collaborative.workstreams.order_by("name")
        if w.status != WorkstreamStatus.CLOSED or w.pk in busy
    ]
    members = team_members(collaborative)
    team_ids = {u.pk for u in members}
    people = {u.pk: u for u in members} | {a.user_id: a.user for a in allocations}
    ordered = sorted(people.values(), key=lambda u: u.get_username())

    rows = []
    for w in workstreams:
        cells = []
        for week in weeks:
            here = sorted(
                (a for a in allocations if a.workstream_id == w.pk and a.week == week),
                key=lambda a: a.user.get_username(),
            )
            cells.append(
                WorkstreamWeek(
                    week=week,
                    asked=asks.get((w.pk, week)),
                    allocated=sum((a.hours for a in here), Decimal(0)),
                    people=[(a.user, a.hours) for a in here],
                )
            )
        rows.append(WorkstreamRow(w, cells))

    person_rows = []
    for u in ordered:
        cells = []
        for week in weeks:
            mine = sorted(
                (a for a in allocations if a.user_id == u.pk and a.week == week),
                key=lambda a: a.workstream.name,
            )
            cells.append(
                PersonWeek(
                    week=week,
                    total=sum((a.hours for a in mine), Decimal(0)),
                    workstreams=[(a.workstream, a.hours) for a in mine],
                )
            )
        person_rows.append(PersonRow(u, u.pk in team_ids, cells))

    totals = [
        (
            sum((r.weeks[n].asked or Decimal(0) for r in rows), Decimal(0)),
            sum((r.weeks[n].allocated for r in rows), Decimal(0)),
        )
        for n in range(len(weeks))
    ]
    return TeamView(weeks, rows, person_rows, totals)


@dataclass
class TeamChange:
    """One change of an ask or an allocation, as the audit record has it."""

    at: datetime
    #: Who made it (the actor's name when it was made).
    who: str
    action: str
    workstream: str
    #: The person whose hours changed; None for an ask.
    person: str | None
    week: date
    #: Hours before (0 for a row the change created) and after.
    before: float
    after: float
    #: For a move: {"hours", "from", "to", ...}.
    moved: dict[str, Any] | None = None

    @property
    def what(self) -> str:
        """In words: "north_viewer on Discharge: 10 → 6 hours (4 moved to Flow)"."""
        change = f"{hours(self.before)} → {hours(self.after)} hours"
        if self.person is None:
            return f"{self.workstream} asked for {change}"
        text = f"{self.person} on {self.workstream}: {change}"
        if self.moved:
            moved = hours(self.moved["hours"])
            if self.moved.get("from") == self.workstream:
                text += f" ({moved} moved to {self.moved['to']})"
            else:
                text += f" ({moved} moved from {self.moved['from']})"
        return text


def _as_keys(rows: QuerySet[Any]) -> QuerySet[Any]:
    """Row ids as the audit record's `object_id` holds them (text), for a subquery."""
    return rows.annotate(key=Cast("pk", output_field=CharField())).values("key")


def team_history(
    collaborative: Collaborative,
    *,
    workstream: Workstream | None = None,
    user: Any = None,
    limit: int = 50,
) -> list[TeamChange]:
    """Who changed which hours when, newest first, read from the audit record: the asks and
    allocations of the collaborative, of one workstream, or one person's allocations. Each
    event describes its row as it was then (names included), so the history does not move
    when a workstream is renamed."""
    allocations = Allocation.objects.filter(workstream__collaborative=collaborative)
    asks = Ask.objects.filter(workstream__collaborative=collaborative)
    if workstream is not None:
        allocations = allocations.filter(workstream=workstream)
        asks = asks.filter(workstream=workstream)
    if user is not None:
        allocations, asks = allocations.filter(user=user), asks.none()
    which = Q(object_type=Allocation._meta.label_lower, object_id__in=_as_keys(allocations))
    if user is None:
        which |= Q(object_type=Ask._meta.label_lower, object_id__in=_as_keys(asks))
    events = AuditEvent.objects.filter(which, action__in=TEAM_ACTIONS).order_by("-id")[:limit]
    out = []
    for e in events:
        after = e.after or {}
        before = e.before or {}
        out.append(
            TeamChange(
                at=e.at,
                who=e.actor_label,
                action=e.action,
                workstream=after.get("workstream", ""),
                person=after.get("user"),
                week=date.fromisoformat(after["week"]),
                before=float(before.get("hours", 0)),
                after=float(after.get("hours", 0)),
                moved=after.get("moved"),
            )
        )
    return out


def team_choices(collaborative: Collaborative) -> tuple[list[Workstream], list[Any]]:
    """What the team page's forms offer: the workstreams not closed, and closed ones still
    holding hours; the team's members, and anyone else still holding hours (to clear)."""
    held = Allocation.objects.filter(workstream__collaborative=collaborative, hours__gt=0)
    busy = set(held.values_list("workstream_id", flat=True))
    workstreams = [
        w
        for w in collaborative.workstreams.order_by("name")
        if w.status != WorkstreamStatus.CLOSED or w.pk in busy
    ]
    people = {u.pk: u for u in team_members(collaborative)}
    people |= {a.user_id: a.user for a in held.exclude(user_id__in=people).select_related("user")}
    return workstreams, sorted(people.values(), key=lambda u: u.get_username())
