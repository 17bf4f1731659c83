"""Reading EDXL-RM safely, and naming where a message is wrong: no database."""

from __future__ import annotations

import pytest
from lxml import etree

from flotilla.interop import edxl_rm


def test_a_document_with_a_dtd_is_refused_before_it_is_parsed():
    hostile = b'<!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>'
    with pytest.raises(edxl_rm.NotPlainXml, match="DTD"):
        edxl_rm._parse(hostile)


def test_a_message_longer_than_the_document_allows_is_refused_as_invalid():
    with pytest.raises(edxl_rm.MessageInvalid) as refused:
        edxl_rm._parse(b"<r>" + "é".encode() * edxl_rm.MAX_CHARACTERS + b"</r>")
    assert refused.value.errors == {"/": f"send at most {edxl_rm.MAX_CHARACTERS} characters"}


def test_a_message_of_many_bytes_but_few_enough_characters_is_not_too_long():
    body = "<r>" + "é" * (edxl_rm.MAX_CHARACTERS - 10) + "</r>"
    assert edxl_rm._parse(body.encode()).tag == "r"


def test_text_that_is_not_xml_is_refused_as_a_bad_request():
    with pytest.raises(edxl_rm.NotPlainXml, match="not well-formed"):
        edxl_rm._parse(b"<r>")


def test_the_parser_expands_no_entity_even_when_a_dtd_gets_past():
    root = etree.fromstring(
        b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/hostname">]><r>&x;</r>', edxl_rm._parser()
    )
    assert root.text is None


def test_an_elements_path_names_it_without_namespaces_and_numbers_its_like_siblings():
    root = etree.fromstring(
        f'<RequestResource xmlns="{edxl_rm.NS}"><ResourceInformation>'
        "<ScheduleInformation/><ScheduleInformation><DateTime/></ScheduleInformation>"
        "</ResourceInformation></RequestResource>".encode()
    )
    date_time = root.xpath("//*[local-name()='DateTime']")[0]
    assert edxl_rm._where(date_time) == (
        "/RequestResource/ResourceInformation/ScheduleInformation[2]/DateTime"
    )


def test_message_ids_say_what_they_are_and_which_step():
    assert (
        edxl_rm.message_id("commitment", 9, "released") == "urn:flotilla:aid:commitment:9:released"
    )
    assert edxl_rm.message_id("request", 4) == "urn:flotilla:aid:request:4"
