"""Every write to people's roles and API tokens goes through here: one transaction each, audited."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from flotilla.audit import actions as audit
from flotilla.authz.checks import can
from flotilla.authz.models import ApiToken, Membership, Role, TokenScope
from flotilla.authz.permissions import Perm
from flotilla.organisations.models import Organisation


class RoleError(Exception):
    """A change to someone's role that cannot be made, with the reason in words."""


#: Every secret starts with this, so that leaked tokens are easy to recognise and scan for.
SECRET_PREFIX = "flt_"
#: How stale `last_used_at` may get before a request writes it again.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def token_snapshot(token: ApiToken) -> dict[str, Any]:
    """A token as the audit log records it. The hash of its secret is recorded too (it
    reveals nothing of a 256-bit secret), so a hash swapped in the database is found."""
    return {
        "organisation": token.organisation_id,
        "name": token.name,
        "scope": token.scope,
        "prefix": token.prefix,
        "secret_sha256": token.secret_sha256,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


def _require_manage(by: Any, organisation: Organisation) -> None:
    if not can(by, Perm.MANAGE_TOKENS, organisation):
        raise PermissionDenied(f"You may not manage API tokens for {organisation.code}")


def issue_token(
    *, by: Any, organisation: Organisation, name: str, scope: str
) -> tuple[ApiToken, str]:
    """Create a token and return it with its secret, which is never stored and never shown again.

    Only the SHA-256 of the secret is kept, so a copy of the database cannot be used to call
    the API.
    """
    _require_manage(by, organisation)
    name = name.strip()
    if not name:
        raise ValueError("A token needs a name")
    if scope not in TokenScope.values:
        raise ValueError(f"Unknown scope {scope!r}; choose one of {', '.join(TokenScope.values)}")
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            organisation=organisation,
            name=name[:100],
            scope=scope,
            prefix=secret[:12],
            secret_sha256=ApiToken.hash_secret(secret),
            created_by=by,
        )
        audit.record(
            by=by,
            action="authz.token_issued",
            obj=token,
            organisation_id=organisation.pk,
            after=token_snapshot(token),
        )
    return token, secret


def revoke_token(*, by: Any, token: ApiToken) -> ApiToken:
    """Stop a token working from now on. Revoking a revoked token changes nothing."""
    _require_manage(by, token.organisation)
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is not None:
            return token
        audit.change(
            by=by,
            obj=token,
            action="authz.token_revoked",
            snapshot=token_snapshot,
            changes={"revoked_at": timezone.now()},
            organisation_id=token.organisation_id,
        )
    return token


def note_token_used(*, token: ApiToken, now: datetime | None = None) -> None:
    """Record that the token was used, at most once a minute.

    Not audited: it is bookkeeping for the people who manage tokens (to spot unused ones), and
    an audit event per request would drown the changes the audit log exists for. The update is
    conditional so that concurrent requests write at most once per minute between them.
    """
    now = now or timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ).update(last_used_at=now)
    token.last_used_at = now


def membership_snapshot(m: Membership) -> dict[str, Any]:
    """A membership as the audit log records it."""
    return {"user": m.user.get_username(), "role": m.role}


def set_membership(*, by: Any, user: Any, organisation: Organisation, role: str) -> Membership:
    """Give a person a role in an organisation (or change it)."""
    if role not in Role.values:
        raise RoleError(f"Unknown role {role!r}")
    with transaction.atomic():
        m = (
            Membership.objects.select_for_update()
            .filter(user=user, organisation=organisation)
            .first()
        )
        before = {"role": m.role} if m else None
        if m is None:
            m = Membership.objects.create(user=user, organisation=organisation, role=role)
        else:
            m.role = role
            m.save(update_fields=["role"])
        audit.record(
            by=by,
            action="authz.membership_set",
            obj=m,
            organisation_id=organisation.pk,
            before=before,
            after={"user": user.get_username(), "role": role},
        )
    return m


def create_user(
    *, by: Any, username: str, password: str, email: str = "", full_name: str = ""
) -> Any:
    """Create a person who can log in."""
    User = get_user_model()
    with transaction.atomic():
        first, _, last = full_name.partition(" ")
        user = User.objects.create_user(
            username=username, password=password, email=email, first_name=first, last_name=last
        )
        audit.record(
            by=by,
            action="authz.user_created",
            obj=user,
            after={"username": username, "email": email},
        )
    return user


def _lock_admins(organisation_id: int) -> list[int]:
    """Lock the organisation's admin memberships (in id order) and return their ids.

    Taken before the membership being changed, so that two admins removing or demoting each
    other at the same moment queue on the same rows: the second then sees the first's change
    and is refused, instead of both succeeding (or deadlocking).
    """
    return list(
        Membership.objects.select_for_update()
        .filter(organisation_id=organisation_id, role=Role.ORG_ADMIN)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _locked_membership(membership: Membership, new_role: str | None) -> Membership:
    """The membership, locked, once it is sure the organisation keeps an admin.

    `new_role` None means the person is being removed.
    """
    admins = _lock_admins(membership.organisation_id)
    m = (
        Membership.objects.select_for_update(of=("self",))
        .select_related("user", "organisation")
        .filter(pk=membership.pk)
        .first()
    )
    if m is None:
        raise RoleError("That person no longer has a role here")
    if m.pk in admins and new_role != Role.ORG_ADMIN and len(admins) == 1:
        raise RoleError(
            f"{m.user.get_username()} is the last admin of {m.organisation.name}. Make someone "
            "else an admin first, so that the organisation always has someone who can manage "
            "its people."
        )
    return m


def change_role(*, by: Any, membership: Membership, role: str) -> Membership:
    """Give a member another role in their organisation; never demotes the last admin."""
    if role not in Role.values:
        raise RoleError(f"Unknown role {role!r}")
    with transaction.atomic():
        m = _locked_membership(membership, role)
        if m.role == role:
            return m
        audit.change(
            by=by,
            obj=m,
            action="authz.membership_set",
            snapshot=membership_snapshot,
            changes={"role": role},
            organisation_id=m.organisation_id,
        )
    return m


def remove_membership(*, by: Any, membership: Membership) -> None:
    """Take a person's role in an organisation away; never removes the last admin.

    Their account stays (they may belong elsewhere); they lose this organisation's pages and
    data from their next request.
    """
    with transaction.atomic():
        m = _locked_membership(membership, None)
        before = {"user": m.user.get_username(), "role": m.role}
        pk, organisation_id = m.pk, m.organisation_id
        m.delete()
        audit.record(
            by=by,
            action="authz.membership_removed",
            object_type="authz.membership",
            object_id=str(pk),
            organisation_id=organisation_id,
            before=before,
        )
