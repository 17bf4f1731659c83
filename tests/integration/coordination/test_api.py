"""The working-together API: a member's read token reads the objectives with their progress,
the RAID log, a decision with the picture as it stood and the calls' minutes, each as its
organisation may see them through the sharing policy; anyone else gets 404."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from flotilla.authz import actions as authz_actions
from flotilla.authz.models import Role
from flotilla.coordination import actions
from tests import factories as f

pytestmark = pytest.mark.django_db


def bearer(cast, organisation=None, scope="read") -> dict[str, str]:
    org = organisation or cast.north
    admin = cast.people["outsider"] if org == cast.outside else cast.people[Role.ORG_ADMIN]
    _, secret = authz_actions.issue_token(by=admin, organisation=org, name="t", scope=scope)
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def api(cast, path: str) -> str:
    return f"/api/collaboratives/{cast.collab.slug}{path}"


@pytest.fixture
def coordinator(cast):
    return cast.people[Role.COORDINATOR]


def _row(picture, org, measure):
    return [r for r in picture["rows"] if (r["org_code"], r["measure"]) == (org, measure)]


# ------------------------------------------------------------------ objectives


def test_objectives_come_with_their_progress_as_the_organisation_may_see_it(
    cast, client, coordinator
):
    f.report(cast.north, timezone.now() - timedelta(minutes=5), ga_occupied=90, ga_open=100)
    f.report(cast.south, timezone.now() - timedelta(minutes=5), ga_occupied=80, ga_open=100)
    system = f.objective(by=coordinator, collaborative=cast.collab, owner=coordinator, target=0.9)
    every = f.objective(
        by=coordinator,
        collaborative=cast.collab,
        scope="every_member",
        target=0.88,
        statement="Every member at or below 88%",
    )
    got = client.get(api(cast, "/objectives"), **bearer(cast)).json()
    assert [o["id"] for o in got] == [system.pk, every.pk]
    first = got[0]
    assert (first["statement"], first["owner"], first["measure"]) == (
        "Keep G&A occupancy across the system at or below 92%",
        "north_coordinator",
        "ga_occupancy",
    )
    assert (first["scope"], first["comparison"], first["target"], first["closed"]) == (
        "system",
        "at_most",
        0.9,
        False,
    )
    assert first["progress"]["value"] == pytest.approx(0.85)
    assert first["progress"]["met"] is True
    assert (first["progress"]["counted"], first["progress"]["expected"]) == (2, 2)
    assert first["progress"]["members"] == []
    members = {m["code"]: m for m in got[1]["progress"]["members"]}
    assert members["RN1"]["met"] is False and members["RN1"]["value"] == pytest.approx(0.9)
    assert members["RS1"]["met"] is True
    assert got[1]["progress"]["met"] is False


def test_a_figure_not_shared_is_null_in_progress_never_zero(cast, client, coordinator):
    f.report(cast.north, timezone.now() - timedelta(minutes=5), ga_occupied=90, ga_open=100)
    f.report(cast.south, timezone.now() - timedelta(minutes=5), ga_occupied=80, ga_open=100)
    f.objective(by=coordinator, collaborative=cast.collab)
    f.objective(by=coordinator, collaborative=cast.collab, scope="every_member", statement="All")
    f.unshare(f.collaborative_grant(cast.south, cast.collab))
    system, every = client.get(api(cast, "/objectives"), **bearer(cast)).json()
    assert system["progress"]["value"] is None
    assert system["progress"]["met"] is None
    assert system["progress"]["counted"] < system["progress"]["expected"]
    south = next(m for m in every["progress"]["members"] if m["code"] == "RS1")
    assert (south["value"], south["met"], south["why"]) == (None, None, "not shared with you")


def test_a_closed_objective_is_listed_after_the_open_ones_without_progress(
    cast, client, coordinator
):
    closed = f.objective(by=coordinator, collaborative=cast.collab, statement="Old aim")
    actions.close_objective(by=coordinator, objective=closed, reason="Replaced")
    still = f.objective(by=coordinator, collaborative=cast.collab)
    got = client.get(api(cast, "/objectives"), **bearer(cast)).json()
    assert [(o["id"], o["closed"]) for o in got] == [(still.pk, False), (closed.pk, True)]
    assert got[1]["progress"] is None and got[1]["closed_reason"] == "Replaced"


# ------------------------------------------------------------------ the log


def test_the_log_lists_open_items_with_their_flags_workstream_and_call(cast, client, coordinator):
    stream = f.workstream(by=coordinator, collaborative=cast.collab)
    call = actions.start_call(
        by=coordinator, collaborative=cast.collab, held_on=timezone.localdate()
    )
    late = f.log_item(
        by=coordinator,
        collaborative=cast.collab,
        title="Ring round",
        workstream=stream,
        call=call,
        due_on=timezone.localdate() - timedelta(days=1),
    )
    risk = f.log_item(
        by=coordinator, collaborative=cast.collab, kind="risk", owner=coordinator, mitigation="Plan"
    )
    done = f.log_item(by=coordinator, collaborative=cast.collab, title="Finished")
    actions.set_status(by=coordinator, item=done, status="done")
    got = client.get(api(cast, "/log"), **bearer(cast)).json()
    assert [i["reference"] for i in got] == ["A1", "R1"]
    action = got[0]
    assert (action["title"], action["owner"], action["kind"], action["status"]) == (
        "Ring round",
        None,
        "action",
        "open",
    )
    assert action["flags"] == {
        "overdue": True,
        "unowned": True,
        "escalated": False,
        "due_soon": False,
    }
    assert (action["workstream_id"], action["workstream_name"]) == (stream.pk, "Discharge")
    assert action["call_day"] == call.held_on.isoformat()
    assert action["score"] is None and action["likelihood"] is None
    assert (got[1]["likelihood"], got[1]["impact"], got[1]["score"]) == (3, 4, 12)
    assert got[1]["mitigation"] == "Plan" and got[1]["owner"] == "north_coordinator"
    assert late.reference == "A1" and risk.reference == "R1"


def test_the_log_filters_by_kind_status_and_workstream(cast, client, coordinator):
    stream = f.workstream(by=coordinator, collaborative=cast.collab)
    f.log_item(by=coordinator, collaborative=cast.collab, workstream=stream)
    f.log_item(by=coordinator, collaborative=cast.collab, kind="issue")
    done = f.log_item(by=coordinator, collaborative=cast.collab, kind="decision")

    def refs(query: str) -> list[str]:
        return [
            i["reference"] for i in client.get(api(cast, f"/log{query}"), **bearer(cast)).json()
        ]

    assert refs("") == ["A1", "I1"]
    assert refs("?status=all") == ["A1", done.reference, "I1"]
    assert refs("?kind=issue") == ["I1"]
    assert refs("?kind=decision&status=all") == ["D1"]
    assert refs(f"?workstream={stream.pk}") == ["A1"]
    assert client.get(api(cast, "/log?workstream=999999"), **bearer(cast)).status_code == 404
    assert client.get(api(cast, "/log?kind=memo"), **bearer(cast)).status_code == 422


# ------------------------------------------------------------------ decisions


def test_a_decision_comes_with_its_rationale_and_the_picture_as_it_stood(cast, client, coordinator):
    earlier = timezone.now() - timedelta(hours=1)
    f.report(cast.south, earlier, ga_occupied=470, ga_open=500)
    decision = f.log_item(
        by=coordinator,
        collaborative=cast.collab,
        kind="decision",
        title="Open the escalation ward",
        rationale="South is nearly full",
        decided_by="The system call",
    )
    f.report(cast.south, timezone.now(), ga_occupied=300, ga_open=500)
    got = client.get(api(cast, f"/decisions/{decision.reference}"), **bearer(cast)).json()
    assert (got["reference"], got["title"], got["rationale"], got["decided_by"]) == (
        "D1",
        "Open the escalation ward",
        "South is nearly full",
        "The system call",
    )
    assert got["decided_at"] is not None and got["status"] == "done"
    [occupied] = _row(got["picture"], "RS1", "ga_occupied")
    assert (occupied["value"], occupied["detail"], occupied["site_code"]) == (470, "exact", None)
    assert got["picture"]["withheld"] == []


def test_a_decision_s_picture_shows_a_banded_figure_to_an_organisation_that_gets_it_banded(
    cast, client, coordinator
):
    f.reshare(f.collaborative_grant(cast.south, cast.collab), detail="banded")
    f.report(cast.south, timezone.now() - timedelta(minutes=5), ga_occupied=473, ga_open=500)
    decision = f.log_item(by=coordinator, collaborative=cast.collab, kind="decision")
    got = client.get(api(cast, f"/decisions/{decision.reference}"), **bearer(cast)).json()
    [occupied] = _row(got["picture"], "RS1", "ga_occupied")
    assert (occupied["value"], occupied["detail"]) == (475, "banded")
    # South itself sees its own exact figure in the same snapshot.
    south_admin = f.UserFactory(username="south_admin")
    f.member(south_admin, cast.south, Role.ORG_ADMIN)
    _, secret = authz_actions.issue_token(
        by=south_admin, organisation=cast.south, name="t", scope="read"
    )
    own = client.get(api(cast, "/decisions/D1"), HTTP_AUTHORIZATION=f"Bearer {secret}").json()
    assert _row(own["picture"], "RS1", "ga_occupied")[0]["value"] == 473


def test_a_decision_s_picture_shows_nothing_of_what_is_no_longer_shared(cast, client, coordinator):
    f.report(cast.south, timezone.now() - timedelta(minutes=5), ga_occupied=470, ga_open=500)
    decision = f.log_item(by=coordinator, collaborative=cast.collab, kind="decision")
    f.unshare(f.collaborative_grant(cast.south, cast.collab))
    got = client.get(api(cast, f"/decisions/{decision.reference}"), **bearer(cast)).json()
    assert [r for r in got["picture"]["rows"] if r["org_code"] == "RS1"] == []
    [south] = [w for w in got["picture"]["withheld"] if w["org_code"] == "RS1"]
    assert "ga_occupied" in south["measures"] and south["reason"] == "not shared with you"


def test_a_decision_still_to_be_taken_has_no_picture(cast, client, coordinator):
    f.log_item(
        by=coordinator,
        collaborative=cast.collab,
        kind="decision",
        decided=False,
        due_on=timezone.localdate(),
    )
    got = client.get(api(cast, "/decisions/D1"), **bearer(cast)).json()
    assert got["picture"] is None and got["decided_at"] is None and got["status"] == "open"


def test_an_unknown_or_malformed_decision_reference_is_refused(cast, client, coordinator):
    f.log_item(by=coordinator, collaborative=cast.collab, kind="risk")
    assert client.get(api(cast, "/decisions/D1"), **bearer(cast)).status_code == 404
    assert client.get(api(cast, "/decisions/R1"), **bearer(cast)).status_code == 422
    assert client.get(api(cast, "/decisions/D0"), **bearer(cast)).status_code == 422


# ------------------------------------------------------------------ calls


def test_a_call_s_minutes_list_attendance_notes_and_what_was_recorded(cast, client, coordinator):
    today = timezone.localdate()
    call = actions.start_call(by=coordinator, collaborative=cast.collab, held_on=today)
    actions.record_attendance(
        by=coordinator, call=call, attendees=[cast.north, cast.south], notes="All well"
    )
    f.log_item(by=coordinator, collaborative=cast.collab, call=call, title="Ring round")
    f.log_item(by=coordinator, collaborative=cast.collab, call=call, kind="decision")
    f.log_item(by=coordinator, collaborative=cast.collab, call=call, kind="risk")
    f.log_item(by=coordinator, collaborative=cast.collab, title="Not in the call")
    got = client.get(api(cast, f"/calls/{today.isoformat()}"), **bearer(cast)).json()
    assert (got["held_on"], got["note_taker"], got["attendees"], got["notes"]) == (
        today.isoformat(),
        "north_coordinator",
        ["RN1", "RS1"],
        "All well",
    )
    assert got["minutes_sent_at"] is None
    assert [i["reference"] for i in got["actions"]] == ["A1"]
    assert [i["reference"] for i in got["decisions"]] == ["D1"]
    assert [i["reference"] for i in got["others"]] == ["R1"]
    listed = client.get(api(cast, "/calls"), **bearer(cast)).json()
    assert listed == [got]


def test_a_day_with_no_call_is_not_found_and_a_malformed_day_is_refused(cast, client, coordinator):
    actions.start_call(by=coordinator, collaborative=cast.collab, held_on=timezone.localdate())
    assert client.get(api(cast, "/calls/2020-01-01"), **bearer(cast)).status_code == 404
    assert client.get(api(cast, "/calls/2026-02-31"), **bearer(cast)).status_code == 404
    assert client.get(api(cast, "/calls/1-1-2026"), **bearer(cast)).status_code == 422


# ------------------------------------------------------------------ who


@pytest.mark.parametrize("path", ["/objectives", "/log", "/decisions/D1", "/calls", "/calls/{day}"])
def test_an_outsider_gets_404_and_other_scopes_403(cast, client, coordinator, path):
    call = actions.start_call(
        by=coordinator, collaborative=cast.collab, held_on=timezone.localdate()
    )
    f.log_item(by=coordinator, collaborative=cast.collab, kind="decision", call=call)
    url = api(cast, path.format(day=call.held_on.isoformat()))
    assert client.get(url, **bearer(cast)).status_code == 200
    assert client.get(url, **bearer(cast, cast.outside)).status_code == 404
    assert client.get(url, **bearer(cast, scope="submit")).status_code == 403
    assert client.get(url).status_code == 401
    unknown = url.replace(cast.collab.slug, "no-such-collaborative")
    assert client.get(unknown, **bearer(cast)).status_code == 404
