"""EDXL-HAVE 2.0 out: what a reader's grants let them see of members' hospital status, as XML
that validates against our schema (written from the specification, ADR 0034)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from flotilla.authz import actions as authz_actions
from flotilla.authz.models import Role
from flotilla.interop import have
from flotilla.sharing import actions as sharing
from flotilla.sharing.models import Grant
from tests import factories as f
from tests.access import recorded

pytestmark = pytest.mark.django_db

NS = {"h": have.NS}


def _read_token(cast):
    _, secret = authz_actions.issue_token(
        by=cast.people[Role.ORG_ADMIN], organisation=cast.north, name="have", scope="read"
    )
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def _narrow(cast, **terms):
    grant = Grant.objects.get(owner=cast.south, collaborative=cast.collab, ended_at__isnull=True)
    base = {
        "audience": "collaborative",
        "collaborative": cast.collab,
        "groups": ("capacity", "flow", "escalation"),
        "detail": "exact",
        "delay_hours": 0,
        "purpose": "HAVE tests",
    }
    sharing.change_grant(by=f.SYSTEM, grant=grant, terms=sharing.Terms(**{**base, **terms}))


def _hospital(doc, code):
    (found,) = doc.xpath(
        "//h:Hospital[h:Organization/h:OrganizationInformation/h:OrganizationID/h:Value=$c]",
        namespaces=NS,
        c=code,
    )
    return found


def _bed(hospital, bed):
    (found,) = hospital.xpath(
        "h:HospitalBedCapacityStatus/h:BedCapacity[h:BedType/h:Value=$b]", namespaces=NS, b=bed
    )
    return found


def _get(client, cast, path):
    response = client.get(path, **_read_token(cast))
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/xml")
    return response.content


def test_a_collaboratives_have_document_gives_each_members_available_beds_and_validates(
    client, cast
):
    now = timezone.now()
    f.report(cast.south, now - timedelta(hours=1), ga_open=120, ga_occupied=110, opel_declared=3)
    f.report(cast.south, now - timedelta(hours=1), ed_diverts=1, ed_closures=0)
    document = _get(client, cast, f"/api/collaboratives/{cast.collab.slug}/have")
    assert have.validate(document) == []
    doc = have.parsed(document)
    south = _hospital(doc, "RS1")
    assert south.findtext(
        "h:Organization/h:OrganizationInformation/h:OrganizationName", namespaces=NS
    ) == ("South Hospitals NHS Trust")
    ga = _bed(south, "ga")
    assert ga.findtext("h:Capacity/h:AvailableCount", namespaces=NS) == "10"
    assert ga.findtext("h:Capacity/h:BaselineCount", namespaces=NS) == "120"
    assert ga.findtext("h:Capacity/h:CapacityStatus", namespaces=NS) == "Vacant/Available"
    assert (
        south.findtext("h:EmergencyDepartmentStatus/h:EMSTraffic/h:EMSTrafficStatus", namespaces=NS)
        == "Advisory"
    )
    levels = south.xpath("h:OrganizationStatus/h:EscalationLevel", namespaces=NS)
    assert levels[0].findtext("h:LevelSource", namespaces=NS) == "declared"
    assert levels[0].findtext("h:LevelCode/h:Value", namespaces=NS) == "3"
    # The member that reported nothing is listed, with nothing made up for it.
    north = _hospital(doc, "RN1")
    assert not north.xpath(".//h:AvailableCount", namespaces=NS)


def test_a_banded_grant_leaves_the_available_count_out_and_says_why_never_a_zero(client, cast):
    _narrow(cast, detail="banded")
    f.report(cast.south, timezone.now() - timedelta(hours=1), ga_open=120, ga_occupied=120)
    document = _get(client, cast, f"/api/collaboratives/{cast.collab.slug}/have")
    assert have.validate(document) == []
    ga = _bed(_hospital(have.parsed(document), "RS1"), "ga")
    assert not ga.xpath(".//h:AvailableCount|.//h:BaselineCount|.//h:CapacityStatus", namespaces=NS)
    assert "rounded to the nearest 5" in ga.findtext("h:CommentText", namespaces=NS)


def test_a_figure_newer_than_the_grants_delay_is_not_in_the_document_and_it_says_so(client, cast):
    _narrow(cast, delay_hours=24)
    f.report(cast.south, timezone.now() - timedelta(hours=1), ga_open=120, ga_occupied=100)
    document = _get(client, cast, "/api/organisations/RS1/have")
    ga = _bed(_hospital(have.parsed(document), "RS1"), "ga")
    assert not ga.xpath(".//h:AvailableCount", namespaces=NS)
    assert "not yet visible — shared 24 hours late" in ga.findtext("h:CommentText", namespaces=NS)


def test_figures_not_shared_are_said_to_be_not_shared(client, cast):
    _narrow(cast, groups=("escalation",), detail="status")
    f.report(cast.south, timezone.now() - timedelta(hours=1), ga_open=120, ga_occupied=100)
    document = _get(client, cast, "/api/organisations/RS1/have")
    assert have.validate(document) == []
    ga = _bed(_hospital(have.parsed(document), "RS1"), "ga")
    assert "not shared with you" in ga.findtext("h:CommentText", namespaces=NS)
    assert not ga.xpath(".//h:AvailableCount", namespaces=NS)


def test_a_sites_own_figures_make_a_hospital_of_their_own_under_its_trust(client, aid):
    cast = aid
    f.report(
        cast.south,
        timezone.now() - timedelta(hours=1),
        site=cast.south_site,
        cc_adult_open=10,
        cc_adult_occupied=7,
    )
    doc = have.parsed(_get(client, cast, "/api/organisations/RS1/have"))
    site = _hospital(doc, "RS101")
    parent = "h:Organization/h:OrganizationInformation/h:ParentOrganizationID/h:Value"
    assert site.findtext(parent, namespaces=NS) == "RS1"
    assert _bed(site, "cc_adult").findtext("h:Capacity/h:AvailableCount", namespaces=NS) == "3"


def test_the_export_is_on_the_owners_access_record(client, cast):
    f.report(cast.south, timezone.now() - timedelta(hours=1), ga_open=120, ga_occupied=110)
    _get(client, cast, f"/api/collaboratives/{cast.collab.slug}/have")
    events = list(recorded().filter(owner=cast.south))
    assert events, "the read is on South's access record"
    assert "capacity" in events[-1].groups
    assert events[-1].reader_organisations == [cast.north.pk]


def test_an_organisation_that_shares_nothing_with_the_reader_is_not_found(client, cast):
    response = client.get("/api/organisations/RX1/have", **_read_token(cast))
    assert response.status_code == 404


def test_a_wrong_document_fails_the_schema_so_the_check_can_fail():
    wrong = (
        f'<HospitalStatus xmlns="{have.NS}"><Hospital><Organization>'
        "<OrganizationInformation><OrganizationName>X</OrganizationName>"
        "</OrganizationInformation></Organization>"
        "<HospitalBedCapacityStatus><BedCapacity><Capacity><AvailableCount>-1</AvailableCount>"
        "</Capacity></BedCapacity></HospitalBedCapacityStatus></Hospital></HospitalStatus>"
    ).encode()
    problems = have.validate(wrong)
    assert problems
    assert any("OrganizationID" in p for p in problems)
