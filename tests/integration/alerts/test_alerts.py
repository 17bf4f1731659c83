"""Alerts people can trust: a figure crossing a threshold opens one alert, told in the inbox
and by email to the subscribers who may see that figure and to nobody else; acknowledging
closes it for the team; a figure bouncing on the line is one alert, not twenty; a storm is
one digest; and nobody sees an alert about a figure they may not see.

In the world of these tests South's figures are watched. North's people see them exactly
(South shares with North by name); East, a third member, sees them as status only (South's
grant to the collaborative). Time moves by passing `now=` to `actions.evaluate`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from flotilla.alerts import actions, logic, queries
from flotilla.alerts.models import Alert, Notice
from flotilla.audit.models import AuditEvent
from flotilla.authz.models import Role
from flotilla.notifications import delivery
from flotilla.notifications.models import Channel, Delivery, Notification
from flotilla.sharing import policy
from tests import factories as f
from tests.integration.alerts.told import notes

pytestmark = pytest.mark.django_db


@pytest.fixture
def river(cast):
    """The cast, with East (a member whose people see South's figures as status only) and
    its reporter; South shares exactly with North by name, and as status only with the
    collaborative. North's coordinator watches South's G&A beds occupied at 100 or more."""
    east = f.OrganisationFactory(code="RE1", name="East Hospitals NHS Trust")
    f.join(cast.collab, east)
    east_person = f.UserFactory(username="east_reporter")
    f.member(east_person, east, Role.REPORTER)
    f.reshare(f.collaborative_grant(cast.south, cast.collab), detail="status")
    f.grant(cast.south, audience="organisation", audience_organisation=cast.north)
    coordinator = cast.people[Role.COORDINATOR]
    rule = f.alert_rule(
        by=coordinator,
        collaborative=cast.collab,
        measure="ga_occupied",
        organisation=cast.south,
        threshold=100,
        clear_at=90,
    )
    f.subscribe(cast.people[Role.VIEWER], rule)
    f.subscribe(east_person, rule)
    f.run_alert_jobs()  # the new rule is judged at once: nothing reported yet
    cast.east, cast.east_person, cast.rule, cast.coordinator = east, east_person, rule, coordinator
    return cast


def test_a_figure_crossing_a_threshold_opens_one_alert_told_to_the_subscribers_who_may_see_it(
    river,
):
    f.report(river.south, timezone.now() - timedelta(minutes=5), ga_occupied=120)
    f.run_alert_jobs()
    f.run_alert_jobs()  # nothing more to do

    alert = Alert.objects.get()
    assert (alert.state, alert.organisation, alert.value, alert.measure) == (
        "open",
        river.south,
        120,
        "ga_occupied",
    )
    viewer = river.people[Role.VIEWER]
    for person in (river.coordinator, viewer):
        (text,) = notes(person)
        assert "South Hospitals NHS Trust" in text and "120" in text
    # East's reporter subscribed too, but sees South's count as status only: a count alert
    # would tell them the figure, so they are not told at all.
    assert notes(river.east_person) == []
    told = Delivery.objects.filter(link__startswith="/alerts/")
    emailed = told.filter(channel=Channel.EMAIL).values_list("recipient", flat=True)
    assert sorted(emailed) == sorted([river.coordinator.pk, viewer.pk])
    # Never a webhook: the words carry a figure.
    assert not told.filter(channel=Channel.WEBHOOK).exists()
    mail.outbox.clear()
    delivery.deliver_due()
    emails = [m for m in mail.outbox if f"/alerts/{alert.pk}" in m.body]
    assert sorted(m.to[0] for m in emails) == sorted([river.coordinator.email, viewer.email])


def test_acknowledging_closes_the_alert_for_the_team_and_it_still_resolves(river, client):
    start = timezone.now() - timedelta(minutes=30)
    f.report(river.south, start, ga_occupied=120)
    f.run_alert_jobs()
    alert = Alert.objects.get()
    viewer = river.people[Role.VIEWER]

    client.force_login(viewer)
    response = client.post(f"/alerts/{alert.pk}/acknowledge")
    assert response.status_code == 302
    alert.refresh_from_db()
    assert (alert.state, alert.acknowledged_by) == ("acknowledged", viewer)

    # The coordinator sees who acknowledged it, and no button; acknowledging again changes
    # nothing.
    client.force_login(river.coordinator)
    page = client.get(f"/alerts/{alert.pk}").content.decode()
    assert "By north_viewer" in page and ">Acknowledge</button>" not in page
    f.acknowledge(river.coordinator, alert)
    alert.refresh_from_db()
    assert alert.acknowledged_by == viewer
    assert AuditEvent.objects.filter(action="alerts.acknowledged").count() == 1

    f.report(river.south, start + timedelta(minutes=10), ga_occupied=80)
    f.run_alert_jobs()
    alert.refresh_from_db()
    assert alert.state == "resolved"
    assert alert.resolved_why == "the figure fell below 90"
    with pytest.raises(actions.AlertError, match="resolved already"):
        f.acknowledge(viewer, alert)


def test_a_figure_bouncing_on_the_threshold_for_an_hour_is_one_alert_and_one_notification(
    river,
):
    # Above, then just under the threshold but not under where it clears: hysteresis.
    start = timezone.now() - timedelta(hours=1, minutes=5)
    for n in range(12):
        at = start + timedelta(minutes=5 * n)
        f.report(river.south, at, ga_occupied=101 if n % 2 == 0 else 99)
        actions.evaluate(organisation_ids=[river.south.pk], now=at + timedelta(seconds=30))
        actions.tell(now=at + timedelta(seconds=31))  # as the job it queues does
    assert Alert.objects.count() == 1
    assert Alert.objects.get().state == "open"
    assert len(notes(river.coordinator)) == 1


def test_a_figure_falling_through_and_back_within_the_minimum_interval_re_opens_the_alert(
    river,
):
    start = timezone.now() - timedelta(hours=1, minutes=5)
    for n in range(12):
        at = start + timedelta(minutes=5 * n)
        f.report(river.south, at, ga_occupied=130 if n % 2 == 0 else 60)
        actions.evaluate(organisation_ids=[river.south.pk], now=at + timedelta(seconds=30))
        actions.tell(now=at + timedelta(seconds=31))  # as the job it queues does
    (alert,) = Alert.objects.all()
    assert alert.times_reopened == 5
    assert alert.state == "resolved"  # the last figure, 60, is below where it clears
    assert len(notes(river.coordinator)) == 1
    assert AuditEvent.objects.filter(action="alerts.reopened").count() == 5

    # After the minimum interval a new crossing is a new alert, told again.
    later = start + timedelta(minutes=55 + 61)
    f.report(river.south, min(later, timezone.now()), ga_occupied=140)
    actions.evaluate(organisation_ids=[river.south.pk], now=later)
    actions.tell(now=later)
    assert Alert.objects.count() == 2
    assert len(notes(river.coordinator)) == 2


def test_evaluating_twice_changes_nothing_the_second_time(river):
    f.report(river.south, timezone.now() - timedelta(minutes=5), ga_occupied=120)
    now = timezone.now()
    first = actions.evaluate(organisation_ids=[river.south.pk], now=now)
    f.run_alert_jobs()
    state = list(Alert.objects.values_list("pk", "state", "last_value"))
    told = Notification.objects.count()
    second = actions.evaluate(organisation_ids=[river.south.pk], now=now)
    assert (len(first.opened), len(second.opened), second.updated) == (1, 0, 0)
    assert list(Alert.objects.values_list("pk", "state", "last_value")) == state
    assert Notification.objects.count() == told
    assert actions.tell(now=now) == 0  # told once


def test_every_change_of_an_alert_and_its_rules_is_audited(river):
    start = timezone.now() - timedelta(minutes=20)
    f.report(river.south, start, ga_occupied=120)
    f.run_alert_jobs()
    alert = Alert.objects.get()
    f.acknowledge(river.people[Role.VIEWER], alert)
    actions.end_rule(by=river.coordinator, rule=river.rule)
    actions.unsubscribe(by=river.east_person, rule=river.rule)
    done = list(
        AuditEvent.objects.filter(action__startswith="alerts.").values_list("action", flat=True)
    )
    assert done == [
        "alerts.rule_added",
        "alerts.subscribed",
        "alerts.subscribed",
        "alerts.subscribed",
        "alerts.opened",
        "alerts.acknowledged",
        "alerts.rule_ended",
        "alerts.resolved",
        "alerts.unsubscribed",
    ]
    alert.refresh_from_db()
    assert (alert.state, alert.resolved_why) == ("resolved", "the rule was ended")


def test_a_storm_of_alerts_reaches_each_person_as_one_digest(cast):
    coordinator = cast.people[Role.COORDINATOR]
    for threshold in (10, 20, 30, 40, 50):
        f.alert_rule(
            by=coordinator,
            collaborative=cast.collab,
            measure="ga_occupied",
            organisation=cast.south,
            threshold=threshold,
        )
    f.run_alert_jobs()
    f.report(cast.south, timezone.now() - timedelta(minutes=1), ga_occupied=60)
    f.run_alert_jobs()
    assert Alert.objects.count() == 5
    (text,) = notes(coordinator)
    assert text.startswith("5 alerts opened:") and text.endswith("and 2 more.")
    assert Notification.objects.get(recipient=coordinator).link == "/alerts/"
    assert Notice.objects.filter(user=coordinator, in_digest=True).count() == 5


def test_three_alerts_at_once_are_told_one_by_one_and_the_next_within_ten_minutes_in_a_digest(
    cast,
):
    coordinator = cast.people[Role.COORDINATOR]
    for threshold in (10, 20, 30, 70):
        f.alert_rule(
            by=coordinator,
            collaborative=cast.collab,
            measure="ga_occupied",
            organisation=cast.south,
            threshold=threshold,
        )
    f.run_alert_jobs()
    f.report(cast.south, timezone.now() - timedelta(minutes=10), ga_occupied=60)
    f.run_alert_jobs()
    assert len(notes(coordinator)) == 3
    f.report(cast.south, timezone.now() - timedelta(minutes=5), ga_occupied=80)
    f.run_alert_jobs()
    assert len(notes(coordinator)) == 4
    assert notes(coordinator)[-1].startswith("1 alerts opened:")


def test_a_personal_rule_is_seen_and_told_only_to_its_owner(cast, client):
    viewer = cast.people[Role.VIEWER]
    rule = f.alert_rule(
        by=viewer,
        collaborative=cast.collab,
        personal=True,
        measure="ga_occupancy",
        organisation=cast.south,
        threshold=0.9,
    )
    assert rule.clear_at == pytest.approx(0.88)
    f.report(cast.south, timezone.now() - timedelta(minutes=5), ga_occupied=95, ga_open=100)
    f.run_alert_jobs()
    alert = Alert.objects.get()
    assert alert.value == pytest.approx(0.95)
    assert len(notes(viewer)) == 1
    assert notes(cast.people[Role.COORDINATOR]) == []

    client.force_login(viewer)
    assert "G&amp;A occupancy" in client.get("/alerts/").content.decode()
    client.force_login(cast.people[Role.COORDINATOR])
    assert client.get(f"/alerts/{alert.pk}").status_code == 404
    assert "G&amp;A occupancy" not in client.get("/alerts/").content.decode()
    with pytest.raises(actions.AlertError):
        f.acknowledge(cast.people[Role.COORDINATOR], alert)


def test_someone_whose_grant_stops_showing_the_figure_stops_seeing_the_alert(river, client):
    f.report(river.south, timezone.now() - timedelta(minutes=5), ga_occupied=120)
    f.run_alert_jobs()
    alert = Alert.objects.get()
    viewer = river.people[Role.VIEWER]
    client.force_login(viewer)
    assert client.get(f"/alerts/{alert.pk}").status_code == 200
    assert f"/alerts/{alert.pk}" in client.get("/alerts/").content.decode()

    # South now shares with North only banded: a rounded count would still tell where the
    # threshold was crossed, so the alert is no longer North's to see.
    named = river.south.grants.get(audience="organisation", ended_at__isnull=True)
    f.reshare(named, detail="banded")
    assert client.get(f"/alerts/{alert.pk}").status_code == 404
    assert f"/alerts/{alert.pk}" not in client.get("/alerts/").content.decode()
    with pytest.raises(actions.AlertError):
        f.acknowledge(viewer, alert)


def test_a_level_is_seen_at_every_detail_so_a_status_only_subscriber_is_told_of_a_level_alert(
    river,
):
    rule = f.alert_rule(
        by=river.coordinator,
        collaborative=river.collab,
        measure="opel_declared",
        organisation=river.south,
        threshold=3,
    )
    f.subscribe(river.east_person, rule)
    f.report(river.south, timezone.now() - timedelta(minutes=5), opel_declared=4)
    f.run_alert_jobs()
    assert Alert.objects.get().value == 4
    assert len(notes(river.east_person)) == 1


def test_an_alert_about_a_figure_shared_late_is_not_seen_before_the_figure_is(cast, client):
    f.reshare(f.collaborative_grant(cast.south, cast.collab), delay_hours=2)
    coordinator = cast.people[Role.COORDINATOR]
    f.alert_rule(
        by=coordinator,
        collaborative=cast.collab,
        measure="ga_occupied",
        organisation=cast.south,
        threshold=100,
    )
    f.report(cast.south, timezone.now() - timedelta(minutes=5), ga_occupied=120)
    f.run_alert_jobs()
    alert = Alert.objects.get()
    assert notes(coordinator) == []  # not told: they may not see it when it opens
    assert queries.alerts_seen_by(policy.viewer_of(coordinator)) == []
    # South's own reporter would see it, were they subscribed.
    south = cast.people["south_reporter"]
    assert [a.pk for a in queries.alerts_seen_by(policy.viewer_of(south))] == [alert.pk]


def test_an_overdue_report_opens_an_alert_every_member_sees_and_a_report_resolves_it(cast, client):
    coordinator = cast.people[Role.COORDINATOR]
    f.report(cast.south, timezone.now() - timedelta(hours=7), ga_occupied=10)
    f.unshare(f.collaborative_grant(cast.south, cast.collab))  # South shares nothing now
    rule = f.alert_rule(
        by=coordinator,
        collaborative=cast.collab,
        kind="overdue",
        organisation=cast.south,
        threshold=6,
    )
    assert rule.clear_at == 3
    f.run_alert_jobs()
    alert = Alert.objects.get()
    assert alert.value == pytest.approx(7, abs=0.1)
    (text,) = notes(coordinator)
    assert "South Hospitals NHS Trust's report is overdue" in text
    client.force_login(cast.people[Role.VIEWER])
    page = client.get(f"/alerts/{alert.pk}")
    assert page.status_code == 200
    # South shares nothing with North: no "Who to call" link to a page that would be 404.
    assert "Who to call at South" not in page.content.decode()
    assert client.get("/o/RS1/on-call").status_code == 404
    f.grant(cast.south, collaborative=cast.collab, groups=("contacts",))
    page = client.get(f"/alerts/{alert.pk}").content.decode()
    assert 'href="/o/RS1/on-call">Who to call at South Hospitals NHS Trust</a>' in page

    f.report(cast.south, timezone.now() - timedelta(minutes=1), ga_occupied=12)
    f.run_alert_jobs()
    alert.refresh_from_db()
    assert (alert.state, alert.resolved_why) == ("resolved", "a report arrived")


def test_the_schedule_judges_rules_when_nobody_reports(cast):
    from flotilla.alerts.tasks import evaluate_all

    coordinator = cast.people[Role.COORDINATOR]
    f.report(cast.south, timezone.now() - timedelta(hours=3), ga_occupied=10)
    f.alert_rule(by=coordinator, collaborative=cast.collab, kind="overdue", threshold=4)
    f.run_alert_jobs()
    assert not Alert.objects.filter(organisation=cast.south).exists()
    later = timezone.now() + timedelta(hours=2)
    done = evaluate_all.call(slot=later.isoformat())
    assert done["opened"] >= 1
    assert Alert.objects.filter(organisation=cast.south, state="open").exists()
    again = evaluate_all.call(slot=later.isoformat())
    assert (again["opened"], again["told"]) == (0, 0)


def test_only_coordinators_add_and_end_a_collaborative_s_rules(cast):
    with pytest.raises(actions.AlertError, match="coordinators"):
        f.alert_rule(
            by=cast.people[Role.VIEWER],
            collaborative=cast.collab,
            measure="ga_occupied",
            threshold=5,
        )
    rule = f.alert_rule(
        by=cast.people[Role.COORDINATOR],
        collaborative=cast.collab,
        measure="ga_occupied",
        threshold=5,
    )
    with pytest.raises(actions.AlertError):
        actions.end_rule(by=cast.people[Role.VIEWER], rule=rule)
    with pytest.raises(actions.AlertError, match="people of the collaborative"):
        f.subscribe(cast.people["outsider"], rule)


def test_a_rule_s_numbers_are_refused_field_by_field(cast):
    with pytest.raises(actions.AlertError) as refused:
        f.alert_rule(
            by=cast.people[Role.COORDINATOR],
            collaborative=cast.collab,
            measure="situation",
            organisation=cast.outside,
            threshold=5,
        )
    assert set(refused.value.errors) == {"measure", "organisation"}
    with pytest.raises(actions.AlertError) as refused:
        f.alert_rule(
            by=cast.people[Role.COORDINATOR],
            collaborative=cast.collab,
            measure="ga_occupied",
            threshold=10,
            clear_at=12,
        )
    assert refused.value.errors == {
        "clear_at": "The value an alert clears at must be below the threshold"
    }


def test_default_thresholds_and_clearing_points_follow_the_kind(cast):
    coordinator = cast.people[Role.COORDINATOR]
    level = f.alert_rule(by=coordinator, collaborative=cast.collab, kind="system_level")
    overdue = f.alert_rule(by=coordinator, collaborative=cast.collab, kind="overdue")
    change = f.alert_rule(by=coordinator, collaborative=cast.collab, kind="level_change")
    count = f.alert_rule(by=coordinator, collaborative=cast.collab, measure="nctr", threshold=100)
    assert (level.threshold, level.clear_at) == (3, 2.5)
    assert (overdue.threshold, overdue.clear_at) == (cast.collab.reporting_interval_hours, 2)
    assert (change.threshold, change.clear_at) == (None, None)
    assert count.clear_at == 95
    assert logic.default_clear_at("measure", 0.95, "ratio") == 0.93
