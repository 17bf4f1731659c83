"""The demo's shared work: roles, objectives on live figures, workstreams, a RAID log with
something overdue, unowned, escalated and due, and today's call under way with an action and
a decision recorded in it (its picture kept).

Everything goes through `flotilla.coordination.actions` as the demo's people, so every row
passed the same checks as a real one and is on the audit record. Dates are relative to the
day the demo is loaded.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from flotilla.collaboratives.models import Collaborative
from flotilla.coordination import actions
from flotilla.organisations.models import Organisation


def load(collab: Collaborative, members: list[Organisation], system_org: Organisation) -> int:
    """Load the shared work; returns how many log items it made."""
    users = get_user_model().objects
    system = users.get(username="demo-system")  # runs the call: the coordination centre
    coordinator = users.get(username="demo-coordinator")
    admin = users.get(username="demo-admin")
    reporter = users.get(username="demo-reporter")
    founder = users.get(username="demo-founder")
    today = timezone.localdate()

    def role(person: Any, organisation: Organisation, kind: str) -> None:
        actions.assign_role(
            by=founder, collaborative=collab, user=person, organisation=organisation, kind=kind
        )

    role(system, system_org, "convenor")
    role(admin, members[0], "sponsor")
    role(coordinator, members[1], "lead")
    role(reporter, members[0], "team")

    critical = actions.add_objective(
        by=system,
        collaborative=collab,
        statement="Keep adult critical care across the region below 85% occupied",
        measure="cc_adult_occupancy",
        scope="system",
        comparison="at_most",
        target=0.85,
        owner=coordinator,
    )
    handovers = actions.add_objective(
        by=system,
        collaborative=collab,
        statement="No ambulance handover over 60 minutes at any trust",
        measure="handover_over_60",
        scope="every_member",
        comparison="at_most",
        target=0,
        owner=admin,
    )
    beds = actions.add_objective(
        by=system,
        collaborative=collab,
        statement="Hold general and acute occupancy across the region at or below 92%",
        measure="ga_occupancy",
        scope="system",
        comparison="at_most",
        target=0.92,
        owner=system,
    )
    flow = actions.add_workstream(
        by=system,
        collaborative=collab,
        name="Discharge and flow",
        purpose="Free beds before noon: discharge lounges, transport, and packages of care "
        "agreed with the councils.",
        objectives=[handovers, beds],
        sponsor=admin,
        leads=[coordinator],
        members=[reporter],
    )
    surge = actions.add_workstream(
        by=system,
        collaborative=collab,
        name="Critical care mutual aid",
        purpose="Move critical care patients before any unit is full, with the transfer service.",
        objectives=[critical],
        sponsor=admin,
        leads=[system],
    )

    items = [
        actions.add_item(
            by=system,
            collaborative=collab,
            kind="risk",
            title="Norovirus closes bays at two trusts over the weekend",
            workstream=flow,
            owner=coordinator,
            due_on=today + timedelta(days=2),
            likelihood=4,
            impact=4,
            mitigation="Cohort early; step up the discharge lounge; agree mutual aid in advance.",
        ),
        actions.add_item(
            by=system,
            collaborative=collab,
            kind="risk",
            title="Critical care transfer team stretched at night",
            workstream=surge,
            owner=system,
            due_on=today - timedelta(days=1),
            likelihood=3,
            impact=5,
            mitigation="A second crew on call from 20:00.",
        ),
        actions.add_item(
            by=system,
            collaborative=collab,
            kind="action",
            title="Agree weekend discharge transport with the ambulance service",
            workstream=flow,
            owner=coordinator,
            due_on=today - timedelta(days=1),
        ),
        actions.add_item(
            by=system,
            collaborative=collab,
            kind="issue",
            title="Care home admissions paused in one council area",
            workstream=flow,
        ),
        actions.add_item(
            by=system,
            collaborative=collab,
            kind="decision",
            title="Whether to open the regional surge ward this week",
            workstream=surge,
            decided=False,
            due_on=today,
        ),
    ]
    actions.escalate(
        by=system,
        item=items[3],
        note="We need the councils' directors to restart admissions by Friday.",
    )
    call = actions.start_call(by=system, collaborative=collab, held_on=today)
    items.append(
        actions.add_item(
            by=system,
            collaborative=collab,
            kind="action",
            title="Ring round the trusts over 95% for discharges before noon",
            owner=reporter,
            due_on=today,
            call=call,
        )
    )
    items.append(
        actions.add_item(
            by=system,
            collaborative=collab,
            kind="decision",
            title="Divert critical care transfers to the two units under 80%",
            rationale="Two units are over 90% with more admissions expected overnight.",
            decided_by="Regional system call, chaired by the coordination centre",
            workstream=surge,
            call=call,
        )
    )
    actions.record_attendance(
        by=system,
        call=call,
        attendees=[*members[:4], system_org],
        notes="Pressure highest in the south of the region; transport is the bottleneck.",
    )
    _team(collab, [flow, surge], system, [reporter, coordinator], today)
    return len(items)


def _team(collab: Collaborative, streams: list[Any], by: Any, team: list[Any], today: Any) -> None:
    """Four weeks of the dedicated team: what each workstream asks and who gives it, one
    short, one over, and a move from one to the other this week (so the history has one)."""
    from flotilla.coordination.models import RoleKind

    monday = today - timedelta(days=today.weekday())
    flow, surge = streams
    for person in team[1:]:  # the reporter holds a team role already
        member = next(m.organisation for m in person.memberships.all() if m.organisation_id)
        actions.assign_role(
            by=by,
            collaborative=collab,
            user=person,
            organisation=member,
            kind=RoleKind.TEAM,
        )
    for n in range(4):
        week = monday + timedelta(weeks=n)
        actions.set_ask(by=by, workstream=flow, week=week, hours=40)
        actions.set_ask(by=by, workstream=surge, week=week, hours=20 if n else 30)
        actions.allocate(by=by, workstream=flow, user=team[0], week=week, hours=22.5)
        actions.allocate(by=by, workstream=flow, user=team[1], week=week, hours=7.5)
        actions.allocate(by=by, workstream=surge, user=team[1], week=week, hours=22.5)
    actions.reallocate(
        by=by, user=team[1], week=monday, hours=7.5, from_workstream=flow, to_workstream=surge
    )
