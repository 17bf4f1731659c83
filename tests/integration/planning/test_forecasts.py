"""Daily forecasts in the app: made from an organisation's own history, stored once per
series, origin and target day, recomputed when figures arrive, and seen by others only as
the owner shares the measure's group."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from flotilla.audit.models import AuditEvent
from flotilla.jobs.schedule import entry
from flotilla.planning import actions, queries
from flotilla.planning.models import Forecast
from flotilla.sharing import policy
from tests import factories as f

pytestmark = pytest.mark.django_db


def days_ago(n: float, hour: int = 8):
    moment = timezone.localtime() - timedelta(days=n)
    return moment.replace(hour=hour, minute=0, second=0, microsecond=0)


def history(org, days: int = 20, site=None, start: float = 80, **extra) -> None:
    """A report a day for `days` days up to yesterday: G&A occupancy wobbling over a week."""
    for n in range(days, 0, -1):
        f.report(org, days_ago(n), site=site, ga_occupied=start + (n % 7) * 2 + n // 4, **extra)


def viewer(person):
    return policy.viewer_of(person)


def test_forecasts_are_stored_for_fourteen_days_with_their_quantiles_after_history_is_reported(
    cast,
):
    history(cast.north)
    actions.recompute(organisation=cast.north)
    rows = list(Forecast.objects.filter(organisation=cast.north).order_by("horizon"))
    assert [r.horizon for r in rows] == list(range(1, 15))
    assert {r.measure for r in rows} == {"ga_occupied"}
    assert {r.origin for r in rows} == {days_ago(1).date()}
    assert rows[0].target == days_ago(0).date()
    assert {r.as_of for r in rows} == {days_ago(1)}
    assert {r.method for r in rows} == {"ensemble"}
    assert {r.points for r in rows} == {20}
    for r in rows:
        assert r.q025 <= r.q25 <= r.q50 <= r.q75 <= r.q975
    assert rows[-1].q975 - rows[-1].q025 > 0, "a fan, not a line"


def test_each_stored_series_has_its_audit_event_in_the_same_transaction(cast):
    history(cast.north, days=5)
    actions.recompute(organisation=cast.north)
    (event,) = AuditEvent.objects.filter(action="planning.forecast_computed")
    assert event.organisation_id == cast.north.pk
    assert event.actor_label == actions.FORECASTER.label
    assert event.after["measure"] == "ga_occupied" and event.before is None
    assert len(event.after["median"]) == 14


def test_recomputing_with_nothing_new_stores_nothing_more(cast):
    history(cast.north)
    actions.recompute(organisation=cast.north)
    first = set(Forecast.objects.values_list("pk", flat=True))
    assert actions.recompute(organisation=cast.north) == []
    assert set(Forecast.objects.values_list("pk", flat=True)) == first
    assert AuditEvent.objects.filter(action="planning.forecast_computed").count() == 1


def test_a_later_figure_the_same_day_replaces_that_days_forecasts_and_says_what_they_were(cast):
    history(cast.north)
    actions.recompute(organisation=cast.north)
    f.report(cast.north, days_ago(1, hour=17), ga_occupied=120)
    actions.recompute(organisation=cast.north)
    rows = Forecast.objects.filter(organisation=cast.north, origin=days_ago(1).date())
    assert rows.count() == 14
    assert {r.as_of for r in rows} == {days_ago(1, hour=17)}
    last = AuditEvent.objects.filter(action="planning.forecast_computed").order_by("-id").first()
    assert last.before["as_of"] == days_ago(1).isoformat()
    assert last.after["as_of"] == days_ago(1, hour=17).isoformat()


def test_a_new_day_adds_forecasts_from_a_new_origin_and_keeps_the_old(cast):
    history(cast.north)
    actions.recompute(organisation=cast.north)
    # Early today (five past midnight: never more than the hour ahead a report may be).
    f.report(cast.north, days_ago(0, hour=0) + timedelta(minutes=5), ga_occupied=90)
    actions.recompute(organisation=cast.north)
    origins = set(Forecast.objects.values_list("origin", flat=True))
    assert origins == {days_ago(1).date(), days_ago(0).date()}


def test_short_and_flat_series_say_their_fallback(cast):
    for n in range(5, 0, -1):
        f.report(cast.north, days_ago(n), ga_occupied=70 + n, cc_adult_occupied=0)
    actions.recompute(organisation=cast.north)
    methods = dict(Forecast.objects.values_list("measure", "method").distinct())
    assert methods == {
        "ga_occupied": "short series (5 points): last value",
        "cc_adult_occupied": "flat series: constant",
    }
    flat = Forecast.objects.filter(measure="cc_adult_occupied")
    assert {(r.q025, r.q50, r.q975) for r in flat} == {(0.0, 0.0, 0.0)}


def test_no_history_no_forecast_and_missing_is_not_zero(cast):
    f.report(cast.north, days_ago(3), ga_occupied=None, ga_open=100)
    actions.recompute(organisation=cast.north)
    assert not Forecast.objects.exists()
    f.report(cast.north, days_ago(2), ga_occupied=80)
    f.report(cast.north, days_ago(1), ga_occupied=None)
    actions.recompute(organisation=cast.north)
    rows = Forecast.objects.filter(organisation=cast.north)
    # Made from the one figure there is (the day reported missing is no zero).
    assert {r.origin for r in rows} == {days_ago(2).date()}
    assert {r.q50 for r in rows} == {80.0}
    assert {r.points for r in rows} == {1}


def test_sites_get_forecasts_of_their_own(aid):
    history(aid.north, days=3, site=aid.north_site, start=30)
    history(aid.north, days=3, start=300)
    actions.recompute(organisation=aid.north)
    medians = dict(Forecast.objects.filter(horizon=1).values_list("site_id", "q50"))
    assert set(medians) == {None, aid.north_site.pk}
    assert medians[aid.north_site.pk] < 100 < medians[None]


def test_a_report_queues_the_forecast_job_of_its_organisation(cast):
    f.report(cast.north, days_ago(1), ga_occupied=80)
    (job,) = DBTaskResult.objects.filter(task_path="flotilla.planning.tasks.forecast_organisations")
    assert job.args_kwargs["kwargs"] == {"organisation_ids": [cast.north.pk]}


def test_the_job_and_the_daily_schedule_forecast_everyone_idempotently(cast):
    from flotilla.planning import tasks

    history(cast.north, days=4)
    history(cast.south, days=4)
    daily = entry("forecast-daily")
    assert daily.resolve() is tasks.forecast_everyone
    DBTaskResult.objects.all().delete()  # the reports' own jobs
    queued = tasks.forecast_everyone.call(slot=timezone.now().isoformat())
    assert queued == {"organisations": 3, "jobs": 1}
    (job,) = DBTaskResult.objects.filter(task_path__endswith="forecast_organisations")
    done = tasks.forecast_organisations.call(**job.args_kwargs["kwargs"])
    assert done == {"forecasts": 28, "series": 2}
    again = tasks.forecast_organisations.call(organisation_ids=[cast.north.pk, cast.south.pk])
    assert again == {"forecasts": 0, "series": 0}


def test_forecasting_everyone_is_spread_over_jobs_of_a_batch_of_organisations_each(
    cast, monkeypatch
):
    monkeypatch.setattr(actions, "EVERYONE_BATCH", 2)
    DBTaskResult.objects.all().delete()
    assert actions.forecast_everyone() == {"organisations": 3, "jobs": 2}
    jobs = DBTaskResult.objects.filter(task_path__endswith="forecast_organisations")
    batches = sorted(j.args_kwargs["kwargs"]["organisation_ids"] for j in jobs)
    everyone = sorted(pk for batch in batches for pk in batch)
    assert everyone == sorted([cast.north.pk, cast.south.pk, cast.outside.pk])
    assert sorted(len(b) for b in batches) == [1, 2]


# Who sees what -------------------------------------------------------------------------------


def test_the_owners_people_see_their_forecasts_exactly(cast):
    history(cast.north)
    actions.recompute(organisation=cast.north)
    (seen,) = queries.forecasts_seen_by(viewer(cast.people["viewer"]), [cast.north])
    stored = Forecast.objects.get(organisation=cast.north, horizon=3)
    assert seen.access.detail == "exact"
    assert seen.day(3).values[0.5] == stored.q50
    assert seen.day(3).values[0.025] == stored.q025


def test_a_fellow_member_sees_them_under_the_collaborative_grant(cast):
    history(cast.south)
    actions.recompute(organisation=cast.south)
    (seen,) = queries.forecasts_seen_by(viewer(cast.people["viewer"]), [cast.south])
    assert seen.measure == "ga_occupied" and len(seen.days) == 14


def test_asking_for_one_target_day_gives_that_day_of_the_newest_forecast_alone(cast):
    history(cast.south)
    actions.recompute(organisation=cast.south)
    (whole,) = queries.forecasts_seen_by(viewer(cast.people["viewer"]), [cast.south])
    day = whole.day(3)
    (one,) = queries.forecasts_seen_by(
        viewer(cast.people["viewer"]), [cast.south], target=day.target
    )
    assert one.days == (day,) and one.origin == whole.origin
    beyond = whole.days[-1].target + timedelta(days=1)
    assert (
        queries.forecasts_seen_by(viewer(cast.people["viewer"]), [cast.south], target=beyond) == []
    )


def test_with_no_grant_nothing_is_seen(cast):
    history(cast.north)
    actions.recompute(organisation=cast.north)
    assert queries.forecasts_seen_by(viewer(cast.people["outsider"]), [cast.north]) == []
    f.unshare(f.collaborative_grant(cast.south, cast.collab))
    history(cast.south, days=3)
    actions.recompute(organisation=cast.south)
    assert queries.forecasts_seen_by(viewer(cast.people["viewer"]), [cast.south]) == []


def test_a_grant_of_other_groups_shows_no_forecast_of_capacity(cast):
    f.reshare(f.collaborative_grant(cast.south, cast.collab), groups=("flow", "escalation"))
    history(cast.south)
    actions.recompute(organisation=cast.south)
    assert queries.forecasts_seen_by(viewer(cast.people["viewer"]), [cast.south]) == []


def test_a_delayed_grant_shows_only_forecasts_made_from_figures_old_enough(cast):
    f.reshare(f.collaborative_grant(cast.south, cast.collab), delay_hours=36)
    for n in range(10, 2, -1):
        f.report(cast.south, days_ago(n), ga_occupied=80 + n)
    # The forecast made three days ago, from the figures up to then.
    actions.recompute(organisation=cast.south, now=days_ago(3) + timedelta(hours=1))
    # Today's, from a figure two hours old.
    newest = timezone.now().replace(second=0, microsecond=0) - timedelta(hours=2)
    f.report(cast.south, newest, ga_occupied=99)
    actions.recompute(organisation=cast.south)
    assert set(Forecast.objects.values_list("as_of", flat=True)) == {days_ago(3), newest}
    (seen,) = queries.forecasts_seen_by(viewer(cast.people["viewer"]), [cast.south])
    assert seen.as_of == days_ago(3)
    assert seen.origin == days_ago(3).date()
    assert seen.access.delay_hours == 36
    (own,) = queries.forecasts_seen_by(viewer(cast.people["south_reporter"]), [cast.south])
    assert own.as_of == newest, "its own people see the newest there is"


def test_a_banded_grant_rounds_every_quantile_to_the_nearest_5(cast):
    f.reshare(f.collaborative_grant(cast.south, cast.collab), detail="banded")
    history(cast.south)
    actions.recompute(organisation=cast.south)
    (seen,) = queries.forecasts_seen_by(viewer(cast.people["viewer"]), [cast.south])
    assert seen.access.detail == "banded"
    for day in seen.days:
        assert all(v % 5 == 0 for v in day.values.values())
    exact = Forecast.objects.get(organisation=cast.south, horizon=3).q50
    assert seen.day(3).median == 5 * round(exact / 5)


def test_a_status_only_grant_shows_no_forecast_at_all(cast):
    f.reshare(f.collaborative_grant(cast.south, cast.collab), detail="status")
    history(cast.south)
    actions.recompute(organisation=cast.south)
    assert queries.forecasts_seen_by(viewer(cast.people["viewer"]), [cast.south]) == []


def test_backfill_makes_the_forecasts_of_the_days_before_from_the_figures_up_to_then(cast):
    history(cast.north, days=6)
    noon = days_ago(0, hour=12)
    assert actions.backfill(organisation=cast.north, days=2, now=noon) == 28
    origins = set(Forecast.objects.values_list("origin", flat=True))
    assert origins == {days_ago(2).date(), days_ago(1).date()}
    assert Forecast.objects.get(origin=days_ago(2).date(), horizon=1).points == 5
    assert actions.backfill(organisation=cast.north, days=2, now=noon) == 0
