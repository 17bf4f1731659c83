"""While a collaborative is in surge, a new request for aid is shown first to its surge
audience unless the person asking chooses; outside surge, to the collaborative."""

from __future__ import annotations

import re

import pytest

from flotilla.authz.models import Role
from flotilla.exchange.models import AidRequest, Reach
from tests import factories as f
from tests.integration.exchange.test_api import REQUESTS, call, issue, request_body

pytestmark = pytest.mark.django_db


def _checked_reach(page: str) -> str:
    [value] = re.findall(r'name="reach" type="radio" value="(\d)" checked', page)
    return value


def _north_asks(aid, **kw):
    return f.aid_request(
        by=aid.people[Role.COORDINATOR],
        organisation=aid.north,
        collaborative=aid.collab,
        site=aid.north_site,
        **kw,
    )


def test_in_surge_the_request_form_starts_at_the_surge_audience(client, aid):
    client.force_login(aid.people[Role.COORDINATOR])
    path = f"/c/{aid.collab.slug}/aid/ask?kind=transfer"
    assert _checked_reach(client.get(path).content.decode()) == str(Reach.COLLABORATIVE)
    f.surge_settings(aid.collab, aid_reach=Reach.PLATFORM)
    f.surge(aid.collab)
    assert _checked_reach(client.get(path).content.decode()) == str(Reach.PLATFORM)


def test_a_request_raised_without_choosing_goes_to_the_surge_audience_only_in_surge(aid):
    assert _north_asks(aid).reach == Reach.COLLABORATIVE
    f.surge(aid.collab)  # the default surge audience: the region
    assert _north_asks(aid).reach == Reach.REGION
    assert _north_asks(aid, reach=Reach.ORGANISATION).reach == Reach.ORGANISATION
    f.surge(aid.collab, on=False)
    assert _north_asks(aid).reach == Reach.COLLABORATIVE


def test_through_the_api_a_request_without_a_reach_goes_to_the_surge_audience(aid, client):
    f.surge(aid.collab)
    response = call(client, "POST", issue(aid), REQUESTS, request_body())
    assert response.status_code == 201, response.json()
    assert response.json()["reach"] == "region"
    chosen = call(client, "POST", issue(aid), REQUESTS, request_body(reach="collaborative"))
    assert chosen.json()["reach"] == "collaborative"
    assert sorted(AidRequest.objects.values_list("reach", flat=True)) == [
        Reach.COLLABORATIVE,
        Reach.REGION,
    ]
