"""The thin `flotilla` commands: files in, files out, clean errors."""

from __future__ import annotations

import csv
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

SITES = """site_id,lat,lon,bed_type,open_beds,occupied,safe_occupancy
A,51.50,-0.10,ga,100,110,0.92
B,51.55,-0.12,ga,100,70,0.92
"""


def test_plan_writes_transfers_and_prints_the_summary(tmp_path: Path) -> None:
    (tmp_path / "sites.csv").write_text(SITES)
    out = StringIO()
    call_command(
        "plan", sites=tmp_path / "sites.csv", radius_km=60, out=tmp_path / "t.csv", stdout=out
    )
    summary = json.loads(out.getvalue())
    assert summary["overflow_before"] == 18
    assert summary["overflow_after"] == 0
    with (tmp_path / "t.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows == [
        {
            "from_site": "A",
            "to_site": "B",
            "bed_type": "ga",
            "patients": "18",
            "distance_km": rows[0]["distance_km"],
        }
    ]


def test_plan_reports_a_bad_cell_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "sites.csv").write_text(SITES.replace("110", "lots"))
    with pytest.raises(CommandError, match=r"line 2, column 'occupied'"):
        call_command("plan", sites=tmp_path / "sites.csv", radius_km=60, out=tmp_path / "t.csv")


def test_forecast_writes_one_row_per_site_measure_day_and_quantile(tmp_path: Path) -> None:
    lines = ["site,measure,date,value"] + [
        f"A,ga,2021-01-{d:02d},{100 + d % 7}" for d in range(1, 29)
    ]
    (tmp_path / "h.csv").write_text("\n".join(lines) + "\n")
    call_command(
        "forecast",
        history=tmp_path / "h.csv",
        horizon=3,
        out=tmp_path / "f.csv",
        stdout=StringIO(),
        stderr=StringIO(),
    )
    with (tmp_path / "f.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3 * 7
    assert set(rows[0]) == {"site", "measure", "date", "quantile", "value"}
    assert rows[0]["date"] == "2021-01-29"
