"""The after-action replay steps through a past day and shows, at each step, the figures, the
levels, the aid requests and the decisions as they were at that step, as the viewer may see
them; and refuses periods it cannot replay, saying why."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from flotilla.authz.models import Role
from flotilla.coordination import replay
from flotilla.coordination.models import LogItem
from flotilla.coordination.rules import measure_label
from flotilla.escalation import actions as escalation_actions
from flotilla.exchange.models import AidRequest, Commitment
from flotilla.sharing import policy
from tests import factories as f

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)


def _yesterday() -> datetime:
    """Midnight at the start of yesterday, local time: a whole day in the past."""
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=1)


def _levels_at(moment: datetime, *orgs) -> None:
    # The recompute job's work as it would have run at `moment`, so that the system level's
    # time is that moment (f.levels stamps now). Members' levels take the time of the figures.
    escalation_actions.recompute_for(organisation_ids=[o.pk for o in orgs], now=moment)


def _backdate(obj, **times) -> None:
    # The actions stamp every change with the time it is made; a replay needs a day that has
    # already happened, so the times are moved back afterwards, as they would have been.
    type(obj).objects.filter(pk=obj.pk).update(**times)


@pytest.fixture
def day(aid):
    """Yesterday: both trusts calm at 06:00; South hot at 12:00 and easing at 18:00. North
    asks for 2 beds at 09:00; South's are committed at 10:00, under way at 11:00, given at
    13:00, and North closes the request at 15:00. North asks again at 16:00 and nobody
    helps. A decision at 14:00; another the evening before (outside the day)."""
    cast = aid
    start = _yesterday()
    cast.start = start
    f.report(cast.north, start + 6 * H, **f.CALM)
    f.report(cast.south, start + 6 * H, **f.CALM)
    _levels_at(start + 6 * H, cast.north, cast.south)
    f.report(cast.south, start + 12 * H, **f.HOT)
    _levels_at(start + 12 * H, cast.south)
    f.report(cast.south, start + 18 * H, ga_occupied=90, ga_open=100)
    _levels_at(start + 18 * H, cast.south)

    coordinator, helper = cast.people[Role.COORDINATOR], cast.people["south_coordinator"]
    asked = f.aid_request(
        by=coordinator,
        organisation=cast.north,
        collaborative=cast.collab,
        site=cast.north_site,
        quantity=2,
    )
    offered = f.offer(
        by=helper, organisation=cast.south, site=cast.south_site, request=asked, quantity=2
    )
    taken = f.commitment(by=coordinator, offer=offered, quantity=2)
    f.move(taken, "in_progress", by=helper)
    f.move(taken, "fulfilled", by=helper)
    f.move(asked, "closed", by=coordinator)
    _backdate(
        asked,
        created_at=start + 9 * H,
        reach_since=start + 9 * H,
        needed_by=start + 18 * H,
        ended_at=start + 15 * H,
    )
    _backdate(
        taken,
        created_at=start + 10 * H,
        started_at=start + 11 * H,
        fulfilled_at=start + 13 * H,
    )
    unmet = f.aid_request(
        by=coordinator,
        organisation=cast.north,
        collaborative=cast.collab,
        site=cast.north_site,
        quantity=1,
    )
    _backdate(unmet, created_at=start + 16 * H, reach_since=start + 16 * H)

    taken_then = f.log_item(
        by=coordinator, collaborative=cast.collab, kind="decision", title="Open the escalation ward"
    )
    # Decisions are taken now (decided_at and their snapshot); this one was taken at 14:00.
    LogItem.objects.filter(pk=taken_then.pk).update(decided_at=start + 14 * H)
    before = f.log_item(
        by=coordinator, collaborative=cast.collab, kind="decision", title="Stand up the system call"
    )
    # And this one the evening before the day: outside the period, never shown in it.
    LogItem.objects.filter(pk=before.pk).update(decided_at=start - 4 * H)
    cast.asked, cast.unmet, cast.decision = (
        AidRequest.objects.get(pk=asked.pk),
        AidRequest.objects.get(pk=unmet.pk),
        LogItem.objects.get(pk=taken_then.pk),
    )
    assert Commitment.objects.get(pk=taken.pk).fulfilled_at == start + 13 * H
    return cast


def _figure(frame, org, code):
    row = next(r for r in frame.picture.all_rows if r.organisation.pk == org.pk and r.site is None)
    fig = row.figures.get(code)
    return fig.value if fig is not None else None


def _a_day(cast) -> replay.Period:
    return replay.period(cast.start, cast.start + 24 * H, "1h")


def _expected_occupied(hour: int) -> float | None:
    if hour < 6:
        return None
    if hour < 12:
        return 80
    return 99 if hour < 18 else 90


def _expected_level(hour: int) -> int | None:
    return None if hour < 6 else 1 if hour < 12 else 4


def _expected_stage(hour: int) -> str | None:
    """How far North's first request had got, while it was open."""
    if hour < 9 or hour >= 15:
        return None
    return {9: "waiting", 10: "committed", 11: "under_way", 12: "under_way"}.get(hour, "given")


def test_stepping_through_a_past_day_shows_at_each_step_the_values_as_at_that_step(day):
    viewer = policy.viewer_of(day.people[Role.VIEWER])
    p = _a_day(day)
    assert len(p.moments()) == 25 and p.moments()[0] == day.start
    for index, moment in enumerate(p.moments()):
        hour = index
        frame = replay.frame(viewer, day.collab, p, index)
        assert frame.at == moment == day.start + hour * H
        assert _figure(frame, day.south, "ga_occupied") == _expected_occupied(hour), hour
        assert frame.member_level(day.south.pk) == _expected_level(hour), hour
        system = frame.levels.system.level if frame.levels.system else None
        assert system == _expected_level(hour), hour
        stage = _expected_stage(hour)
        open_ids = {r.request.pk: r for r in frame.open_requests}
        if stage is None:
            assert day.asked.pk not in open_ids, hour
        else:
            assert open_ids[day.asked.pk].stage == stage, hour
            assert open_ids[day.asked.pk].state == "open", hour
        assert (day.unmet.pk in open_ids) == (hour >= 16), hour
        fulfilled = {r.request.pk: r for r in frame.fulfilled}
        if hour >= 13:
            given = fulfilled[day.asked.pk]
            assert given.to_fulfilment == 4 * H
            assert given.to_commitment == 1 * H
            assert given.state == ("closed" if hour >= 15 else "open"), hour
        else:
            assert day.asked.pk not in fulfilled, hour
            if day.asked.pk in open_ids:
                assert open_ids[day.asked.pk].to_fulfilment is None
        refs = [d.title for d in frame.decisions]
        assert refs == (["Open the escalation ward"] if hour >= 14 else []), hour


def test_each_step_says_what_changed_since_the_step_before(day):
    viewer = policy.viewer_of(day.people[Role.VIEWER])
    p = _a_day(day)
    assert replay.frame(viewer, day.collab, p, 0).changes is None
    noon = replay.frame(viewer, day.collab, p, 12).changes
    assert [(c.organisation, c.before, c.after) for c in noon.levels] == [(day.south.name, 1, 4)]
    assert noon.system == (1, 4)
    beds = measure_label("ga_occupied")
    occupied = [c for c in noon.figures if (c.organisation, c.measure) == (day.south.name, beds)]
    assert [(c.before, c.after) for c in occupied] == [("80", "99")]
    assert not noon.raised and not noon.decisions
    assert [r.request.pk for r in replay.frame(viewer, day.collab, p, 9).changes.raised] == [
        day.asked.pk
    ]
    assert [r.request.pk for r in replay.frame(viewer, day.collab, p, 10).changes.committed] == [
        day.asked.pk
    ]
    assert [r.request.pk for r in replay.frame(viewer, day.collab, p, 13).changes.given] == [
        day.asked.pk
    ]
    at_two = replay.frame(viewer, day.collab, p, 14).changes
    assert [d.pk for d in at_two.decisions] == [day.decision.pk]
    at_three = replay.frame(viewer, day.collab, p, 15).changes
    assert [(r.request.pk, r.state) for r in at_three.ended] == [(day.asked.pk, "closed")]
    assert replay.frame(viewer, day.collab, p, 3).changes.nothing


def test_the_period_summary_times_help_from_request_to_first_help_given(day):
    viewer = policy.viewer_of(day.people[Role.VIEWER])
    s = replay.summary(viewer, day.collab, _a_day(day))
    assert s.raised == 2 and s.fulfilled == 1
    assert s.median_to_fulfilment == s.longest_to_fulfilment == 4 * H
    assert s.median_to_commitment == 1 * H
    assert s.never_fulfilled == 1 and s.still_open == 1
    assert s.longest.request.pk == day.asked.pk


def test_a_viewer_not_shown_a_members_figures_does_not_see_them_in_the_replay(day):
    f.unshare(f.collaborative_grant(day.south, day.collab))
    p = _a_day(day)
    north = policy.viewer_of(day.people[Role.VIEWER])
    for index in (7, 12, 20):
        frame = replay.frame(north, day.collab, p, index)
        assert _figure(frame, day.south, "ga_occupied") is None
        row = next(r for r in frame.picture.all_rows if r.organisation.pk == day.south.pk)
        assert "ga_occupied" in row.withheld
        assert frame.member_level(day.south.pk) is None
        assert day.south.pk not in frame.levels.members
        names = {c.organisation for c in frame.changes.figures + frame.changes.levels}
        assert day.south.name not in names
    # South's own people still see South's day.
    south = policy.viewer_of(day.people["south_reporter"])
    assert _figure(replay.frame(south, day.collab, p, 12), day.south, "ga_occupied") == 99


def test_a_banded_member_is_replayed_rounded(day):
    f.reshare(f.collaborative_grant(day.south, day.collab), detail="banded")
    north = policy.viewer_of(day.people[Role.VIEWER])
    frame = replay.frame(north, day.collab, _a_day(day), 7)
    row = next(r for r in frame.picture.all_rows if r.organisation.pk == day.south.pk)
    assert row.figures["ga_occupied"].detail == "banded"


def test_an_end_before_the_start_is_refused_saying_so():
    start = timezone.now() - timedelta(days=2)
    with pytest.raises(replay.ReplayError) as refused:
        replay.period(start, start - H)
    assert "must be after the start" in refused.value.errors["to"]


def test_a_period_with_too_many_steps_is_refused_with_a_step_that_would_fit():
    start = timezone.now() - timedelta(days=10)
    with pytest.raises(replay.ReplayError) as refused:
        replay.period(start, start + timedelta(days=3), "1h")
    said = refused.value.errors["step"]
    assert "72 steps" in said and "at most 60" in said and "every 2 hours" in said


def test_the_shortest_step_that_fits_is_chosen_when_none_is_asked_for():
    start = timezone.now() - timedelta(days=10)
    assert replay.period(start, start + timedelta(days=1)).step == "1h"
    assert replay.period(start, start + timedelta(days=3)).step == "2h"
    assert replay.period(start, start + timedelta(days=9)).step == "4h"


def test_a_period_longer_than_a_replay_covers_is_refused():
    start = timezone.now() - timedelta(days=100)
    with pytest.raises(replay.ReplayError) as refused:
        replay.period(start, start + timedelta(days=70))
    assert "at most 60 days" in refused.value.errors["to"]


def test_a_start_in_the_future_is_refused():
    start = timezone.now() + H
    with pytest.raises(replay.ReplayError) as refused:
        replay.period(start, start + H)
    assert "not in the past" in refused.value.errors["from"]


def test_an_end_in_the_future_is_taken_as_now_with_a_notice():
    now = timezone.now()
    p = replay.period(now - 3 * H, now + 5 * H, now=now)
    assert p.end == now.replace(second=0, microsecond=0)
    assert "in the future" in p.notice
    assert p.moments()[-1] == p.end


def test_an_unknown_step_is_refused_naming_the_steps():
    start = timezone.now() - timedelta(days=2)
    with pytest.raises(replay.ReplayError) as refused:
        replay.period(start, start + H, "3h")
    assert "every 4 hours" in refused.value.errors["step"]


def test_times_taken_read_as_a_coordinator_says_them():
    assert replay.duration(timedelta(minutes=45)) == "45 min"
    assert replay.duration(4 * H + timedelta(minutes=10)) == "4 h 10 min"
    assert replay.duration(timedelta(days=2, hours=3)) == "2 days 3 h"
    assert replay.duration(None) == "–"


# ------------------------------------------------------------------ the page


def _params(cast, n: int, step: str = "1h") -> dict[str, str]:
    end = cast.start + 24 * H
    return {
        "from": timezone.localtime(cast.start).strftime("%Y-%m-%dT%H:%M"),
        "to": timezone.localtime(end).strftime("%Y-%m-%dT%H:%M"),
        "step": step,
        "n": str(n),
    }


def test_the_replay_page_shows_a_step_with_its_neighbours_linked(client, day):
    client.force_login(day.people[Role.VIEWER])
    page = client.get(f"/c/{day.collab.slug}/replay", _params(day, 14))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Step 14 of 25" in html
    assert 'aria-current="step"' in html and "n=13" in html and "n=15" in html
    assert "Open the escalation ward" not in html  # decided at 14:00: step 15
    assert "Help under way (2 of 2)" not in html
    later = client.get(f"/c/{day.collab.slug}/replay", _params(day, 15)).content.decode()
    assert "Open the escalation ward" in later
    assert 'id="longest-to-fulfilment">4 h' in later


def test_the_replay_page_without_a_period_shows_the_last_day(client, day):
    client.force_login(day.people[Role.VIEWER])
    page = client.get(f"/c/{day.collab.slug}/replay")
    assert page.status_code == 200
    assert "Step 1 of 25" in page.content.decode()


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ({"from": "2026-01-05T08:00", "to": "2026-01-04T08:00"}, "must be after the start"),
        ({"from": "2026-01-01T00:00", "to": "2026-01-05T00:00", "step": "1h"}, "at most 60"),
        ({"from": "yesterday", "to": "2026-01-04T08:00"}, "is not a date and time"),
        ({"from": "2999-01-01T00:00", "to": "2999-01-02T00:00"}, "not in the past"),
    ],
)
def test_a_bad_period_on_the_page_is_shown_as_an_error_by_its_field(client, cast, params, said):
    client.force_login(cast.people[Role.VIEWER])
    page = client.get(f"/c/{cast.collab.slug}/replay", params)
    html = page.content.decode()
    assert page.status_code == 200
    assert "There is a problem" in html and said in html
    assert "Step 1 of" not in html


def test_a_step_past_the_end_shows_the_last_with_a_notice(client, day):
    client.force_login(day.people[Role.VIEWER])
    html = client.get(f"/c/{day.collab.slug}/replay", _params(day, 99)).content.decode()
    assert "Step 25 of 25" in html and "There is no step 99" in html


def test_the_outsider_cannot_open_the_replay(client, cast):
    client.force_login(cast.people["outsider"])
    assert client.get(f"/c/{cast.collab.slug}/replay").status_code == 404
