"""Beyond the chains: `verify-audit` finds a grant, membership or API token changed in the
database directly, around the actions, and names it."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from flotilla.authz import actions as authz_actions
from flotilla.authz.models import ApiToken, Membership, Role, TokenScope
from flotilla.sharing import actions as sharing_actions
from flotilla.sharing.models import Grant
from tests import factories as f

pytestmark = pytest.mark.django_db


def verified() -> str:
    out = io.StringIO()
    call_command("verify-audit", stdout=out)
    return out.getvalue()


def refused() -> str:
    with pytest.raises(CommandError) as e:
        call_command("verify-audit", stdout=io.StringIO())
    return str(e.value)


@pytest.fixture
def history(cast):
    """Grants, memberships and tokens made, changed and ended through the actions."""
    south = f.collaborative_grant(cast.south, cast.collab)
    narrowed = f.reshare(south, detail="status")  # the first grant ends, replaced
    one_off = f.grant(
        cast.north, audience="organisation", audience_organisation=cast.south, detail="banded"
    )
    sharing_actions.revoke_grant(by=f.SYSTEM, grant=one_off)
    admin = cast.people[Role.ORG_ADMIN]
    viewer = cast.people[Role.VIEWER]
    membership = Membership.objects.get(user=viewer, organisation=cast.north)
    authz_actions.change_role(by=admin, membership=membership, role=Role.REPORTER)
    leaving = Membership.objects.get(user=cast.people[Role.COORDINATOR], organisation=cast.north)
    authz_actions.remove_membership(by=admin, membership=leaving)
    token, _ = authz_actions.issue_token(
        by=admin, organisation=cast.north, name="beds", scope=TokenScope.SUBMIT
    )
    revoked, _ = authz_actions.issue_token(
        by=admin, organisation=cast.north, name="old", scope=TokenScope.READ
    )
    authz_actions.revoke_token(by=admin, token=revoked)
    cast.narrowed, cast.membership, cast.leaving, cast.token = narrowed, membership, leaving, token
    return cast


def test_state_made_through_the_actions_verifies(history):
    out = verified()
    assert f"grants: {Grant.objects.count()} as the audit record says" in out
    assert f"memberships: {Membership.objects.count()} as the audit record says" in out
    assert "API tokens: 2 as the audit record says" in out


def test_a_grant_widened_in_the_database_is_named(history):
    Grant.objects.filter(pk=history.narrowed.pk).update(detail="exact")
    assert f"grant {history.narrowed.pk}: detail is 'exact'; the audit record says 'status'" in (
        refused()
    )


def test_a_replaced_grant_brought_back_to_life_in_the_database_is_named(history):
    Grant.objects.filter(pk=history.narrowed.replaces_id).update(ended_at=None, end_reason="")
    problem = refused()
    assert f"grant {history.narrowed.replaces_id}: ended_at is None; the audit record says set" in (
        problem
    )
    assert "end_reason is ''; the audit record says 'changed'" in problem


def test_a_grant_inserted_or_deleted_in_the_database_is_named(history):
    grant = Grant.objects.get(pk=history.narrowed.pk)
    grant.pk, grant.replaces_id = None, None
    grant.save()  # a copy, made around the actions
    Grant.objects.filter(pk=history.narrowed.pk).delete()
    problem = refused()
    assert f"grant {grant.pk}: is not in the audit record: added outside Flotilla" in problem
    assert f"grant {history.narrowed.pk}: was deleted outside Flotilla" in problem


def test_a_grant_made_outside_then_changed_through_the_action_is_still_named(cast):
    original = f.collaborative_grant(cast.north, cast.collab)
    Grant.objects.filter(pk=original.pk).update(ended_at=original.created_at, end_reason="revoked")
    outside = Grant.objects.get(pk=original.pk)
    outside.pk, outside.ended_at, outside.end_reason = None, None, ""
    outside.save()  # in force, and never audited
    f.reshare(outside, detail="status")
    problem = refused()
    assert f"grant {outside.pk}: is not in the audit record" in problem
    assert f"grant {original.pk}: ended_at is " in problem


def test_a_role_raised_a_membership_added_and_one_put_back_in_the_database_are_named(history):
    Membership.objects.filter(pk=history.membership.pk).update(role=Role.ORG_ADMIN)
    added = Membership.objects.create(
        user=history.people["outsider"], organisation=history.north, role=Role.VIEWER
    )
    Membership.objects.create(
        pk=history.leaving.pk,
        user=history.leaving.user,
        organisation=history.north,
        role=Role.COORDINATOR,
    )
    problem = refused()
    assert (
        f"membership {history.membership.pk}: role is 'org_admin'; the audit record says "
        "'reporter'" in problem
    )
    assert f"membership {added.pk}: is not in the audit record" in problem
    assert (
        f"membership {history.leaving.pk}: was removed in the audit record, yet is present"
        in problem
    )


def test_a_token_with_its_secret_swapped_or_its_revocation_undone_is_named(history):
    ApiToken.objects.filter(pk=history.token.pk).update(secret_sha256="0" * 64)
    ApiToken.objects.filter(revoked_at__isnull=False).update(revoked_at=None)
    problem = refused()
    assert f"API token {history.token.pk}: secret_sha256 is '{'0' * 64}'" in problem
    assert "revoked_at is None; the audit record says '20" in problem
