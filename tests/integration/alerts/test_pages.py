"""The alert pages through the Django client: adding rules with errors beside their boxes,
subscribing, ending, personal rules, and acknowledging from an alert's page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from flotilla.alerts import actions
from flotilla.alerts.models import Alert, AlertRule, Subscription
from flotilla.authz.models import Role
from tests import factories as f

pytestmark = pytest.mark.django_db


def signed_in(client, person):
    client.force_login(person)
    return client


def test_a_coordinator_adds_a_rule_and_a_mistake_is_shown_beside_its_box(client, cast):
    c = signed_in(client, cast.people[Role.COORDINATOR])
    url = f"/c/{cast.collab.slug}/alerts/"
    r = c.post(url, {"kind": "measure", "measure": "", "threshold": "x"})
    html = r.content.decode()
    assert r.status_code == 200
    assert "Choose the figure to watch" in html and "Enter the threshold as a number" in html
    r = c.post(
        url, {"kind": "measure", "measure": "ga_occupied", "threshold": "50", "clear_at": "60"}
    )
    assert r.status_code == 200 and not AlertRule.objects.exists()  # clears above its threshold
    r = c.post(url, {"kind": "measure", "measure": "ga_occupied", "threshold": "100"})
    assert r.status_code == 302
    rule = AlertRule.objects.get()
    assert rule.owner is None and rule.threshold == 100
    assert Subscription.objects.filter(rule=rule, user=cast.people[Role.COORDINATOR]).exists()


def test_a_member_subscribes_and_unsubscribes_but_may_not_add_rules(client, cast):
    rule = f.alert_rule(
        by=cast.people[Role.COORDINATOR], collaborative=cast.collab, measure="nctr", threshold=50
    )
    c = signed_in(client, cast.people[Role.VIEWER])
    url = f"/c/{cast.collab.slug}/alerts/"
    assert c.post(url, {"kind": "overdue"}).status_code == 404
    c.post(f"/alerts/rules/{rule.pk}/subscription", {"subscribe": "1"})
    assert Subscription.objects.filter(rule=rule, user=cast.people[Role.VIEWER]).exists()
    c.post(f"/alerts/rules/{rule.pk}/subscription", {"subscribe": "0"})
    assert not Subscription.objects.filter(rule=rule, user=cast.people[Role.VIEWER]).exists()
    assert c.post(f"/alerts/rules/{rule.pk}/end").status_code == 404  # not a coordinator


def test_a_coordinator_ends_a_rule_and_its_open_alerts_resolve(client, cast):
    coordinator = cast.people[Role.COORDINATOR]
    rule = f.alert_rule(by=coordinator, collaborative=cast.collab, measure="nctr", threshold=50)
    f.report(cast.south, timezone.now() - timedelta(minutes=5), nctr=80)
    actions.evaluate(organisation_ids=[cast.south.pk])
    assert Alert.objects.get().state == "open"
    r = signed_in(client, coordinator).post(f"/alerts/rules/{rule.pk}/end")
    assert r.status_code == 302
    assert Alert.objects.get().state == "resolved"
    assert AlertRule.objects.get().ended_at is not None


def test_a_person_adds_a_rule_of_their_own_in_one_of_their_collaboratives(client, cast):
    c = signed_in(client, cast.people[Role.VIEWER])
    r = c.post("/alerts/rules", {"kind": "level", "threshold": "4"})
    assert "Choose one of your collaboratives" in r.content.decode()
    r = c.post(
        "/alerts/rules", {"collaborative": cast.collab.slug, "kind": "level", "threshold": "4"}
    )
    assert r.status_code == 302
    rule = AlertRule.objects.get()
    assert rule.owner == cast.people[Role.VIEWER]
    assert rule.describe() in c.get("/alerts/rules").content.decode()


def test_an_alert_is_acknowledged_from_its_page_once(client, cast):
    coordinator = cast.people[Role.COORDINATOR]
    f.alert_rule(by=coordinator, collaborative=cast.collab, measure="nctr", threshold=50)
    f.report(cast.south, timezone.now() - timedelta(minutes=5), nctr=80)
    actions.evaluate(organisation_ids=[cast.south.pk])
    alert = Alert.objects.get()
    c = signed_in(client, coordinator)
    assert "Acknowledge" in c.get(f"/alerts/{alert.pk}").content.decode()
    assert c.post(f"/alerts/{alert.pk}/acknowledge").status_code == 302
    alert.refresh_from_db()
    assert alert.state == "acknowledged" and alert.acknowledged_by == coordinator
    # Once resolved, acknowledging says why it cannot.
    f.report(cast.south, timezone.now() - timedelta(minutes=1), nctr=10)
    actions.evaluate(organisation_ids=[cast.south.pk])
    r = c.post(f"/alerts/{alert.pk}/acknowledge", follow=True)
    assert r.status_code == 200
    alert.refresh_from_db()
    assert alert.state == "resolved"
