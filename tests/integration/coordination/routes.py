"""Who may use the working-together pages: their part of the route matrix.

In the matrix's world the collaborative has an objective {objective}, a workstream
{workstream} sponsored by North's coordinator, an action {log_action} and a decision
{decision} recorded in today's call ({call_day}), and North's viewer holds a dedicated-team
role {role}. Every member's people read all of it (progress and a decision's picture follow
South's grants; see test_decisions.py and test_objectives.py); changes are for the
collaborative's coordinators and the people holding a role in it (North's viewer, here).
Only coordinators give and end roles. The outsider sees none of it (404, never 403).
"""

from flotilla.authz.models import Role
from tests.integration.matrix import Page, members_only

MANAGERS = (Role.COORDINATOR, Role.ORG_ADMIN)
#: Coordinators, and North's viewer through the role it holds.
KEEPERS = (Role.VIEWER, Role.COORDINATOR, Role.ORG_ADMIN)


def _change(status: object = 302, roles: tuple[str, ...] = KEEPERS) -> dict[str, object]:
    return members_only(status, roles)


PAGES: dict[str, Page] = {
    "coordination:overview": Page("GET", "/c/{slug}/work/", members_only()),
    "coordination:objectives": Page("GET", "/c/{slug}/objectives/", members_only()),
    "coordination:objective": Page("GET", "/c/{slug}/objectives/{objective}", members_only()),
    "coordination:workstreams": Page("GET", "/c/{slug}/workstreams/", members_only()),
    "coordination:workstream": Page("GET", "/c/{slug}/workstreams/{workstream}", members_only()),
    "coordination:log": Page("GET", "/c/{slug}/log/", members_only()),
    "coordination:item": Page("GET", "/c/{slug}/log/{decision}", members_only()),
    # Moving an item on: members who may not are sent back with the action's words.
    "coordination:item_status": Page(
        "POST", "/c/{slug}/log/{log_action}/status", members_only(302), {"status": "in_progress"}
    ),
    "coordination:item_escalate": Page(
        "POST", "/c/{slug}/log/{log_action}/escalate", members_only(302), {"note": "Help"}
    ),
    "coordination:item_decide": Page(
        "POST",
        "/c/{slug}/log/{decision}/decide",
        members_only(302),
        {"rationale": "x", "decided_by": "y"},
    ),
    "coordination:roles": Page("GET", "/c/{slug}/roles", members_only()),
    "coordination:end_role": Page("POST", "/c/{slug}/roles/{role}/end", _change(roles=MANAGERS)),
    "coordination:brief": Page("GET", "/c/{slug}/call/brief", members_only()),
    "coordination:brief_pdf": Page("GET", "/c/{slug}/call/brief.pdf", members_only()),
    "coordination:calls": Page("GET", "/c/{slug}/calls/", members_only()),
    "coordination:call": Page("GET", "/c/{slug}/calls/{call_day}", members_only()),
    "coordination:call_item": Page(
        "POST",
        "/c/{slug}/calls/{call_day}/items",
        _change(),
        {"kind": "action", "title": "Ring round", "due_on": "2030-01-01"},
    ),
    "coordination:send_minutes": Page("POST", "/c/{slug}/calls/{call_day}/send", _change()),
    # Downloads: what the pages show the reader, as CSV (figures through South's grants).
    "coordination:objectives_csv": Page("GET", "/c/{slug}/objectives.csv", members_only()),
    "coordination:log_csv": Page("GET", "/c/{slug}/log.csv?show=all", members_only()),
    "coordination:decisions_csv": Page("GET", "/c/{slug}/decisions.csv", members_only()),
    "coordination:minutes_csv": Page(
        "GET", "/c/{slug}/calls/{call_day}/minutes.csv", members_only()
    ),
    # The replay reads South's figures and levels through the policy, as at each step: what
    # South shares changes what a member sees in it (test_replay.py), never who gets in.
    "coordination:replay": Page("GET", "/c/{slug}/replay", members_only()),
    # The dedicated team: every member's people read it; asks, allocations and moves are for
    # the keepers, and the others get 404 before what they posted is read. The ask is set
    # (back to the page). The world does not know North's viewer's id, which the forms
    # choose people by, so an allocation and a move come back as the page again with "Choose
    # a person of the dedicated team": the keepers got in (test_team.py makes both).
    "coordination:team": Page("GET", "/c/{slug}/team", members_only()),
    "coordination:team_ask": Page(
        "POST",
        "/c/{slug}/team/ask",
        _change(),
        {"ask_workstream": "{workstream}", "ask_week": "2030-01-07", "ask_hours": "10"},
    ),
    "coordination:team_allocate": Page(
        "POST",
        "/c/{slug}/team/allocate",
        _change(200),
        {"workstream": "{workstream}", "week": "2030-01-07", "hours": "10"},
    ),
    "coordination:team_move": Page(
        "POST",
        "/c/{slug}/team/move",
        _change(200),
        {"from_workstream": "{workstream}", "to_workstream": "{workstream}", "move_hours": "1"},
    ),
}

APIS: dict = {}
