"""Reading a mapping: every fault is refused with the mapping's file and line. No database."""

from __future__ import annotations

from pathlib import Path

import pytest

from flotilla.reporting.importers.mapped import MappingError, load_mapping, read_mapping

MAPPINGS = Path(__file__).resolve().parents[3] / "flotilla" / "reporting" / "mappings"

GOOD = """\
description = "Beds by hospital"

[file]
encoding = "cp1252"
separator = ";"

[date]
column = "Month"
formats = ["%B %Y", "%Y-%m-%d"]

[organisation]
column = "Trust"
match = "name"

[markers]
"*" = "unknown"
"n/a" = "not_applicable"

[[measures]]
column = "Beds"
measure = "ga_open"
unit = "beds"

[[measures]]
column = "Attendances"
measure = "ed_attendances"
unit = "attendances per month"
round = "nearest"
"""


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def refusal(text: str) -> MappingError:
    with pytest.raises(MappingError) as caught:
        read_mapping(text, source="beds.toml")
    return caught.value


def test_a_good_mapping_is_read_into_its_parts():
    mapping = read_mapping(GOOD, source="beds.toml")
    assert (mapping.encoding, mapping.separator) == ("cp1252", ";")
    assert mapping.organisation.match == "name"
    assert dict(mapping.markers) == {"*": "unknown", "n/a": "not_applicable"}
    assert [m.measure for m in mapping.measures] == ["ga_open", "ed_attendances"]
    assert mapping.measures[1].per == "per month"


@pytest.mark.parametrize(
    ("broken", "needle", "says"),
    [
        # A typo in a key: refused, not ignored.
        (GOOD.replace('separator = ";"', 'seperator = ";"'), "seperator", "unknown key"),
        (GOOD.replace('unit = "beds"', 'unit = "beds"\nscal = 2'), "scal = 2", "unknown key"),
        (GOOD.replace('"ga_open"', '"ga_opne"'), "ga_opne", "unknown measure 'ga_opne'"),
        (GOOD.replace('unit = "beds"', 'unit = "cots"'), '"cots"', "unknown unit 'cots'"),
        (GOOD.replace('"cp1252"', '"klingon"'), "klingon", "unknown encoding"),
        (GOOD.replace('separator = ";"', 'separator = ":"'), 'separator = ":"', "separator"),
        (GOOD.replace('"%B %Y", ', '"%Q", '), "formats", "not a date format"),
        (GOOD.replace('"unknown"', '"zero"'), '"zero"', "not a missing reason"),
        (GOOD.replace('match = "name"', 'match = "nickname"'), "nickname", "match must be"),
        (GOOD.replace('round = "nearest"', 'round = "up"'), 'round = "up"', "round must be"),
        (GOOD + "[surprise]\n", "[surprise]", "unknown key 'surprise'"),
    ],
)
def test_each_fault_is_refused_naming_the_line_of_the_mapping(broken, needle, says):
    error = refusal(broken)
    assert error.line == line_of(broken, needle)
    assert says in error.message
    assert str(error).startswith(f"beds.toml, line {error.line}: ")


def test_text_that_is_not_toml_is_refused_with_the_line_tomllib_names():
    broken = GOOD.replace('column = "Beds"', 'column = "Beds')
    error = refusal(broken)
    assert error.line == line_of(broken, 'column = "Beds')
    assert "not TOML" in error.message


def test_the_second_measure_entry_is_told_apart_from_the_first():
    broken = GOOD.replace('"attendances per month"', '"visits per month"')
    assert refusal(broken).line == line_of(broken, "visits per month")


def test_a_mapping_without_measures_or_a_date_is_refused():
    assert "[[measures]]" in refusal(GOOD.split("[[measures]]")[0]).message
    no_date = GOOD.replace("[date]", "[dates]")
    assert refusal(no_date).line == line_of(no_date, "[dates]")


def test_a_count_per_day_may_come_per_week_or_per_month_but_a_level_may_not():
    weekly = GOOD.replace('"attendances per month"', '"attendances per week"')
    assert read_mapping(weekly).measures[1].per == "per week"
    monthly_beds = GOOD.replace('unit = "beds"', 'unit = "beds per month"')
    assert "its unit is 'beds'" in refusal(monthly_beds).message


@pytest.mark.parametrize("path", sorted(MAPPINGS.glob("*.toml")), ids=lambda p: p.stem)
def test_every_shipped_mapping_reads(path):
    mapping = load_mapping(path)
    assert mapping.measures and mapping.description
