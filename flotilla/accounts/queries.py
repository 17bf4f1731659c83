"""Reads about people getting in: who may decide a request, what waits for whom, locks, and
who must pass a second factor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Max, Q
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from flotilla.accounts.models import (
    AccessRequest,
    AccessRequestStatus,
    OidcIdentity,
    SignInThrottle,
)
from flotilla.authz.checks import can, organisations_where
from flotilla.authz.models import Membership, Role
from flotilla.authz.permissions import Perm
from flotilla.collaboratives.models import CollaborativeMembership, Invitation, InvitationStatus
from flotilla.notifications.models import Notification
from flotilla.notifications.queries import UNREAD_LOADED
from flotilla.organisations.models import Organisation


def has_admin(organisation: Organisation) -> bool:
    return Membership.objects.filter(organisation=organisation, role=Role.ORG_ADMIN).exists()


def _coordinated_invitees(user: Any) -> set[int]:
    """Organisations with no admin that a collaborative this person coordinates has invited."""
    if not getattr(user, "is_authenticated", False):
        return set()
    own = organisations_where(user, Perm.MANAGE_COLLABORATIVE)
    collaboratives = CollaborativeMembership.objects.filter(
        organisation_id__in=own, left_at__isnull=True
    ).values("collaborative_id")
    invited = set(
        Invitation.objects.filter(
            collaborative_id__in=collaboratives, status=InvitationStatus.PENDING
        ).values_list("organisation_id", flat=True)
    )
    with_admin = set(
        Membership.objects.filter(organisation_id__in=invited, role=Role.ORG_ADMIN).values_list(
            "organisation_id", flat=True
        )
    )
    return invited - with_admin


def decides_as_coordinator(user: Any, organisation: Organisation) -> bool:
    """True if this person decides for `organisation` only as the coordinator who invited it.

    That is: they are not its admin, it has no admin, and a collaborative they coordinate has
    a pending invitation for it. Approving then makes the requester its first admin.
    """
    if can(user, Perm.MANAGE_MEMBERS, organisation):
        return False
    return organisation.pk in _coordinated_invitees(user)


def may_decide(user: Any, access_request: AccessRequest) -> bool:
    """Its organisation's admins, or (while it has no admin) a coordinator who invited it."""
    if user is None:
        return False
    org = access_request.organisation
    return can(user, Perm.MANAGE_MEMBERS, org) or decides_as_coordinator(user, org)


@dataclass(frozen=True)
class Waiting:
    """An access request this person may decide, and where to decide it."""

    request: AccessRequest
    url: str
    #: True when deciding makes the requester the organisation's first admin.
    first_admin: bool

    @property
    def text(self) -> str:
        r = self.request
        return f"{r.name} ({r.email}) asks for access to {r.organisation.name}"


def waiting_for(user: Any) -> list[Waiting]:
    """Access requests this person may decide, oldest first, each with the page to decide it."""
    if not getattr(user, "is_authenticated", False):
        return []
    admin_of = set(organisations_where(user, Perm.MANAGE_MEMBERS))
    as_coordinator = _coordinated_invitees(user) - admin_of
    requests = (
        AccessRequest.objects.filter(
            organisation_id__in=admin_of | as_coordinator, status=AccessRequestStatus.PENDING
        )
        .select_related("organisation")
        .order_by("created_at", "pk")
    )
    return [
        Waiting(
            request=r,
            url=reverse("accounts:decide", args=[r.pk]),
            first_admin=r.organisation_id in as_coordinator,
        )
        for r in requests
    ]


def signin_locked_until(
    keys: list[tuple[str, str]], now: datetime | None = None
) -> datetime | None:
    """When the latest lock on any of these (kind, key) pairs ends, if one is in force."""
    match = Q(pk__in=[])
    for kind, key in keys:
        match |= Q(kind=kind, key=key)
    return SignInThrottle.objects.filter(match, locked_until__gt=now or timezone.now()).aggregate(
        until=Max("locked_until")
    )["until"]


# ------------------------------------------------------------------ the second factor (ADR 0031)


def needs_second_factor(user: Any) -> bool:
    """Whether this person must pass a second factor: platform staff, and anyone who is an
    admin of an organisation (they choose who joins, what is shared and who holds tokens)."""
    if not settings.ADMIN_SECOND_FACTOR or not getattr(user, "is_authenticated", False):
        return False
    if user.is_staff or user.is_superuser:
        return True
    return _admin_roles(user).exists()


def _admin_roles(user: Any) -> Any:
    """The person's organisation admin memberships: what makes them need a second factor."""
    return Membership.objects.filter(user=user, role=Role.ORG_ADMIN)


#: Set on a person `signed_in_person` loaded: whether they must pass a second factor, as of
#: that statement (the start of the request).
SECOND_FACTOR_LOADED = "_must_pass_second_factor"


def _second_factor_sql(user_id: str) -> tuple[str, list[Any]]:
    """SQL for whether the person in column `user_id` has set up an authenticator app or,
    when admins must pass one, holds an admin role."""
    devices, members = TOTPDevice._meta, Membership._meta
    sql = (
        f"EXISTS (SELECT 1 FROM {devices.db_table} "
        f"WHERE {devices.get_field('user').column} = {user_id} "
        f"AND {devices.get_field('confirmed').column})"
    )
    params: list[Any] = []
    if settings.ADMIN_SECOND_FACTOR:
        sql += (
            f" OR EXISTS (SELECT 1 FROM {members.db_table} "
            f"WHERE {members.get_field('user').column} = {user_id} "
            f"AND {members.get_field('role').column} = %s)"
        )
        params.append(Role.ORG_ADMIN.value)
    return sql, params


def must_pass_second_factor(user: Any) -> bool:
    """Whether this person's session must pass a second factor before anything else: an admin
    (when the setting is on), or anyone who chose to set up an authenticator app."""
    if not getattr(user, "is_authenticated", False):
        return False
    if settings.ADMIN_SECOND_FACTOR and (user.is_staff or user.is_superuser):
        return True
    loaded = getattr(user, SECOND_FACTOR_LOADED, None)
    if loaded is not None:
        return bool(loaded)
    # Otherwise one plain statement (the ORM's Exists would cost more to build than to run).
    sql, params = _second_factor_sql("u.id")
    opts = user._meta
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {sql} FROM {opts.db_table} u WHERE u.{opts.pk.column} = %s",
            [*params, user.pk],
        )
        return bool(cursor.fetchone()[0])


def signed_in_person(user_id: Any) -> Any | None:
    """The active person a session names, or None, in one statement with what every page of
    theirs asks next: whether they must pass a second factor (`must_pass_second_factor`) and
    how many of their notifications are unread (`notifications.queries.unread_count`).

    Every signed-in request loads its person: one statement instead of three, written out
    because the ORM's building cost more than running (ADR 0046)."""
    user_model = get_user_model()
    opts = user_model._meta
    second_factor, params = _second_factor_sql("u.id")
    notes = Notification._meta
    unread = (
        f"SELECT COUNT(*) FROM {notes.db_table} "
        f"WHERE {notes.get_field('recipient').column} = u.id "
        f"AND {notes.get_field('read_at').column} IS NULL"
    )
    sql = (
        f"SELECT u.*, ({second_factor}) AS {SECOND_FACTOR_LOADED}, ({unread}) AS {UNREAD_LOADED}"
        f" FROM {opts.db_table} u WHERE u.{opts.pk.column} = %s"
        f" AND u.{opts.get_field('is_active').column}"
    )
    found = list(user_model._default_manager.raw(sql, [*params, user_id]))
    return found[0] if found else None


def authenticator_of(user: Any) -> TOTPDevice | None:
    """The person's confirmed authenticator app, if they have set one up."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-pk").first()


def recovery_codes_left(user: Any) -> int:
    """How many one-time recovery codes the person has not used."""
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def identities_of(user: Any) -> list[OidcIdentity]:
    """The provider accounts linked to this person, oldest first."""
    return list(OidcIdentity.objects.filter(user=user).order_by("linked_at", "pk"))
