"""Forecast alerts: "a forecast says a threshold will be crossed within N days". The rule reads
the watched organisation's own newest forecast (made by the planning app from its figures),
at the quantile it chose, over the days from today to N days ahead; it opens when the highest
figure forecast on those days reaches the threshold, and is judged again whenever forecasts
change. Who is shown it is decided as for the figure forecast: the measure's grant, exactly,
at the grant's delay.

In the world of these tests South has reported three weeks of G&A figures and its forecasts
are made. North's people see South's capacity exactly (a grant by name); East, a third
member, sees it as status only (South's grant to the collaborative)."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from flotilla.alerts import actions, logic, queries
from flotilla.alerts.models import Alert
from flotilla.audit.models import AuditEvent
from flotilla.authz import actions as authz_actions
from flotilla.authz.models import Role
from flotilla.planning import actions as planning
from flotilla.planning.models import Forecast
from flotilla.planning.tasks import forecast_organisations
from flotilla.sharing import policy
from tests import factories as f
from tests.integration.alerts.told import notes

pytestmark = pytest.mark.django_db

BEDS_OPEN = 120
LABEL = "General & acute (all ages): beds occupied"


def days_ago(n: float, hour: int = 8):
    moment = timezone.localtime() - timedelta(days=n)
    return moment.replace(hour=hour, minute=0, second=0, microsecond=0)


@pytest.fixture
def ahead(cast):
    """The cast, with East (status only) and its reporter subscribed later by each test's
    rule; South's three weeks of G&A figures up to yesterday, and its forecasts made."""
    east = f.OrganisationFactory(code="RE1", name="East Hospitals NHS Trust")
    f.join(cast.collab, east)
    east_person = f.UserFactory(username="east_reporter")
    f.member(east_person, east, Role.REPORTER)
    f.reshare(f.collaborative_grant(cast.south, cast.collab), detail="status")
    cast.north_grant = f.grant(
        cast.south, audience="organisation", audience_organisation=cast.north
    )
    for n in range(21, 0, -1):
        occupied = 100 + (n % 7) * 2 - n // 3
        f.report(cast.south, days_ago(n), ga_occupied=occupied, ga_open=BEDS_OPEN)
    planning.recompute(organisation=cast.south)
    f.run_alert_jobs()
    cast.east, cast.east_person = east, east_person
    cast.coordinator = cast.people[Role.COORDINATOR]
    return cast


def forecast_days(org, field: str = "q50") -> list[tuple]:
    """(target day, value) of the organisation's own newest G&A forecast, as stored."""
    rows = Forecast.objects.filter(organisation=org, site__isnull=True, measure="ga_occupied")
    newest = max(rows.values_list("origin", flat=True))
    return sorted(rows.filter(origin=newest).values_list("target", field))


def peak(org, within: int = 3, field: str = "q50") -> float:
    """The highest figure forecast from today to `within` days ahead."""
    today = timezone.localdate()
    return max(v for d, v in forecast_days(org, field) if 0 <= (d - today).days <= within)


def watch(cast, *, threshold: float, measure: str = "ga_occupied", **more):
    """North's coordinator's forecast rule on South, its subscribers, judged at once."""
    rule = f.alert_rule(
        by=cast.coordinator,
        collaborative=cast.collab,
        kind="forecast",
        measure=measure,
        organisation=cast.south,
        threshold=threshold,
        **more,
    )
    f.subscribe(cast.people[Role.VIEWER], rule)
    f.subscribe(cast.east_person, rule)
    f.run_alert_jobs()
    return rule


def test_a_forecast_reaching_the_threshold_within_the_days_opens_one_alert_told_to_who_may_see_it(
    ahead,
):
    top = peak(ahead.south)
    threshold = math.floor(top) - 1
    rule = watch(ahead, threshold=threshold)
    f.run_alert_jobs()  # nothing more to do

    alert = Alert.objects.get()
    today = timezone.localdate()
    first = next(d for d, v in forecast_days(ahead.south) if d >= today and v >= threshold)
    assert (alert.rule, alert.organisation, alert.state) == (rule, ahead.south, "open")
    assert (alert.measure, alert.value, alert.target) == ("ga_occupied", top, first)
    # Shared as of the newest figure the forecast was made from.
    assert alert.as_of == days_ago(1)
    for person in (ahead.coordinator, ahead.people[Role.VIEWER]):
        (text,) = notes(person)
        assert f"South Hospitals NHS Trust: {LABEL} forecast to reach {threshold} by " in text
        assert f"({round(top)} at the median within 3 days" in text
        assert "at the median within 3 days" in text
    # East sees South's capacity as status only: a forecast count would tell it the figure.
    assert notes(ahead.east_person) == []
    assert rule.describe() == (
        f"Forecast {LABEL[:1].lower()}{LABEL[1:]} of South Hospitals NHS Trust "
        f"at or above {threshold} within 3 days (median)"
    )


def test_a_forecast_reaching_the_threshold_only_after_the_days_watched_opens_nothing(ahead):
    near = peak(ahead.south, within=1, field="q975")
    far = peak(ahead.south, within=14, field="q975")
    assert far > near + 2, "the fan widens with the days ahead"
    threshold = round((near + far) / 2)
    watch(ahead, threshold=threshold, within_days=1, quantile=0.975)
    assert not Alert.objects.exists()
    fortnight = watch(ahead, threshold=threshold, within_days=14, quantile=0.975)
    assert list(Alert.objects.values_list("rule", flat=True)) == [fortnight.pk]


def test_the_quantile_chosen_decides_how_early_the_alert_opens(ahead):
    median, upper = peak(ahead.south), peak(ahead.south, field="q90")
    assert upper > median + 1
    threshold = (median + upper) / 2
    watch(ahead, threshold=threshold)
    assert not Alert.objects.exists()
    cautious = watch(ahead, threshold=threshold, quantile=0.9)
    (alert,) = Alert.objects.all()
    assert (alert.rule, alert.value) == (cautious, upper)


def test_a_forecast_occupancy_is_the_forecast_count_over_the_beds_open_last_reported(ahead):
    expected = peak(ahead.south) / BEDS_OPEN
    rule = watch(ahead, measure="ga_occupancy", threshold=round(expected - 0.01, 2))
    (alert,) = Alert.objects.all()
    assert alert.value == pytest.approx(expected)
    assert alert.shown_value() == f"{expected:.1%}"
    assert rule.clear_at == round(rule.threshold - 0.02, 4)
    assert rule.shown_clear_at() == f"{rule.clear_at * 100:g}%"
    # No bed base (reported as missing): no reading, and the open alert stays open.
    f.report(ahead.south, days_ago(0, hour=0), ga_open=None)
    actions.evaluate(organisation_ids=[ahead.south.pk])
    alert.refresh_from_db()
    assert alert.state == "open"


def test_new_forecasts_judge_the_forecast_rules_in_a_job_of_their_own(ahead):
    threshold = math.ceil(peak(ahead.south)) + 15
    watch(ahead, threshold=threshold)
    assert not Alert.objects.exists()

    f.report(ahead.south, days_ago(0, hour=0), ga_occupied=190)
    f.run_alert_jobs()  # the report's own evaluation: the forecasts are not made yet
    assert not Alert.objects.exists()
    forecast_organisations.call(organisation_ids=[ahead.south.pk])
    queued = DBTaskResult.objects.filter(task_path__endswith="evaluate_alerts", status="READY")
    assert [r.args_kwargs["kwargs"]["kinds"] for r in queued] == [["forecast"]]
    assert peak(ahead.south) >= threshold
    f.run_alert_jobs()
    (alert,) = Alert.objects.all()
    assert alert.value == peak(ahead.south)
    assert alert.as_of == days_ago(0, hour=0)
    # The same forecasts again: no new job, nothing changes.
    forecast_organisations.call(organisation_ids=[ahead.south.pk])
    assert not DBTaskResult.objects.filter(
        task_path__endswith="evaluate_alerts", status="READY"
    ).exists()


def test_a_forecast_falling_below_where_it_clears_resolves_the_alert(ahead):
    threshold = math.floor(peak(ahead.south)) - 1
    rule = watch(ahead, threshold=threshold, clear_at=threshold - 1)
    alert = Alert.objects.get()
    f.report(ahead.south, days_ago(0, hour=0), ga_occupied=20)
    planning.recompute(organisation=ahead.south)
    assert peak(ahead.south) < rule.clear_at
    f.run_alert_jobs()
    alert.refresh_from_db()
    assert alert.state == "resolved"
    assert alert.resolved_why == f"the forecast fell below {rule.clear_at:g} over the next 3 days"
    assert AuditEvent.objects.filter(action="alerts.resolved", object_id=str(alert.pk)).exists()


def test_a_forecast_whose_days_have_passed_is_not_a_recovery(ahead):
    watch(ahead, threshold=math.floor(peak(ahead.south)) - 1)
    alert = Alert.objects.get()
    later = timezone.now() + timedelta(days=20)  # every day forecast is past
    outcome = actions.evaluate(organisation_ids=[ahead.south.pk], now=later)
    assert outcome.as_dict() == {"opened": 0, "reopened": 0, "resolved": 0, "updated": 0, "told": 0}
    alert.refresh_from_db()
    assert alert.state == "open"


def test_a_delayed_viewer_sees_a_forecast_alert_once_the_figures_it_was_made_from_are_old_enough(
    ahead,
):
    f.reshare(ahead.north_grant, delay_hours=48)
    watch(ahead, threshold=math.floor(peak(ahead.south)) - 1)
    alert = Alert.objects.get()
    north = policy.viewer_of(ahead.people[Role.VIEWER])
    assert queries.alerts_seen_by(north) == []
    assert notes(ahead.people[Role.VIEWER]) == []  # not told of what it may not see yet
    seen = queries.seen_by(north, [alert], now=alert.as_of + timedelta(hours=48, minutes=1))
    assert [a.pk for a in seen] == [alert.pk]
    east = policy.viewer_of(ahead.east_person)
    assert queries.seen_by(east, [alert], now=timezone.now() + timedelta(days=30)) == []


def test_a_forecast_rule_is_checked_field_by_field_and_audited_with_what_it_looks_at(ahead):
    def refused(**kw) -> dict[str, str]:
        with pytest.raises(actions.AlertError) as e:
            actions.add_rule(by=ahead.coordinator, collaborative=ahead.collab, **kw)
        return e.value.errors

    assert refused(kind="forecast", measure="nctr", threshold=50) == {
        "measure": "Choose a figure that is forecast: beds occupied, or an occupancy"
    }
    assert refused(kind="forecast", measure="ga_occupied", threshold=50, within_days=15) == {
        "within_days": "Enter how many days ahead to look, from 1 to 14"
    }
    assert refused(kind="forecast", measure="ga_occupied", threshold=50, quantile=0.6) == {
        "quantile": "Choose how likely the forecast must say it is"
    }
    assert refused(kind="forecast", measure="ga_occupied") == {"threshold": "Enter the threshold"}
    assert refused(kind="measure", measure="ga_occupied", threshold=50, within_days=3) == {
        "within_days": "Only a forecast rule looks days ahead"
    }
    rule = actions.add_rule(
        by=ahead.coordinator,
        collaborative=ahead.collab,
        kind="forecast",
        measure="cc_adult_occupied",
        threshold=12,
    )
    assert (rule.within_days, rule.quantile, rule.clear_at) == (3, 0.5, 11)
    event = AuditEvent.objects.get(action="alerts.rule_added", object_id=str(rule.pk))
    assert (event.after["within_days"], event.after["quantile"]) == (3, 0.5)


def test_a_coordinator_adds_a_forecast_rule_on_the_page_and_its_alert_page_says_what_was_forecast(
    ahead, client
):
    client.force_login(ahead.coordinator)
    url = f"/c/{ahead.collab.slug}/alerts/"
    threshold = math.floor(peak(ahead.south)) - 1
    bad = client.post(url, {"kind": "forecast", "threshold": "100", "within_days": "0"})
    html = bad.content.decode()
    assert "Choose the figure to watch" in html
    r = client.post(
        url,
        {
            "kind": "forecast",
            "measure": "ga_occupied",
            "organisation": str(ahead.south.pk),
            "threshold": str(threshold),
            "within_days": "5",
            "quantile": "0.75",
        },
    )
    assert r.status_code == 302
    f.run_alert_jobs()
    alert = Alert.objects.get()
    assert (alert.rule.within_days, alert.rule.quantile) == (5, 0.75)
    page = client.get(f"/alerts/{alert.pk}").content.decode()
    assert "Forecast that opened it" in page and "at the highest within 5 days" in page
    assert f'href="/o/{ahead.south.code}/"' in page
    assert "within 5 days (75th centile)" in page
    listed = client.get("/alerts/").content.decode()
    assert "forecast at or above the threshold from" in listed


def test_the_api_gives_a_forecast_rules_days_and_quantile_and_its_alerts_forecast_day(
    ahead, client
):
    rule = watch(ahead, threshold=math.floor(peak(ahead.south)) - 1, within_days=4)
    alert = Alert.objects.get()
    _, secret = authz_actions.issue_token(
        by=ahead.people[Role.ORG_ADMIN], organisation=ahead.north, name="t", scope="read"
    )
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    rules = client.get(f"/api/collaboratives/{ahead.collab.slug}/alert-rules", **auth).json()
    assert [(r["kind"], r["within_days"], r["quantile"]) for r in rules] == [("forecast", 4, 0.5)]
    body = client.get(f"/api/alerts/{alert.pk}", **auth).json()
    assert (body["rule"], body["forecast_day"]) == (rule.pk, alert.target.isoformat())
    csv = client.get("/api/alerts?format=csv", **auth).content.decode()
    assert alert.target.isoformat() in csv.splitlines()[1]
    assert logic.FORECAST in body["rule_kind"]
