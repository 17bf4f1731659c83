"""Who may do what: roles grant named permissions over organisations and collaboratives."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404

from flotilla.authz.checks import can, organisations_where, require, roles_in
from flotilla.authz.models import ApiToken, Role
from flotilla.authz.permissions import ROLE_PERMISSIONS, ROLE_SENTENCES, Perm
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_every_role_has_a_sentence_and_only_admins_manage_tokens():
    assert set(ROLE_SENTENCES) == set(ROLE_PERMISSIONS) == set(Role.values)
    holders = {r for r, perms in ROLE_PERMISSIONS.items() if Perm.MANAGE_TOKENS in perms}
    assert holders == {Role.ORG_ADMIN}


@pytest.mark.parametrize(
    ("role", "allowed"),
    [(Role.VIEWER, False), (Role.REPORTER, True), (Role.COORDINATOR, True), (Role.ORG_ADMIN, True)],
)
def test_reporting_needs_a_reporting_role_in_that_organisation(cast, role, allowed):
    assert can(cast.people[role], Perm.SUBMIT_REPORT, cast.north) is allowed
    assert can(cast.people[role], Perm.SUBMIT_REPORT, cast.south) is False


def test_a_role_over_an_organisation_covers_its_sites(cast):
    site = f.SiteFactory(organisation=cast.north)
    assert can(cast.people[Role.REPORTER], Perm.SUBMIT_REPORT, site)
    assert not can(cast.people["outsider"], Perm.SUBMIT_REPORT, site)


def test_managing_a_collaborative_needs_a_coordinating_role_in_a_member(cast):
    assert can(cast.people[Role.COORDINATOR], Perm.MANAGE_COLLABORATIVE, cast.collab)
    assert not can(cast.people[Role.REPORTER], Perm.MANAGE_COLLABORATIVE, cast.collab)
    assert not can(cast.people["outsider"], Perm.MANAGE_COLLABORATIVE, cast.collab)


def test_anonymous_visitors_hold_nothing(cast):
    anon = AnonymousUser()
    assert roles_in(anon, cast.north.pk) == set()
    assert organisations_where(anon, Perm.VIEW_PICTURE) == []
    assert not can(anon, Perm.VIEW_PICTURE, cast.north)


def test_require_answers_404_so_outsiders_learn_nothing(cast):
    with pytest.raises(Http404):
        require(cast.people["outsider"], Perm.VIEW_PICTURE, cast.north)
    require(cast.people[Role.VIEWER], Perm.VIEW_PICTURE, cast.north)


def test_a_permission_check_on_an_unknown_kind_of_object_is_a_programming_error(cast):
    with pytest.raises(TypeError, match="no permission rule"):
        can(cast.people[Role.VIEWER], Perm.VIEW_PICTURE, object())


def test_organisations_where_lists_only_organisations_granting_the_permission(cast):
    assert organisations_where(cast.people[Role.ORG_ADMIN], Perm.MANAGE_TOKENS) == [cast.north.pk]
    assert organisations_where(cast.people[Role.VIEWER], Perm.MANAGE_TOKENS) == []


def test_a_token_describes_itself_without_its_secret(cast):
    from flotilla.authz.actions import issue_token

    token, secret = issue_token(
        by=cast.people[Role.ORG_ADMIN], organisation=cast.north, name="bms", scope="submit"
    )
    assert secret not in str(token)
    assert str(token).startswith("bms (")
    assert token.is_active
    assert token.as_principal().organisation_id == cast.north.pk
    assert ApiToken.objects.filter(secret_sha256=ApiToken.hash_secret(secret)).exists()


def test_an_anonymous_visitor_holds_no_role_anywhere(cast):
    assert roles_in(AnonymousUser(), cast.north.pk) == set()
    assert roles_in(cast.people[Role.REPORTER], cast.north.pk) == {Role.REPORTER}


def test_a_role_that_does_not_exist_is_refused_and_a_membership_says_who_is_what(cast):
    from flotilla.authz import actions as authz_actions
    from flotilla.authz.models import Membership

    with pytest.raises(authz_actions.RoleError, match="Unknown role 'captain'"):
        authz_actions.set_membership(
            by=f.SYSTEM, user=cast.people[Role.VIEWER], organisation=cast.north, role="captain"
        )
    m = Membership.objects.get(user=cast.people[Role.VIEWER])
    assert str(m) == "north_viewer — viewer at RN1"


def test_an_empty_bearer_token_is_not_a_token(client, cast):
    response = client.get("/api/measures", HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 401
