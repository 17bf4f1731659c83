"""Files for fuzzing the importers: any CSV shape, nearly right sitreps, any cell value; and
the check that every problem found in one says where it is."""

from __future__ import annotations

import csv
import io
import re

from hypothesis import strategies as st

from flotilla.reporting.importers import longform

SITREP = [
    "Code",
    "Name",
    "Date",
    "G&A Beds Open",
    "G&A beds occ'd",
    "CC Adult Open",
    "Occupancy rate",
]
LONG = list(longform.COLUMNS)
#: Values a file might hold in a cell, right and wrong, beside any text at all.
TYPICAL = [
    "", " ", "-", "*", "0", "12", "12.5", " 90 ", "-4", "1e309", "nan", "inf", "1,200", "£5",
    "2021-12-01", "01/12/2021", "2021-02-30", "2021-12-01T08:00:00Z", "2021-12-01 08:00",
    "2021-12-01T08:00:00+01:00", "RA1", "RN1", "RA1-01", "Acme", "N/A", "\"", "=1+1",
    "\x00", "ga_open", "ga_occupied", "no_such_measure", "é" * 300,
]  # fmt: skip
cells = st.one_of(st.sampled_from(TYPICAL), st.text(max_size=20))
headers = st.one_of(
    st.permutations(SITREP).flatmap(lambda h: st.integers(0, len(h)).map(lambda n: h[:n])),
    st.permutations(LONG).flatmap(lambda h: st.integers(0, len(h)).map(lambda n: h[:n])),
    st.lists(cells, max_size=8),
)
#: Rows that are mostly right for a full sitrep header (same trusts and days again, so
#: duplicates, merges and conflicts happen), with now and then a wrong cell.
numbers = st.one_of(st.integers(0, 500).map(str), st.sampled_from(["", "-", "*"]), cells)
plausible = st.tuples(
    st.sampled_from(["RA1", "RN1", "-", "RA1 "]),
    st.sampled_from(["Acme", "North", ""]),
    st.sampled_from(["2021-12-01", "2021-12-02", "01/12/2021"]),
    numbers,
    numbers,
    numbers,
    st.sampled_from(["0.9", "", "x"]),
).map(list)
#: (header, rows): any shape at all, or a sitrep that is nearly right.
files = st.one_of(
    st.tuples(headers, st.lists(st.lists(cells, max_size=9), max_size=8)),
    st.tuples(st.just(SITREP), st.lists(plausible, min_size=1, max_size=8)),
)


def as_csv(header: list[str], body: list[list[str]], quoted: bool) -> str:
    """The file's text: written by a CSV writer, or cells joined with commas as a careless
    export would (quotes and commas inside cells then break the shape)."""
    lines = [header, *body]
    if not quoted:
        return "".join(",".join(line) + "\n" for line in lines)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(lines)
    return out.getvalue()


def assert_located(problems, conflicts, text: str) -> None:
    """Every problem says which row it is on (a line of the file as the CSV reader counts
    them) or names the field; every conflict names its column and rows."""
    last = len(re.findall(r"\r\n|\r|\n", text)) + 2
    for problem in problems:
        assert problem.message, problem
        if problem.row is not None:
            assert 1 <= problem.row <= last, (problem, last)
        else:
            assert problem.field or "file" in problem.message or "empty" in problem.message, problem
    for conflict in conflicts:
        assert conflict.column
        assert all(1 <= r.row <= last for r in conflict.readings), conflict
