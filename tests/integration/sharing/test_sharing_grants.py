"""Grants: made, changed and revoked through the actions, and enforced by the policy point."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404
from django.utils import timezone

from flotilla.audit.models import AuditEvent
from flotilla.authz.models import Role
from flotilla.collaboratives import actions as collaboratives_actions
from flotilla.sharing import actions, policy
from flotilla.sharing.actions import GrantInvalid, Terms
from flotilla.sharing.models import Grant
from flotilla.sharing.policy.rules import GROUPS, OWN, Access
from tests import factories as f

pytestmark = pytest.mark.django_db


def readable(viewer: policy.Viewer) -> set[int]:
    """The organisations whose data the policy lets the viewer read (any group at all)."""
    return set(policy.access_map(viewer))


def terms(audience: str = "organisation", **kw) -> Terms:
    base = {"groups": GROUPS, "detail": "exact", "delay_hours": 0, "purpose": "Winter cover"}
    return Terms(audience=audience, **{**base, **kw})


def default_grant(org, collab) -> Grant:
    return Grant.objects.get(owner=org, collaborative=collab, ended_at__isnull=True)


def viewer(org) -> policy.Viewer:
    return policy.Viewer(label=org.code, organisation_ids=frozenset({org.pk}))


def test_joining_opens_an_exact_real_time_grant_of_every_group_to_the_collaborative(cast):
    grant = default_grant(cast.south, cast.collab)
    assert (grant.detail, grant.delay_hours, grant.groups) == ("exact", 0, list(GROUPS))
    assert grant.purpose == "Open by default on joining River System."
    assert str(grant) == f"grant {grant.pk} of {cast.south.pk} to River System"
    assert AuditEvent.objects.filter(action="sharing.grant_added", object_id=str(grant.pk)).exists()


def test_leaving_ends_the_grants_to_that_collaborative_and_keeps_them_in_history(cast):
    collaboratives_actions.leave(
        by=cast.people["south_reporter"], collaborative=cast.collab, organisation=cast.south
    )
    grant = Grant.objects.get(owner=cast.south, collaborative=cast.collab)
    assert grant.end_reason == "left"
    assert grant.ended_by_label == "south_reporter"
    assert not grant.in_force(timezone.now())
    assert cast.south.pk not in readable(viewer(cast.north))


def test_a_grant_to_a_named_organisation_lets_it_read_at_that_detail_and_delay(cast):
    grant = actions.add_grant(
        by=f.SYSTEM,
        owner=cast.south,
        terms=terms(audience_organisation=cast.outside, groups=("capacity",), detail="banded",
                    delay_hours=6),
    )  # fmt: skip
    assert grant.audience_label == "Outside Hospitals NHS Trust"
    seen = policy.access_map(viewer(cast.outside))
    assert seen[cast.south.pk] == {"capacity": (Access("banded", 6, grant.pk),)}
    assert seen[cast.outside.pk] == dict.fromkeys(GROUPS, OWN)
    assert policy.get_organisation(viewer(cast.outside), "rs1") == cast.south


def test_grants_to_every_organisation_reach_signed_in_organisations_but_not_the_public(cast):
    grant = actions.add_grant(by=f.SYSTEM, owner=cast.south, terms=terms("everyone"))
    assert grant.audience_label == "Every organisation on Flotilla"
    assert cast.south.pk in readable(viewer(cast.outside))
    anonymous = policy.viewer_of(AnonymousUser())
    assert cast.south.pk not in readable(anonymous)


def test_a_public_grant_reaches_anyone_without_signing_in(cast):
    actions.add_grant(
        by=f.SYSTEM,
        owner=cast.south,
        terms=terms("public", groups=("escalation",), detail="status"),
    )
    anonymous = policy.viewer_of(AnonymousUser())
    public = Grant.objects.get(audience="public")
    assert policy.access_map(anonymous) == {
        cast.south.pk: {"escalation": (Access("status", 0, public.pk),)}
    }


def test_an_expired_grant_stops_on_its_own(cast):
    grant = actions.add_grant(
        by=f.SYSTEM,
        owner=cast.south,
        terms=terms(
            audience_organisation=cast.outside, expires_at=timezone.now() + timedelta(hours=1)
        ),
    )
    assert cast.south.pk in readable(viewer(cast.outside))
    Grant.objects.filter(pk=grant.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert cast.south.pk not in readable(viewer(cast.outside))
    with pytest.raises(Http404):
        policy.get_site(
            viewer(cast.outside), f.SiteFactory(code="RS101", organisation=cast.south).code
        )


def test_changing_a_grant_ends_it_and_starts_its_successor_with_an_audit_of_both(cast):
    old = default_grant(cast.south, cast.collab)
    new = actions.change_grant(
        by=cast.people["south_reporter"],
        grant=old,
        terms=terms("collaborative", collaborative=cast.collab, detail="banded", delay_hours=24),
    )
    old.refresh_from_db()
    assert (old.end_reason, new.replaces) == ("changed", old)
    assert old.replaced_by == new
    event = AuditEvent.objects.get(action="sharing.grant_changed")
    assert event.before["detail"] == "exact"
    assert event.after["detail"] == "banded"
    assert policy.access_map(viewer(cast.north))[cast.south.pk]["flow"] == (
        Access("banded", 24, new.pk),
    )


def test_revoking_stops_the_grant_from_the_next_read_and_cannot_be_done_twice(cast):
    grant = default_grant(cast.south, cast.collab)
    assert cast.south.pk in readable(viewer(cast.north))
    actions.revoke_grant(by=f.SYSTEM, grant=grant)
    assert cast.south.pk not in readable(viewer(cast.north))
    with pytest.raises(GrantInvalid, match="already ended"):
        actions.revoke_grant(by=f.SYSTEM, grant=grant)
    with pytest.raises(GrantInvalid, match="already ended"):
        actions.change_grant(
            by=f.SYSTEM, grant=grant, terms=terms(audience_organisation=cast.outside)
        )


@pytest.mark.parametrize(
    ("kw", "field", "message"),
    [
        ({"audience": "friends"}, "audience", "Choose who to share with"),
        ({"audience": "collaborative"}, "collaborative", "Choose the collaborative"),
        ({"audience": "organisation"}, "audience_organisation", "Choose the organisation"),
        ({"groups": ()}, "groups", "at least one group"),
        ({"groups": ("gossip",)}, "groups", "Unknown measure group 'gossip'"),
        ({"detail": "vague"}, "detail", "Choose the detail"),
        ({"delay_hours": -1}, "delay_hours", "from 0 (real time)"),
        ({"delay_hours": 24 * 29}, "delay_hours", "from 0 (real time)"),
        ({"purpose": "  "}, "purpose", "why this is shared"),
        ({"purpose": "x" * 301}, "purpose", "300 characters"),
    ],
)
def test_a_bad_grant_is_refused_field_by_field_and_nothing_is_stored(cast, kw, field, message):
    before = Grant.objects.count()
    if "audience" not in kw:
        kw["audience_organisation"] = cast.outside
    with pytest.raises(GrantInvalid) as caught:
        actions.add_grant(by=f.SYSTEM, owner=cast.south, terms=terms(**kw))
    assert message in caught.value.errors[field]
    assert Grant.objects.count() == before


def test_an_organisation_cannot_grant_to_itself_a_collaborative_it_left_or_into_the_past(cast):
    other = f.CollaborativeFactory(name="Coast", organisation=cast.outside)
    with pytest.raises(GrantInvalid) as caught:
        actions.add_grant(
            by=f.SYSTEM,
            owner=cast.south,
            terms=terms(audience_organisation=cast.south, expires_at=timezone.now()),
        )
    assert "always sees its own data" in caught.value.errors["audience_organisation"]
    assert "in the future" in caught.value.errors["expires_at"]
    with pytest.raises(GrantInvalid, match="not a member of Coast"):
        actions.add_grant(
            by=f.SYSTEM, owner=cast.south, terms=terms("collaborative", collaborative=other)
        )


def test_the_platform_operator_sees_every_organisation_in_full(cast):
    platform = policy.platform_viewer("test")
    assert policy.access_map(platform, {cast.outside.pk}) == {
        cast.outside.pk: dict.fromkeys(GROUPS, OWN)
    }
    assert set(policy.access_map(platform)) >= {cast.north.pk, cast.south.pk, cast.outside.pk}


def test_what_each_organisation_sees_is_what_the_policy_gives_it(cast):
    third = f.OrganisationFactory(code="RT1")
    f.join(cast.collab, third)
    actions.add_grant(
        by=f.SYSTEM,
        owner=cast.south,
        terms=terms(audience_organisation=cast.outside, groups=("flow",), detail="status"),
    )
    actions.add_grant(
        by=f.SYSTEM,
        owner=cast.south,
        terms=terms("everyone", groups=("escalation",), delay_hours=4),
    )
    actions.change_grant(
        by=f.SYSTEM,
        grant=default_grant(cast.south, cast.collab),
        terms=terms(
            "collaborative", collaborative=cast.collab, groups=("capacity",), detail="banded"
        ),
    )
    views = policy.organisation_views(cast.south)
    for org in (cast.north, third, cast.outside):
        assert views[org.pk] == policy.access_map(viewer(org))[cast.south.pk], org.code
    assert cast.south.pk not in views
    described = {a.description for a in policy.audiences(cast.south)}
    assert "Members of River System" in described
    assert "Outside Hospitals NHS Trust" in described
    assert any(d.startswith("Every organisation") for d in described)
    public = actions.add_grant(by=f.SYSTEM, owner=cast.south, terms=terms("public"))
    audience = next(a for a in policy.audiences(cast.south) if a.grant == public)
    assert (audience.description, audience.organisations) == ("Anyone, without signing in", ())
    assert audience.groups == list(GROUPS)


def test_a_coordinator_may_read_but_only_an_admin_may_manage_sharing(cast):
    from flotilla.authz.checks import can
    from flotilla.authz.permissions import Perm

    assert can(cast.people[Role.ORG_ADMIN], Perm.MANAGE_SHARING, cast.north)
    assert not can(cast.people[Role.COORDINATOR], Perm.MANAGE_SHARING, cast.north)
