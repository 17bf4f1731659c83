"""Reading profiles: what the shipped files make, and the mistakes refused, each named by the
file and the line to change."""

from __future__ import annotations

import re

import pytest

from flotilla.opel import PROFILE_DIR, SHIPPED, ProfileError, for_kind, load, shipped

ACUTE_TEXT = (PROFILE_DIR / "acute.toml").read_text(encoding="utf-8")

# A small profile, its lines numbered as the errors will name them.
SMALL = """\
code = "small"
version = "1"
label = "Small"
applies_to = ["acute"]
source = "A test profile."
bands = [1.75, 2.5, 3.25]
min_parameters = 1

[rollup]
rule = "highest"

[[parameters]]
code = "occupancy"
label = "G&A occupancy"
ratio = ["ga_occupied", "ga_open"]
unit = "%"
thresholds = [0.92, 0.95, 0.98]
weight = 2
origin = "Test."

[[parameters]]
code = "handovers"
label = "Handovers over 30 min"
sum = ["handover_30_60", "handover_over_60"]
unit = "handovers"
thresholds = [5, 10, 20]
weight = 1
origin = "Test."
"""

VARIANT = """\
extends = "acute"
code = "river_acute"
version = "2026.1-river.1"
label = "River system, acute"
drop = ["escalation_open"]
bands = [1.5, 2.5, 3.25]

[[parameters]]
code = "ga_occupancy"
thresholds = [0.90, 0.94, 0.97]

[[parameters]]
code = "dta_waiting"
weight = 2
"""


def line_of(text: str, needle: str, after: str = "") -> int:
    """The 1-based line where `needle` first appears (after the first `after`, if given)."""
    start = text.index(after) if after else 0
    return text.count("\n", 0, text.index(needle, start)) + 1


def refused(text: str, name: str = "small.toml") -> str:
    with pytest.raises(ProfileError) as error:
        load(text, name=name)
    return str(error.value)


def test_the_shipped_profiles_load_and_each_applies_to_its_own_kind_of_organisation():
    profiles = shipped()
    assert tuple(profiles) == SHIPPED
    for kind in SHIPPED:
        assert for_kind(kind) is profiles[kind]
    assert for_kind("ambulance") is None
    acute = profiles["acute"]
    assert (acute.version, acute.bands, acute.min_parameters) == ("2026.1", (1.75, 2.5, 3.25), 3)
    assert [p.code for p in acute.parameters] == [
        "ga_occupancy",
        "cc_adult_occupancy",
        "nctr_share",
        "handover_over_60",
        "dta_waiting",
        "escalation_open",
        "long_stay_21_share",
    ]
    assert acute.parameter("nctr_share").measures == ("nctr", "ga_occupied")


def test_every_shipped_parameter_says_its_numbers_are_flotillas_configuration():
    for profile in shipped().values():
        assert "Flotilla's configuration" in profile.source
        for p in profile.parameters:
            assert "Thresholds and weight are Flotilla's configuration." in p.origin


def test_only_the_framework_themes_are_called_framework_themes():
    themes = {
        (profile.code, p.code)
        for profile in shipped().values()
        for p in profile.parameters
        if p.origin.startswith("Framework theme")
    }
    assert themes == {
        ("acute", "ga_occupancy"),
        ("acute", "nctr_share"),
        ("acute", "handover_over_60"),
    }


def test_a_small_profile_with_a_sum_loads():
    profile = load(SMALL, name="small.toml")
    handovers = profile.parameter("handovers")
    assert (handovers.kind, handovers.measures) == ("sum", ("handover_30_60", "handover_over_60"))
    assert profile.measures == ("ga_occupied", "ga_open", "handover_30_60", "handover_over_60")


def test_a_syntax_error_names_its_line():
    text = SMALL.replace('unit = "handovers"', "unit = handovers")
    message = refused(text)
    assert message.startswith(f"small.toml line {line_of(text, 'unit = handovers')}: ")
    assert message == "small.toml line 25: Invalid value (column 8)"


def test_thresholds_that_do_not_rise_name_the_line_of_the_thresholds():
    text = ACUTE_TEXT.replace("thresholds = [0.92, 0.95, 0.98]", "thresholds = [0.95, 0.92, 0.98]")
    line = line_of(text, "thresholds = [0.95")
    assert refused(text, "acute.toml") == (
        f'acute.toml line {line}: parameter "ga_occupancy": thresholds must rise (0.95 then 0.92)'
    )


def test_thresholds_spread_over_several_lines_name_the_line_the_key_is_on():
    text = SMALL.replace("thresholds = [5, 10, 20]", "thresholds = [\n  5,\n  10,\n  8,\n]")
    assert refused(text) == (
        f"small.toml line {line_of(text, 'thresholds = [', after='handovers')}: "
        'parameter "handovers": thresholds must rise (10 then 8)'
    )


def test_a_misspelt_key_is_refused_at_its_line():
    text = SMALL.replace("weight = 1\n", "wieght = 1\n")
    message = refused(text)
    assert message.startswith(
        f'small.toml line {line_of(text, "wieght")}: parameter "handovers": unknown key "wieght"'
    )
    top = refused(SMALL.replace("min_parameters", "minimum_parameters"))
    assert top.startswith('small.toml line 7: unknown key "minimum_parameters"')


def test_an_unknown_measure_is_refused_at_its_line_with_the_nearest_known_one():
    text = SMALL.replace('"handover_over_60"]', '"handover_over60"]')
    assert refused(text) == (
        f'small.toml line {line_of(text, "sum =")}: parameter "handovers": unknown measure '
        '"handover_over60": not in the metric catalogue 2026.1 (did you mean "handover_over_60"?)'
    )


def test_a_measure_that_is_not_a_count_cannot_be_scored():
    text = SMALL.replace(
        'sum = ["handover_30_60", "handover_over_60"]', "measure = 'opel_declared'"
    )
    assert refused(text).startswith(f"small.toml line {line_of(text, 'opel_declared')}: ")


def test_bands_that_do_not_rise_name_the_line_of_the_bands():
    assert refused(SMALL.replace("[1.75, 2.5, 3.25]", "[1.75, 3.5, 3.25]")) == (
        "small.toml line 6: bands must rise (3.5 then 3.25)"
    )
    assert refused(SMALL.replace("[1.75, 2.5, 3.25]", "[1, 2.5, 3.25]")).startswith(
        "small.toml line 6: bands must lie above 1 and at most 4"
    )


def test_other_mistakes_each_name_their_line():
    two_sources = 'measure = "ga_open"\nsum = ["nctr", "dta_waiting"]'
    cases = [
        # (the mistake, where it is, what the message says)
        (("weight = 2", "weight = 0"), "weight = 0", "weight must be a number above 0"),
        (('rule = "highest"', 'rule = "median"'), "median", "rollup rule must be"),
        (('rule = "highest"', 'rule = "share"'), 'rule = "share"', "needs a share"),
        (('unit = "handovers"', 'unit = "%"'), 'unit = "%"\nthresholds = [5', "only a ratio"),
        (("min_parameters = 1", "min_parameters = 3"), "min_parameters", "has 2 parameters"),
        (('code = "handovers"', 'code = "occupancy"'), 'occupancy"\nlabel = "Hand', "twice"),
        (('ratio = ["ga_occupied", "ga_open"]', two_sources), "sum = [", "one of measure"),
        (('applies_to = ["acute"]', 'applies_to = ["ambulance"]'), "applies_to", "kinds"),
    ]
    for (old, new), needle, words in cases:
        text = SMALL.replace(old, new)
        message = refused(text)
        assert message.startswith(f"small.toml line {line_of(text, needle)}: "), message
        assert words in message


def test_a_missing_key_is_named():
    text = SMALL.replace("bands = [1.75, 2.5, 3.25]\n", "")
    assert refused(text) == "small.toml: the profile has no bands"
    text = SMALL.replace('unit = "handovers"\n', "")
    assert refused(text) == (
        f"small.toml line {line_of(text, '[[parameters]]', after='origin')}: "
        'parameter "handovers" has no unit'
    )


def test_a_key_inside_a_multi_line_string_is_not_taken_for_a_key():
    text = SMALL.replace(
        'source = "A test profile."', 'source = """A test profile.\nbands = [9, 9, 9]\n"""'
    )
    assert refused(text.replace("[1.75, 2.5, 3.25]", "[1.75, 1.5, 3.25]")) == (
        "small.toml line 8: bands must rise (1.75 then 1.5)"
    )


# -- variants --------------------------------------------------------------------------------


def test_a_variant_changes_the_numbers_it_names_and_keeps_the_rest_of_its_base():
    acute = shipped()["acute"]
    variant = load(VARIANT, name="river.toml")
    assert (variant.code, variant.extends) == ("river_acute", "acute 2026.1")
    assert [p.code for p in variant.parameters] == [
        p.code for p in acute.parameters if p.code != "escalation_open"
    ]
    occupancy = variant.parameter("ga_occupancy")
    assert occupancy.thresholds == (0.90, 0.94, 0.97)
    assert occupancy.weight == acute.parameter("ga_occupancy").weight
    assert occupancy.origin.endswith("Varied locally in river.toml.")
    assert variant.parameter("dta_waiting").weight == 2
    assert variant.parameter("nctr_share") == acute.parameter("nctr_share")
    assert variant.bands == (1.5, 2.5, 3.25)
    assert (variant.min_parameters, variant.rollup) == (acute.min_parameters, acute.rollup)


def test_a_variant_of_an_unknown_profile_is_refused_at_extends():
    assert refused(VARIANT.replace('"acute"', '"acutee"'), "river.toml") == (
        'river.toml line 1: extends unknown profile "acutee" '
        "(known: acute, community, mental_health)"
    )


def test_a_variant_changing_a_parameter_its_base_does_not_have_is_refused_at_its_code():
    text = VARIANT.replace('code = "dta_waiting"', 'code = "dta"')
    line = line_of(text, 'code = "dta"')
    assert refused(text, "river.toml").startswith(
        f'river.toml line {line}: parameter "dta" is not a parameter of acute'
    )


def test_a_variant_may_not_add_or_rename_only_change_numbers():
    text = VARIANT + 'measure = "nctr"\n'
    assert refused(text, "river.toml").startswith(
        f'river.toml line {line_of(text, "measure")}: parameter "dta_waiting": a variant may '
        "change only thresholds, weight and origin, not measure"
    )


def test_a_variants_own_numbers_are_checked_at_its_own_lines():
    text = VARIANT.replace("[0.90, 0.94, 0.97]", "[0.90, 0.97, 0.94]")
    assert refused(text, "river.toml") == (
        f'river.toml line {line_of(text, "thresholds")}: parameter "ga_occupancy": '
        "thresholds must rise (0.97 then 0.94)"
    )
    assert refused(VARIANT.replace('"escalation_open"]', '"beds"]'), "river.toml").startswith(
        'river.toml line 5: drop names "beds"'
    )


def test_a_variant_dropping_below_its_bases_minimum_must_say_its_own():
    every = (
        '"cc_adult_occupancy", "nctr_share", "handover_over_60", "escalation_open", '
        '"long_stay_21_share"'
    )
    text = VARIANT.replace('"escalation_open"', every)
    assert refused(text, "river.toml").startswith(
        "river.toml line 5: drop leaves 2 parameters, fewer than acute's min_parameters (3)"
    )
    fixed = text.replace("bands =", "min_parameters = 2\nbands =")
    assert load(fixed, name="river.toml").min_parameters == 2


def test_the_error_message_format_is_file_line_and_what_is_wrong():
    message = refused(VARIANT.replace('"acute"', '"x"'), "river.toml")
    assert re.match(r"^river\.toml line \d+: \S", message)


@pytest.mark.parametrize(
    ("old", "new", "needle", "words"),
    [
        ("[0.92, 0.95, 0.98]", "[0.92, 0.95]", "[0.92, 0.95]", "must be three numbers"),
        ("[5, 10, 20]", '[5, 10, "20"]', '"20"', "must be three numbers"),
        ('code = "small"', 'code = "Small One"', "Small One", "lower case"),
        ('"ga_occupied", "ga_open"]', '"ga_occupied", "ga_open", "nctr"]', "ratio", "two measures"),
        ('"handover_30_60", "handover_over_60"]', '"nctr", "nctr"]', "sum", "a measure twice"),
        ('ratio = ["ga_occupied", "ga_open"]', 'measure = ["nctr"]', "measure", "a measure's"),
        ('rule = "highest"', 'rule = "highest"\nshare = 0.5', "share", "only for rule share"),
        ("[rollup]\n", "[rollup]\nchance = 1\n", "chance", 'rollup: unknown key "chance"'),
        ('label = "Small"', 'label = ""', 'label = ""', "must be some text"),
        ('version = "1"', "version = 1", "version", "must be some text"),
        ("min_parameters = 1", "min_parameters = 0", "min_parameters", "at least 1"),
    ],
)
def test_a_value_of_the_wrong_shape_is_refused_at_its_line(old, new, needle, words):
    text = SMALL.replace(old, new, 1)
    message = refused(text)
    assert message.startswith(f"small.toml line {line_of(text, needle)}: "), message
    assert words in message


@pytest.mark.parametrize(
    ("old", "new", "needle", "words"),
    [
        ('drop = ["escalation_open"]', 'drop = "escalation_open"', "drop", "must list"),
        (
            '[[parameters]]\ncode = "ga',
            '[[parameters]]\ncode = "escalation_open"\nweight = 1\n[[parameters]]\ncode = "ga',
            'code = "escalation_open"',
            "dropped and",
        ),
        ('code = "dta_waiting"', 'code = "ga_occupancy"', 'code = "ga_occupancy"\nweight', "twice"),
        ("weight = 2", "weight = -2", "weight = -2", "above 0"),
        ("extends", "colour = 1\nextends", "colour", 'unknown key "colour"'),
    ],
)
def test_a_variants_mistakes_are_refused_at_their_lines(old, new, needle, words):
    text = VARIANT.replace(old, new, 1)
    message = refused(text, "river.toml")
    assert message.startswith(f"river.toml line {line_of(text, needle)}: "), message
    assert words in message


def test_a_variant_may_not_drop_every_parameter():
    every = ", ".join(f'"{p.code}"' for p in shipped()["acute"].parameters)
    text = "\n".join(VARIANT.splitlines()[:6]).replace('["escalation_open"]', f"[{every}]")
    assert refused(text, "river.toml") == (
        "river.toml line 5: drop leaves the profile with no parameters"
    )
