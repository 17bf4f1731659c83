"""The standards' documents as downloads from the pages: the dashboard offers the members'
beds as FHIR SANER and their hospital status as EDXL-HAVE, a request's page its thread as
EDXL-RM; each is what the signed-in person may see, made by the same read modules as the
API's, and on the owners' access record."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle

from flotilla.authz.models import Role
from flotilla.interop import edxl_rm, have, saner
from tests import factories as f
from tests.access import recorded

pytestmark = pytest.mark.django_db


@pytest.fixture
def south(aid):
    """South reports 124 G&A beds open and 119 occupied an hour ago, shared banded (as 125
    and 120)."""
    cast = aid
    f.report(cast.south, timezone.now() - timedelta(hours=1), ga_open=124, ga_occupied=119)
    f.reshare(f.collaborative_grant(cast.south, cast.collab), detail="banded")
    return cast


def _download(client, person, path: str):
    client.force_login(person)
    response = client.get(path)
    assert response.status_code == 200, response.content
    assert response["Content-Disposition"].startswith("attachment; filename=")
    return response


def test_the_dashboard_offers_its_members_beds_as_saner_and_their_status_as_have(client, south):
    client.force_login(south.people[Role.REPORTER])
    page = client.get(f"/c/{south.collab.slug}/").content.decode()
    assert f"/c/{south.collab.slug}/export-saner.json" in page
    assert f"/c/{south.collab.slug}/export-have.xml" in page


def test_the_saner_download_is_what_the_person_may_see_and_on_the_owners_record(client, south):
    response = _download(
        client, south.people[Role.REPORTER], f"/c/{south.collab.slug}/export-saner.json"
    )
    assert response["Content-Type"].startswith("application/fhir+json")
    body = response.json()
    Bundle.model_validate(body)
    theirs = [
        p
        for e in body["entry"]
        if e["resource"]["subject"]["identifier"]["value"] == "RS1"
        for g in e["resource"].get("group", [])
        for p in g["population"]
    ]
    assert theirs, "South's beds are in the bundle"
    assert all("count" not in p for p in theirs), "banded: no exact count"
    assert {"url": saner.DATA_ABSENT, "valueCode": "masked"} in theirs[0]["extension"]
    assert "124" not in json.dumps(theirs) and "119" not in json.dumps(theirs)
    assert recorded().filter(owner=south.south).exists()


def test_the_have_download_validates_and_gives_no_count_finer_than_shared(client, south):
    response = _download(
        client, south.people[Role.REPORTER], f"/c/{south.collab.slug}/export-have.xml"
    )
    assert response["Content-Type"].startswith(have.MEDIA_TYPE)
    assert have.validate(response.content) == []
    assert b"<AvailableCount>5</AvailableCount>" not in response.content
    assert b"rounded to the nearest 5" in response.content


def test_a_request_page_offers_its_thread_as_edxl_rm_messages(client, aid):
    request = f.aid_request(
        by=aid.people["south_coordinator"],
        organisation=aid.south,
        collaborative=aid.collab,
        site=aid.south_site,
    )
    client.force_login(aid.people[Role.REPORTER])
    assert (
        f"/aid/requests/{request.pk}/edxl-rm.xml"
        in client.get(f"/aid/requests/{request.pk}").content.decode()
    )
    response = _download(
        client, aid.people[Role.REPORTER], f"/aid/requests/{request.pk}/edxl-rm.xml"
    )
    assert edxl_rm.validate(response.content) == []
    assert b"<RequestResource" in response.content


def test_an_outsider_downloads_nothing(client, south):
    client.force_login(south.people["outsider"])
    assert client.get(f"/c/{south.collab.slug}/export-saner.json").status_code == 404
    assert client.get(f"/c/{south.collab.slug}/export-have.xml").status_code == 404


def test_a_standing_offers_page_offers_its_thread_as_edxl_rm_messages(client, aid):
    standing = f.offer(
        by=aid.people["south_coordinator"],
        organisation=aid.south,
        site=aid.south_site,
        collaborative=aid.collab,
        kind="staff",
        details={"role": "porter", "grade": "Band 2", "shifts": "Days"},
        quantity=2,
    )
    client.force_login(aid.people[Role.REPORTER])
    path = f"/aid/offers/{standing.pk}/edxl-rm.xml"
    assert path in client.get(f"/aid/offers/{standing.pk}").content.decode()
    response = _download(client, aid.people[Role.REPORTER], path)
    assert edxl_rm.validate(response.content) == []
    assert b"<OfferUnsolicitedResource" in response.content
