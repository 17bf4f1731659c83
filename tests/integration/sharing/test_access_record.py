"""Every read of an organisation's data by someone outside it is on that organisation's record."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from flotilla.authz import actions as authz_actions
from flotilla.authz.models import Role
from flotilla.sharing import ledger, policy
from tests import factories as f
from tests.access import recorded

pytestmark = pytest.mark.django_db


@pytest.fixture
def reported(cast):
    now = timezone.now()
    f.report(cast.north, now - timedelta(hours=1), ga_open=100, nctr=5)
    f.report(cast.south, now - timedelta(hours=1), ga_open=200, situation="Busy night")
    return cast


def test_a_dashboard_request_records_one_read_per_other_organisation(client, reported):
    client.force_login(reported.people[Role.VIEWER])  # at North
    client.get(f"/c/{reported.collab.slug}/")
    event = recorded().get()
    assert event.owner == reported.south
    assert event.reader_label == "north_viewer"
    assert event.groups == ["capacity"]  # the dashboard shows no narrative
    assert event.what == f"GET /c/{reported.collab.slug}/"


def test_reading_your_own_organisation_is_not_an_access_by_others(client, reported):
    client.force_login(reported.people[Role.VIEWER])
    client.get("/o/RN1/")
    assert not recorded().exists()


def test_the_groups_read_are_recorded(client, reported):
    client.force_login(reported.people[Role.VIEWER])
    client.get(f"/c/{reported.collab.slug}/export.csv")
    token, secret = authz_actions.issue_token(
        by=reported.people[Role.ORG_ADMIN], organisation=reported.north, name="r", scope="read"
    )
    client.get(
        f"/api/collaboratives/{reported.collab.slug}/picture",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    api_event = recorded().get(reader_token=token)
    assert api_event.groups == ["capacity", "narrative"]
    assert api_event.owner == reported.south


def test_an_export_command_records_the_platform_as_reader(reported, tmp_path):
    call_command("export", "--at", timezone.now().isoformat(), "--out", str(tmp_path / "x.csv"))
    labels = set(recorded().values_list("reader_label", flat=True))
    assert labels == {"platform:export command"}
    assert recorded().count() == 2  # North and South, one row each


def test_reads_collected_in_one_block_are_recorded_once_per_owner(reported):
    viewer = policy.viewer_of(reported.people[Role.VIEWER])
    with ledger.collecting("test"):
        policy.read_latest(viewer, None)
        policy.read_latest(viewer, None)
    assert recorded().count() == 1


def test_an_admin_sees_and_downloads_the_record_of_their_own_data_only(client, reported):
    client.force_login(reported.people["south_reporter"])
    client.get(f"/c/{reported.collab.slug}/")
    client.force_login(reported.people[Role.ORG_ADMIN])  # North's admin
    page = client.get("/o/RN1/access").content.decode()
    assert "south_reporter" in page
    body = client.get("/o/RN1/access?format=csv").content.decode()
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == ["at", "reader", "reader_organisations", "groups", "where"]
    assert rows[1][1:4] == ["south_reporter", "RS1", "capacity flow"]
    assert client.get("/o/RS1/access").status_code == 404
