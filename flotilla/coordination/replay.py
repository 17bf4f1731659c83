"""After-action replay: step through a past period of a collaborative and see, at each step,
the picture, the escalation levels, the aid requests and the decisions as they were then.

Everything comes through the queries that decide visibility, as at each step's moment: the
picture through the sharing policy (`picture.queries.collaborative_picture`), members'
computed levels through `escalation.queries.collaborative_levels`, aid requests through
`exchange.queries.requests_seen_by`. The viewer's grants in force now decide, as for the
dashboard as at a past moment: a replay never shows more than the dashboard would.

A request's state at a moment is worked out from its timestamps (raised, ended) and its
commitments' (made, started, fulfilled, ended), so a request closed since is shown open at
a moment before it closed. Its commitments' quantities and times are what everyone who sees
the request is shown of it (the board's committed totals, the ledger's times); the offers'
terms are not read here.

This module only reads: nothing here writes, and there is nothing to add to `actions`.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from flotilla import catalogue
from flotilla.collaboratives.models import Collaborative
from flotilla.coordination import queries
from flotilla.coordination.models import ItemKind, LogItem
from flotilla.escalation import queries as escalation
from flotilla.exchange import queries as exchange
from flotilla.exchange.models import AidRequest, Commitment
from flotilla.formatting import number, when
from flotilla.picture.queries import Figure, Picture, collaborative_picture, table_view
from flotilla.sharing import policy
from flotilla.sharing.policy.rules import BANDED

#: The steps a replay can take, shortest first: key → (length, words).
STEPS: dict[str, tuple[timedelta, str]] = {
    "1h": (timedelta(hours=1), "every hour"),
    "2h": (timedelta(hours=2), "every 2 hours"),
    "4h": (timedelta(hours=4), "every 4 hours"),
    "6h": (timedelta(hours=6), "every 6 hours"),
    "12h": (timedelta(hours=12), "every 12 hours"),
    "1d": (timedelta(days=1), "every day"),
}
#: The most steps a period may have (a day every hour is 24; 2½ days every hour is 60):
#: each step is a picture read through the policy, and a list longer than this is not read.
MAX_STEPS = 60
#: The longest period: the most steps at the longest step.
LONGEST = MAX_STEPS * max(length for length, _ in STEPS.values())


class ReplayError(ValueError):
    """A period that cannot be replayed: field (from, to, step, or "" for the whole) → the
    sentence to show."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def _steps_in(start: datetime, end: datetime, step: timedelta) -> int:
    """How many steps from start to end (the last may be shorter, to end at the end)."""
    whole, part = divmod(end - start, step)
    return whole + (1 if part else 0)


def auto_step(start: datetime, end: datetime) -> str:
    """The shortest step that covers the period in at most `MAX_STEPS` steps (every hour for
    a day); the longest if none does."""
    for key, (length, _) in STEPS.items():
        if _steps_in(start, end, length) <= MAX_STEPS:
            return key
    return list(STEPS)[-1]


@dataclass(frozen=True)
class Period:
    """A past period and the step it is replayed at. Made by `period`, so valid."""

    start: datetime
    end: datetime
    step: str
    #: Said above the replay: the end asked for was in the future and is now instead.
    notice: str = ""

    @property
    def length(self) -> timedelta:
        return STEPS[self.step][0]

    @property
    def step_words(self) -> str:
        return STEPS[self.step][1]

    def moments(self) -> list[datetime]:
        """The step moments: the start, every step after it, and the end."""
        out, at = [], self.start
        while at < self.end:
            out.append(at)
            at += self.length
        out.append(self.end)
        return out


def period(
    start: datetime, end: datetime, step: str = "", *, now: datetime | None = None
) -> Period:
    """The period from `start` to `end` at `step` (a key of `STEPS`; empty: `auto_step`), or
    ReplayError saying what is wrong. An end in the future is taken as now, with a notice;
    a start in the future is refused (there is nothing yet to replay)."""
    now = now or timezone.now()
    if step and step not in STEPS:
        words = ", ".join(w for _, w in STEPS.values())
        raise ReplayError({"step": f"“{step}” is not a step a replay can take: choose {words}."})
    if start >= now:
        raise ReplayError(
            {
                "from": f"The start, {when(start)}, is not in the past: a replay looks back "
                "at a period that has happened."
            }
        )
    if end <= start:
        raise ReplayError({"to": f"The end, {when(end)}, must be after the start, {when(start)}."})
    notice = ""
    if end > now:
        asked = end
        # To the minute, as the form's fields hold it: links to each step carry it.
        end = now.replace(second=0, microsecond=0)
        notice = (
            f"You asked for a period to {when(asked)}, which is in the future; the replay "
            f"stops at now, {when(end)}."
        )
        if end <= start:
            raise ReplayError({"from": "The start must be at least a minute in the past."})
    if end - start > LONGEST:
        raise ReplayError(
            {
                "to": f"From {when(start)} to {when(end)} is longer than a replay covers: at "
                f"most {LONGEST.days} days ({MAX_STEPS} steps of a day). Choose a shorter period."
            }
        )
    key = step or auto_step(start, end)
    count = _steps_in(start, end, STEPS[key][0])
    if count > MAX_STEPS:
        fits = STEPS[auto_step(start, end)][1]
        raise ReplayError(
            {
                "step": f"From {when(start)} to {when(end)} {STEPS[key][1]} is {count} steps; "
                f"a replay has at most {MAX_STEPS}. Choose a longer step ({fits} or longer) "
                "or a shorter period."
            }
        )
    return Period(start, end, key, notice)


# ------------------------------------------------------------------ aid requests


#: How far help had got at a moment, in words.
STAGES = {
    "waiting": "Waiting for help",
    "committed": "Help committed",
    "under_way": "Help under way",
    "given": "Help given",
}


def _commitment_then(c: Commitment, at: datetime) -> str:
    """A commitment's state at a moment, from its timestamps ("" before it was made, or
    released before it happened)."""
    if c.created_at > at:
        return ""
    if c.fulfilled_at is not None and c.fulfilled_at <= at:
        return "fulfilled"  # it happened, whatever became of it afterwards
    if c.ended_at is not None and c.ended_at <= at:
        return ""  # released before it happened: it never counted
    if c.started_at is not None and c.started_at <= at:
        return "in_progress"
    return "committed"


@dataclass(frozen=True)
class RequestThen:
    """An aid request as it stood at one moment."""

    request: AidRequest
    at: datetime
    #: Its state in the negotiation then (open, closed, withdrawn, expired).
    state: str
    #: How far help had got then: a key of `STAGES`.
    stage: str
    #: Quantity committed (and not released before it happened), and given, by then.
    committed: int
    given: int
    #: When its first commitment was made and its first help given, if by then.
    first_commitment_at: datetime | None
    first_fulfilment_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.state == "open"

    @property
    def stage_words(self) -> str:
        words = STAGES[self.stage]
        if self.stage == "waiting":
            return words
        shown = self.given if self.stage == "given" else self.committed
        return f"{words} ({shown} of {self.request.quantity})"

    @property
    def to_commitment(self) -> timedelta | None:
        """From the request to its first commitment (None: none by then)."""
        if self.first_commitment_at is None:
            return None
        return self.first_commitment_at - self.request.created_at

    @property
    def to_fulfilment(self) -> timedelta | None:
        """From the request to the first help given (None: none by then)."""
        if self.first_fulfilment_at is None:
            return None
        return self.first_fulfilment_at - self.request.created_at


def _request_then(r: AidRequest, commitments: list[Commitment], at: datetime) -> RequestThen:
    ended = r.ended_at is not None and r.ended_at <= at
    states = [(c, _commitment_then(c, at)) for c in commitments]
    committed = sum(c.quantity for c, s in states if s)
    given = sum(c.quantity for c, s in states if s == "fulfilled")
    made = [c.created_at for c in commitments if c.created_at <= at]
    done = [c.fulfilled_at for c in commitments if c.fulfilled_at and c.fulfilled_at <= at]
    if given:
        stage = "given"
    elif any(s == "in_progress" for _, s in states):
        stage = "under_way"
    elif committed:
        stage = "committed"
    else:
        stage = "waiting"
    return RequestThen(
        request=r,
        at=at,
        state=r.state if ended else "open",
        stage=stage,
        committed=committed,
        given=given,
        first_commitment_at=min(made, default=None),
        first_fulfilment_at=min(done, default=None),
    )


@dataclass
class _Aid:
    """The requests of the collaborative the viewer sees that were alive in the period,
    with their commitments: read once, then worked out at each moment."""

    requests: list[AidRequest]
    commitments: dict[int, list[Commitment]]

    def at(self, moment: datetime) -> list[RequestThen]:
        return [
            _request_then(r, self.commitments.get(r.pk, []), moment)
            for r in self.requests
            if r.created_at <= moment
        ]


def _aid(viewer: policy.Viewer, collaborative: Collaborative, p: Period) -> _Aid:
    alive = (
        exchange.requests_seen_by(viewer)
        .filter(collaborative=collaborative, created_at__lte=p.end)
        .exclude(ended_at__lt=p.start)
        .select_related("organisation", "site")
        .order_by("created_at", "pk")
    )
    requests = list(alive)
    commitments: dict[int, list[Commitment]] = {}
    found = Commitment.objects.filter(request_id__in=[r.pk for r in requests]).order_by(
        "created_at", "pk"
    )
    for c in found.only(
        "request_id", "quantity", "created_at", "started_at", "fulfilled_at", "ended_at"
    ):
        commitments.setdefault(c.request_id, []).append(c)  # type: ignore[arg-type]
    return _Aid(requests, commitments)


# ------------------------------------------------------------------ a frame


@dataclass(frozen=True)
class FigureChange:
    organisation: str
    site: str
    measure: str
    before: str
    after: str


@dataclass(frozen=True)
class LevelChange:
    organisation: str
    before: int | None
    after: int | None


@dataclass
class Changes:
    """What changed between the step before and this one, as the viewer may see it."""

    since: datetime
    figures: list[FigureChange] = field(default_factory=list)
    levels: list[LevelChange] = field(default_factory=list)
    #: The system level before and after, when it changed.
    system: tuple[int | None, int | None] | None = None
    raised: list[RequestThen] = field(default_factory=list)
    #: Requests that ended (closed, withdrawn, expired) since the step before.
    ended: list[RequestThen] = field(default_factory=list)
    #: Requests whose first commitment, or first help given, came since the step before.
    committed: list[RequestThen] = field(default_factory=list)
    given: list[RequestThen] = field(default_factory=list)
    decisions: list[LogItem] = field(default_factory=list)

    @property
    def nothing(self) -> bool:
        return not (
            self.figures
            or self.levels
            or self.system
            or self.raised
            or self.ended
            or self.committed
            or self.given
            or self.decisions
        )


@dataclass
class Frame:
    """The collaborative as the viewer may see it at one step of a replay."""

    period: Period
    index: int
    at: datetime
    picture: Picture
    levels: escalation.CollaborativeLevels
    #: Requests open at the moment (raised by then, not yet ended), with how far help had got.
    open_requests: list[RequestThen]
    #: Requests alive in the period whose first help was given by then, with the times.
    fulfilled: list[RequestThen]
    #: Decisions taken in the period by then, newest first.
    decisions: list[LogItem]
    #: Since the step before (None at the first step).
    changes: Changes | None

    def member_level(self, organisation_id: int) -> int | None:
        seen = self.levels.members.get(organisation_id)
        return seen.level if seen is not None else None


def _shown(fig: Figure | None) -> str:
    """A figure as the changes list writes it."""
    if fig is None:
        return "not shown"
    if fig.is_missing:
        return "missing"
    if fig.value is None:
        return f"{fig.rag} (status only)"
    if fig.detail == BANDED:
        return f"about {number(fig.value)}"
    return number(fig.value)


def _figure_changes(before: Picture, after: Picture) -> list[FigureChange]:
    """Counts and levels whose shown value differs, row by row (narratives are left out)."""
    kind_of = catalogue.current().kind_of
    then = {(r.organisation.pk, r.site.pk if r.site else None): r for r in before.all_rows}
    out = []
    for row in after.all_rows:
        old = then.get((row.organisation.pk, row.site.pk if row.site else None))
        codes = set(row.figures) | (set(old.figures) if old else set())
        for code in sorted(c for c in codes if kind_of(c) in ("count", "level")):
            was = _shown(old.figures.get(code) if old else None)
            now = _shown(row.figures.get(code))
            if was != now:
                out.append(
                    FigureChange(
                        row.organisation.name,
                        row.site.name if row.site else "",
                        queries.measure_label(code),
                        was,
                        now,
                    )
                )
    return out


def _level_changes(
    before: escalation.CollaborativeLevels, after: escalation.CollaborativeLevels, names: dict
) -> list[LevelChange]:
    out = []
    for pk in sorted(set(before.members) | set(after.members), key=lambda k: names.get(k, "")):
        was, now = before.members.get(pk), after.members.get(pk)
        old = was.level if was is not None else None
        new = now.level if now is not None else None
        if old != new:
            out.append(LevelChange(names.get(pk, ""), old, new))
    return out


def _decisions(collaborative: Collaborative, since: datetime, until: datetime) -> list[LogItem]:
    """Decisions of the collaborative taken from `since` to `until`, newest first (the log is
    the collaborative's own record: every member's people read all of it)."""
    return list(
        queries.log_of(collaborative, kinds=[ItemKind.DECISION])
        .filter(decided_at__gte=since, decided_at__lte=until)
        .order_by("-decided_at", "-number")
    )


def _picture(viewer: policy.Viewer, collaborative: Collaborative, at: datetime) -> Picture:
    view, _ = table_view({})
    return collaborative_picture(
        viewer, collaborative, at=at, measures=view.dashboard.measures, view=view
    )


def frame(viewer: policy.Viewer, collaborative: Collaborative, p: Period, index: int) -> Frame:
    """Step `index` of the replay (0: the start), as `viewer` may see it. An index outside
    the period is ReplayError; so is a moment in the future (a period made earlier may have
    been kept while the clock moved; nothing is shown of what has not happened)."""
    moments = p.moments()
    if not 0 <= index < len(moments):
        raise ReplayError({"": f"There is no step {index + 1}: this replay has {len(moments)}."})
    at = moments[index]
    if at > timezone.now():
        raise ReplayError({"": f"{when(at)} is in the future: a replay shows only the past."})
    aid = _aid(viewer, collaborative, p)
    picture = _picture(viewer, collaborative, at)
    levels = escalation.collaborative_levels(viewer, collaborative, at)
    requests = aid.at(at)
    changes = None
    if index > 0:
        since = moments[index - 1]
        before = aid.at(since)
        was = {r.request.pk: r for r in before}
        earlier = escalation.collaborative_levels(viewer, collaborative, since)
        names = {m.pk: m.name for m in picture.members}
        old_system = earlier.system.level if earlier.system else None
        new_system = levels.system.level if levels.system else None
        changes = Changes(
            since=since,
            figures=_figure_changes(_picture(viewer, collaborative, since), picture),
            levels=_level_changes(earlier, levels, names),
            system=(old_system, new_system) if old_system != new_system else None,
            raised=[r for r in requests if r.request.pk not in was],
            # Ended since: open at the step before, or raised and ended within this step.
            ended=[
                r
                for r in requests
                if not r.is_open and (r.request.pk not in was or was[r.request.pk].is_open)
            ],
            committed=[
                r for r in requests if r.first_commitment_at and r.first_commitment_at > since
            ],
            given=[r for r in requests if r.first_fulfilment_at and r.first_fulfilment_at > since],
            # A decision at the step before itself belongs to that step, not this one.
            decisions=[d for d in _decisions(collaborative, since, at) if d.decided_at > since],
        )
    return Frame(
        period=p,
        index=index,
        at=at,
        picture=picture,
        levels=levels,
        open_requests=[r for r in requests if r.is_open],
        fulfilled=[
            r
            for r in requests
            if r.first_fulfilment_at is not None and r.first_fulfilment_at >= p.start
        ],
        decisions=_decisions(collaborative, p.start, at),
        changes=changes,
    )


# ------------------------------------------------------------------ the period's summary


@dataclass(frozen=True)
class Summary:
    """The aid requests raised in the period, and how long help took (to now: help given
    after the period still counts for a request raised in it)."""

    raised: int
    fulfilled: int
    #: Raised in the period and given no help, to now; of those, still open now.
    never_fulfilled: int
    still_open: int
    median_to_fulfilment: timedelta | None
    longest_to_fulfilment: timedelta | None
    median_to_commitment: timedelta | None
    #: The request behind the longest time.
    longest: RequestThen | None


def _median(spans: list[timedelta]) -> timedelta | None:
    if not spans:
        return None
    return timedelta(seconds=statistics.median(s.total_seconds() for s in spans))


def summary(viewer: policy.Viewer, collaborative: Collaborative, p: Period) -> Summary:
    """The requests the viewer sees raised from the start to the end of the period: how many
    were given help, the median and longest time from request to first help given, the
    median to first commitment, and how many were never given help."""
    now = timezone.now()
    aid = _aid(viewer, collaborative, p)
    raised = [r for r in aid.at(now) if p.start <= r.request.created_at <= p.end]
    done = [r for r in raised if r.to_fulfilment is not None]
    longest = max(done, key=lambda r: r.to_fulfilment or timedelta(0), default=None)
    never = [r for r in raised if r.to_fulfilment is None]
    return Summary(
        raised=len(raised),
        fulfilled=len(done),
        never_fulfilled=len(never),
        still_open=sum(1 for r in never if r.request.state == "open"),
        median_to_fulfilment=_median(
            [r.to_fulfilment for r in done if r.to_fulfilment is not None]
        ),
        longest_to_fulfilment=longest.to_fulfilment if longest else None,
        median_to_commitment=_median(
            [r.to_commitment for r in raised if r.to_commitment is not None]
        ),
        longest=longest,
    )


def duration(span: timedelta | None) -> str:
    """A time taken, as a coordinator says it: '45 min', '4 h 10 min', '2 days 3 h'."""
    if span is None:
        return "–"
    minutes = int(span.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days} day{'s' if days != 1 else ''}")
    if hours:
        parts.append(f"{hours} h")
    if minutes or not parts:
        parts.append(f"{minutes} min")
    return " ".join(parts[:2])
