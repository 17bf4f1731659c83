"""The alerts API: a read token lists the alerts its organisation may see, as JSON or CSV,
with who acknowledged them; a person's own rules are never a token's; a figure the
organisation may not see is an alert it does not get."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from flotilla.alerts.models import Alert
from flotilla.authz import actions as authz_actions
from flotilla.authz.models import Role
from tests import factories as f

pytestmark = pytest.mark.django_db


def bearer(cast, organisation=None, scope="read") -> dict[str, str]:
    org = organisation or cast.north
    admin = cast.people["outsider"] if org == cast.outside else cast.people[Role.ORG_ADMIN]
    _, secret = authz_actions.issue_token(by=admin, organisation=org, name="t", scope=scope)
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


@pytest.fixture
def opened(cast):
    rule = f.alert_rule(
        by=cast.people[Role.COORDINATOR],
        collaborative=cast.collab,
        measure="ga_occupied",
        organisation=cast.south,
        threshold=100,
    )
    f.report(cast.south, timezone.now() - timedelta(minutes=5), ga_occupied=120)
    f.run_alert_jobs()
    alert = Alert.objects.get()
    f.acknowledge(cast.people[Role.COORDINATOR], alert)
    return rule, alert


def test_a_read_token_lists_the_alerts_its_organisation_may_see_with_who_acknowledged(
    cast, client, opened
):
    rule, alert = opened
    got = client.get("/api/alerts", **bearer(cast)).json()
    assert [a["id"] for a in got] == [alert.pk]
    assert got[0]["organisation"] == "RS1" and got[0]["value"] == 120
    assert (got[0]["state"], got[0]["acknowledged_by"]) == ("acknowledged", "north_coordinator")
    one = client.get(f"/api/alerts/{alert.pk}", **bearer(cast)).json()
    assert one["rule"] == rule.pk
    rules = client.get(f"/api/collaboratives/{cast.collab.slug}/alert-rules", **bearer(cast))
    assert [r["id"] for r in rules.json()] == [rule.pk]


def test_alerts_export_as_csv(cast, client, opened):
    _, alert = opened
    response = client.get("/api/alerts?format=csv&state=any", **bearer(cast))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["id"], r["organisation"], r["value"], r["acknowledged_by"]) for r in rows] == [
        (str(alert.pk), "RS1", "120.0", "north_coordinator")
    ]


def test_tokens_get_no_alert_about_a_figure_their_organisation_may_not_see(cast, client, opened):
    _, alert = opened
    assert client.get("/api/alerts", **bearer(cast, cast.outside)).json() == []
    assert client.get(f"/api/alerts/{alert.pk}", **bearer(cast, cast.outside)).status_code == 404
    f.reshare(f.collaborative_grant(cast.south, cast.collab), detail="status")
    assert client.get("/api/alerts", **bearer(cast)).json() == []
    assert client.get(f"/api/alerts/{alert.pk}", **bearer(cast)).status_code == 404


def test_a_person_s_own_rules_are_never_listed_for_a_token(cast, client):
    f.alert_rule(
        by=cast.people[Role.VIEWER],
        collaborative=cast.collab,
        personal=True,
        measure="ga_occupied",
        organisation=cast.south,
        threshold=100,
    )
    f.report(cast.south, timezone.now() - timedelta(minutes=5), ga_occupied=120)
    f.run_alert_jobs()
    assert Alert.objects.count() == 1
    assert client.get("/api/alerts", **bearer(cast)).json() == []
    assert client.get(f"/api/alerts/{Alert.objects.get().pk}", **bearer(cast)).status_code == 404


def test_only_a_read_token_reads_alerts(cast, client, opened):
    assert client.get("/api/alerts", **bearer(cast, scope="aid")).status_code == 403
