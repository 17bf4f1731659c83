"""A request that changes nothing works out once what reaches its reader
(`policy.remembering`, `flotilla.middleware.RememberAccessMiddleware`); any other request,
and anything outside a request, asks the grants afresh each time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.http import HttpResponse
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from flotilla.authz.models import Role
from flotilla.middleware import RememberAccessMiddleware
from flotilla.sharing import actions as sharing_actions
from flotilla.sharing import policy
from flotilla.sharing.models import Grant
from tests import factories as f

pytestmark = pytest.mark.django_db


def south_grant(cast) -> Grant:
    return Grant.objects.get(owner=cast.south, ended_at__isnull=True)


def test_inside_the_block_the_same_question_is_answered_once_and_alike(cast):
    viewer = policy.viewer_of(cast.people[Role.VIEWER])
    owners = {cast.north.pk, cast.south.pk}
    fresh = policy.access_map(viewer, owners)
    with policy.remembering():
        first = policy.access_map(viewer, owners)
        with CaptureQueriesContext(connection) as again:
            second = policy.access_map(viewer, owners)
        with CaptureQueriesContext(connection) as other:
            only_south = policy.access_map(viewer, {cast.south.pk})
    assert first == second == fresh
    assert len(again) == 0
    # A set within one already answered is answered from it, as it would be afresh.
    assert len(other) == 0
    assert only_south == policy.access_map(viewer, {cast.south.pk}) != {}
    assert set(only_south) == {cast.south.pk}


def test_a_set_not_within_any_answered_is_another_question(cast):
    viewer = policy.viewer_of(cast.people[Role.VIEWER])
    other_viewer = policy.viewer_of(cast.people["south_reporter"])
    with policy.remembering():
        policy.access_map(viewer, {cast.south.pk})
        with CaptureQueriesContext(connection) as wider:
            both = policy.access_map(viewer, {cast.north.pk, cast.south.pk})
        with CaptureQueriesContext(connection) as someone_else:
            theirs = policy.access_map(other_viewer, {cast.north.pk})
        with CaptureQueriesContext(connection) as everyone:
            policy.access_map(viewer)
        # Once every organisation is answered, any set is within it.
        with CaptureQueriesContext(connection) as within_all:
            north = policy.access_map(viewer, {cast.north.pk})
    assert len(wider) > 0 and len(someone_else) > 0 and len(everyone) > 0
    assert len(within_all) == 0
    assert both == policy.access_map(viewer, {cast.north.pk, cast.south.pk})
    assert theirs == policy.access_map(other_viewer, {cast.north.pk})
    assert north == policy.access_map(viewer, {cast.north.pk})


def test_the_platform_operator_is_answered_without_asking_the_grants(cast):
    viewer = policy.platform_viewer("test")
    with policy.remembering():
        policy.access_map(viewer)
        with CaptureQueriesContext(connection) as queries:
            some = policy.access_map(viewer, {cast.north.pk})
    assert len(queries) == 0
    assert some == {cast.north.pk: policy.access_map(viewer, {cast.north.pk})[cast.north.pk]}


def test_a_caller_that_changes_what_it_was_given_does_not_change_the_next_answer(cast):
    viewer = policy.viewer_of(cast.people[Role.VIEWER])
    with policy.remembering():
        given = policy.access_map(viewer)
        given[cast.south.pk].clear()
        given.pop(cast.north.pk)
        assert policy.access_map(viewer) == policy.access_map(viewer)
        assert policy.access_map(viewer)[cast.south.pk]
        assert cast.north.pk in policy.access_map(viewer)


def test_outside_the_block_a_revoked_grant_is_seen_at_once(cast):
    viewer = policy.viewer_of(cast.people[Role.VIEWER])
    with policy.remembering():
        assert cast.south.pk in policy.access_map(viewer)
    sharing_actions.revoke_grant(by=f.SYSTEM, grant=south_grant(cast))
    assert cast.south.pk not in policy.access_map(viewer)
    with policy.remembering():
        assert cast.south.pk not in policy.access_map(viewer)


def seen_inside(method: str) -> bool:
    """Whether a request of this method reached the view with the policy remembering."""
    inside = []

    def view(request):
        inside.append(policy.engine._remembered.get() is not None)
        return HttpResponse()

    RememberAccessMiddleware(view)(RequestFactory().generic(method, "/"))
    return inside[0]


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_a_safe_request_is_served_remembering(method):
    assert seen_inside(method)
    assert policy.engine._remembered.get() is None


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_a_request_that_may_change_something_asks_afresh(method):
    assert not seen_inside(method)


def test_the_next_page_after_a_revocation_shows_nothing_of_the_revoked_grant(cast, client):
    f.report(cast.south, datetime(2026, 1, 5, 8, tzinfo=UTC), ga_open=123)
    client.force_login(cast.people[Role.VIEWER])
    table = f"/c/{cast.collab.slug}/table"
    before = client.get(table).text
    assert "South Hospitals" in before
    assert "123" in before
    sharing_actions.revoke_grant(by=f.SYSTEM, grant=south_grant(cast))
    assert "123" not in client.get(table).text
