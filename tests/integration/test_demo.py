"""The demo: real trusts shifted to today where data is present, else a synthetic system."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from flotilla.demo import loader
from flotilla.registry.models import Collaborative, Membership
from flotilla.reporting.models import Observation

pytestmark = pytest.mark.django_db


def test_without_the_published_data_a_synthetic_system_is_loaded_and_said_to_be(tmp_path, capsys):
    call_command("load-demo", "--data-dir", str(tmp_path))
    assert "synthetic" in capsys.readouterr().out
    collab = Collaborative.objects.get()
    assert collab.slug.startswith("demo-")
    assert collab.memberships.count() == len(loader.SYNTHETIC_TRUSTS) + 1
    latest = Observation.objects.order_by("-as_of").first()
    assert timezone.localtime(latest.as_of).date() == timezone.localdate()
    assert Observation.objects.filter(missing_reason="not_reported").exists()
    # Sharing is open by default, with two variations to show what grants do.
    from flotilla.sharing.models import Grant

    live = Grant.objects.filter(ended_at__isnull=True)
    assert live.filter(audience="public", detail="banded", delay_hours=24).count() == 1
    assert live.filter(detail="banded", delay_hours=4).count() == 1
    assert live.filter(detail="exact").count() == collab.memberships.count() - 1


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
