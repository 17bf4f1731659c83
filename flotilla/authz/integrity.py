"""Memberships (with their roles) and API tokens against the audit record (see
`flotilla.audit.integrity`)."""

from __future__ import annotations

from flotilla.audit.integrity import Difference, differences, expected_states
from flotilla.authz.actions import membership_snapshot, token_snapshot
from flotilla.authz.models import ApiToken, Membership


def check_memberships() -> tuple[int, list[Difference]]:
    """(memberships checked, every one not as its audit events leave it)."""
    current = {
        str(m.pk): membership_snapshot(m)
        for m in Membership.objects.select_related("user").order_by("pk")
    }
    found = differences("membership", expected_states("authz.membership"), current)
    return len(current), found


def check_tokens() -> tuple[int, list[Difference]]:
    """(API tokens checked, every one not as its audit events leave it)."""
    current = {str(t.pk): token_snapshot(t) for t in ApiToken.objects.order_by("pk")}
    return len(current), differences("API token", expected_states("authz.apitoken"), current)
