"""What makes an on-call entry valid, without a database: each problem named by its field,
in the words the page shows beside the box."""

from __future__ import annotations

import pytest

from flotilla.directory import validation as v

ENTRY = {
    "role": "Site manager on call",
    "name": "",
    "route": "phone",
    "contact": "0113 243 3144",
    "hours": "24/7",
    "notes": "",
    "position": None,
}


def problems(**changes):
    return v.check(v.cleaned({**ENTRY, **changes}))


def test_a_complete_entry_has_no_problems():
    assert problems() == {}


@pytest.mark.parametrize(
    "number",
    [
        "0113 243 3144",
        "+44 113 243 3144",
        "+44 (0)113 243 3144",
        "(0113) 243-3144",
        "0113 243 3144 ext 5678",
        "0113 243 3144 ext. 5678",
        "0113 243 3144 x5678",
        "2222",
    ],
)
def test_phone_numbers_are_written_as_people_write_them(number):
    assert problems(contact=number) == {}


@pytest.mark.parametrize("number", ["12", "call the switchboard", "0113 ++44", "1" * 16, "44+1"])
def test_a_phone_number_that_is_not_one_is_refused_with_an_example(number):
    assert problems(contact=number) == {"contact": v.MESSAGES["phone"]}
    assert "like 0113 243 3144" in v.MESSAGES["phone"]


@pytest.mark.parametrize("bleep", ["1234", "#6543", "12 34"])
def test_a_bleep_is_digits(bleep):
    assert problems(route="bleep", contact=bleep) == {}


@pytest.mark.parametrize("bleep", ["1", "bleep me", "12345678901"])
def test_a_bleep_that_is_not_digits_is_refused(bleep):
    assert problems(route="bleep", contact=bleep) == {"contact": v.MESSAGES["bleep"]}


def test_an_email_address_must_look_like_one():
    assert problems(route="email", contact="oncall@example.nhs.uk") == {}
    assert problems(route="email", contact="oncall@") == {"contact": v.MESSAGES["email"]}


def test_radio_and_other_routes_take_any_text():
    assert problems(route="radio", contact="Channel 3, call sign Bronze") == {}
    assert problems(route="other", contact="Ask the switchboard for the duty manager") == {}


def test_role_contact_and_hours_are_needed_and_blank_is_not_enough():
    assert problems(role="  ", contact="", hours="\t") == {
        "role": v.MESSAGES["role"],
        "contact": v.MESSAGES["contact"],
        "hours": v.MESSAGES["hours"],
    }


def test_texts_have_limits_named_by_field():
    got = problems(role="r" * 201, name="n" * 201, hours="h" * 101, notes="x" * 1001)
    assert got == {
        "role": "The role must be 200 characters or fewer",
        "name": "The name must be 200 characters or fewer",
        "hours": "The hours must be 100 characters or fewer",
        "notes": "The notes must be 1000 characters or fewer",
    }


def test_a_nul_character_is_refused():
    assert problems(notes="a\x00b") == {"notes": "The notes must not contain NUL characters"}


def test_an_unknown_route_is_refused_and_its_contact_not_judged():
    assert problems(route="pigeon", contact="x") == {"route": v.MESSAGES["route"]}


@pytest.mark.parametrize("position", [-1, 10_000, True, "3"])
def test_a_place_in_the_list_is_a_whole_number_in_range(position):
    assert problems(position=position) == {"position": v.MESSAGES["position"]}


def test_surrounding_white_space_is_dropped():
    assert v.cleaned({"role": "  Bed manager ", "name": None, "position": 3}) == {
        "role": "Bed manager",
        "name": "",
        "position": 3,
    }


@pytest.mark.parametrize(
    ("written", "dialled"),
    [
        ("0113 243 3144", "01132433144"),
        ("+44 (0)113 243 3144", "+441132433144"),
        ("0113 243 3144 ext 5678", "01132433144,5678"),
        ("not a number", ""),
    ],
)
def test_a_phone_number_is_dialled_as_a_phone_reads_it(written, dialled):
    assert v.dial(written) == dialled
