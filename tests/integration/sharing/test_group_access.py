"""`policy.group_access`: the accesses a viewer holds to one measure group of each owner,
for what is shared as a whole group outside the observation store (an on-call directory),
with the reads on the owners' records."""

from __future__ import annotations

import pytest

from flotilla.authz.models import Role
from flotilla.sharing import policy
from flotilla.sharing.policy import rules
from tests import factories as f
from tests.access import recorded

pytestmark = pytest.mark.django_db


def viewer(cast, who=Role.VIEWER):
    return policy.viewer_of(cast.people[who])


def test_an_exact_grant_gives_its_access_and_the_read_goes_on_the_record(cast):
    grant = f.collaborative_grant(cast.south, cast.collab)
    held = policy.group_access(viewer(cast), [cast.south.pk], "contacts")
    assert held == {cast.south.pk: (rules.Access("exact", 0, grant.pk),)}
    event = recorded().get()
    assert (event.owner, event.groups) == (cast.south, ["contacts"])


def test_text_is_held_only_exactly_but_a_count_is_held_at_any_detail(cast):
    grant = f.reshare(f.collaborative_grant(cast.south, cast.collab), detail="banded")
    assert policy.group_access(viewer(cast), [cast.south.pk], "contacts") == {}
    assert not recorded().exists()
    held = policy.group_access(viewer(cast), [cast.south.pk], "capacity", kind="count")
    assert held == {cast.south.pk: (rules.Access("banded", 0, grant.pk),)}


def test_only_exact_accesses_are_kept_finest_first(cast):
    late = f.reshare(f.collaborative_grant(cast.south, cast.collab), delay_hours=24)
    f.grant(cast.south, collaborative=cast.collab, detail="banded")
    held = policy.group_access(viewer(cast), [cast.south.pk], "contacts")
    assert held == {cast.south.pk: (rules.Access("exact", 24, late.pk),)}


def test_the_viewers_own_organisation_is_held_in_full_and_not_recorded(cast):
    held = policy.group_access(viewer(cast), [cast.north.pk, cast.outside.pk], "contacts")
    assert held == {cast.north.pk: rules.OWN}
    assert not recorded().exists()


def test_an_unknown_group_is_a_mistake_in_the_caller(cast):
    with pytest.raises(ValueError, match="unknown measure group 'phonebook'"):
        policy.group_access(viewer(cast), [cast.south.pk], "phonebook")
