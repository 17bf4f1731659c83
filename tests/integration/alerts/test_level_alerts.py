"""Alerts on computed escalation levels: an organisation's level (as the collaborative's
profile scores it) at or above a level, a level changing, and the collaborative's system
level. Levels are computed by escalation's job from the figures reported; its signal
`levels_computed` queues the alerts' evaluation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from flotilla.alerts.models import Alert
from flotilla.authz.models import Role
from flotilla.escalation import actions as escalation
from flotilla.notifications.models import Notification
from tests import factories as f

pytestmark = pytest.mark.django_db

#: Figures the shipped acute profile scores at OPEL 4 and at OPEL 1.
PRESSED = {
    "ga_occupied": 99, "ga_open": 100, "cc_adult_occupied": 10, "cc_adult_open": 10,
    "nctr": 30, "handover_over_60": 12, "dta_waiting": 50, "escalation_open": 25,
}  # fmt: skip
CALM = {
    "ga_occupied": 80, "ga_open": 100, "cc_adult_occupied": 5, "cc_adult_open": 10,
    "nctr": 2, "handover_over_60": 0, "dta_waiting": 1, "escalation_open": 0,
}  # fmt: skip


def levels(organisation, at, **figures):
    """Report the figures, compute the levels as escalation's job does, then run the
    alert evaluations that queued."""
    f.report(organisation, at, **figures)
    escalation.recompute_for(organisation_ids=[organisation.pk])
    f.run_alert_jobs()


def test_an_organisation_s_computed_level_at_or_above_the_rule_s_opens_an_alert(cast):
    coordinator = cast.people[Role.COORDINATOR]
    f.alert_rule(
        by=coordinator,
        collaborative=cast.collab,
        kind="level",
        organisation=cast.south,
        threshold=4,
    )
    levels(cast.south, timezone.now() - timedelta(minutes=30), **PRESSED)
    alert = Alert.objects.get()
    assert (alert.value, alert.measure, alert.state) == (4, "computed_level", "open")
    (text,) = Notification.objects.filter(recipient=coordinator, link__startswith="/alerts/")
    assert "OPEL" in text.text or "Computed escalation level" in text.text

    levels(cast.south, timezone.now() - timedelta(minutes=10), **CALM)
    alert.refresh_from_db()
    assert alert.state == "resolved"


def test_a_level_changing_opens_one_alert_that_see_sawing_keeps_open(cast):
    coordinator = cast.people[Role.COORDINATOR]
    f.alert_rule(
        by=coordinator, collaborative=cast.collab, kind="level_change", organisation=cast.south
    )
    start = timezone.now() - timedelta(minutes=40)
    levels(cast.south, start, **CALM)
    assert not Alert.objects.exists()  # a first level is not a change
    levels(cast.south, start + timedelta(minutes=10), **PRESSED)
    levels(cast.south, start + timedelta(minutes=20), **CALM)
    levels(cast.south, start + timedelta(minutes=30), **PRESSED)
    (alert,) = Alert.objects.all()
    assert alert.state == "open" and alert.last_value == 4
    told = Notification.objects.filter(recipient=coordinator, link__startswith="/alerts/")
    assert told.count() == 1


def test_the_system_level_at_or_above_the_rule_s_opens_an_alert_for_every_member(cast, client):
    coordinator = cast.people[Role.COORDINATOR]
    f.alert_rule(by=coordinator, collaborative=cast.collab, kind="system_level", threshold=3)
    at = timezone.now() - timedelta(minutes=20)
    f.report(cast.north, at, **PRESSED)
    levels(cast.south, at, **PRESSED)
    escalation.recompute_for(organisation_ids=[cast.north.pk])
    f.run_alert_jobs()
    alert = Alert.objects.get(organisation__isnull=True)
    assert alert.value == 4
    client.force_login(cast.people["south_reporter"])
    assert client.get(f"/alerts/{alert.pk}").status_code == 200


def test_a_report_judges_the_figure_and_overdue_rules_and_its_levels_judge_the_level_rules(cast):
    from django_tasks_db.models import DBTaskResult

    def queued_kinds() -> list[list[str]]:
        rows = DBTaskResult.objects.filter(
            task_path__endswith="evaluate_alerts", status="READY"
        ).order_by("id")
        kinds = [r.args_kwargs["kwargs"]["kinds"] for r in rows]
        rows.delete()
        return kinds

    f.report(cast.south, timezone.now() - timedelta(minutes=30), **PRESSED)
    assert queued_kinds() == [["measure", "overdue"]]
    escalation.recompute_for(organisation_ids=[cast.south.pk])
    assert queued_kinds() == [["level", "level_change"]]
