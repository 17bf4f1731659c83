"""The trained forecaster in the app (ADR 0026): `flotilla train-forecaster` learns from
published winter sitreps and is calibrated on a newer one, each step stored and audited once;
the forecast job then uses it for the measures and days of the winter it knows, and the
ensemble for everything else; a bad published file is refused by row and column with nothing
stored."""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from flotilla.audit.models import AuditEvent
from flotilla.planning import actions, queries
from flotilla.planning.models import Forecast, ForecastCalibration, ForecastModel
from tests import factories as f

pytestmark = pytest.mark.django_db

HEADER = [
    "Code",
    "Name",
    "Date",
    "G&A beds occ'd",
    "G&A Beds Open",
    "CC Adult Open",
    "CC Adult Occ",
]


def published(path: Path, first: date, days: int = 140, trusts: int = 40, seed: int = 1) -> Path:
    """A winter sitrep in the published layout: an England total row a day, then each trust's
    row; now and then a figure published as '-'."""
    rng = np.random.default_rng(seed)
    level = rng.uniform(50, 900, trusts)
    walk = np.cumsum(rng.normal(0, 0.012, (trusts, days)), axis=1)
    with path.open("w", newline="") as out:
        w = csv.writer(out)
        w.writerow(HEADER)
        for d in range(days):
            day = (first + timedelta(days=d)).isoformat()
            w.writerow(["-", "ENGLAND (All Acute Trusts)", day, 1, 1, 1, 1])
            for t in range(trusts):
                ga = round(level[t] * np.exp(walk[t, d]))
                cc = round(ga / 20)
                w.writerow([f"R{t:02d}", f"Trust {t}", day, ga if rng.random() > 0.02 else "-",
                            ga + 30, cc + 3, cc])  # fmt: skip
    return path


@pytest.fixture
def files(tmp_path):
    return {
        "older": published(tmp_path / "sitrep2324.csv", date(2023, 11, 20), seed=1),
        "old": published(tmp_path / "sitrep2425.csv", date(2024, 11, 20), seed=2),
        "newest": published(tmp_path / "sitrep2526.csv", date(2025, 11, 20), seed=3),
    }


def train(files, *names: str, calibrate: str = "newest") -> None:
    call_command(
        "train-forecaster",
        "--train",
        *[str(files[n]) for n in names],
        "--calibrate",
        str(files[calibrate]),
        "--trees",
        "10",
    )


#: A day of the winter the model knows (the files' origins run from about day 39 to 157).
IN_WINTER = timezone.make_aware(datetime(2026, 1, 20, 12))


def history(org, until: datetime, days: int, **extra) -> None:
    for n in range(days, 0, -1):
        f.report(org, until - timedelta(days=n), ga_occupied=300 + (n % 7) * 3, **extra)


def test_training_and_calibrating_store_the_forecaster_once_with_its_audit_events(files, cast):
    train(files, "older", "old")
    model = ForecastModel.objects.get()
    calibration = ForecastCalibration.objects.get()
    assert [t["file"] for t in model.trained_on] == ["sitrep2324.csv", "sitrep2425.csv"]
    assert (model.days_from, model.days_to) == (39, 157)
    assert calibration.model == model and calibration.through == date(2026, 4, 8)
    assert calibration.source["file"] == "sitrep2526.csv"
    assert np.array(calibration.widening).shape == (14, 3)
    actions_done = AuditEvent.objects.filter(action__startswith="planning.forecaster")
    assert sorted(actions_done.values_list("action", flat=True)) == [
        "planning.forecaster_calibrated",
        "planning.forecaster_trained",
    ]
    trained = actions_done.get(action="planning.forecaster_trained")
    assert trained.after["sha256"] == model.sha256 and len(model.sha256) == 64
    # Every organisation's forecasts are queued to be made again with it.
    queued = DBTaskResult.objects.filter(task_path__endswith="forecast_organisations")
    assert queued.count() == 1
    # The same files again: nothing trained, stored, audited or queued again.
    train(files, "older", "old")
    assert ForecastModel.objects.count() == ForecastCalibration.objects.count() == 1
    assert actions_done.count() == 2
    assert queued.count() == 1


def test_a_newer_file_calibrates_the_model_in_use_again(files, tmp_path):
    train(files, "older", calibrate="old")
    first = queries.forecaster_in_use()
    call_command("train-forecaster", "--calibrate", str(files["newest"]))
    now = queries.forecaster_in_use()
    assert now.calibration.model_id == first.calibration.model_id
    assert now.calibration.through > first.calibration.through
    assert ForecastCalibration.objects.count() == 2


def test_the_forecast_job_uses_the_model_for_what_it_knows_and_the_ensemble_for_the_rest(
    files, cast
):
    train(files, "older", "old")
    history(cast.south, IN_WINTER, 40, ga_adult_occupied=250)
    f.report(cast.north, IN_WINTER - timedelta(days=1), ga_occupied=120)  # one day only
    actions.recompute_for(organisation_ids=[cast.south.pk, cast.north.pk], now=IN_WINTER)
    c = ForecastCalibration.objects.get()
    method = f"gradient-boosted model {c.model_id}, calibrated to 2026-04-08"
    ga = Forecast.objects.filter(organisation=cast.south, measure="ga_occupied")
    assert set(ga.values_list("method", flat=True)) == {method}
    assert ga.count() == 14
    for row in ga:
        assert row.q025 <= row.q25 <= row.q50 <= row.q75 <= row.q975
        assert 200 < row.q50 < 450  # around its own figures, about 300
    # A measure the model does not know, and a series too short for it: the ensemble.
    adult = Forecast.objects.filter(organisation=cast.south, measure="ga_adult_occupied")
    assert "gradient-boosted" not in adult.first().method  # the ensemble's (a flat series)
    short = Forecast.objects.filter(organisation=cast.north, measure="ga_occupied")
    assert "gradient-boosted" not in short.first().method


def test_out_of_the_winters_it_learnt_the_ensemble_forecasts(files, cast):
    train(files, "older", "old")
    summer = timezone.make_aware(datetime(2026, 7, 1, 12))
    history(cast.south, summer, 40)
    actions.recompute(organisation=cast.south, now=summer)
    methods = set(Forecast.objects.values_list("method", flat=True))
    assert methods == {"ensemble"}


def test_without_a_trained_model_the_ensemble_forecasts(cast):
    history(cast.south, IN_WINTER, 40)
    actions.recompute(organisation=cast.south, now=IN_WINTER)
    assert set(Forecast.objects.values_list("method", flat=True)) == {"ensemble"}


def test_a_bad_published_file_is_refused_by_row_and_column_and_nothing_is_stored(files, tmp_path):
    bad = tmp_path / "sitrep2627.csv"
    rows = files["old"].read_text().splitlines()
    rows[5] = rows[5].replace(rows[5].split(",")[3], "lots", 1)
    bad.write_text("\n".join(rows) + "\n")
    lots = r"sitrep2627.csv: row 6, column \"G&A beds occ'd\": 'lots' is not a number"
    with pytest.raises(CommandError, match=lots):
        call_command("train-forecaster", "--train", str(bad), "--calibrate", str(files["newest"]))
    wrong = tmp_path / "other.csv"
    wrong.write_text("Code,Date,Beds\nR00,2025-01-01,3\n")
    with pytest.raises(CommandError, match=r"other.csv: row 1: missing key column\(s\): Name"):
        call_command("train-forecaster", "--train", str(wrong), "--calibrate", str(files["newest"]))
    no_beds = tmp_path / "no_beds.csv"
    no_beds.write_text("Code,Name,Date,Diverts\nR00,Trust,2025-12-01,3\n")
    with pytest.raises(CommandError, match="no figures of cc_adult_occupied, ga_occupied"):
        call_command("train-forecaster", "--calibrate", str(no_beds))
    undated = tmp_path / "undated.csv"
    undated.write_text(",".join(HEADER) + "\nR00,Trust,yesterday,1,2,3,4\n")
    with pytest.raises(CommandError, match=r"undated\.csv: row 2, column 'Date'"):
        call_command("train-forecaster", "--calibrate", str(undated))
    with pytest.raises(CommandError, match="among the files it learns from"):
        train(files, "old", calibrate="old")
    with pytest.raises(CommandError, match="no model is trained yet"):
        call_command("train-forecaster", "--calibrate", str(files["newest"]))
    assert not ForecastModel.objects.exists() and not ForecastCalibration.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="planning.forecaster").exists()
