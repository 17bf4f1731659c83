"""The working-together downloads: objectives with their progress, the RAID log, decisions
with the picture as it stood and a call's minutes, as CSV for the collaborative's members,
with the figures as the reader may see them; text that a spreadsheet would run as a formula
is defused, and a figure not shown is an empty cell with why, never 0."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from flotilla.authz.models import Role
from flotilla.coordination import actions
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def coordinator(cast):
    return cast.people[Role.COORDINATOR]


@pytest.fixture
def reader(cast, client):
    client.force_login(cast.people[Role.VIEWER])
    return client


def rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment;")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def page(cast, path: str) -> str:
    return f"/c/{cast.collab.slug}/{path}"


# ------------------------------------------------------------------ objectives


def test_objectives_export_with_progress_as_numbers(cast, reader, coordinator):
    f.report(cast.north, timezone.now() - timedelta(minutes=5), ga_occupied=90, ga_open=100)
    f.report(cast.south, timezone.now() - timedelta(minutes=5), ga_occupied=80, ga_open=100)
    objective = f.objective(by=coordinator, collaborative=cast.collab, owner=coordinator)
    [row] = rows(reader.get(page(cast, "objectives.csv")))
    assert (row["objective"], row["owner"], row["measure"], row["scope"]) == (
        str(objective.pk),
        "north_coordinator",
        "ga_occupancy",
        "system",
    )
    assert (row["target"], row["value"], row["met"]) == ("0.92", "0.85", "true")
    assert (row["counted"], row["expected"], row["why_missing"]) == ("2", "2", "")


def test_an_objective_s_figure_not_shared_is_empty_with_why_not_zero(cast, reader, coordinator):
    f.report(cast.north, timezone.now() - timedelta(minutes=5), ga_occupied=90, ga_open=100)
    f.report(cast.south, timezone.now() - timedelta(minutes=5), ga_occupied=80, ga_open=100)
    f.objective(by=coordinator, collaborative=cast.collab)
    f.objective(by=coordinator, collaborative=cast.collab, scope="every_member", statement="All")
    f.unshare(f.collaborative_grant(cast.south, cast.collab))
    system, every, north, south = rows(reader.get(page(cast, "objectives.csv")))
    assert (system["value"], system["met"]) == ("", "")
    assert system["why_missing"] == system["progress"] != ""
    assert (every["member"], north["member"], south["member"]) == ("", "RN1", "RS1")
    assert (north["value"], north["met"]) == ("0.9", "true")
    assert (south["value"], south["met"], south["why_missing"]) == ("", "", "not shared with you")


def test_a_closed_objective_is_exported_with_no_progress(cast, reader, coordinator):
    closed = f.objective(by=coordinator, collaborative=cast.collab)
    actions.close_objective(by=coordinator, objective=closed, reason="Met")
    [row] = rows(reader.get(page(cast, "objectives.csv")))
    assert row["closed_at"] != "" and row["value"] == ""
    assert row["why_missing"].startswith("closed")


# ------------------------------------------------------------------ the log


def test_a_formula_looking_title_is_neutralised_in_the_log(cast, reader, coordinator):
    f.log_item(by=coordinator, collaborative=cast.collab, title='=HYPERLINK("http://x","y")')
    f.log_item(by=coordinator, collaborative=cast.collab, kind="risk", title="-1 beds")
    by_ref = {r["reference"]: r for r in rows(reader.get(page(cast, "log.csv")))}
    assert by_ref["A1"]["title"] == '\'=HYPERLINK("http://x","y")'
    assert by_ref["R1"]["title"] == "'-1 beds"
    assert (by_ref["R1"]["likelihood"], by_ref["R1"]["impact"], by_ref["R1"]["score"]) == (
        "3",
        "4",
        "12",
    )
    # An action has no risk score: empty, not 0.
    assert by_ref["A1"]["score"] == "" and by_ref["A1"]["unowned"] == "true"


def test_the_log_export_follows_the_page_s_filters(cast, reader, coordinator):
    stream = f.workstream(by=coordinator, collaborative=cast.collab)
    f.log_item(
        by=coordinator,
        collaborative=cast.collab,
        workstream=stream,
        due_on=timezone.localdate() - timedelta(days=2),
    )
    f.log_item(by=coordinator, collaborative=cast.collab, kind="issue", owner=coordinator)
    f.log_item(by=coordinator, collaborative=cast.collab, kind="decision")

    def refs(query: str) -> list[str]:
        return [r["reference"] for r in rows(reader.get(page(cast, f"log.csv{query}")))]

    assert refs("") == ["A1", "I1"]
    assert refs("?show=all") == ["A1", "D1", "I1"]
    assert refs("?kind=issue") == ["I1"]
    assert refs("?only=overdue") == ["A1"]
    assert refs(f"?workstream={stream.pk}") == ["A1"]
    assert reader.get(page(cast, "log.csv?workstream=99999")).status_code == 404
    assert reader.get(page(cast, "log.csv?workstream=x")).status_code == 404


def test_the_log_page_links_to_its_download_with_its_filters(cast, reader):
    html = reader.get(page(cast, "log/?kind=risk&show=all")).content.decode()
    assert f'href="/c/{cast.collab.slug}/log.csv?kind=risk&amp;show=all"' in html
    assert "Download (CSV)" in reader.get(page(cast, "objectives/")).content.decode()


# ------------------------------------------------------------------ decisions


def test_decisions_export_the_picture_banded_as_the_reader_gets_it(cast, reader, coordinator):
    f.reshare(f.collaborative_grant(cast.south, cast.collab), detail="banded")
    f.report(cast.south, timezone.now() - timedelta(minutes=5), ga_occupied=473, ga_open=500)
    f.log_item(by=coordinator, collaborative=cast.collab, kind="decision", title="Open ward 9")
    found = rows(reader.get(page(cast, "decisions.csv")))
    [occupied] = [r for r in found if (r["org_code"], r["measure"]) == ("RS1", "ga_occupied")]
    assert (occupied["reference"], occupied["title"]) == ("D1", "Open ward 9")
    assert (occupied["value"], occupied["detail"], occupied["why_missing"]) == (
        "475",
        "banded",
        "",
    )


def test_decisions_export_what_is_no_longer_shared_as_empty_with_why(cast, reader, coordinator):
    f.report(cast.south, timezone.now() - timedelta(minutes=5), ga_occupied=470, ga_open=500)
    f.log_item(by=coordinator, collaborative=cast.collab, kind="decision")
    f.unshare(f.collaborative_grant(cast.south, cast.collab))
    found = rows(reader.get(page(cast, "decisions.csv")))
    [occupied] = [r for r in found if (r["org_code"], r["measure"]) == ("RS1", "ga_occupied")]
    assert (occupied["value"], occupied["why_missing"]) == ("", "not shared with you")
    assert all(r["value"] == "" for r in found if r["org_code"] == "RS1")


def test_a_figure_reported_as_missing_is_exported_empty_not_zero(cast, reader, coordinator):
    f.report(cast.south, timezone.now() - timedelta(minutes=5), ga_occupied=None, ga_open=500)
    f.log_item(by=coordinator, collaborative=cast.collab, kind="decision")
    found = rows(reader.get(page(cast, "decisions.csv")))
    [occupied] = [r for r in found if (r["org_code"], r["measure"]) == ("RS1", "ga_occupied")]
    assert occupied["value"] == ""
    assert occupied["why_missing"].startswith("reported as missing")


def test_a_decision_still_to_be_taken_is_exported_without_a_picture(cast, reader, coordinator):
    f.log_item(
        by=coordinator,
        collaborative=cast.collab,
        kind="decision",
        decided=False,
        due_on=timezone.localdate(),
    )
    [row] = rows(reader.get(page(cast, "decisions.csv")))
    assert (row["reference"], row["decided_at"], row["why_missing"]) == (
        "D1",
        "",
        "not decided yet",
    )


# ------------------------------------------------------------------ minutes


def test_a_call_s_minutes_export_a_row_per_item_recorded(cast, reader, coordinator):
    today = timezone.localdate()
    call = actions.start_call(by=coordinator, collaborative=cast.collab, held_on=today)
    actions.record_attendance(by=coordinator, call=call, attendees=[cast.south], notes="=SUM(A1)")
    f.log_item(by=coordinator, collaborative=cast.collab, call=call, kind="decision")
    f.log_item(by=coordinator, collaborative=cast.collab, call=call, title="Ring round")
    found = rows(reader.get(page(cast, f"calls/{today.isoformat()}/minutes.csv")))
    assert [(r["reference"], r["kind"]) for r in found] == [("A1", "action"), ("D1", "decision")]
    assert {(r["held_on"], r["note_taker"], r["attendees"]) for r in found} == {
        (today.isoformat(), "north_coordinator", "RS1")
    }
    assert found[0]["notes"] == "'=SUM(A1)"
    html = reader.get(page(cast, f"calls/{today.isoformat()}")).content.decode()
    assert f"/calls/{today.isoformat()}/minutes.csv" in html


def test_a_call_with_nothing_recorded_exports_one_row(cast, reader, coordinator):
    today = timezone.localdate()
    actions.start_call(by=coordinator, collaborative=cast.collab, held_on=today)
    [row] = rows(reader.get(page(cast, f"calls/{today.isoformat()}/minutes.csv")))
    assert row["held_on"] == today.isoformat() and row["reference"] == ""
    assert reader.get(page(cast, "calls/2020-01-01/minutes.csv")).status_code == 404


# ------------------------------------------------------------------ who


@pytest.mark.parametrize(
    "path", ["objectives.csv", "log.csv", "decisions.csv", "calls/{day}/minutes.csv"]
)
def test_only_members_people_may_download(cast, client, coordinator, path):
    call = actions.start_call(
        by=coordinator, collaborative=cast.collab, held_on=timezone.localdate()
    )
    url = page(cast, path.format(day=call.held_on.isoformat()))
    assert client.get(url).status_code == 302
    client.force_login(cast.people["outsider"])
    assert client.get(url).status_code == 404
    client.force_login(cast.people["south_reporter"])
    assert client.get(url).status_code == 200
