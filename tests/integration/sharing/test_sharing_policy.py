"""The one policy point: members of a collaborative see each other; nobody else sees anything."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404

from flotilla.authz import actions as authz_actions
from flotilla.authz.models import Role
from flotilla.collaboratives import actions as collaboratives_actions
from flotilla.collaboratives.queries import find_collaborative, members_of
from flotilla.sharing import policy
from tests import factories as f

pytestmark = pytest.mark.django_db


def readable(viewer: policy.Viewer) -> set[int]:
    """The organisations whose data the policy lets the viewer read (any group at all)."""
    return set(policy.access_map(viewer))


T0 = datetime(2026, 1, 5, 8, tzinfo=UTC)


def test_a_member_reads_every_fellow_member_and_no_one_else(cast):
    viewer = policy.viewer_of(cast.people[Role.VIEWER])
    assert readable(viewer) == {cast.north.pk, cast.south.pk}


def test_an_outsider_reads_only_their_own_organisation(cast):
    viewer = policy.viewer_of(cast.people["outsider"])
    assert readable(viewer) == {cast.outside.pk}
    with pytest.raises(Http404):
        find_collaborative(viewer.organisation_ids, cast.collab.slug)
    with pytest.raises(Http404):
        policy.get_organisation(viewer, "RN1")


def test_an_anonymous_visitor_reads_nothing(cast):
    viewer = policy.viewer_of(AnonymousUser())
    assert viewer.organisation_ids == frozenset()
    assert readable(viewer) == frozenset()
    assert policy.access_map(viewer) == {}


def test_a_token_reads_as_its_organisation(cast):
    token, _ = authz_actions.issue_token(
        by=cast.people[Role.ORG_ADMIN], organisation=cast.north, name="bms", scope="read"
    )
    viewer = policy.viewer_of(token)
    assert viewer.token_id == token.pk
    assert readable(viewer) == {cast.north.pk, cast.south.pk}


def test_leaving_stops_sharing_from_the_next_request(cast):
    viewer = policy.viewer_of(cast.people[Role.VIEWER])
    assert policy.get_organisation(viewer, "RS1") == cast.south
    collaboratives_actions.leave(
        by=cast.people["south_reporter"], collaborative=cast.collab, organisation=cast.south
    )
    with pytest.raises(Http404):
        policy.get_organisation(viewer, "RS1")
    assert [o.code for o in members_of(cast.collab)] == ["RN1"]


def test_an_unknown_organisation_or_site_is_a_404_like_a_hidden_one(cast):
    viewer = policy.viewer_of(cast.people[Role.VIEWER])
    with pytest.raises(Http404):
        policy.get_organisation(viewer, "NOPE")
    with pytest.raises(Http404):
        policy.get_site(viewer, "NOPE1")


def test_sites_are_readable_exactly_when_their_organisation_is(cast):
    south_site = f.SiteFactory(code="RS101", organisation=cast.south)
    outside_site = f.SiteFactory(code="RX101", organisation=cast.outside)
    viewer = policy.viewer_of(cast.people[Role.VIEWER])
    assert policy.get_site(viewer, "rs101") == south_site
    with pytest.raises(Http404):
        policy.get_site(viewer, outside_site.code)


def test_read_latest_never_widens_beyond_what_the_viewer_may_read(cast):
    f.report(cast.north, T0, ga_open=10)
    f.report(cast.south, T0, ga_open=20)
    f.report(cast.outside, T0, ga_open=30)
    viewer = policy.viewer_of(cast.people[Role.VIEWER])
    everything = {v.organisation_id for v in policy.read_latest(viewer, None).values}
    assert everything == {cast.north.pk, cast.south.pk}
    asked = {cast.south.pk, cast.outside.pk}
    reading = policy.read_latest(viewer, None, asked, ["ga_open"])
    assert {v.organisation_id for v in reading.values} == {cast.south.pk}
    assert reading.withheld == {(cast.outside.pk, "ga_open")}


def test_the_platform_viewer_reads_every_organisation_and_says_why(cast):
    viewer = policy.platform_viewer("export command")
    assert viewer.label == "platform:export command"
    assert readable(viewer) >= {
        cast.north.pk,
        cast.south.pk,
        cast.outside.pk,
    }


def test_who_can_see_an_organisation_is_exactly_who_the_policy_lets_read_it(cast):
    third = f.OrganisationFactory(code="RT1")
    f.join(cast.collab, third)
    other = f.CollaborativeFactory(name="Coast", organisation=cast.outside)
    f.join(other, cast.south)
    everyone = [cast.north, cast.south, cast.outside, third]
    for owner in everyone:
        shown = {o.pk for a in policy.audiences(owner) for o in a.organisations}
        readers = {
            reader.pk
            for reader in everyone
            if reader != owner
            and owner.pk
            in readable(policy.Viewer(label=reader.code, organisation_ids=frozenset({reader.pk})))
        }
        assert shown == readers, owner.code
    south = {a.grant.collaborative.name: a for a in policy.audiences(cast.south)}
    assert set(south) == {"River System", "Coast"}
    assert [o.code for o in south["Coast"].organisations] == ["RX1"]


def test_the_who_can_see_page_lists_each_audience_for_the_admin(client, cast):
    client.force_login(cast.people[Role.ORG_ADMIN])
    page = client.get("/o/RN1/sharing").content.decode()
    assert "River System" in page
    assert "South Hospitals NHS Trust" in page
    assert "Exact, real time" in page
    assert "Open by default on joining River System." in page


def test_an_organisation_in_no_collaborative_is_told_nobody_sees_its_data(client, cast):
    client.force_login(cast.people["outsider"])
    page = client.get("/o/RX1/sharing").content.decode()
    assert "nobody outside it can see its data" in page


def _observation_reads(cast, viewer) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        policy.read_latest(viewer, None, {cast.north.pk, cast.south.pk}, occupancy=True)
    return [q["sql"] for q in queries.captured_queries if "reporting_observation" in q["sql"]]


def test_the_latest_figures_are_read_in_two_statements_whatever_the_grants(cast):
    """The newest value's id of each series, then those values (`latest_as_at`): as many
    statements whatever the delays, details and audiences of the grants."""
    from flotilla.sharing.policy.rules import BANDED, STATUS

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    f.report(cast.south, now - timedelta(hours=30), ga_open=90, nctr=4)
    f.report(cast.south, now - timedelta(hours=1), ga_open=95, nctr=5)
    viewer = policy.viewer_of(cast.people[Role.VIEWER])
    assert len(_observation_reads(cast, viewer)) == 2  # open and live: nothing is late
    f.reshare(f.collaborative_grant(cast.south, cast.collab), detail=STATUS)
    f.grant(cast.south, audience="organisation", audience_organisation=cast.north,
            groups=("capacity",), detail=BANDED, delay_hours=24)  # fmt: skip
    assert len(_observation_reads(cast, viewer)) == 2  # the freshest grant is live
    f.unshare(f.collaborative_grant(cast.south, cast.collab))
    # Late, but every late series shows an older value: nothing more to read.
    assert len(_observation_reads(cast, viewer)) == 2
    reading = policy.read_latest(viewer, None, {cast.south.pk}, ["ga_open", "nctr"])
    assert [(v.measure, v.value, v.delay_hours) for v in reading.values] == [("ga_open", 90, 24)]
    assert reading.withheld == {(cast.south.pk, "nctr")}
    assert reading.delayed == {}
    # A late series with nothing old enough to show: one more read, of what is not yet visible.
    f.report(cast.south, now - timedelta(hours=1), ga_closed=3)
    assert len(_observation_reads(cast, viewer)) == 3
    reading = policy.read_latest(viewer, None, {cast.south.pk}, ["ga_open", "ga_closed"])
    assert reading.delayed == {(cast.south.pk, None, "ga_closed"): 24}


def test_may_see_answers_for_one_value_as_the_grants_allow(cast):
    from flotilla.organisations.models import Site
    from flotilla.sharing.policy.rules import BANDED
    from tests.access import recorded

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    site = Site.objects.create(code="RS1AB", name="South General", organisation=cast.south)
    f.report(cast.south, now - timedelta(hours=1), ga_open=93)
    f.report(cast.south, now - timedelta(hours=1), site=site, ga_open=41)
    viewer = policy.viewer_of(cast.people[Role.VIEWER])
    before = recorded().count()
    seen = policy.may_see(viewer, cast.south, "ga_open")
    assert (seen.value, seen.detail, seen.site_id) == (93, "exact", None)
    assert policy.may_see(viewer, cast.south, "ga_open", site=site).value == 41
    assert recorded().count() == before + 2  # each read is on South's record
    f.reshare(f.collaborative_grant(cast.south, cast.collab), detail=BANDED)
    assert policy.may_see(viewer, cast.south, "ga_open").value == 95  # rounded to 5
    assert policy.may_see(viewer, cast.south, "nctr") is None  # never reported
    outsider = policy.viewer_of(cast.people["outsider"])
    assert policy.may_see(outsider, cast.south, "ga_open") is None  # not shared


def test_a_job_acting_for_an_organisation_sees_what_its_people_see_under_its_own_name(cast):
    from tests.access import recorded

    f.report(cast.south, datetime.now(UTC) - timedelta(hours=1), ga_open=93)
    viewer = policy.acting_for(cast.north, "test job")
    assert viewer.organisation_ids == frozenset({cast.north.pk})
    with policy.on_the_record("job test"):
        assert policy.may_see(viewer, cast.south, "ga_open").value == 93
        assert policy.may_see(viewer, cast.south, "ga_open").value == 93
    event = recorded().latest("seq")
    assert (event.reader_label, event.what) == ("job:test job for RN1", "job test")
    assert recorded().filter(what="job test").count() == 1  # once, at the end
