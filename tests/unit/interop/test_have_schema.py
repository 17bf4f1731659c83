"""Our EDXL-HAVE schema (written from the specification, ADR 0034) passes what we write and
fails what we must not: no database."""

from __future__ import annotations

from flotilla.interop import have

HOSPITAL = (
    "<Hospital><Organization><OrganizationInformation>"
    "<OrganizationName>South Hospitals NHS Trust</OrganizationName>"
    "<OrganizationID><ValueListURN>urn:flotilla:list:ods-code</ValueListURN>"
    "<Value>RS1</Value></OrganizationID></OrganizationInformation></Organization>"
    "{beds}</Hospital>"
)


def _document(beds: str = "") -> bytes:
    body = HOSPITAL.format(beds=beds)
    return f'<HospitalStatus xmlns="{have.NS}">{body}</HospitalStatus>'.encode()


def _beds(capacity: str) -> str:
    return (
        "<HospitalBedCapacityStatus><BedCapacity><BedType>"
        "<ValueListURN>urn:flotilla:list:bed-type</ValueListURN><Value>ga</Value></BedType>"
        f"<Capacity>{capacity}</Capacity></BedCapacity></HospitalBedCapacityStatus>"
    )


def test_a_hospital_with_an_available_count_is_valid():
    capacity = "<CapacityStatus>Vacant/Available</CapacityStatus><AvailableCount>4</AvailableCount>"
    assert have.validate(_document(_beds(capacity))) == []


def test_a_negative_available_count_is_invalid():
    assert have.validate(_document(_beds("<AvailableCount>-1</AvailableCount>")))


def test_a_capacity_status_outside_the_list_is_invalid():
    assert have.validate(_document(_beds("<CapacityStatus>Plenty</CapacityStatus>")))


def test_a_document_in_another_namespace_is_invalid():
    wrong = _document().replace(have.NS.encode(), b"urn:oasis:names:tc:emergency:EDXL:HAVE:1.0")
    assert have.validate(wrong)


def test_text_that_is_not_xml_is_reported_not_raised():
    assert have.validate(b"<HospitalStatus")
