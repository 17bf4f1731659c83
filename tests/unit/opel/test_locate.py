"""Finding the line of a key in a TOML text, for error messages."""

from __future__ import annotations

from flotilla.opel.locate import Locator

TEXT = '''\
# a comment with key = "not a key"
code = "x"
note = """
bands = "inside a string"
"""
rollup.rule = "mean"
list = [
  "a = b",
  1,
]

[[parameters]]
code = "first"

[[parameters]]
code = "second"
thresholds = [1, 2, 3]  # thresholds = nothing

[extra."dotted.name"]
key = 1
'''


def test_keys_and_tables_are_found_at_their_lines():
    at = Locator(TEXT)
    assert at.line(("code",)) == 2
    assert at.line(("rollup", "rule")) == 6
    assert at.line(("list",)) == 7
    assert at.line(("parameters", 0)) == 12
    assert at.line(("parameters", 1, "code")) == 16
    assert at.line(("parameters", 1, "thresholds")) == 17
    assert at.line(("extra", "dotted.name", "key")) == 20


def test_text_inside_strings_arrays_and_comments_is_not_taken_for_a_key():
    at = Locator(TEXT)
    assert at.line(("bands",)) is None
    assert ("a",) not in at.lines
    assert ("key",) not in at.lines


def test_a_key_not_written_is_placed_at_the_nearest_table_that_is():
    at = Locator(TEXT)
    assert at.line(("parameters", 0, "weight")) == 12
    assert at.line(("parameters", 5, "weight")) is None
