"""Parsing files through a mapping, on small in-memory files: no database."""

from __future__ import annotations

import io
import math
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flotilla.reporting.importers import mapped
from flotilla.reporting.importers.mapped import MappingError, decode, read_mapping

LONDON = ZoneInfo("Europe/London")

MAPPING = """\
description = "test"

[file]
encoding = "{encoding}"
separator = "{separator}"

[date]
column = "Month"
formats = ["%B %Y"]

[organisation]
column = "Trust"
match = "{match}"

[markers]
"*" = "unknown"
".." = "not_reported"
"c" = "unknown"
"n/a" = "not_applicable"

[[measures]]
column = "Beds"
measure = "ga_open"
unit = "beds"

[[measures]]
column = "Occupied"
measure = "ga_occupied"
unit = "beds"
"""


def mapping(encoding="utf-8", separator=",", match="code", extra=""):
    sep = {"\t": "\\t"}.get(separator, separator)
    text = MAPPING.format(encoding=encoding, separator=sep, match=match) + extra
    return read_mapping(text, source="test.toml")


def parse(body: str, m=None, header: str = "Trust,Month,Beds,Occupied\n"):
    m = m or mapping()
    return mapped.parse(io.StringIO(header + body, newline=""), m)


def cells(parsed) -> dict[tuple[str, str], tuple]:
    return {(c.code, c.measure): (c.value, c.missing_reason) for c in parsed.cells}


def test_a_month_is_filed_at_eight_in_the_morning_london_time_on_its_first_day():
    parsed = parse("RA1,April 2022,100,90\n")
    assert parsed.errors == []
    assert cells(parsed) == {("RA1", "ga_open"): (100.0, ""), ("RA1", "ga_occupied"): (90.0, "")}
    assert parsed.cells[0].as_of == datetime(2022, 4, 1, 8, 0, tzinfo=LONDON)


@pytest.mark.parametrize(
    ("marker", "reason"),
    [("*", "unknown"), ("c", "unknown"), ("..", "not_reported"), ("n/a", "not_applicable")],
)
def test_markers_are_stored_as_missing_with_the_mappings_reason_never_as_zero(marker, reason):
    parsed = parse(f"RA1,April 2022,{marker},90\n")
    assert cells(parsed)[("RA1", "ga_open")] == (None, reason)


def test_an_empty_cell_carries_nothing_and_a_dash_is_not_reported():
    parsed = parse("RA1,April 2022,,-\n")
    assert cells(parsed) == {("RA1", "ga_occupied"): (None, "not_reported")}


def test_a_cell_that_is_neither_a_number_nor_a_marker_is_an_error_naming_row_and_column():
    parsed = parse("RA1,April 2022,100,90\nRA2,April 2022,lots,90\n")
    [error] = parsed.errors
    assert (error.row, error.field) == (3, "Beds")
    assert "'lots' is not a number nor a marker" in error.message


def test_a_date_in_another_form_is_an_error_naming_row_and_column():
    [error] = parse("RA1,2022-04-01,100,90\n").errors
    assert (error.row, error.field) == (2, "Month")
    assert "'%B %Y'" in error.message


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
def test_files_in_cp1252_and_latin_1_are_read_with_their_accented_names(encoding):
    m = mapping(encoding=encoding, separator=";", match="name")
    data = "Trust;Month;Beds;Occupied\nHôpital Sainte-Thérèse;April 2022;12;10\n".encode(encoding)
    parsed = mapped.parse(io.StringIO(decode(data, m), newline=""), m)
    assert parsed.errors == []
    key = mapped.NAME_PREFIX + "hôpital sainte thérèse"
    assert cells(parsed)[(key, "ga_open")] == (12.0, "")
    assert parsed.names[key] == "Hôpital Sainte-Thérèse"


def test_bytes_that_are_not_the_mappings_encoding_are_refused_with_where_they_are():
    with pytest.raises(ValueError, match=r"not utf-8 text \(byte 13\)"):
        decode("Trust,Month\nH\xf4pital".encode("latin-1"), mapping())


@pytest.mark.parametrize("separator", [";", "\t", "|"])
def test_other_separators_are_read(separator):
    m = mapping(separator=separator)
    header = separator.join(["Trust", "Month", "Beds", "Occupied"]) + "\n"
    parsed = parse(separator.join(["RA1", "April 2022", "1,200", "90"]) + "\n", m, header)
    assert cells(parsed)[("RA1", "ga_open")] == (1200.0, "")


def test_a_filter_gives_a_measure_only_on_the_rows_it_names():
    extra = '\n[[measures]]\ncolumn = "Beds"\nmeasure = "mh_adult_open"\nunit = "beds"\n'
    extra += 'where = { Specialism = ["mental_illness", "psychiatry"] }\n'
    m = read_mapping(
        MAPPING.format(encoding="utf-8", separator=",", match="code").replace(
            'unit = "beds"\n', 'unit = "beds"\nwhere = { Specialism = "all" }\n'
        )
        + extra
    )
    header = "Trust,Month,Specialism,Beds,Occupied\n"
    parsed = parse("RA1,April 2022,all,100,90\nRA1,April 2022,mental_illness,20,\n", m, header)
    assert cells(parsed) == {
        ("RA1", "ga_open"): (100.0, ""),
        ("RA1", "ga_occupied"): (90.0, ""),
        ("RA1", "mh_adult_open"): (20.0, ""),
    }


def test_scale_and_a_monthly_total_give_a_daily_figure_rounded_when_asked():
    extra = (
        '\n[[measures]]\ncolumn = "Attendances"\nmeasure = "ed_attendances"\n'
        'unit = "attendances per month"\nscale = 1000\nround = "nearest"\n'
    )
    m = mapping(extra=extra)
    header = "Trust,Month,Beds,Occupied,Attendances\n"
    parsed = parse("RA1,April 2022,100,90,17.57\n", m, header)  # thousands
    assert cells(parsed)[("RA1", "ed_attendances")] == (586.0, "")  # 17,570 / 30 days


def test_a_fraction_of_a_bed_is_kept_for_validation_to_refuse_unless_rounding_is_asked():
    assert cells(parse("RA1,April 2022,34.8,6\n"))[("RA1", "ga_open")] == (34.8, "")
    rounded = MAPPING.format(encoding="utf-8", separator=",", match="code").replace(
        'measure = "ga_open"\nunit = "beds"\n',
        'measure = "ga_open"\nunit = "beds"\nround = "nearest"\n',
    )
    parsed = parse("RA1,April 2022,34.8,6\n", read_mapping(rounded))
    assert cells(parsed)[("RA1", "ga_open")] == (35.0, "")


def test_skipped_rows_and_taking_the_first_characters_of_a_code():
    m = read_mapping(
        MAPPING.format(encoding="utf-8", separator=",", match="code").replace(
            'match = "code"\n', 'match = "code"\nfirst = 3\nskip = ["W"]\n'
        )
    )
    parsed = parse("7A1A4,April 2022,500,400\nW,April 2022,9000,8000\n", m)
    assert set(cells(parsed)) == {("7A1", "ga_open"), ("7A1", "ga_occupied")}
    assert parsed.skipped_rows == 1


def test_a_column_the_file_lacks_refuses_the_mapping_naming_its_line():
    text = MAPPING.format(encoding="utf-8", separator=",", match="code")
    with pytest.raises(MappingError) as caught:
        parse("RA1,April 2022,100\n", read_mapping(text), "Trust,Month,Beds,Occupied beds\n")
    line = next(n for n, t in enumerate(text.splitlines(), 1) if t == 'column = "Occupied"')
    assert caught.value.line == line
    assert "no column 'Occupied'" in caught.value.message


def test_columns_the_mapping_does_not_name_are_reported_as_unknown():
    parsed = parse("RA1,April 2022,100,90,x\n", header="Trust,Month,Beds,Occupied,Notes\n")
    assert parsed.unknown_columns == ["Notes"]


CELLS = st.one_of(
    st.sampled_from(["", " ", "-", "*", "c", "..", "n/a", "NA", "inf", "nan", "1,200", "1e3"]),
    st.integers(-5, 20000).map(str),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr),
    st.text(
        alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00\r\n"),
        max_size=8,  # line breaks move the row a problem is reported on: csv_fuzz covers them
    ),
)
MARKERS = {"*": "unknown", "c": "unknown", "..": "not_reported", "n/a": "not_applicable"}


@settings(max_examples=500)
@given(cell=CELLS)
def test_any_cell_gives_a_value_a_missing_reason_nothing_or_an_error_naming_row_and_column(cell):
    quoted = '"' + cell.replace('"', '""') + '"'
    parsed = parse(f"RA1,April 2022,{quoted},\n")
    text = cell.strip()
    if parsed.errors:
        [error] = parsed.errors
        assert (error.row, error.field) == (2, "Beds"), error
        assert text not in MARKERS
        return
    got = cells(parsed).get(("RA1", "ga_open"))
    if not text:
        assert got is None
    elif text in MARKERS:
        assert got == (None, MARKERS[text])
    else:
        value, reason = got
        assert (value is None) == bool(reason)
        if value is not None:
            assert math.isfinite(value) and value == float(text.replace(",", ""))
        else:
            assert reason in ("not_reported", "invalid")


def test_a_code_longer_than_the_registry_holds_is_an_error_naming_row_and_column():
    mapping = read_mapping(
        'description = "d"\n[date]\ncolumn = "day"\nformats = ["%Y-%m-%d"]\n'
        '[organisation]\ncolumn = "id"\n'
        'match = "code"\nprefix = "NJ"\n[[measures]]\ncolumn = "beds"\nmeasure = "ga_open"\n'
        'unit = "beds"\n'
    )
    text = "id,day,beds\n3100642,2020-05-01,4\nACS-Hunterd,2020-05-01,1\n"
    parsed = mapped.parse(io.StringIO(text), mapping)
    [problem] = parsed.errors
    assert (problem.row, problem.field) == (3, "id")
    assert "'NJACS-HUNTERD' (with the mapping's prefix 'NJ') is longer than the 10" in (
        problem.message
    )


def test_a_name_longer_than_the_registry_holds_is_an_error_naming_row_and_column():
    mapping = read_mapping(
        'description = "d"\n[date]\ncolumn = "day"\nformats = ["%Y-%m-%d"]\n'
        '[organisation]\ncolumn = "id"\nname_column = "hospital"\n'
        'match = "code"\nprefix = "NJ"\n[[measures]]\ncolumn = "beds"\nmeasure = "ga_open"\n'
        'unit = "beds"\n'
    )
    text = f"id,hospital,day,beds\n31,Short,2020-05-01,4\n32,{'x' * 301},2020-05-01,1\n"
    parsed = mapped.parse(io.StringIO(text), mapping)
    [problem] = parsed.errors
    assert (problem.row, problem.field) == (3, "hospital")
    assert "the name is 301 characters long, longer than the 300" in problem.message
