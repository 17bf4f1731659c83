"""`can(user, permission, obj)`: the one entry point for 'may this person do this?'."""

from __future__ import annotations

from typing import Any

from django.http import Http404

from flotilla.authz.permissions import ROLE_PERMISSIONS, Perm
from flotilla.registry.models import Collaborative, Membership, Organisation, Site


def roles_in(user: Any, organisation_id: int) -> set[str]:
    if not user.is_authenticated:
        return set()
    return set(
        Membership.objects.filter(user=user, organisation_id=organisation_id).values_list(
            "role", flat=True
        )
    )


def organisations_where(user: Any, perm: Perm) -> list[int]:
    """Ids of the organisations in which the user holds `perm`."""
    if not user.is_authenticated:
        return []
    roles = [role for role, perms in ROLE_PERMISSIONS.items() if perm in perms]
    return list(
        Membership.objects.filter(user=user, role__in=roles).values_list(
            "organisation_id", flat=True
        )
    )


def can(user: Any, perm: Perm, obj: Any) -> bool:
    """True if the user holds `perm` over `obj` (an organisation, site or collaborative).

    For an organisation or site: a role in that organisation grants it. For a collaborative:
    a role in any active member organisation grants it (creating one needs an admin role in
    the creating organisation, checked on that organisation).
    """
    if not getattr(user, "is_authenticated", False):
        return False
    if isinstance(obj, Site):
        obj = obj.organisation
    if isinstance(obj, Organisation):
        return any(perm in ROLE_PERMISSIONS[r] for r in roles_in(user, obj.pk))
    if isinstance(obj, Collaborative):
        member_orgs = obj.memberships.filter(left_at__isnull=True).values("organisation_id")
        roles = Membership.objects.filter(user=user, organisation_id__in=member_orgs).values_list(
            "role", flat=True
        )
        return any(perm in ROLE_PERMISSIONS[r] for r in roles)
    raise TypeError(f"no permission rule for {type(obj).__name__}")


def require(user: Any, perm: Perm, obj: Any) -> None:
    """Raise 404 (not 403) so that outsiders cannot even learn that the object exists."""
    if not can(user, perm, obj):
        raise Http404("Not found")
