"""The dedicated team: named people's weeks given to workstreams, against what each workstream
asked for; moving hours from one workstream to another in one step, with its history read
from the audit record."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from html import unescape

import pytest
from django.db import DatabaseError, close_old_connections, connection

from flotilla.audit.models import AuditEvent
from flotilla.authz.models import Role
from flotilla.coordination import actions, queries
from flotilla.coordination.actions import CoordinationError
from flotilla.coordination.models import Allocation, Ask
from tests import factories as f
from tests.concurrency import at_once

pytestmark = pytest.mark.django_db

#: A Monday, and the Wednesday of its week.
MONDAY = date(2030, 1, 7)
WEDNESDAY = date(2030, 1, 9)
POSTGRES = connection.vendor == "postgresql"


class Team:
    def __init__(self, cast):
        self.cast = cast
        self.collab = cast.collab
        self.coordinator = cast.people[Role.COORDINATOR]
        admin = cast.people[Role.ORG_ADMIN]
        self.alex = f.UserFactory(username="alex")
        self.sam = f.UserFactory(username="sam")
        for person in (self.alex, self.sam):
            f.member(person, cast.north, Role.VIEWER)
            f.role(person, cast.collab, cast.north, "team", by=admin)
        self.discharge = f.workstream(by=self.coordinator, collaborative=cast.collab)
        self.flow = f.workstream(by=self.coordinator, collaborative=cast.collab, name="Flow")

    def hours(self, person, workstream, week=MONDAY) -> Decimal | None:
        row = Allocation.objects.filter(user=person, workstream=workstream, week=week).first()
        return row.hours if row else None

    def move(self, hours, *, person=None, week=MONDAY, source=None, target=None, by=None):
        return actions.reallocate(
            by=by or self.coordinator,
            user=person or self.alex,
            week=week,
            hours=hours,
            from_workstream=source or self.discharge,
            to_workstream=target or self.flow,
        )


@pytest.fixture
def team(cast):
    return Team(cast)


def _events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def _refusal(change) -> dict[str, str]:
    with pytest.raises(CoordinationError) as refused:
        change()
    return refused.value.errors


# ------------------------------------------------------------------ asks and allocations


def test_allocating_records_who_had_how_many_hours_before_and_after(team):
    row = f.allocate(team.alex, team.discharge, MONDAY, 10, by=team.coordinator)
    f.allocate(team.alex, team.discharge, MONDAY, "7.5", by=team.coordinator)
    first, second = _events("team_allocated")
    assert first.before is None
    assert first.after == {
        "collaborative": team.collab.slug,
        "workstream_id": team.discharge.pk,
        "workstream": "Discharge",
        "user": "alex",
        "week": "2030-01-07",
        "hours": 10.0,
    }
    assert (second.before["hours"], second.after["hours"]) == (10.0, 7.5)
    assert first.object_id == second.object_id == str(row.pk)
    assert second.actor_user == team.coordinator
    assert team.hours(team.alex, team.discharge) == Decimal("7.5")


def test_allocating_the_same_hours_again_records_nothing(team):
    f.allocate(team.alex, team.discharge, MONDAY, 10, by=team.coordinator)
    f.allocate(team.alex, team.discharge, MONDAY, "10.0", by=team.coordinator)
    assert len(_events("team_allocated")) == 1


def test_allocating_nothing_keeps_the_row_at_zero(team):
    row = f.allocate(team.alex, team.discharge, MONDAY, 10, by=team.coordinator)
    f.allocate(team.alex, team.discharge, MONDAY, 0, by=team.coordinator)
    assert Allocation.objects.get(pk=row.pk).hours == 0
    assert _events("team_allocated")[-1].after["hours"] == 0


def test_allocating_nothing_where_there_was_nothing_writes_nothing(team):
    row = f.allocate(team.alex, team.discharge, MONDAY, 0, by=team.coordinator)
    assert row.pk is None
    assert not Allocation.objects.exists()
    assert not _events("team_allocated")


def test_setting_an_ask_records_it_and_the_same_ask_again_records_nothing(team):
    ask = f.ask(team.discharge, MONDAY, 12, by=team.coordinator)
    f.ask(team.discharge, MONDAY, 12, by=team.coordinator)
    f.ask(team.discharge, MONDAY, 8, by=team.coordinator)
    first, second = _events("team_asked")
    assert first.before is None and first.after["hours"] == 12.0
    assert (second.before["hours"], second.after["hours"]) == (12.0, 8.0)
    assert Ask.objects.get(pk=ask.pk).hours == 8


@pytest.mark.parametrize(
    ("week", "hours", "field", "words"),
    [
        (WEDNESDAY, 10, "week", "A week is given by its Monday: Wed 9 Jan 2030 is a Wednesday. "
         "Its week starts on Mon 7 Jan 2030"),
        (MONDAY, -1, "hours", "Hours cannot be negative"),
        (MONDAY, 81, "hours", "Give at most 80 hours (81 given)"),
        (MONDAY, "7.25", "hours", "Give hours to a tenth at most"),
        (MONDAY, "lots", "hours", "Give the hours allocated as a number of hours"),
        (MONDAY, None, "hours", "Give the hours allocated in hours"),
    ],
    ids=["not a Monday", "negative", "over 80", "finer than a tenth", "not a number", "none"],
)  # fmt: skip
def test_an_allocation_out_of_bounds_is_refused_naming_the_field(team, week, hours, field, words):
    errors = _refusal(
        lambda: f.allocate(team.alex, team.discharge, week, hours, by=team.coordinator)
    )
    assert words in errors[field]
    assert not Allocation.objects.exists()
    assert not _events("team_allocated")


@pytest.mark.parametrize(
    ("week", "hours", "field", "words"),
    [
        (WEDNESDAY, 10, "week", "A week is given by its Monday"),
        (MONDAY, -3, "hours", "Hours cannot be negative"),
        (MONDAY, 10000, "hours", "Give at most 9999.9 hours"),
    ],
    ids=["not a Monday", "negative", "more than the column holds"],
)
def test_an_ask_out_of_bounds_is_refused_naming_the_field(team, week, hours, field, words):
    errors = _refusal(lambda: f.ask(team.discharge, week, hours, by=team.coordinator))
    assert words in errors[field]
    assert not Ask.objects.exists()


def test_a_person_not_in_the_dedicated_team_is_given_no_hours(team):
    outsider = team.cast.people[Role.REPORTER]
    errors = _refusal(lambda: f.allocate(outsider, team.discharge, MONDAY, by=team.coordinator))
    assert errors["user"] == (
        "north_reporter is not in River System's dedicated team: give them a dedicated-team "
        "role first"
    )


def test_a_persons_week_may_not_pass_80_hours_across_the_workstreams(team):
    f.allocate(team.alex, team.discharge, MONDAY, 50, by=team.coordinator)
    errors = _refusal(lambda: f.allocate(team.alex, team.flow, MONDAY, 40, by=team.coordinator))
    assert errors["hours"] == (
        "That would give alex 90 hours in the week of Mon 7 Jan 2030 across the workstreams, "
        "more than 80: they have 50 hours elsewhere that week, so at most 30 can go here"
    )
    f.allocate(team.alex, team.flow, MONDAY, 30, by=team.coordinator)
    assert team.hours(team.alex, team.flow) == 30


def test_someone_who_has_left_the_team_can_have_hours_taken_away_but_not_given(team):
    f.allocate(team.alex, team.discharge, MONDAY, 10, by=team.coordinator)
    (role,) = [r for r in queries.current_roles(team.collab) if r.user_id == team.alex.pk]
    actions.end_role(by=team.cast.people[Role.ORG_ADMIN], role=role)
    errors = _refusal(
        lambda: f.allocate(team.alex, team.discharge, MONDAY, 12, by=team.coordinator)
    )
    assert "not in River System's dedicated team" in errors["user"]
    f.allocate(team.alex, team.discharge, MONDAY, 4, by=team.coordinator)
    assert team.hours(team.alex, team.discharge) == 4


def test_only_coordinators_and_people_holding_a_role_change_the_teams_hours(team):
    reporter = team.cast.people[Role.REPORTER]
    with pytest.raises(CoordinationError, match="Only the collaborative's coordinators"):
        f.allocate(team.alex, team.discharge, MONDAY, by=reporter)
    with pytest.raises(CoordinationError, match="Only the collaborative's coordinators"):
        f.ask(team.discharge, MONDAY, by=reporter)
    # A member of the team holds a role, so may.
    f.allocate(team.sam, team.discharge, MONDAY, 5, by=team.alex)


def test_a_closed_workstream_takes_no_more_hours_but_gives_them_back(team):
    f.allocate(team.alex, team.discharge, MONDAY, 10, by=team.coordinator)
    actions.change_workstream(
        by=team.coordinator,
        workstream=team.discharge,
        name="Discharge",
        purpose="",
        objectives=[],
        sponsor=None,
        leads=[],
        members=[],
        status="closed",
        closed_reason="Done",
    )
    team.discharge.refresh_from_db()
    errors = _refusal(
        lambda: f.allocate(team.alex, team.discharge, MONDAY, 12, by=team.coordinator)
    )
    assert errors["workstream"] == "Discharge is closed: it takes no more hours"
    team.move(10)
    assert team.hours(team.alex, team.flow) == 10


# ------------------------------------------------------------------ moving hours


def test_moving_hours_changes_both_workstreams_in_one_step_and_records_each(team):
    f.allocate(team.alex, team.discharge, MONDAY, 10, by=team.coordinator)
    f.allocate(team.alex, team.flow, MONDAY, 2, by=team.coordinator)
    source, target = team.move("4")
    assert (source.hours, target.hours) == (6, 6)
    assert team.hours(team.alex, team.discharge) == team.hours(team.alex, team.flow) == 6
    left, arrived = _events("team_reallocated")
    moved = {"hours": 4.0, "from": "Discharge", "from_id": team.discharge.pk, "to": "Flow",
             "to_id": team.flow.pk}  # fmt: skip
    assert left.object_id == str(source.pk) and arrived.object_id == str(target.pk)
    assert (left.before["hours"], left.after["hours"]) == (10.0, 6.0)
    assert (arrived.before["hours"], arrived.after["hours"]) == (2.0, 6.0)
    assert left.after["moved"] == arrived.after["moved"] == moved
    # Recorded together: one after the other, at one moment.
    assert arrived.id == left.id + 1 and arrived.at == left.at


def test_moving_hours_to_a_workstream_the_person_had_none_on_creates_its_row(team):
    f.allocate(team.alex, team.discharge, MONDAY, 10, by=team.coordinator)
    _, target = team.move(3)
    assert target.pk is not None and target.hours == 3
    arrived = _events("team_reallocated")[-1]
    assert arrived.before is None and arrived.after["hours"] == 3.0


def test_moving_more_than_is_allocated_is_refused_naming_how_many_there_are(team):
    f.allocate(team.alex, team.discharge, MONDAY, 6, by=team.coordinator)
    errors = _refusal(lambda: team.move(8))
    assert errors["hours"] == (
        "alex has 6 hours on Discharge in the week of Mon 7 Jan 2030: you cannot move 8"
    )
    errors = _refusal(lambda: team.move(1, person=team.sam))
    assert errors["hours"].startswith("sam has 0 hours on Discharge")
    assert team.hours(team.alex, team.discharge) == 6
    assert team.hours(team.alex, team.flow) is None
    assert not _events("team_reallocated")


@pytest.mark.parametrize(
    ("hours", "week", "field", "words"),
    [
        (0, MONDAY, "hours", "Give the hours to move: more than 0"),
        (-2, MONDAY, "hours", "Hours cannot be negative"),
        (2, WEDNESDAY, "week", "Wed 9 Jan 2030 is a Wednesday"),
    ],
    ids=["nothing", "negative", "not a Monday"],
)
def test_a_move_out_of_bounds_is_refused_naming_the_field(team, hours, week, field, words):
    f.allocate(team.alex, team.discharge, MONDAY, 6, by=team.coordinator)
    errors = _refusal(lambda: team.move(hours, week=week))
    assert words in errors[field]


def test_moving_hours_to_the_workstream_they_are_on_is_refused(team):
    f.allocate(team.alex, team.discharge, MONDAY, 6, by=team.coordinator)
    errors = _refusal(lambda: team.move(2, target=team.discharge))
    assert errors["to_workstream"] == "Choose a different workstream to move the hours to"


def test_a_move_that_cannot_be_recorded_leaves_both_workstreams_as_they_were(team):
    f.allocate(team.alex, team.discharge, MONDAY, 10, by=team.coordinator)
    f.allocate(team.alex, team.flow, MONDAY, 2, by=team.coordinator)
    # The audit record cannot be written (its table is renamed away, inside this test's
    # transaction): the move writes both rows, then cannot record them.
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {AuditEvent._meta.db_table} RENAME TO audit_away")
    with pytest.raises(DatabaseError, match="audit_auditevent"):
        team.move(4)
    assert team.hours(team.alex, team.discharge) == 10
    assert team.hours(team.alex, team.flow) == 2


# ------------------------------------------------------------------ history


def test_the_history_of_a_workstream_and_of_a_person_says_who_changed_what_when(team):
    f.ask(team.discharge, MONDAY, 10, by=team.coordinator)
    f.allocate(team.alex, team.discharge, MONDAY, 10, by=team.coordinator)
    f.allocate(team.sam, team.flow, MONDAY, 5, by=team.alex)
    team.move(4)

    of_discharge = queries.team_history(team.collab, workstream=team.discharge)
    assert [c.what for c in of_discharge] == [
        "alex on Discharge: 10 → 6 hours (4 moved to Flow)",
        "alex on Discharge: 0 → 10 hours",
        "Discharge asked for 0 → 10 hours",
    ]
    assert {c.who for c in of_discharge} == {"north_coordinator"}
    assert all(c.week == MONDAY for c in of_discharge)
    assert of_discharge[0].at >= of_discharge[-1].at

    of_alex = queries.team_history(team.collab, user=team.alex)
    assert [c.what for c in of_alex] == [
        "alex on Flow: 0 → 4 hours (4 moved from Discharge)",
        "alex on Discharge: 10 → 6 hours (4 moved to Flow)",
        "alex on Discharge: 0 → 10 hours",
    ]
    of_sam = queries.team_history(team.collab, user=team.sam)
    assert [(c.who, c.what) for c in of_sam] == [("alex", "sam on Flow: 0 → 5 hours")]
    assert len(queries.team_history(team.collab)) == 5


def test_the_history_keeps_a_workstreams_name_as_it_was(team):
    f.allocate(team.alex, team.discharge, MONDAY, 10, by=team.coordinator)
    actions.change_workstream(
        by=team.coordinator,
        workstream=team.discharge,
        name="Discharge to assess",
        purpose="",
        objectives=[],
        sponsor=None,
        leads=[],
        members=[],
        status="active",
        closed_reason="",
    )
    (change,) = queries.team_history(team.collab, workstream=team.discharge)
    assert change.workstream == "Discharge"


def test_another_collaboratives_changes_are_not_in_the_history(team):
    other = f.CollaborativeFactory(name="Hill System", organisation=team.cast.north)
    theirs = f.workstream(by=team.coordinator, collaborative=other, name="Discharge")
    f.role(team.alex, other, team.cast.north, "team", by=team.cast.people[Role.ORG_ADMIN])
    f.allocate(team.alex, theirs, MONDAY, 10, by=team.coordinator)
    assert queries.team_history(team.collab) == []
    # Nor do their hours count towards this collaborative's week.
    f.allocate(team.alex, team.discharge, MONDAY, 80, by=team.coordinator)


# ------------------------------------------------------------------ the view


def test_the_view_sets_asked_against_allocated_with_the_gap_and_each_persons_week(team):
    f.ask(team.discharge, MONDAY, 10, by=team.coordinator)
    f.ask(team.flow, MONDAY, 2, by=team.coordinator)
    f.allocate(team.alex, team.discharge, MONDAY, 6, by=team.coordinator)
    f.allocate(team.alex, team.flow, MONDAY, 3, by=team.coordinator)
    f.allocate(team.sam, team.flow, MONDAY + timedelta(weeks=1), 7, by=team.coordinator)
    view = queries.team_view(team.collab, queries.weeks_from(MONDAY))
    discharge, flow = view.workstreams
    assert discharge.workstream == team.discharge
    first = discharge.weeks[0]
    assert (first.asked, first.allocated, first.gap, first.state) == (10, 6, -4, "under")
    assert [(u.username, h) for u, h in first.people] == [("alex", 6)]
    assert (flow.weeks[0].gap, flow.weeks[0].state) == (1, "over")
    assert (flow.weeks[1].asked, flow.weeks[1].allocated, flow.weeks[1].state) == (None, 7, "over")
    assert discharge.weeks[1].state == ""
    alex, sam = view.people
    assert [c.total for c in alex.weeks] == [9, 0, 0, 0]
    assert [c.total for c in sam.weeks] == [0, 7, 0, 0]
    assert view.totals[0] == (12, 9)


# ------------------------------------------------------------------ the page


def _page(client, team, **params):
    query = "&".join(f"{k}={v}" for k, v in {"week": MONDAY, **params}.items())
    return client.get(f"/c/{team.collab.slug}/team?{query}").content.decode()


def _cell(html: str, kind: str, pk: int, week: date = MONDAY) -> str:
    found = re.search(rf'id="{kind}-{pk}-{week.isoformat()}">([^<]*)<', html)
    assert found, f"no {kind} cell for {pk} in the week of {week}"
    return found.group(1)


def test_the_page_shows_asked_against_allocated_and_flags_the_gap(client, team):
    f.ask(team.discharge, MONDAY, 10, by=team.coordinator)
    f.ask(team.flow, MONDAY, 2, by=team.coordinator)
    f.allocate(team.alex, team.discharge, MONDAY, 6, by=team.coordinator)
    f.allocate(team.sam, team.flow, MONDAY, "4.5", by=team.coordinator)
    client.force_login(team.cast.people[Role.REPORTER])
    html = _page(client, team)
    assert (
        _cell(html, "asked", team.discharge.pk),
        _cell(html, "allocated", team.discharge.pk),
    ) == (
        "10",
        "6",
    )
    assert "Short by 4" in html
    assert (_cell(html, "asked", team.flow.pk), _cell(html, "allocated", team.flow.pk)) == (
        "2",
        "4.5",
    )
    assert "Over by 2.5" in html
    assert _cell(html, "total", team.alex.pk) == "6"
    assert "Week of Mon 7 Jan 2030" in html
    # A reporter reads it but changes nothing.
    assert 'id="move-form"' not in html


def test_the_page_moves_through_weeks_from_any_day_of_one(client, team):
    client.force_login(team.coordinator)
    html = client.get(f"/c/{team.collab.slug}/team?week={WEDNESDAY}").content.decode()
    assert "4 weeks from Mon 7 Jan 2030" in html
    assert "?week=2029-12-10" in html and "?week=2030-02-04" in html
    for nonsense in ("soon", "0001-01-01", "9999-12-31"):
        assert client.get(f"/c/{team.collab.slug}/team?week={nonsense}").status_code == 200


def test_moving_hours_on_the_page_goes_back_to_the_same_weeks_saying_what_moved(client, team):
    f.allocate(team.alex, team.discharge, MONDAY, 10, by=team.coordinator)
    client.force_login(team.coordinator)
    response = client.post(
        f"/c/{team.collab.slug}/team/move?week={MONDAY}",
        {
            "move_person": team.alex.pk,
            "move_week": MONDAY.isoformat(),
            "from_workstream": team.discharge.pk,
            "to_workstream": team.flow.pk,
            "move_hours": "4",
        },
        follow=True,
    )
    assert response.redirect_chain == [(f"/c/{team.collab.slug}/team?week={MONDAY}", 302)]
    html = response.content.decode()
    assert (
        "Moved 4 hours of alex's week of Mon 7 Jan 2030 from Discharge (now 6) to Flow (now 4)."
        in unescape(html)
    )
    assert (
        _cell(html, "allocated", team.discharge.pk),
        _cell(html, "allocated", team.flow.pk),
    ) == (
        "6",
        "4",
    )
    assert "alex on Discharge: 10 → 6 hours (4 moved to Flow)" in html


def test_a_refused_move_shows_the_page_again_with_the_words_beside_the_hours(client, team):
    f.allocate(team.alex, team.discharge, MONDAY, 3, by=team.coordinator)
    client.force_login(team.coordinator)
    response = client.post(
        f"/c/{team.collab.slug}/team/move?week={MONDAY}",
        {
            "move_person": team.alex.pk,
            "move_week": MONDAY.isoformat(),
            "from_workstream": team.discharge.pk,
            "to_workstream": team.flow.pk,
            "move_hours": "5",
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    words = "alex has 3 hours on Discharge in the week of Mon 7 Jan 2030: you cannot move 5"
    assert f'<a href="#id_move_hours">{words}</a>' in html
    assert 'id="move_hours-error"' in html
    assert team.hours(team.alex, team.discharge) == 3


def test_an_ask_for_a_day_that_is_not_a_monday_is_refused_beside_the_week(client, team):
    client.force_login(team.coordinator)
    response = client.post(
        f"/c/{team.collab.slug}/team/ask",
        {"ask_workstream": team.discharge.pk, "ask_week": WEDNESDAY.isoformat(), "ask_hours": "8"},
    )
    html = response.content.decode()
    assert 'href="#id_ask_week">A week is given by its Monday' in html
    assert not Ask.objects.exists()


def test_allocating_on_the_page_sets_the_hours(client, team):
    client.force_login(team.alex)  # in the team, so holding a role: may
    response = client.post(
        f"/c/{team.collab.slug}/team/allocate?week={MONDAY}",
        {"person": team.sam.pk, "workstream": team.flow.pk, "week": MONDAY, "hours": "12.5"},
    )
    assert response.status_code == 302
    assert team.hours(team.sam, team.flow) == Decimal("12.5")


def test_the_history_on_the_page_can_be_of_one_person(client, team):
    f.allocate(team.alex, team.discharge, MONDAY, 10, by=team.coordinator)
    f.allocate(team.sam, team.flow, MONDAY, 5, by=team.coordinator)
    client.force_login(team.coordinator)
    html = _page(client, team, person=team.sam.pk)
    assert "Changes to sam's hours" in html
    assert "sam on Flow: 0 → 5 hours" in html
    assert "alex on Discharge" not in html.split('id="history"')[1]


# ------------------------------------------------------------------ at the same moment

#: Moves at once per round, and rounds (fewer on SQLite, where the writers queue on the file).
THREADS = 8 if POSTGRES else 4
ROUNDS = 10 if POSTGRES else 3


@pytest.mark.django_db(transaction=True)
def test_moves_at_the_same_moment_never_take_the_same_hours_twice(cast):
    """Each round alex has 10 hours on Discharge and several people move 4 of them to Flow
    at the same moment: two moves fit, the rest are refused saying what is left, and the
    hours add up to 10 with one pair of events per move made."""
    team = Team(cast)
    for round_ in range(ROUNDS):
        week = MONDAY + timedelta(weeks=round_)
        f.allocate(team.alex, team.discharge, week, 10, by=team.coordinator)

        def move(i: int, week=week) -> str:
            try:
                team.move(4, week=week)
                return "moved"
            except CoordinationError as exc:
                return exc.errors["hours"]

        outcomes = at_once(move, threads=THREADS)
        close_old_connections()
        moved = outcomes.count("moved")
        assert moved == 2, f"round {round_}: {outcomes}"
        for refused in (o for o in outcomes if o != "moved"):
            assert refused.startswith("alex has 2 hours on Discharge"), refused
        assert team.hours(team.alex, team.discharge, week) == 2
        assert team.hours(team.alex, team.flow, week) == 8
        history = queries.team_history(team.collab, user=team.alex)
        assert sum(1 for c in history if c.week == week and c.moved) == 2 * moved


@pytest.mark.django_db(transaction=True)
def test_moves_both_ways_at_the_same_moment_keep_the_persons_week_whole(cast):
    """Moves from Discharge to Flow and back at once queue, never deadlock, and never make
    or lose an hour."""
    team = Team(cast)
    f.allocate(team.alex, team.discharge, MONDAY, 20, by=team.coordinator)
    f.allocate(team.alex, team.flow, MONDAY, 20, by=team.coordinator)

    def move(i: int) -> bool:
        there = i % 2 == 0
        try:
            team.move(3, source=team.discharge if there else team.flow,
                      target=team.flow if there else team.discharge)  # fmt: skip
            return True
        except CoordinationError:
            return False

    for _ in range(ROUNDS):
        assert all(at_once(move, threads=THREADS))
    close_old_connections()
    assert team.hours(team.alex, team.discharge) + team.hours(team.alex, team.flow) == 40


@pytest.mark.django_db(transaction=True)
def test_allocations_at_the_same_moment_never_take_a_week_past_80_hours(cast):
    """Two allocations of 50 hours of alex's week to two workstreams at once: one is made,
    the other refused naming the total, whichever comes second."""
    team = Team(cast)
    for round_ in range(ROUNDS):
        week = MONDAY + timedelta(weeks=round_)

        def give(i: int, week=week) -> str:
            workstream = team.discharge if i % 2 == 0 else team.flow
            try:
                f.allocate(team.alex, workstream, week, 50, by=team.coordinator)
                return "given"
            except CoordinationError as exc:
                return exc.errors["hours"]

        outcomes = at_once(give, threads=2)
        close_old_connections()
        assert sorted(outcomes)[1] == "given", outcomes
        assert sorted(outcomes)[0].startswith("That would give alex 100 hours"), outcomes
        total = Allocation.objects.filter(user=team.alex, week=week).values_list("hours", flat=True)
        assert sum(total) == 50
