"""Fuzzing the importers' parsing: random bytes, random CSV shapes and random cell values give
either parsed cells or problems that say where (row, and column where there is one), never an
unhandled exception. The same inputs through the whole import, database included, are in
tests/integration/reporting/test_import_fuzzing.py."""

from __future__ import annotations

import io

from hypothesis import event, given, settings
from hypothesis import strategies as st

from flotilla.reporting.imports import _read_text, parse_text
from tests.csv_fuzz import as_csv, assert_located, files


@settings(max_examples=2000)
@given(file=files, quoted=st.booleans(), on_conflict=st.sampled_from(["reject", "last"]))
def test_any_csv_shape_parses_to_cells_or_to_problems_that_say_where(file, quoted, on_conflict):
    text = as_csv(*file, quoted)
    parsed = parse_text(text, on_conflict=on_conflict)
    assert_located(parsed.errors, parsed.conflicts, text)
    for cell in parsed.cells:
        assert cell.value is None or cell.value == cell.value  # a number, never NaN
    event("cells parsed" if parsed.cells else "no cells")


@settings(max_examples=1000)
@given(data=st.binary(max_size=400))
def test_any_bytes_are_read_as_text_or_refused_as_not_utf8_then_parsed(data):
    try:
        text = _read_text(io.BytesIO(data))
    except ValueError as e:
        refusal = str(e)
        assert refusal.startswith("not UTF-8 text (byte "), refusal
        return
    parsed = parse_text(text)
    assert_located(parsed.errors, parsed.conflicts, text)
