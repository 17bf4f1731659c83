"""Reading a CSV of reported values: what the reader refuses, and where it says it is."""

from __future__ import annotations

import csv
import io

import pytest

from flotilla.reporting.importers import CsvRows, ParsedFile, _long_cell, column_name

LIMIT = csv.field_size_limit()


def read(lines: list[str]) -> tuple[list[tuple[int, list[str]]], list[str]]:
    parsed = ParsedFile(format="test")
    rows = CsvRows(lines, parsed)
    got = list(rows) if rows.read_header() is not None else []
    return got, [str(p) for p in parsed.errors]


def test_good_rows_come_with_their_file_line_and_blank_rows_are_skipped():
    rows, errors = read(["\ufeffa,b\n", "1,2\n", "\n", " , \n", '"x\n', 'y",3\n'])
    assert errors == []
    assert rows == [(2, ["1", "2"]), (6, ["x\ny", "3"])]


def test_an_empty_file_says_so():
    assert read([]) == ([], ["row 1: the file is empty"])


def test_every_cell_holding_a_nul_is_named_and_the_row_is_not_yielded():
    rows, errors = read(["a,b,c\n", "1,\x00,\x003\n", "4,5,6\n"])
    assert rows == [(3, ["4", "5", "6"])]
    assert [e.split(":")[0] for e in errors] == ["row 2, column 'b'", "row 2, column 'c'"]


def test_a_row_that_cannot_be_read_stops_the_reading_with_the_reason():
    rows, errors = read(["a,b\n", "1,2\n", "3,x\ry\n", "5,6\n"])
    assert rows == [(2, ["1", "2"])]
    assert errors[0].startswith("row 3: cannot be read as CSV from this line on (new-line")


def test_a_cell_over_the_limit_is_named_by_the_row_where_it_starts():
    lines = ["a,b\n", "1,2\n", '3,"' + "x" * (LIMIT // 2) + "\n", "x" * (LIMIT // 2 + 2) + "\n"]
    rows, errors = read(lines)
    assert rows == [(2, ["1", "2"])]
    assert errors[0].startswith(f"row 3, column 'b': a cell is longer than {LIMIT:,}")


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ("ab,cdef,g\n", 1),  # the second cell is the first over 3 characters
        ('ab,"c,d",efgh\n', 2),  # a comma inside quotes is not a separator
        ('ab,"c""d"e,f\n', 1),  # "" is one quote; text after the closing quote counts
        ('a"bcd,e\n', 0),  # a quote inside an unquoted cell is text
        ("ab,cd\nefghij\n", None),  # the record ends before any cell is too long
        ("ab,cd", None),
    ],
)
def test_the_overlong_cell_is_found_the_way_the_csv_module_reads_cells(record, expected):
    assert _long_cell(record, 3) == expected


def test_columns_without_a_name_are_named_by_their_spreadsheet_letter():
    header = ["org_code", "  ", "x\x00"]
    names = [column_name(header, i) for i in (0, 1, 2, 3, 25, 26, 27, 701, 702)]
    assert names == ["org_code", "B", "C", "D", "Z", "AA", "AB", "ZZ", "AAA"]


def test_the_reader_takes_any_iterable_of_lines():
    rows, errors = read(list(io.StringIO("a\n1\n", newline="")))
    assert (rows, errors) == ([(2, ["1"])], [])
