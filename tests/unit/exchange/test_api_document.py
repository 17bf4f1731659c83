"""The aid API's document states what `kinds` reads, also for the kinds of detail the shipped
kinds of aid do not use yet (a yes/no answer, a one-character or short text): checked against
`kinds._clean` itself."""

from __future__ import annotations

import re

import pytest

from flotilla.exchange import kinds
from flotilla.exchange.api import _detail_schema, _stripped


def cleans(field: kinds.Field, raw: object) -> bool:
    try:
        kinds._clean(field, raw)
    except ValueError:
        return False
    return True


def test_a_yes_or_no_detail_is_documented_as_exactly_the_answers_it_takes():
    answer = kinds.Field("ready", "Ready", "bool")
    stated = _detail_schema(answer)["enum"]
    assert all(cleans(answer, a) for a in stated)
    assert not cleans(answer, "maybe") and "maybe" not in stated


@pytest.mark.parametrize(("text", "taken"), [("a", True), (" a ", True), ("ab", False)])
def test_a_one_character_text_is_documented_as_kinds_counts_it(text, taken):
    field = kinds.Field("grade", "Grade", "text", max_length=1)
    assert bool(re.fullmatch(_stripped(1, required=True), text)) is taken
    assert cleans(field, text) is taken


def test_a_short_text_given_as_digits_is_bounded_by_its_length_without_the_nhs_number_rule():
    field = kinds.Field("ward", "Ward", "text", max_length=5)
    digits = next(s for s in _detail_schema(field)["anyOf"] if s.get("type") == "integer")
    assert digits["maximum"] == 99_999 and "not" not in digits
    assert cleans(field, 99_999) and not cleans(field, 100_000)


def test_a_required_one_character_text_is_documented_as_never_blank():
    assert not re.fullmatch(_stripped(1, required=True), " ")
    assert re.fullmatch(_stripped(1, required=False), " ")
