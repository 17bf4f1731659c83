"""The daily system call's brief: one page, generated from live data as the reader may see it.

Everything in it comes through the queries that decide visibility: the picture and who is in
trouble through the sharing policy (`picture.queries`), escalation levels through
`escalation.queries`, aid requests through `exchange.queries`, objectives' progress through
`coordination.queries`. Two readers may get different briefs; neither sees more than their
grants allow. The page and the PDF (`pdf.render`) show the same `Brief`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from django.conf import settings
from django.utils import timezone

from flotilla.collaboratives.models import Collaborative
from flotilla.coordination import queries
from flotilla.coordination.models import LogItem
from flotilla.escalation import queries as escalation
from flotilla.exchange import queries as exchange
from flotilla.exchange.models import AidRequest
from flotilla.picture.queries import (
    DASHBOARD_MEASURES,
    Picture,
    Row,
    TableView,
    TroublePart,
    collaborative_picture,
    table_view,
    trouble,
    troubles,
)
from flotilla.sharing import policy


@dataclass(frozen=True)
class MemberLine:
    """One member in trouble as the brief lists it (the dashboard's own judgement of
    trouble, `picture.queries.troubles`), with its levels beside it."""

    name: str
    code: str
    #: The OPEL level it declares now, if shown to the reader.
    declared: int | None
    #: Its computed level, if shown to the reader.
    level: int | None
    #: G&A occupancy as shown to the reader ("96.2%", "90–95%", "red"), or why not shown.
    occupancy: str
    reasons: tuple[str, ...]


@dataclass
class Brief:
    collaborative: Collaborative
    at: datetime
    picture: Picture
    trouble: list[TroublePart]
    #: Members at the top level, over the red line, or not reporting, worst first.
    in_trouble: list[MemberLine]
    system_level: int | None
    #: Level → how many members the reader may see at it.
    level_counts: dict[int, int]
    aid_requests: list[AidRequest]
    overdue_actions: list[LogItem]
    decisions_due: list[LogItem]
    off_track: list[queries.Progress]
    #: Objectives whose progress the reader's view cannot settle.
    unsettled: list[queries.Progress] = field(default_factory=list)

    @property
    def day(self) -> date:
        return timezone.localdate(self.at)

    @property
    def coverage(self) -> str:
        return (
            f"{self.picture.reported_recently} of {len(self.picture.expected)} members "
            f"reported in the last {self.picture.coverage_hours} h"
        )


def _occupancy(rows: list[Row], bed: str) -> str:
    """The organisation's own occupancy as the reader is shown it, or why it is not."""
    own = next((r for r in rows if r.site is None), None)
    fig = own.derived.get(f"{bed}_occupancy") if own is not None else None
    if fig is None:
        if own is not None and {f"{bed}_occupied", f"{bed}_open"} & own.withheld:
            return "not shared with you"
        return "not reported"
    if fig.band is not None:
        return f"{fig.band[0] * 100:.0f}–{fig.band[1] * 100:.0f}%"
    if fig.value is None:
        return f"{fig.rag} (status only)"
    return f"{fig.value * 100:.1f}%"


def _members_in_trouble(
    picture: Picture, view: TableView, levels: escalation.CollaborativeLevels
) -> list[MemberLine]:
    """The members the dashboard counts as in trouble, worst first: those at the top
    declared level, then by how many reasons, then by name."""
    bed = view.dashboard.pressure_bed
    label = view.dashboard.indicators[f"{bed}_occupancy"]
    hours = picture.coverage_hours * settings.STALE_FACTOR
    out = []
    for t in troubles(picture, view):
        if not t.any:
            continue
        reasons = []
        if t.at_top:
            reasons.append(f"declared OPEL {t.declared:g}")
        if t.red:
            reasons.append(f"{label} red")
        if t.quiet:
            reasons.append(f"not reported for {hours} h")
        seen = levels.members.get(t.organisation.pk)
        rows = [r for r in picture.all_rows if r.organisation.pk == t.organisation.pk]
        out.append(
            MemberLine(
                t.organisation.name,
                t.organisation.code,
                int(t.declared) if t.declared is not None else None,
                seen.level if seen is not None else None,
                _occupancy(rows, bed),
                tuple(reasons),
            )
        )
    return sorted(out, key=lambda m: (-(m.declared or 0), -len(m.reasons), m.name))


def brief(viewer: policy.Viewer, collaborative: Collaborative) -> Brief:
    """The brief for today's call, as `viewer` may see it now."""
    now = timezone.now()
    picture = collaborative_picture(viewer, collaborative, measures=DASHBOARD_MEASURES)
    view, _ = table_view({})
    levels = escalation.collaborative_levels(viewer, collaborative)
    counts: dict[int, int] = {}
    for seen in levels.members.values():
        if seen.level is not None:
            counts[seen.level] = counts.get(seen.level, 0) + 1
    requests = list(
        exchange.requests_seen_by(viewer)
        .filter(collaborative=collaborative, state="open")
        .select_related("organisation", "site")
        .order_by("needed_by", "pk")
    )
    objectives = queries.objectives_of(collaborative)
    progress = queries.progress(viewer, objectives)
    return Brief(
        collaborative=collaborative,
        at=now,
        picture=picture,
        trouble=trouble(picture, view),
        in_trouble=_members_in_trouble(picture, view, levels),
        system_level=levels.system.level if levels.system else None,
        level_counts=dict(sorted(counts.items(), reverse=True)),
        aid_requests=requests,
        overdue_actions=queries.overdue_actions(collaborative),
        decisions_due=queries.decisions_due(collaborative),
        off_track=[p for p in progress.values() if p.met is False],
        unsettled=[p for p in progress.values() if p.met is None],
    )
