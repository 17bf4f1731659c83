"""Who sees which on-call directory: the owner's people see every current entry; others
see it through the sharing policy, as the `contacts` group is shared with them (exactly or
not at all, each entry once it is old enough for the grant's delay), and are told when it
is withheld rather than shown an empty list. Every read by another organisation is on the
owner's access record."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from flotilla.authz.models import Role
from flotilla.directory import actions, queries
from flotilla.directory.models import OnCallEntry
from flotilla.sharing import policy
from tests import factories as f
from tests.access import recorded

pytestmark = pytest.mark.django_db


def aged(entry, hours):
    """As if the entry was added or last changed `hours` ago."""
    OnCallEntry.objects.filter(pk=entry.pk).update(
        updated_at=timezone.now() - timedelta(hours=hours)
    )
    entry.refresh_from_db()
    return entry


def seen(cast, who=Role.VIEWER, organisation=None):
    viewer = policy.viewer_of(cast.people[who])
    return queries.entries_seen_by(viewer, organisation or cast.south)


@pytest.fixture
def south_entries(cast, south_manager):
    old = aged(f.on_call(cast.south, by=south_manager, role="Site manager on call"), 30)
    new = f.on_call(cast.south, by=south_manager, role="Bed manager", route="bleep", contact="4321")
    ended = f.on_call(cast.south, by=south_manager, role="Old role")
    actions.end_entry(by=south_manager, entry=ended)
    return old, new


def test_the_owners_people_see_every_current_entry_however_new(cast, south_entries):
    d = seen(cast, "south_reporter")
    assert [e.role for e in d.entries] == ["Site manager on call", "Bed manager"]
    assert (d.withheld, d.own, d.delay_hours) == (False, True, 0)


def test_a_member_sees_the_directory_under_the_exact_grant_made_on_joining(cast, south_entries):
    d = seen(cast)
    assert [e.role for e in d.entries] == ["Site manager on call", "Bed manager"]
    assert (d.withheld, d.own, d.delay_hours) == (False, False, 0)


@pytest.mark.parametrize("detail", ["banded", "status"])
def test_a_grant_coarser_than_exact_shares_none_of_it(cast, south_entries, detail):
    f.reshare(f.collaborative_grant(cast.south, cast.collab), detail=detail)
    d = seen(cast)
    assert (d.entries, d.withheld, d.delay_hours) == ([], True, None)


def test_a_grant_without_the_contacts_group_shares_none_of_it(cast, south_entries):
    f.reshare(f.collaborative_grant(cast.south, cast.collab), groups=("capacity", "narrative"))
    assert seen(cast).withheld


def test_a_delayed_grant_shows_only_entries_old_enough_for_its_delay(cast, south_entries):
    f.reshare(f.collaborative_grant(cast.south, cast.collab), delay_hours=24)
    d = seen(cast)
    assert [e.role for e in d.entries] == ["Site manager on call"]
    assert (d.withheld, d.delay_hours) == (False, 24)


def test_a_change_restarts_the_delay(cast, south_entries, south_manager):
    old, _ = south_entries
    f.reshare(f.collaborative_grant(cast.south, cast.collab), delay_hours=24)
    actions.change_entry(by=south_manager, entry=old, hours="08:00–20:00 weekdays")
    d = seen(cast)
    assert (d.entries, d.withheld, d.delay_hours) == ([], False, 24)


def test_a_fresh_coarse_grant_does_not_show_what_a_late_exact_one_holds_back(cast, south_entries):
    f.reshare(f.collaborative_grant(cast.south, cast.collab), delay_hours=24)
    f.grant(cast.south, collaborative=cast.collab, detail="banded", delay_hours=0)
    assert [e.role for e in seen(cast).entries] == ["Site manager on call"]


def test_with_no_grant_the_directory_is_withheld(cast, south_entries):
    f.unshare(f.collaborative_grant(cast.south, cast.collab))
    d = seen(cast)
    assert (d.entries, d.withheld) == ([], True)


def test_a_grant_to_a_named_organisation_reaches_it_and_no_one_else(cast, south_entries):
    f.unshare(f.collaborative_grant(cast.south, cast.collab))
    f.grant(cast.south, audience="organisation", audience_organisation=cast.outside)
    assert len(seen(cast, "outsider").entries) == 2
    assert seen(cast).withheld


def test_a_shared_directory_with_no_entries_is_empty_not_withheld(cast):
    d = seen(cast)
    assert (d.entries, d.withheld) == ([], False)


def test_reads_by_another_organisation_go_on_the_owners_access_record(cast, south_entries):
    seen(cast)
    event = recorded().get()
    assert (event.owner, event.reader_label, event.groups) == (
        cast.south,
        "north_viewer",
        ["contacts"],
    )


def test_a_withheld_directory_is_not_recorded_as_read(cast, south_entries):
    f.reshare(f.collaborative_grant(cast.south, cast.collab), detail="banded")
    seen(cast)
    assert not recorded().exists()


def test_the_owners_own_reads_are_not_on_its_record(cast, south_entries):
    seen(cast, "south_reporter")
    assert not recorded().exists()


def test_a_collaboratives_directories_list_every_member_as_the_viewer_may_see_each(
    cast, south_entries, south_manager
):
    f.on_call(cast.north, by=cast.people[Role.COORDINATOR], role="North site manager")
    f.reshare(f.collaborative_grant(cast.south, cast.collab), detail="status")
    viewer = policy.viewer_of(cast.people[Role.VIEWER])
    found = queries.directories(viewer, cast.collab)
    assert [(d.organisation.code, d.withheld, [e.role for e in d.entries]) for d in found] == [
        ("RN1", False, ["North site manager"]),
        ("RS1", True, []),
    ]
