"""Keeping an on-call directory: adding, changing and removing entries, each in one
transaction with its audit event, by the owning organisation's coordinators and admins only,
with bad input named field by field."""

from __future__ import annotations

import pytest

from flotilla.audit.models import AuditEvent
from flotilla.authz.models import Role
from flotilla.directory import actions
from flotilla.directory.models import OnCallEntry
from tests import factories as f

pytestmark = pytest.mark.django_db


def events(action):
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def test_a_coordinator_adds_an_entry_and_the_audit_log_keeps_it(cast):
    coordinator = cast.people[Role.COORDINATOR]
    site = f.SiteFactory(code="RN101", name="North General", organisation=cast.north)
    entry = f.on_call(
        cast.north,
        by=coordinator,
        role="  Critical care consultant on call ",
        route="bleep",
        contact="1234",
        hours="24/7",
        site=site,
        notes="Via switchboard out of hours",
    )
    assert (entry.role, entry.contact, entry.site, entry.updated_by) == (
        "Critical care consultant on call",
        "1234",
        site,
        coordinator,
    )
    (event,) = events("directory.entry_added")
    assert event.organisation_id == cast.north.pk
    assert event.actor_user == coordinator
    assert event.object_id == str(entry.pk)
    assert event.after == {
        "organisation": "RN1",
        "site": "RN101",
        "role": "Critical care consultant on call",
        "name": "",
        "route": "bleep",
        "contact": "1234",
        "hours": "24/7",
        "notes": "Via switchboard out of hours",
        "position": 0,
        "ended": False,
    }


def test_an_organisation_admin_may_keep_the_directory_too(cast):
    assert f.on_call(cast.north, by=cast.people[Role.ORG_ADMIN]).pk


def test_new_entries_go_to_the_end_of_the_list_unless_placed(cast):
    by = cast.people[Role.COORDINATOR]
    first = f.on_call(cast.north, by=by, role="Bed manager")
    second = f.on_call(cast.north, by=by, role="Site manager on call")
    placed = f.on_call(cast.north, by=by, role="Director on call", position=0)
    assert (first.position, second.position, placed.position) == (0, 1, 0)


def test_bad_input_is_refused_field_by_field_and_nothing_is_saved(cast):
    with pytest.raises(actions.DirectoryError) as refused:
        f.on_call(
            cast.north,
            by=cast.people[Role.COORDINATOR],
            role="",
            route="phone",
            contact="call me",
            hours="",
        )
    assert str(refused.value) == "The entry has errors; nothing was saved"
    assert set(refused.value.errors) == {"role", "contact", "hours"}
    assert refused.value.errors["contact"].startswith("Enter a phone number")
    assert not OnCallEntry.objects.exists()
    assert not events("directory.entry_added")


def test_a_site_must_be_the_organisations_own(cast):
    south_site = f.SiteFactory(code="RS101", name="South General", organisation=cast.south)
    with pytest.raises(actions.DirectoryError) as refused:
        f.on_call(cast.north, by=cast.people[Role.COORDINATOR], site=south_site)
    assert refused.value.errors == {
        "site": "Choose one of North Hospitals NHS Trust's sites, or none"
    }


@pytest.mark.parametrize("who", [Role.VIEWER, Role.REPORTER])
def test_people_who_do_not_manage_the_directory_may_not_add_to_it(cast, who):
    with pytest.raises(actions.DirectoryError, match="Only coordinators and admins of North"):
        f.on_call(cast.north, by=cast.people[who])
    assert not OnCallEntry.objects.exists()


def test_another_organisations_coordinator_may_not_keep_your_directory(cast, south_manager):
    entry = f.on_call(cast.south, by=south_manager)
    with pytest.raises(actions.DirectoryError, match="Only coordinators and admins of South"):
        actions.change_entry(by=cast.people[Role.COORDINATOR], entry=entry, hours="9 to 5")
    with pytest.raises(actions.DirectoryError):
        actions.end_entry(by=cast.people[Role.COORDINATOR], entry=entry)
    with pytest.raises(actions.DirectoryError):
        f.on_call(cast.south, by=cast.people[Role.COORDINATOR])
    entry.refresh_from_db()
    assert entry.hours == "24/7" and entry.ended_at is None


def test_the_platform_itself_may_not_keep_a_directory(cast):
    with pytest.raises(actions.DirectoryError):
        f.on_call(cast.north, by=f.SYSTEM)


def test_a_change_is_audited_before_and_after_and_restarts_the_clock(cast):
    by = cast.people[Role.COORDINATOR]
    entry = f.on_call(cast.north, by=by, route="phone", contact="0113 243 3144")
    added_at = entry.updated_at
    changed = actions.change_entry(
        by=cast.people[Role.ORG_ADMIN], entry=entry, route="email", contact="oncall@nhs.example"
    )
    assert (changed.route, changed.contact) == ("email", "oncall@nhs.example")
    assert changed.hours == "24/7"
    assert changed.updated_at > added_at and changed.updated_by == cast.people[Role.ORG_ADMIN]
    (event,) = events("directory.entry_changed")
    assert (event.before["route"], event.before["contact"]) == ("phone", "0113 243 3144")
    assert (event.after["route"], event.after["contact"]) == ("email", "oncall@nhs.example")


def test_a_change_is_checked_against_the_rest_of_the_entry(cast):
    entry = f.on_call(cast.north, by=cast.people[Role.COORDINATOR])
    with pytest.raises(actions.DirectoryError) as refused:
        actions.change_entry(by=cast.people[Role.COORDINATOR], entry=entry, route="email")
    assert set(refused.value.errors) == {"contact"}  # the phone number is no email address
    with pytest.raises(actions.DirectoryError) as refused:
        actions.change_entry(by=cast.people[Role.COORDINATOR], entry=entry, position=None)
    assert set(refused.value.errors) == {"position"}
    assert not events("directory.entry_changed")


def test_a_change_that_changes_nothing_records_nothing(cast):
    entry = f.on_call(cast.north, by=cast.people[Role.COORDINATOR], hours="24/7")
    same = actions.change_entry(by=cast.people[Role.COORDINATOR], entry=entry, hours=" 24/7 ")
    assert same.updated_at == entry.updated_at
    assert not events("directory.entry_changed")


def test_removing_ends_an_entry_and_keeps_it(cast):
    by = cast.people[Role.COORDINATOR]
    entry = f.on_call(cast.north, by=by)
    ended = actions.end_entry(by=by, entry=entry)
    assert ended.ended_at is not None and ended.ended_by == by
    assert OnCallEntry.objects.filter(pk=entry.pk).exists()
    (event,) = events("directory.entry_ended")
    assert (event.before["ended"], event.after["ended"]) == (False, True)
    actions.end_entry(by=by, entry=entry)  # again: nothing more happens
    assert len(events("directory.entry_ended")) == 1
    with pytest.raises(actions.DirectoryError, match="was removed"):
        actions.change_entry(by=by, entry=entry, hours="9 to 5")
