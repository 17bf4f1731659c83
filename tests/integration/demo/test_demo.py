"""The demo: real trusts shifted to today where data is present, else a synthetic system."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from flotilla.authz.models import Membership
from flotilla.collaboratives.models import Collaborative
from flotilla.demo import loader
from flotilla.escalation.models import ComputedLevel, SystemLevel
from flotilla.reporting.models import Observation, Submission

pytestmark = pytest.mark.django_db


def test_without_the_published_data_a_synthetic_system_is_loaded_and_said_to_be(tmp_path, capsys):
    call_command("load-demo", "--data-dir", str(tmp_path))
    assert "synthetic" in capsys.readouterr().out
    collab = Collaborative.objects.get()
    assert collab.slug.startswith("demo-")
    assert collab.memberships.count() == len(loader.SYNTHETIC_TRUSTS) + 1
    latest = Observation.objects.order_by("-as_of").first()
    # The last 08:00 snapshot already past: today's, or yesterday's before 08:00.
    assert timezone.localtime(latest.as_of).date() == loader.last_snapshot_day()
    assert Observation.objects.filter(missing_reason="not_reported").exists()
    # Sharing is open by default, with two variations to show what grants do.
    from flotilla.sharing.models import Grant

    live = Grant.objects.filter(ended_at__isnull=True)
    assert live.filter(audience="public", detail="banded", delay_hours=24).count() == 1
    assert live.filter(detail="banded", delay_hours=4).count() == 1
    assert live.filter(detail="exact").count() == collab.memberships.count() - 1
    if connection.vendor == "postgresql":
        # The load ends with ANALYZE: without it the planner would take the tables for
        # empty (autovacuum cannot see this transaction's rows), and plan for that.
        for model in (Observation, Submission):
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples FROM pg_class WHERE oid = %s::regclass",
                    [model._meta.db_table],
                )
                estimate = cursor.fetchone()[0]
            assert estimate == pytest.approx(model.objects.count(), rel=0.1), model.__name__


def test_the_demo_logins_cover_a_reporter_a_coordinator_and_a_system_coordinator(tmp_path, capsys):
    call_command("load-demo", "--data-dir", str(tmp_path))
    call_command("demo-logins")
    out = capsys.readouterr().out
    for username in ("demo-reporter", "demo-coordinator", "demo-system"):
        assert username in out
    roles = set(Membership.objects.values_list("role", flat=True))
    assert {"reporter", "coordinator"} <= roles


def test_loading_twice_is_refused_unless_asked_to_skip(tmp_path, capsys):
    call_command("load-demo", "--data-dir", str(tmp_path))
    call_command("load-demo", "--if-empty", "--data-dir", str(tmp_path))
    assert "already loaded" in capsys.readouterr().out
    with pytest.raises(CommandError, match="already loaded"):
        call_command("load-demo", "--data-dir", str(tmp_path))


def test_the_real_demo_is_a_regions_acute_trusts_with_the_last_day_today(shared_data):
    today = date(2026, 11, 26)
    result = loader.load(data_dir=shared_data, today=today)
    assert result["kind"] == "real"
    collab = Collaborative.objects.get(slug=result["collaborative"])
    assert collab.memberships.count() == result["organisations"] + 1  # and the ICB
    last = Observation.objects.filter(series__measure__code="ga_occupied").order_by("-as_of")[0]
    assert timezone.localtime(last.as_of).date() == today


def test_the_demo_opel_rule_rises_with_occupancy_or_long_handover_waits():
    assert loader.declared_opel(None, None) is None
    assert loader.declared_opel(0.80, 0) == 1
    assert loader.declared_opel(0.88, None) == 2
    assert loader.declared_opel(None, 8) == 3
    assert loader.declared_opel(0.90, 25) == 4
    assert loader.declared_opel(0.975, 0) == 4


def test_the_synthetic_demo_has_a_commissioner_and_declares_opel_by_the_rule(tmp_path):
    call_command("load-demo", "--data-dir", str(tmp_path))
    collab = Collaborative.objects.get()
    kinds = set(collab.memberships.values_list("organisation__kind", flat=True))
    assert kinds == {"acute", "commissioner"}
    opel = Observation.objects.filter(series__measure__code="opel_declared", is_current=True)
    assert opel.exists()
    sample = opel.select_related("series").order_by("as_of")[10]
    at = dict(
        Observation.objects.filter(
            series__organisation=sample.series.organisation,
            as_of=sample.as_of,
            is_current=True,
            series__measure__code__in=["ga_open", "ga_occupied", "handover_over_60"],
        ).values_list("series__measure__code", "value")
    )
    assert sample.value == loader.declared_opel(
        at["ga_occupied"] / at["ga_open"], at.get("handover_over_60")
    )
    # Every trust has a computed level beside the one it declares, and the system has one.
    levelled = ComputedLevel.objects.exclude(level=None).values("organisation").distinct()
    assert levelled.count() == len(loader.SYNTHETIC_TRUSTS)
    assert SystemLevel.objects.get(collaborative=collab).level is not None


def test_the_real_demo_declares_opel_levels_for_its_trusts_from_the_days_figures(shared_data):
    result = loader.load(data_dir=shared_data, today=date(2026, 11, 26))
    collab = Collaborative.objects.get(slug=result["collaborative"])
    icb = collab.memberships.get(organisation__code="QHM").organisation
    assert icb.kind == "commissioner"
    opel = Observation.objects.filter(series__measure__code="opel_declared", is_current=True)
    declaring = set(opel.values_list("series__organisation__code", flat=True))
    assert len(declaring) == result["organisations"]
    assert set(opel.values_list("value", flat=True)) <= {1.0, 2.0, 3.0, 4.0}
    assert len(set(opel.values_list("value", flat=True))) >= 3  # the levels vary
    submissions = Submission.objects.filter(reference__startswith="OPEL levels derived by the demo")
    assert submissions.count() == result["organisations"]
    # The file repeats its last week with empty rows; they must not erase the levels.
    newest_level = opel.order_by("-as_of")[0].as_of
    newest_beds = Observation.objects.filter(series__measure__code="ga_occupied").latest("as_of")
    assert newest_level == newest_beds.as_of
    # Every trust that reports has a computed level for each report of the last fortnight.
    levels = ComputedLevel.objects.exclude(level=None)
    assert levels.values("organisation").distinct().count() == result["organisations"]
    assert result["levels"] == ComputedLevel.objects.count()
    assert len(set(levels.values_list("level", flat=True))) >= 3  # they vary too


def test_the_demo_ends_on_yesterday_when_loaded_before_todays_snapshot_time():
    london = timezone.get_current_timezone()
    early = datetime(2026, 11, 29, 6, 30, tzinfo=london)
    late = datetime(2026, 11, 29, 8, 0, tzinfo=london)
    assert loader.last_snapshot_day(early) == date(2026, 11, 28)
    assert loader.last_snapshot_day(late) == date(2026, 11, 29)


def test_the_demo_opens_with_every_reporting_members_forecasts_of_today_and_days_before(tmp_path):
    from flotilla.planning.models import Forecast

    result = loader.load(data_dir=tmp_path)
    assert result["forecasts"] == Forecast.objects.count() > 0
    beds = Observation.objects.filter(series__measure__code="ga_occupied", value__isnull=False)
    reporting = set(beds.values_list("series__organisation__code", flat=True))
    assert set(Forecast.objects.values_list("organisation__code", flat=True)) == reporting
    # Made as the job would have made them on the days before too: a day-late grant shows one.
    assert Forecast.objects.values("origin").distinct().count() >= 2


def test_the_demo_judges_its_forecast_alert_rule_on_the_forecasts_it_made(shared_data):
    from flotilla.alerts import actions as alerts
    from flotilla.alerts.models import Alert, AlertRule
    from flotilla.organisations.models import Organisation

    loader.load(data_dir=shared_data)
    rule = AlertRule.objects.get(kind="forecast")
    assert rule.describe().startswith("Forecast G&A occupancy of any member at or above 96%")
    # The region's winter figures: some trusts' forecast occupancy reaches it.
    assert Alert.objects.filter(rule=rule).exists()
    # Judged after the forecasts were made: judging again opens nothing more.
    again = alerts.evaluate(
        organisation_ids=Organisation.objects.values_list("pk", flat=True), kinds=["forecast"]
    )
    assert again.opened == [] and again.updated == 0
