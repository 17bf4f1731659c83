"""Two evaluations of the same figures at the same moment (two workers picking up the jobs of
two reports at once) open one alert, not two, and both finish."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import close_old_connections, connection
from django.utils import timezone

from flotilla.alerts import actions
from flotilla.alerts.models import Alert
from flotilla.audit.models import AuditEvent
from flotilla.authz.models import Role
from tests import factories as f

pytestmark = pytest.mark.django_db(transaction=True)


def test_evaluations_racing_on_one_crossing_open_one_alert(cast):
    rules = [
        f.alert_rule(
            by=cast.people[Role.COORDINATOR],
            collaborative=cast.collab,
            measure="ga_occupied",
            organisation=cast.south,
            threshold=t,
            clear_at=t - 10,
        )
        for t in (50, 60, 70, 80, 90)
    ]
    f.report(cast.south, timezone.now() - timedelta(minutes=5), ga_occupied=120)
    width, rounds = 4, 5
    start = threading.Barrier(width)
    crashed: list[BaseException] = []

    def worker() -> None:
        try:
            for n in range(rounds):
                start.wait(timeout=60)
                actions.evaluate(organisation_ids=[cast.south.pk])
                start.wait(timeout=60)
                if threading.current_thread() is threads[0] and n < rounds - 1:
                    Alert.objects.all().delete()  # the next round starts with none open
        except BaseException as exc:  # reported by the main thread
            crashed.append(exc)
            start.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(width)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    close_old_connections()
    assert not crashed, crashed[0]
    # After the last round: one alert per rule, each opened (and audited) once.
    seen = sorted(Alert.objects.values_list("rule_id", flat=True))
    assert seen == sorted(r.pk for r in rules)
    opened = AuditEvent.objects.filter(action="alerts.opened").count()
    assert opened == len(rules) * rounds
