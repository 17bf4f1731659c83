"""Figures kept at a moment (`policy.freeze`) are shown only through `policy.read_frozen`,
which gives each viewer what their grants in force let them see of them, as `read_latest`
does for live figures."""

from datetime import timedelta

import pytest
from django.utils import timezone

from flotilla.authz.models import Role
from flotilla.sharing import policy
from flotilla.sharing.models import AccessEvent, PendingAccess
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def kept(cast):
    moment = timezone.now()
    f.report(cast.south, moment - timedelta(hours=2), ga_occupied=470, ga_open=500, nctr=12)
    f.report(cast.north, moment - timedelta(hours=2), ga_occupied=90, ga_open=100)
    return moment, policy.freeze([cast.north.pk, cast.south.pk], moment)


def _by(reading, org):
    return {v.measure: v for v in reading.values if v.organisation_id == org.pk}


def test_frozen_figures_are_plain_rows_of_exact_values_read_by_no_one(cast, kept):
    _, rows = kept
    assert {(r[3], r[5]) for r in rows if r[1] == cast.south.pk} == {
        ("ga_occupied", 470.0),
        ("ga_open", 500.0),
        ("nctr", 12.0),
    }
    assert not AccessEvent.objects.exists() and not PendingAccess.objects.exists()


def test_a_viewer_sees_frozen_figures_as_their_grants_show_them_and_the_read_is_recorded(
    cast, kept
):
    moment, rows = kept
    viewer = policy.viewer_of(cast.people[Role.VIEWER])
    with policy.on_the_record("a decision's picture"):
        reading = policy.read_frozen(viewer, rows, moment, {cast.north.pk, cast.south.pk})
    assert _by(reading, cast.south)["ga_occupied"].value == 470
    assert "ga_occupancy" not in _by(reading, cast.south)  # only when asked for
    ((read, _, groups),) = [r for r in f.pending_reads() if r[1] == cast.south.pk]
    assert (read.what, groups) == ("a decision's picture", ["capacity", "flow"])


def test_a_banded_grant_rounds_frozen_counts_and_bands_their_occupancy(cast, kept):
    moment, rows = kept
    f.reshare(f.collaborative_grant(cast.south, cast.collab), detail="banded")
    viewer = policy.viewer_of(cast.people[Role.VIEWER])
    reading = policy.read_frozen(
        viewer, rows, moment, {cast.south.pk}, ["ga_occupied", "ga_open"], occupancy=True
    )
    seen = _by(reading, cast.south)
    assert seen["ga_occupied"].value == 470 and seen["ga_occupied"].detail == "banded"
    assert seen["ga_occupancy"].band == (0.9, 0.95)


def test_a_frozen_figure_newer_than_the_viewers_delay_is_delayed_not_shown(cast, kept):
    moment, rows = kept
    f.reshare(f.collaborative_grant(cast.south, cast.collab), delay_hours=24)
    viewer = policy.viewer_of(cast.people[Role.VIEWER])
    reading = policy.read_frozen(
        viewer, rows, moment, {cast.south.pk}, ["ga_occupied", "ga_open"], occupancy=True
    )
    assert reading.values == []
    assert reading.delayed == {
        (cast.south.pk, None, "ga_occupied"): 24,
        (cast.south.pk, None, "ga_open"): 24,
    }


def test_a_frozen_figure_not_shared_at_all_is_withheld_and_others_rows_are_left_out(cast, kept):
    moment, rows = kept
    f.reshare(f.collaborative_grant(cast.south, cast.collab), groups=("capacity",))
    viewer = policy.viewer_of(cast.people[Role.VIEWER])
    reading = policy.read_frozen(viewer, rows, moment, {cast.south.pk}, ["ga_occupied", "nctr"])
    assert set(_by(reading, cast.south)) == {"ga_occupied"}
    assert (cast.south.pk, "nctr") in reading.withheld
    assert not _by(reading, cast.north)  # North was not asked for
