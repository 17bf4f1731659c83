"""Who may do what is decided permission by permission, never by default."""

from itertools import pairwise

import pytest

from flotilla.authz.checks import NoPermissionRule, can
from flotilla.authz.models import Role
from flotilla.authz.permissions import ROLE_PERMISSIONS, ROLE_SENTENCES, Perm


def test_every_permission_is_granted_by_some_role():
    granted = set().union(*ROLE_PERMISSIONS.values())
    assert set(Perm) - granted == set()


def test_every_role_has_its_permissions_and_a_sentence():
    assert set(ROLE_PERMISSIONS) == set(Role.values) == set(ROLE_SENTENCES)


def test_each_role_grants_what_the_one_below_it_grants():
    order = [Role.VIEWER, Role.REPORTER, Role.COORDINATOR, Role.ORG_ADMIN]
    for lower, higher in pairwise(order):
        assert ROLE_PERMISSIONS[lower] <= ROLE_PERMISSIONS[higher]


def test_checking_a_permission_on_something_without_a_rule_is_a_bug_not_a_no():
    class Anonymous:
        is_authenticated = False

    with pytest.raises(NoPermissionRule, match="no permission rule for str"):
        can(Anonymous(), Perm.VIEW_PICTURE, "RN1")
