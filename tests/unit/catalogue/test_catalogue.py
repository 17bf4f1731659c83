"""The metric catalogue's loader: what it makes of the file, and what it refuses."""

from __future__ import annotations

import tomllib

import pytest

from flotilla.catalogue import CATALOGUE_FILE, CatalogueError, current, load, parse


def data() -> dict:
    """The catalogue in force as a TOML document, to change one entry of."""
    with CATALOGUE_FILE.open("rb") as f:
        return tomllib.load(f)


def entry(entries: list[dict], **match: str) -> dict:
    return next(e for e in entries if all(e.get(k) == v for k, v in match.items()))


def test_the_catalogue_in_force_loads_and_every_measure_is_in_a_declared_group():
    cat = current()
    assert {m.group for m in cat.measures} <= set(cat.group_codes)
    assert cat.group_codes == (
        "capacity",
        "flow",
        "workforce",
        "escalation",
        "narrative",
        "contacts",
    )


def test_an_occupancy_indicator_is_computed_from_its_bed_types_occupied_and_open_counts():
    occupancy = current().indicator("cc_adult_occupancy")
    assert (occupancy.source, occupancy.measures) == (
        "occupancy",
        ("cc_adult_occupied", "cc_adult_open"),
    )
    assert occupancy.bed_type == "cc_adult"
    assert current().indicator("nctr").measures == ("nctr",)


def test_a_column_takes_its_bed_type_from_what_it_shows_and_is_rated_by_its_indicator():
    columns = {c.key: c for c in current().columns}
    assert (columns["ga_open"].bed_type, columns["ga_open"].indicator) == ("ga", "")
    assert (columns["nctr"].measure, columns["nctr"].indicator) == ("nctr", "nctr")
    occupancy = columns["cc_adult_occupancy"]
    assert (occupancy.measure, occupancy.indicator, occupancy.bed_type) == (
        "",
        "cc_adult_occupancy",
        "cc_adult",
    )


def test_which_measures_are_counts_levels_or_text_is_read_from_the_catalogue():
    cat = current()
    assert cat.kind_of("ga_open") == "count"  # the bed matrix declares its kind too
    assert cat.kind_of("opel_declared") == "level"
    assert cat.kind_of("situation") == "text"
    assert cat.kind_of("ga_occupancy") == ""  # an indicator, not a measure


def test_a_catalogue_with_an_indicator_whose_red_is_below_amber_is_refused():
    doc = data()
    entry(doc["indicators"], code="nctr").update(amber=100, red=50)
    with pytest.raises(CatalogueError, match=r"indicator nctr: red \(50\) is below amber \(100\)"):
        parse(doc)


def test_a_catalogue_with_a_column_that_names_an_unknown_measure_is_refused():
    doc = data()
    entry(doc["columns"], shows="nctr")["shows"] = "nctr_typo"
    with pytest.raises(
        CatalogueError,
        match="column 'No criteria to reside' shows unknown measure or indicator 'nctr_typo'",
    ):
        parse(doc)


def test_a_catalogue_with_a_measure_in_an_unknown_group_is_refused():
    doc = data()
    entry(doc["measures"], code="staff_absent")["group"] = "staffing"
    with pytest.raises(CatalogueError, match="measure staff_absent is in unknown group 'staffing'"):
        parse(doc)


def test_a_catalogue_whose_bed_measures_are_in_an_unknown_group_is_refused_naming_one():
    doc = data()
    doc["bed_measures"]["group"] = "beds"
    with pytest.raises(CatalogueError, match="measure ga_open is in unknown group 'beds'"):
        parse(doc)


def test_a_catalogue_with_an_indicator_on_an_unknown_measure_is_refused():
    doc = data()
    entry(doc["indicators"], code="nctr")["measure"] = "nctr_typo"
    with pytest.raises(CatalogueError, match="indicator nctr rates unknown measure 'nctr_typo'"):
        parse(doc)


def test_a_catalogue_with_a_measure_of_an_unknown_kind_is_refused():
    doc = data()
    entry(doc["measures"], code="discharges")["kind"] = "rate"
    with pytest.raises(CatalogueError, match="measure discharges is of unknown kind 'rate'"):
        parse(doc)


def test_a_catalogue_that_declares_a_group_twice_is_refused():
    doc = data()
    doc["groups"].append(dict(doc["groups"][0]))
    with pytest.raises(CatalogueError, match="measure group 'capacity' is declared twice"):
        parse(doc)


def test_an_indicator_where_lower_is_worse_is_refused_until_ratings_support_it():
    doc = data()
    entry(doc["indicators"], code="nctr")["higher_is_worse"] = False
    with pytest.raises(CatalogueError, match="indicator nctr: only indicators where higher"):
        parse(doc)


def test_a_variant_file_loads_through_the_same_checks(tmp_path):
    text = CATALOGUE_FILE.read_text(encoding="utf-8")
    variant = tmp_path / "variant.toml"
    variant.write_text(text.replace('shows = "opel_declared"', 'shows = "opel"'), "utf-8")
    with pytest.raises(CatalogueError, match="shows unknown measure or indicator 'opel'"):
        load(variant)
    variant.write_text(text, "utf-8")
    assert load(variant) == current()


def test_an_entry_missing_a_field_is_refused_naming_the_entry_and_the_field():
    doc = data()
    del entry(doc["indicators"], code="nctr")["red"]
    with pytest.raises(CatalogueError, match="indicator nctr has no red"):
        parse(doc)


def test_the_reporting_form_shows_each_kinds_first_boxes_from_the_catalogue():
    from flotilla import catalogue

    current = catalogue.current()
    assert current.first_on_form("acute")[:2] == ("ga_open", "ga_occupied")
    assert current.first_on_form("mental_health")[0] == "mh_adult_open"
    assert current.first_on_form("community") == ("staff_absent", "opel_declared", "situation")


def test_a_reporting_form_naming_an_unknown_measure_is_refused():
    doc = data()
    doc["reporting_form"]["acute"]["first"].append("ga_opne")
    with pytest.raises(
        CatalogueError, match=r"reporting_form.acute names unknown measures \['ga_opne'\]"
    ):
        parse(doc)
