"""`can(user, permission, obj)`: the one entry point for 'may this person do this?'."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from django.http import Http404

from flotilla.authz.models import Membership
from flotilla.authz.permissions import ROLE_PERMISSIONS, Perm


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


class ActedFor(Protocol):
    """Anything a permission can be checked on says whose people act for it: an organisation
    itself, a site its organisation, a collaborative its active members. The models answer,
    so authorisation needs no knowledge of the apps above it."""

    def acting_organisation_ids(self) -> Iterable[int] | Any: ...


class NoPermissionRule(TypeError):
    """A permission was checked on an object that does not say who acts for it: a bug in the
    caller, never a "no"."""


def can(user: Any, perm: Perm, obj: ActedFor) -> bool:
    """True if the user holds `perm` over `obj` through a role in an organisation acting for it.

    For an organisation or site: a role in that organisation. For a collaborative: a role in
    any active member organisation (creating one needs an admin role in the creating
    organisation, checked on that organisation). Anything else raises `NoPermissionRule`.
    """
    acting = getattr(obj, "acting_organisation_ids", None)
    if acting is None:
        raise NoPermissionRule(f"no permission rule for {type(obj).__name__}")
    if not getattr(user, "is_authenticated", False):
        return False
    roles = Membership.objects.filter(user=user, organisation_id__in=acting()).values_list(
        "role", flat=True
    )
    return any(perm in ROLE_PERMISSIONS[r] for r in roles)


def require(user: Any, perm: Perm, obj: Any) -> None:
    """Raise 404 (not 403) so that outsiders cannot even learn that the object exists."""
    if not can(user, perm, obj):
        raise Http404("Not found")


def people_with(perm: Perm, organisation_id: int) -> list[Any]:
    """The people holding `perm` in an organisation (for who to tell), by username."""
    roles = [role for role, perms in ROLE_PERMISSIONS.items() if perm in perms]
    memberships = Membership.objects.filter(organisation_id=organisation_id, role__in=roles)
    return [m.user for m in memberships.select_related("user").order_by("user__username")]
