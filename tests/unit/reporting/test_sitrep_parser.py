"""The sitrep parser on small in-memory files: no database."""

from __future__ import annotations

import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flotilla.reporting.importers import combine_into_successors, sitrep

HEADER = "Code,Name,Date,G&A Beds Open,G&A beds occ'd,Occupancy rate,CC Adult Open\n"


def parse(body: str, header: str = HEADER, on_conflict: str = "reject"):
    return sitrep.parse(io.StringIO(header + body, newline=""), on_conflict=on_conflict)


def values(parsed) -> dict[tuple[str, str], tuple]:
    return {(c.code, c.measure): (c.value, c.missing_reason) for c in parsed.cells}


def test_numbers_are_read_by_column_name_and_whole_numbers_may_have_a_decimal_point():
    parsed = parse("RA1,Acme,2021-12-01,100,90.0,0.9,8\n")
    assert parsed.errors == []
    assert values(parsed) == {
        ("RA1", "ga_open"): (100.0, ""),
        ("RA1", "ga_occupied"): (90.0, ""),
        ("RA1", "cc_adult_open"): (8.0, ""),
    }


def test_columns_are_matched_whatever_their_order_case_and_spacing():
    header = "date, code ,NAME,g&a  BEDS occ'd,G&A Beds Open\n"
    parsed = parse("2021-12-01,RA1,Acme,90,100\n", header=header)
    assert values(parsed) == {("RA1", "ga_occupied"): (90.0, ""), ("RA1", "ga_open"): (100.0, "")}


def test_a_sitrep_date_stands_for_eight_in_the_morning_london_time():
    winter = parse("RA1,Acme,2021-12-01,100,,,\n").cells[0]
    summer = parse("RA1,Acme,2021-07-01,100,,,\n").cells[0]
    london = ZoneInfo("Europe/London")
    assert winter.as_of == datetime(2021, 12, 1, 8, 0, tzinfo=london)
    assert winter.as_of.utcoffset().total_seconds() == 0
    assert summer.as_of.utcoffset().total_seconds() == 3600
    assert sitrep.as_of(date(2021, 12, 1)) == winter.as_of


def test_a_dash_is_stored_as_not_reported_and_an_empty_cell_as_nothing():
    parsed = parse("RA1,Acme,2021-12-01,-,,0.9,\n")
    assert values(parsed) == {("RA1", "ga_open"): (None, "not_reported")}


def test_inf_and_nan_are_invalid_and_missing_never_zero():
    parsed = parse("RA1,Acme,2021-12-01,inf,nan,,\n")
    assert values(parsed) == {
        ("RA1", "ga_open"): (None, "invalid"),
        ("RA1", "ga_occupied"): (None, "invalid"),
    }


def test_published_rates_are_recognised_but_not_stored():
    parsed = parse("RA1,Acme,2021-12-01,100,90,0.9,\n")
    assert parsed.ignored_columns == ["Occupancy rate"]
    assert all(c.measure != "occupancy_rate" for c in parsed.cells)


def test_unknown_columns_are_reported_and_ignored():
    header = "Code,Name,Date,G&A Beds Open,Mystery Beds\n"
    parsed = parse("RA1,Acme,2021-12-01,100,7\n", header=header)
    assert parsed.errors == []
    assert parsed.unknown_columns == ["Mystery Beds"]
    assert values(parsed) == {("RA1", "ga_open"): (100.0, "")}


def test_england_total_rows_are_skipped_and_counted():
    parsed = parse("-,ENGLAND,2021-12-01,90000,80000,0.9,4000\nRA1,Acme,2021-12-01,100,,,\n")
    assert parsed.england_rows == 1
    assert {c.code for c in parsed.cells} == {"RA1"}


def test_a_cell_that_is_not_a_number_is_an_error_naming_its_file_line_and_column():
    parsed = parse("RA1,Acme,2021-12-01,100,90,,\nRA2,Beta,2021-12-01,50,abc,,\n")
    assert len(parsed.errors) == 1
    problem = parsed.errors[0]
    assert (problem.row, problem.field) == (3, "G&A beds occ'd")
    assert "'abc' is not a number" in str(problem)
    assert str(problem).startswith('row 3, column "G&A beds occ\'d"')


def test_a_bad_date_is_an_error_on_the_date_column():
    parsed = parse("RA1,Acme,yesterday,100,,,\n")
    assert [(p.row, p.field) for p in parsed.errors] == [(2, "Date")]


def test_a_file_without_the_key_columns_is_an_error_on_the_header():
    parsed = parse("RA1,100\n", header="Code,G&A Beds Open\n")
    assert parsed.errors[0].row == 1
    assert "Name" in parsed.errors[0].message and "Date" in parsed.errors[0].message


def test_duplicate_rows_that_complement_each_other_merge():
    parsed = parse("RA1,Acme,2021-12-01,100,,,\nRA1,Acme,2021-12-01,,90,,8\n")
    assert parsed.errors == []
    assert values(parsed) == {
        ("RA1", "ga_open"): (100.0, ""),
        ("RA1", "ga_occupied"): (90.0, ""),
        ("RA1", "cc_adult_open"): (8.0, ""),
    }
    assert (parsed.duplicate_rows_merged, parsed.duplicate_rows_collapsed) == (1, 0)


def test_identical_duplicate_rows_collapse():
    parsed = parse("RA1,Acme,2021-12-01,100,90,,\nRA1,Acme,2021-12-01,100,90,,\n")
    assert len(parsed.cells) == 2
    assert (parsed.duplicate_rows_merged, parsed.duplicate_rows_collapsed) == (0, 1)


def test_a_dash_against_a_number_is_not_a_conflict_and_the_number_is_kept():
    parsed = parse("RA1,Acme,2021-12-01,-,,,\nRA1,Acme,2021-12-01,100,,,\n")
    assert parsed.errors == [] and parsed.conflicts == []
    assert values(parsed) == {("RA1", "ga_open"): (100.0, "")}


def test_duplicate_rows_that_disagree_reject_the_file_listing_every_conflict():
    parsed = parse("RA1,Acme,2021-12-01,100,90,,\nRA1,Acme,2021-12-01,101,91,,\n")
    assert [(p.row, p.field) for p in parsed.errors] == [
        (3, "G&A Beds Open"),
        (3, "G&A beds occ'd"),
    ]
    assert "101 here but 100 in row 2" in parsed.errors[0].message
    assert parsed.cells == []


def test_with_on_conflict_last_the_last_value_wins_and_the_one_it_replaced_is_kept():
    parsed = parse("RA1,Acme,2021-12-01,100,,,\nRA1,Acme,2021-12-01,101,,,\n", on_conflict="last")
    assert parsed.errors == []
    (cell,) = parsed.cells
    assert (cell.value, cell.row) == (101.0, 3)
    assert (cell.earlier.value, cell.earlier.row) == (100.0, 2)
    (conflict,) = parsed.conflicts
    assert conflict.kept.value == 101.0
    assert "kept 101 (row 3)" in conflict.describe()


def test_duplicates_are_detected_on_the_code_in_the_file_not_its_successor():
    parsed = parse("OLD,Old,2021-12-01,100,,,\nNEW,New,2021-12-01,50,,,\n")
    assert parsed.errors == [] and parsed.conflicts == []
    assert len(parsed.cells) == 2


def test_a_retired_code_and_its_successor_on_the_same_day_are_summed():
    parsed = parse("OLD,Old,2021-12-01,100,90,,\nNEW,New,2021-12-01,50,40,,\n")
    cells, report = combine_into_successors(parsed.cells, {"OLD": "NEW"})
    assert {(c.code, c.measure): c.value for c in cells} == {
        ("NEW", "ga_open"): 150.0,
        ("NEW", "ga_occupied"): 130.0,
    }
    assert report.combined_rows == 1
    assert report.mapped == {"OLD": "NEW"}
    assert all(c.row == 3 for c in cells)  # problems point at the successor's own row


def test_a_merged_value_is_missing_when_any_part_is_missing():
    parsed = parse("OLD,Old,2021-12-01,-,90,,\nNEW,New,2021-12-01,50,40,,\n")
    cells, _ = combine_into_successors(parsed.cells, {"OLD": "NEW"})
    got = {c.measure: (c.value, c.missing_reason) for c in cells}
    assert got == {"ga_open": (None, "not_reported"), "ga_occupied": (130.0, "")}


def test_a_part_that_does_not_carry_a_column_is_not_part_of_that_sum():
    parsed = parse("OLD,Old,2021-12-01,100,,,\nNEW,New,2021-12-01,50,40,,\n")
    cells, _ = combine_into_successors(parsed.cells, {"OLD": "NEW"})
    assert {c.measure: c.value for c in cells} == {"ga_open": 150.0, "ga_occupied": 40.0}


def test_several_predecessors_without_their_successor_sum_into_it():
    parsed = parse("PA,A,2021-12-01,10,,,\nPB,B,2021-12-01,20,,,\nPA,A,2021-12-02,11,,,\n")
    cells, report = combine_into_successors(parsed.cells, {"PA": "NEW", "PB": "NEW"})
    assert sorted((c.as_of.day, c.value) for c in cells) == [(1, 30.0), (2, 11.0)]
    assert (report.combined_rows, report.relabelled_rows) == (2, 1)


def test_a_resolved_conflict_in_a_part_gives_the_sum_an_earlier_revision():
    body = "OLD,Old,2021-12-01,100,,,\nOLD,Old,2021-12-01,101,,,\nNEW,New,2021-12-01,50,,,\n"
    parsed = parse(body, on_conflict="last")
    (cell,), _ = combine_into_successors(parsed.cells, {"OLD": "NEW"})
    assert (cell.value, cell.earlier.value) == (151.0, 150.0)


def test_a_trust_code_longer_than_the_registry_holds_is_an_error_naming_row_and_column():
    parsed = parse("RA1,Acme,2021-12-01,100,90,0.9,8\nRA1234567890,Long,2021-12-01,1,1,1,1\n")
    [problem] = parsed.errors
    assert (problem.row, problem.field) == (3, "Code")
    assert "'RA1234567890' is longer than the 10 characters" in problem.message


def test_a_trust_name_longer_than_the_registry_holds_is_an_error_naming_row_and_column():
    name = "Acme " * 61  # 304 characters once its spaces are made single
    parsed = parse(f"RA1,{name},2021-12-01,100,90,0.9,8\n")
    [problem] = parsed.errors
    assert (problem.row, problem.field) == (2, "Name")
    assert "the name is 304 characters long, longer than the 300" in problem.message
    assert parsed.names == {}


def test_a_name_of_exactly_the_registry_length_is_taken():
    name = "A" * 300
    parsed = parse(f"RA1,{name},2021-12-01,100,90,0.9,8\n")
    assert parsed.errors == [] and parsed.names == {"RA1": name}
