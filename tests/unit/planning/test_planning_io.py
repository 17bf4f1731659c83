"""CSV readers: bad input is reported by file, line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from flotilla.planning.core.errors import InputError
from flotilla.planning.core.io import (
    read_admissions,
    read_history,
    read_pmf,
    read_sites,
    read_travel,
)
from flotilla.planning.core.multiday import survival_from_pmf

HEADER = "site_id,lat,lon,bed_type,open_beds,occupied,safe_occupancy"


def write(tmp_path: Path, text: str, name: str = "sites.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_sites_file_is_read_with_optional_surge_columns(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER + ",surge_beds,surge_cost\nA,51,0,ga,100,90,0.92,5,2.5\nB,51,0.1,ga,50,10,0.9,,\n",
    )
    sites = read_sites(path)
    assert sites.site_id == ("A", "B")
    assert sites.capacity.tolist() == [92, 45]
    assert sites.surge_beds.tolist() == [5, 0]


def test_non_numeric_value_names_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "\nA,51,0,ga,100,90,0.92\nB,51,0,ga,ten,1,0.9\n")
    with pytest.raises(InputError) as info:
        read_sites(path)
    assert (info.value.file, info.value.row, info.value.column) == (str(path), 3, "open_beds")


def test_safe_occupancy_above_one_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "\nA,51,0,ga,100,90,1.2\n")
    with pytest.raises(InputError, match="outside"):
        read_sites(path)


def test_missing_column_is_reported_on_the_header_line(tmp_path: Path) -> None:
    path = write(tmp_path, "site_id,lat,lon\nA,1,2\n")
    with pytest.raises(InputError) as info:
        read_sites(path)
    assert info.value.row == 1
    assert "occupied" in str(info.value)


def test_travel_table_rejects_unknown_sites(tmp_path: Path) -> None:
    path = write(tmp_path, "from_site,to_site,minutes\nA,Z,10\n", "travel.csv")
    with pytest.raises(InputError) as info:
        read_travel(path, {"A", "B"})
    assert info.value.column == "to_site"


def test_history_accepts_gaps_and_rejects_duplicates(tmp_path: Path) -> None:
    ok = write(tmp_path, "site,measure,date,value\nA,ga,2021-01-01,5\nA,ga,2021-01-03,-\n", "h.csv")
    hist = read_history(ok)
    assert hist.values.shape == (1, 3)
    dup = write(
        tmp_path, "site,measure,date,value\nA,ga,2021-01-01,5\nA,ga,2021-01-01,6\n", "d.csv"
    )
    with pytest.raises(InputError, match="duplicate of line 2"):
        read_history(dup)


def test_bad_date_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "site,measure,date,value\nA,ga,01/02/2021,5\n", "h.csv")
    with pytest.raises(InputError) as info:
        read_history(path)
    assert (info.value.row, info.value.column) == (2, "date")


def test_admissions_need_every_site_every_day(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "site_id,date,admissions\nA,2021-01-01,3\nA,2021-01-02,3\nB,2021-01-01,1\n",
        "a.csv",
    )
    with pytest.raises(InputError, match="no admissions for 2021-01-02"):
        read_admissions(path, ["A", "B"])


def test_a_length_of_stay_file_fills_unlisted_days_with_zero(tmp_path) -> None:
    path = write(tmp_path, "days,probability\n1,0.5\n3,0.5\n")
    assert read_pmf(path) == [0.5, 0.0, 0.5]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("days,probability\n1,nan\n", "finite"),
        ("days,probability\n0,0.5\n", "1 or more"),
        ("days,probability\n1.5,0.5\n", "whole number"),
        ("days,probability\n1,-0.1\n", "outside"),
        ("days,probability\n", "no rows"),
    ],
)
def test_a_bad_length_of_stay_file_is_refused_naming_the_row(tmp_path, body, message) -> None:
    with pytest.raises(InputError, match=message):
        read_pmf(write(tmp_path, body))


def test_a_non_finite_length_of_stay_distribution_is_refused() -> None:
    with pytest.raises(InputError, match="finite"):
        survival_from_pmf([float("nan"), 0.5])
