"""Figures derived from an organisation's data (computed levels, forecasts) are read through
the policy like the figures themselves; a collaborative as a body sees what all its members
see alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from flotilla.sharing import policy
from tests import factories as f

pytestmark = pytest.mark.django_db


@dataclass
class Figure:
    organisation_id: int
    as_of: datetime


def test_a_collaborative_as_a_body_sees_grants_to_it_to_everyone_and_to_the_public(cast):
    body = policy.collaborative_body(cast.collab)
    assert body.label == "collaborative:" + cast.collab.slug and not body.organisation_ids
    seen = policy.access_map(body, [cast.north.pk, cast.south.pk, cast.outside.pk])
    assert set(seen) == {cast.north.pk, cast.south.pk}
    f.grant(cast.outside, audience="everyone", groups=("capacity",))
    assert "capacity" in policy.access_map(body, [cast.outside.pk])[cast.outside.pk]


def test_a_collaborative_as_a_body_is_not_reached_by_a_grant_to_one_member(cast):
    f.grant(cast.outside, audience="organisation", audience_organisation=cast.north)
    body = policy.collaborative_body(cast.collab)
    assert policy.access_map(body, [cast.outside.pk]) == {}
    # ...which North's own people do hold.
    north = policy.viewer_of(cast.people["viewer"])
    assert cast.outside.pk in policy.access_map(north, [cast.outside.pk])


def test_derived_figures_are_asked_for_only_up_to_each_owners_cutoff(cast):
    f.reshare(f.collaborative_grant(cast.north, cast.collab), delay_hours=4)
    now = timezone.now()
    asked = {}

    def fetch(cutoffs):
        asked.update(cutoffs)
        return [Figure(cast.north.pk, now - timedelta(hours=5))]

    south = policy.viewer_of(cast.people["south_reporter"])
    (found,) = policy.read_derived(south, "escalation", [cast.north.pk], fetch)
    after = timezone.now()
    assert found[1].delay_hours == 4
    assert now - timedelta(hours=4) <= asked[cast.north.pk] <= after - timedelta(hours=4)


def test_a_derived_figure_newer_than_the_viewer_may_see_is_dropped_even_if_fetched(cast):
    f.reshare(f.collaborative_grant(cast.north, cast.collab), delay_hours=4)
    now = timezone.now()
    south = policy.viewer_of(cast.people["south_reporter"])
    found = policy.read_derived(
        south,
        "escalation",
        [cast.north.pk],
        lambda cutoffs: [Figure(cast.north.pk, now), Figure(cast.outside.pk, now - timedelta(9))],
    )
    assert found == []


def test_nothing_is_fetched_for_owners_sharing_nothing_of_the_group(cast):
    f.reshare(f.collaborative_grant(cast.north, cast.collab), groups=("capacity",))
    called = []
    south = policy.viewer_of(cast.people["south_reporter"])
    assert policy.read_derived(south, "escalation", [cast.north.pk], called.append) == []
    assert called == []


def test_derived_figures_as_at_a_past_moment_are_read_up_to_that_moment(cast):
    then = timezone.now() - timedelta(days=2)
    asked = {}
    south = policy.viewer_of(cast.people["south_reporter"])
    policy.read_derived(
        south, "escalation", [cast.north.pk], lambda c: asked.update(c) or [], at=then
    )
    assert asked == {cast.north.pk: then}
