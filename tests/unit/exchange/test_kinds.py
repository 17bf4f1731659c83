"""The kinds of aid: what each carries, how each detail is checked and cleaned, and that no
free text can carry a patient's NHS number or date of birth."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flotilla.exchange import kinds
from flotilla.exchange.kinds import IDENTITY_MESSAGE, KINDS, DetailsInvalid, validate

GOOD = {
    "transfer": {"level_of_care": "cc3", "bed_type": "cc_adult", "clinical_needs": ["ventilation"]},
    "beds": {"bed_type": "ga", "from_date": "2026-01-05", "until_date": "2026-01-12"},
    "staff": {
        "role": "registered_nurse",
        "grade": "Band 5",
        "skills": "Critical care trained",
        "shifts": "Nights, 5-9 January",
    },
    "equipment": {"equipment_type": "Ventilator", "consumable": False, "return_by": "2026-02-01"},
    "elective": {
        "specialty": "Orthopaedics",
        "procedure_group": "Hip and knee",
        "unit": "sessions",
        "weeks": 4,
    },
}


def errors(kind: str, details: dict) -> dict[str, str]:
    with pytest.raises(DetailsInvalid) as exc:
        validate(kind, details)
    return exc.value.errors


def test_every_kind_has_a_good_example_that_validates_to_itself():
    assert set(GOOD) == set(KINDS)
    for kind, details in GOOD.items():
        clean = validate(kind, details)
        assert clean == details, kind
        assert validate(kind, clean) == clean


def test_an_unknown_kind_is_refused_naming_the_kinds():
    assert errors("hovercraft", {}) == {"kind": f"choose one of {', '.join(KINDS)}"}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_required_detail_is_needed_and_optional_ones_are_not(kind):
    for f in KINDS[kind].fields:
        for missing in (None, "", []):
            details = {**GOOD[kind], f.name: missing}
            if f.type == "bool":
                continue
            if f.required:
                assert errors(kind, details) == {f.name: f"{f.label.lower()} is needed"}
            elif (kind, f.name) == ("transfer", "bed_type"):
                assert validate(kind, details)[f.name] == "cc_adult"  # the level's usual beds
            elif kind != "equipment":
                assert f.name not in validate(kind, details)
        without = {k: v for k, v in GOOD[kind].items() if k != f.name}
        if f.required and f.type != "bool":
            assert f.name in errors(kind, without)


def test_several_wrong_details_are_all_named_at_once():
    found = errors("staff", {"role": "wizard", "grade": "", "shifts": "x" * 301})
    assert set(found) == {"role", "grade", "shifts"}
    assert "Several" not in str(DetailsInvalid(found))
    assert str(DetailsInvalid({"a": "b", "c": "d"})) == "a: b; c: d"


def test_a_detail_the_kind_does_not_have_is_refused_not_dropped():
    assert errors("transfer", {**GOOD["transfer"], "nhs_no": "x", "colour": "red"}) == {
        "colour": "patient transfer has no detail called 'colour'",
        "nhs_no": "patient transfer has no detail called 'nhs_no'",
    }


def test_a_choice_must_be_one_of_its_choices():
    assert errors("transfer", {**GOOD["transfer"], "level_of_care": "cc4"}) == {
        "level_of_care": f"choose one of {', '.join(kinds.LEVELS_OF_CARE)}"
    }
    assert errors("transfer", {**GOOD["transfer"], "bed_type": ["ga"]}) == {
        "bed_type": "give a single value"
    }
    assert validate("transfer", {**GOOD["transfer"], "bed_type": "  ga "})["bed_type"] == "ga"


def test_several_choices_are_checked_sorted_and_deduplicated():
    clean = validate(
        "transfer", {**GOOD["transfer"], "clinical_needs": ["isolation", "bariatric", "isolation"]}
    )
    assert clean["clinical_needs"] == ["bariatric", "isolation"]
    assert validate("transfer", {**GOOD["transfer"], "clinical_needs": "isolation"})[
        "clinical_needs"
    ] == ["isolation"]
    assert errors("transfer", {**GOOD["transfer"], "clinical_needs": ["isolation", "magic"]}) == {
        "clinical_needs": f"choose from {', '.join(kinds.CLINICAL_NEEDS)}"
    }


@pytest.mark.parametrize("junk", [[{}], [["ventilation"]], [None], {"a": 1}, [3]])
def test_several_choices_given_as_anything_but_their_codes_are_refused_in_words(junk):
    # JSON from the API may carry any shape: a refusal, never a crash.
    assert set(errors("transfer", {**GOOD["transfer"], "clinical_needs": junk})) == {
        "clinical_needs"
    }


@pytest.mark.parametrize(
    ("weeks", "ok"),
    [(1, True), ("52", True), (" 7 ", True), (0, False), (53, False), ("-1", False),
     ("2.5", False), ("four", False), (True, False), (4.0, False)],
)  # fmt: skip
def test_a_whole_number_must_be_within_its_bounds(weeks, ok):
    details = {**GOOD["elective"], "weeks": weeks}
    if ok:
        assert validate("elective", details)["weeks"] == int(str(weeks).strip())
    else:
        assert set(errors("elective", details)) == {"weeks"}


def test_a_whole_number_out_of_bounds_says_the_bounds():
    assert errors("elective", {**GOOD["elective"], "weeks": 60}) == {
        "weeks": "give a whole number from 1 to 52"
    }


@pytest.mark.parametrize("value", ["2026-13-01", "5 January", "", "2026-02-30", "tomorrow"])
def test_a_date_must_be_a_real_iso_date(value):
    details = {**GOOD["beds"], "from_date": value}
    found = errors("beds", details)
    assert found.get("from_date") in ("give a date as YYYY-MM-DD", "from is needed")


def test_a_beds_window_must_not_end_before_it_starts():
    assert errors("beds", {**GOOD["beds"], "until_date": "2026-01-04"}) == {
        "until_date": "must be on or after the from date"
    }
    one_day = {**GOOD["beds"], "until_date": GOOD["beds"]["from_date"]}
    assert validate("beds", one_day) == one_day
    # A window with a bad end is refused for the date, not compared.
    assert errors("beds", {**GOOD["beds"], "until_date": "soon"}) == {
        "until_date": "give a date as YYYY-MM-DD"
    }


@pytest.mark.parametrize(
    ("raw", "value"),
    [(True, True), (False, False), ("true", True), ("on", True), ("yes", True), ("1", True),
     ("false", False), ("no", False), ("0", False), ("", False)],
)  # fmt: skip
def test_a_yes_or_no_is_read_from_a_form_or_json(raw, value):
    details = {"equipment_type": "Syringe drivers", "consumable": raw, "return_by": "2026-03-01"}
    assert validate("equipment", details)["consumable"] is value


@pytest.mark.parametrize("raw", ["maybe", 2, None, "TRUE"])
def test_anything_else_is_not_a_yes_or_no(raw):
    details = {"equipment_type": "Syringe drivers", "consumable": raw, "return_by": "2026-03-01"}
    assert errors("equipment", details) == {"consumable": "answer yes or no"}


def test_equipment_to_be_returned_must_say_when_and_consumables_need_not():
    lent = {"equipment_type": "Ventilator", "consumable": False}
    assert errors("equipment", lent) == {
        "return_by": "say when equipment that is not consumable comes back"
    }
    given_away = {"equipment_type": "Masks", "consumable": True}
    assert validate("equipment", given_away) == given_away
    # A bad return date is reported as such, not as a missing one.
    assert errors("equipment", {**lent, "return_by": "Friday"}) == {
        "return_by": "give a date as YYYY-MM-DD"
    }


@pytest.mark.parametrize("blank", [" ", "\t\n", "   "])
def test_a_required_detail_given_only_as_spaces_is_needed_and_an_optional_one_is_left_out(blank):
    assert errors("staff", {**GOOD["staff"], "shifts": blank}) == {"shifts": "shifts is needed"}
    assert errors("beds", {**GOOD["beds"], "bed_type": blank}) == {"bed_type": "bed type is needed"}
    assert "skills" not in validate("staff", {**GOOD["staff"], "skills": blank})


def test_free_text_is_stripped_and_held_to_its_limit():
    f = next(f for f in KINDS["staff"].fields if f.name == "grade")
    assert validate("staff", {**GOOD["staff"], "grade": " Band 6  "})["grade"] == "Band 6"
    at_limit = {**GOOD["staff"], "grade": "x" * f.max_length}
    assert validate("staff", at_limit)["grade"] == "x" * f.max_length
    assert errors("staff", {**GOOD["staff"], "grade": "x" * (f.max_length + 1)}) == {
        "grade": f"use {f.max_length} characters or fewer"
    }
    assert errors("staff", {**GOOD["staff"], "grade": ["Band 5"]}) == {
        "grade": "give a single value"
    }


@pytest.mark.parametrize(
    "text",
    ["Patient 943 476 5919", "NHS no 9434765919", "ref 943-476-5919.", "DOB 01/02/1950",
     "d.o.b. 1/2/50", "born 1/2/1950", "Date of Birth: 3 March 1961", "x9434765919y"],
)  # fmt: skip
def test_text_that_looks_like_a_patients_identity_is_refused(text):
    assert kinds.looks_like_patient_identity(text)
    assert errors("staff", {**GOOD["staff"], "skills": text}) == {"skills": IDENTITY_MESSAGE}


@pytest.mark.parametrize(
    "text",
    ["Band 5, 12 shifts", "Ward 21 closed", "Call 0161 496 0000", "Beds 1-10", "12345678901",
     "Doberman therapy dog", "Stubborn infection control issue", "Order ref 123456789"],
)  # fmt: skip
def test_ordinary_text_with_numbers_is_not_taken_for_an_identity(text):
    assert not kinds.looks_like_patient_identity(text)


ten_digits = st.text(alphabet=string.digits, min_size=10, max_size=10)
separated = st.tuples(ten_digits, st.sampled_from(("", " ", "-"))).map(
    lambda t: f"{t[0][:3]}{t[1]}{t[0][3:6]}{t[1]}{t[0][6:]}"
)
#: Words around a number, never touching it with another digit.
words = st.text(alphabet=string.ascii_letters + " ,.;:()/", max_size=40)


@given(before=words, number=separated, after=words)
def test_any_ten_digit_number_anywhere_in_free_text_is_refused(before, number, after):
    text = f"{before}{number}{after}"
    assert kinds.looks_like_patient_identity(text)
    found = errors("staff", {**GOOD["staff"], "shifts": text[:300]})
    assert found == {"shifts": IDENTITY_MESSAGE} or len(text) > 300


ordinary_words = st.lists(
    st.sampled_from(
        ("nurse", "theatre", "ward", "ventilator", "band", "nights", "bariatric", "trolley",
         "isolation", "weekend", "ICU", "orthopaedic", "day-case", "ambulance", "bed", "north")
    ),
    max_size=12,
).map(" ".join)  # fmt: skip
small_numbers = st.integers(0, 999_999_999).map(str)


@given(
    parts=st.lists(st.one_of(ordinary_words, small_numbers), max_size=6),
    punctuation=st.sampled_from((", ", "; ", " / ")),
)
def test_ordinary_text_with_numbers_of_up_to_nine_digits_passes(parts, punctuation):
    text = f"Nights {punctuation.join(parts)}"[:300]
    assert not kinds.looks_like_patient_identity(text)
    assert validate("staff", {**GOOD["staff"], "shifts": text})["shifts"] == text.strip()


#: Letters and punctuation without a "b": no digits, and no "DOB", "born" or "birth".
no_b = "".join(c for c in string.ascii_letters + string.punctuation + " " if c not in "bB")


@given(text=st.text(alphabet=no_b, max_size=300))
def test_text_without_digits_or_the_words_of_a_birth_date_always_passes(text):
    assert not kinds.looks_like_patient_identity(text)
    assert validate("staff", {**GOOD["staff"], "skills": text}).get("skills") == (
        text.strip() or None
    )


def test_describe_says_how_many_of_what_in_a_short_phrase():
    assert kinds.describe("transfer", 2, GOOD["transfer"]) == (
        "2 patients, critical care level 3, adult critical care, ventilation"
    )
    both = {**GOOD["transfer"], "clinical_needs": ["bariatric", "isolation"]}
    assert kinds.describe("transfer", 1, both).endswith("bariatric and isolation")
    assert kinds.describe("beds", 4, GOOD["beds"]) == "4 beds, general & acute"
    assert kinds.describe("staff", 3, GOOD["staff"]) == "3 people, registered nurse"
    assert kinds.describe("equipment", 1, GOOD["equipment"]) == "1 item, Ventilator"
    assert kinds.describe("staff", 1, GOOD["staff"]) == "1 person, registered nurse"
    assert kinds.describe("elective", 6, GOOD["elective"]) == (
        "6 sessions, Orthopaedics, theatre or clinic sessions"
    )
    patients = {**GOOD["elective"], "unit": "patients"}
    assert kinds.describe("elective", 9, patients).startswith("9 patients, ")
    assert kinds.describe("transfer", 1, {}) == "1 patient"


@pytest.mark.parametrize("level", list(kinds.LEVELS_OF_CARE))
def test_a_transfer_without_a_bed_type_asks_for_the_usual_beds_of_its_level_of_care(level):
    details = validate("transfer", {"level_of_care": level})
    assert details["bed_type"] == kinds.BED_TYPE_FOR_LEVEL[level]
    chosen = validate("transfer", {"level_of_care": level, "bed_type": "escalation"})
    assert chosen["bed_type"] == "escalation"


def test_a_birth_weight_or_gestation_is_not_taken_for_a_date_of_birth():
    for text in ("Born at 28 weeks, CPAP", "born 28 weeks ago", "stubborn MRSA"):
        assert not kinds.looks_like_patient_identity(text)
    for text in ("born 3/4/2025", "Born on 3rd March 2025", "born 12 jan"):
        assert kinds.looks_like_patient_identity(text)


def test_every_level_of_care_names_a_bed_type_matching_can_read():
    assert set(kinds.BED_TYPE_FOR_LEVEL) == set(kinds.LEVELS_OF_CARE)
    assert set(kinds.BED_TYPE_FOR_LEVEL.values()) <= set(kinds.BED_TYPES)
