"""Every write about people getting in goes through here: one transaction each, audited.

Invitations to an organisation (one-time links, stored as SHA-256 only), access requests and
their decisions, the sign-in throttle's bookkeeping, linked OpenID Connect accounts, and the
second factor (an authenticator app and recovery codes, ADR 0031).
"""

from __future__ import annotations

import hashlib
import secrets
from base64 import b32encode
from binascii import unhexlify
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.util import random_hex

from flotilla.accounts import emails
from flotilla.accounts.models import (
    AccessRequest,
    AccessRequestStatus,
    OidcIdentity,
    PersonInvitation,
    PersonInvitationStatus,
    RequestCount,
    SignInFailure,
    SignInThrottle,
    ThrottleKind,
)
from flotilla.accounts.queries import decides_as_coordinator, has_admin, may_decide
from flotilla.audit import actions as audit
from flotilla.audit.principals import Principal, as_principal
from flotilla.authz import actions as authz_actions
from flotilla.authz.checks import can
from flotilla.authz.models import Membership, Role
from flotilla.authz.permissions import Perm
from flotilla.collaboratives.models import Invitation, InvitationStatus
from flotilla.formatting import when
from flotilla.organisations.models import Organisation


class AccountsError(Exception):
    """A change that cannot be made, with the reason in words and the form field it is about."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


# Invitations to an organisation


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


def invitation_link(base_url: str, secret: str) -> str:
    """The address a person opens to accept; `base_url` is the site's own, e.g. https://host/."""
    return base_url.rstrip("/") + reverse("accounts:accept", args=[secret])


def _invitation_snapshot(inv: PersonInvitation) -> dict[str, Any]:
    return {
        "organisation": inv.organisation_id,
        "role": inv.role,
        "username": inv.username,
        "email": inv.email,
        "first_admin": inv.first_admin,
        "expires_at": inv.expires_at.isoformat(),
        "status": inv.status,
    }


def _expiry(now: datetime) -> datetime:
    return now + timedelta(days=settings.INVITATION_DAYS)


def _make_invitation(
    *, by: Any, organisation: Organisation, role: str, audit_extra: dict[str, Any], **fields: Any
) -> tuple[PersonInvitation, str]:
    """Create a pending invitation with a new secret (only its hash stored), audited, inside
    the caller's transaction; return it with the secret, to be shown once or emailed."""
    secret = _new_secret()
    now = timezone.now()
    inv = PersonInvitation.objects.create(
        organisation=organisation,
        role=role,
        secret_sha256=PersonInvitation.hash_secret(secret),
        created_by=as_principal(by).user,
        created_at=now,
        expires_at=_expiry(now),
        **fields,
    )
    audit.record(
        by=by,
        action="accounts.invitation_made",
        obj=inv,
        organisation_id=organisation.pk,
        after={**_invitation_snapshot(inv), **audit_extra},
    )
    return inv, secret


def _require_manage_members(by: Any, organisation: Organisation) -> None:
    if not can(by, Perm.MANAGE_MEMBERS, organisation):
        raise PermissionDenied(f"You may not manage the people of {organisation.code}")


def _find_person(who: str) -> tuple[Any, str, str]:
    """(existing user or None, username, email) for what an admin typed in 'who'."""
    User = get_user_model()
    who = who.strip()
    if not who:
        raise AccountsError("Enter the person's username or email address", "who")
    if "@" in who:
        try:
            validate_email(who)
        except ValidationError:
            raise AccountsError(
                "Enter an email address in the right format, like name@nhs.net", "who"
            ) from None
        email = who.lower()
        users = list(User.objects.filter(email__iexact=email, is_active=True)[:2])
        user = users[0] if len(users) == 1 else None
        return user, user.get_username() if user else "", email
    user = User.objects.filter(username__iexact=who, is_active=True).first()
    if user is None:
        raise AccountsError(
            f"Nobody on Flotilla has the username {who}. To invite someone new, enter their "
            "email address instead.",
            "who",
        )
    return user, user.get_username(), user.email.lower()


def invite_person(
    *, by: Any, organisation: Organisation, who: str, role: str, base_url: str
) -> tuple[PersonInvitation, str]:
    """Invite a person (by username or email address) to a role; return it with its secret.

    The secret is never stored (only its SHA-256) and is returned to be shown once; it is also
    emailed to the person, if they have an address, once the transaction commits.
    """
    _require_manage_members(by, organisation)
    if role not in Role.values:
        raise AccountsError("Choose the role they will have", "role")
    user, username, email = _find_person(who)
    if user is not None:
        current = Membership.objects.filter(user=user, organisation=organisation).first()
        if current is not None:
            raise AccountsError(
                f"{username} is already {current.get_role_display().lower()} at "
                f"{organisation.name}. Change their role in the list of people instead.",
                "who",
            )
    with transaction.atomic():
        now = timezone.now()
        waiting = PersonInvitation.objects.select_for_update().filter(
            organisation=organisation,
            status=PersonInvitationStatus.PENDING,
            expires_at__gt=now,
        )
        if username:
            waiting = waiting.filter(username__iexact=username)
        else:
            waiting = waiting.filter(email__iexact=email)
        if waiting.exists():
            raise AccountsError(
                f"{username or email} already has an invitation waiting. Withdraw it below "
                "to send a new one.",
                "who",
            )
        inv, secret = _make_invitation(
            by=by,
            organisation=organisation,
            role=role,
            audit_extra={},
            username=username,
            email=email,
        )
        if email:
            emails.send_on_commit(
                to=email,
                subject=f"You are invited to join {organisation.name} on Flotilla",
                template="accounts/email/invitation.txt",
                context={
                    "organisation": organisation,
                    "role": inv.get_role_display(),
                    "inviter": as_principal(by).label,
                    "link": invitation_link(base_url, secret),
                    "expires": when(inv.expires_at),
                },
            )
    return inv, secret


def _withdraw(by: Any, inv: PersonInvitation, now: datetime) -> None:
    audit.change(
        by=by,
        obj=inv,
        action="accounts.invitation_withdrawn",
        snapshot=_invitation_snapshot,
        changes={
            "status": PersonInvitationStatus.WITHDRAWN,
            "responded_by": as_principal(by).user,
            "responded_at": now,
        },
        organisation_id=inv.organisation_id,
    )


def withdraw_invitation(*, by: Any, invitation: PersonInvitation) -> PersonInvitation:
    """Stop an invitation's link working, from now on. Only a pending one can be withdrawn."""
    _require_manage_members(by, invitation.organisation)
    with transaction.atomic():
        inv = PersonInvitation.objects.select_for_update().get(pk=invitation.pk)
        if inv.status != PersonInvitationStatus.PENDING:
            raise AccountsError(
                f"This invitation was already {inv.get_status_display().lower()}; "
                "there is nothing to withdraw."
            )
        _withdraw(by, inv, timezone.now())
    return inv


def make_first_admin_link(*, by: Any, invitation: Invitation) -> tuple[PersonInvitation, str]:
    """A link that makes whoever opens it the first admin of an invited organisation.

    For a coordinator who has invited an organisation that has no admin on Flotilla: they
    pass the link on by hand. Any earlier first-admin link for the organisation is withdrawn,
    so a lost link can be replaced. Works only while the collaborative's invitation is
    pending and the organisation has no admin.
    """
    if not can(by, Perm.MANAGE_COLLABORATIVE, invitation.collaborative):
        raise PermissionDenied("You may not manage this collaborative's invitations")
    organisation = invitation.organisation
    with transaction.atomic():
        inv = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if inv.status != InvitationStatus.PENDING:
            raise AccountsError(
                f"{organisation.name}'s invitation is {inv.get_status_display().lower()}, so "
                "there is no first admin to invite."
            )
        if has_admin(organisation):
            raise AccountsError(
                f"{organisation.name} already has an admin on Flotilla, who can answer the "
                "invitation and add their own people."
            )
        now = timezone.now()
        for old in PersonInvitation.objects.select_for_update().filter(
            organisation=organisation,
            first_admin=True,
            username="",
            email="",
            status=PersonInvitationStatus.PENDING,
        ):
            _withdraw(by, old, now)
        link, secret = _make_invitation(
            by=by,
            organisation=organisation,
            role=Role.ORG_ADMIN,
            audit_extra={"collaborative_invitation": inv.pk},
            first_admin=True,
            collaborative_invitation=inv,
        )
    return link, secret


def find_invitation(secret: str) -> PersonInvitation | None:
    """The invitation a link's secret opens, in whatever state it is, or None."""
    return (
        PersonInvitation.objects.select_related("organisation", "created_by")
        .filter(secret_sha256=PersonInvitation.hash_secret(secret))
        .first()
    )


def why_closed(inv: PersonInvitation, now: datetime | None = None) -> str:
    """Why a link no longer works, in words; empty while it works."""
    if inv.status == PersonInvitationStatus.ACCEPTED:
        return (
            f"This invitation was used on {when(inv.responded_at)}. Each link works once. "
            "If it was you, sign in with the username and password you chose."
        )
    if inv.status == PersonInvitationStatus.WITHDRAWN:
        return (
            f"This invitation was withdrawn on {when(inv.responded_at)}. Ask whoever sent it "
            "for a new one."
        )
    if inv.is_expired(now):
        return (
            f"This invitation expired on {when(inv.expires_at)}. Ask whoever sent it for a new one."
        )
    if inv.first_admin and has_admin(inv.organisation):
        return (
            f"{inv.organisation.name} has an admin on Flotilla now, so this first-admin "
            "invitation no longer works. Ask them to invite you, or ask for access."
        )
    return ""


def is_for(inv: PersonInvitation, user: Any) -> bool:
    """True if a signed-in person may accept: it names them, or names nobody."""
    if not inv.username and not inv.email:
        return True
    if inv.username and inv.username.lower() == user.get_username().lower():
        return True
    return bool(inv.email) and inv.email.lower() == (user.email or "").lower()


def _lock_open(invitation: PersonInvitation) -> PersonInvitation:
    inv = (
        PersonInvitation.objects.select_for_update(of=("self",))
        .select_related("organisation")
        .get(pk=invitation.pk)
    )
    reason = why_closed(inv)
    if reason:
        raise AccountsError(reason)
    return inv


def _join(by: Any, inv: PersonInvitation, user: Any) -> Membership:
    current = Membership.objects.filter(user=user, organisation=inv.organisation).first()
    if current is not None:
        raise AccountsError(
            f"You are already {current.get_role_display().lower()} at {inv.organisation.name}. "
            "An admin there can change your role."
        )
    membership = authz_actions.set_membership(
        by=by, user=user, organisation=inv.organisation, role=inv.role
    )
    audit.change(
        by=by,
        obj=inv,
        action="accounts.invitation_accepted",
        snapshot=_invitation_snapshot,
        changes={
            "status": PersonInvitationStatus.ACCEPTED,
            "responded_by": user,
            "responded_at": timezone.now(),
        },
        organisation_id=inv.organisation_id,
        after_extra={"user": user.get_username()},
    )
    return membership


def accept_invitation(*, by: Any, invitation: PersonInvitation) -> Membership:
    """A signed-in person takes up an invitation meant for them; it cannot be used again."""
    user = as_principal(by).user
    if user is None:
        raise AccountsError("Sign in to accept an invitation")
    with transaction.atomic():
        inv = _lock_open(invitation)
        if not is_for(inv, user):
            raise AccountsError(
                f"This invitation is for {inv.for_whom}, not for {user.get_username()}. "
                "Sign out and open the link again, or ask for an invitation of your own."
            )
        return _join(by, inv, user)


def validate_new_account(*, username: str, password: str, email: str = "") -> dict[str, str]:
    """Problems with a new username and password, by field ('username', 'password')."""
    User = get_user_model()
    problems: dict[str, str] = {}
    username = username.strip()
    if not username:
        problems["username"] = "Choose a username"
    elif len(username) > 150:
        problems["username"] = "A username can be at most 150 characters"
    else:
        try:
            UnicodeUsernameValidator()(username)
        except ValidationError:
            problems["username"] = (
                "Use only letters, numbers and the characters @ . + - _ in a username"
            )
        else:
            if User.objects.filter(username__iexact=username).exists():
                problems["username"] = f"The username {username} is taken. Choose another."
    if not password:
        problems["password"] = "Choose a password"
    else:
        try:
            password_validation.validate_password(password, User(username=username, email=email))
        except ValidationError as exc:
            problems["password"] = " ".join(exc.messages)
    return problems


def accept_invitation_as_new_user(
    *,
    invitation: PersonInvitation,
    username: str,
    password: str,
    full_name: str = "",
    email: str = "",
) -> Any:
    """Create an account for the person who opened the link, and give them the role.

    The account's email is the one the invitation was sent to; `email` is used only for a
    link that names nobody (a first admin's), so that they can reset a forgotten password.
    The account, the role and the invitation's use are one transaction: a bad password leaves
    nothing behind, and the link cannot be used twice.
    """
    username = username.strip()
    email = invitation.email or email.strip().lower()
    if email and email != invitation.email:
        try:
            validate_email(email)
        except ValidationError:
            raise AccountsError(
                "Enter an email address in the right format, like name@nhs.net", "email"
            ) from None
    problems = validate_new_account(username=username, password=password, email=email)
    if problems:
        field, message = next(iter(problems.items()))
        raise AccountsError(message, field)
    with transaction.atomic():
        inv = _lock_open(invitation)
        try:
            with transaction.atomic():
                user = authz_actions.create_user(
                    by=Principal(label=f"anonymous:invitation {inv.pk}"),
                    username=username,
                    password=password,
                    email=email,
                    full_name=full_name.strip(),
                )
        except IntegrityError:
            raise AccountsError(
                f"The username {username} is taken. Choose another.", "username"
            ) from None
        _join(user, inv, user)
    return user


# Access requests


def _request_snapshot(r: AccessRequest) -> dict[str, Any]:
    return {
        "organisation": r.organisation_id,
        "name": r.name,
        "email": r.email,
        "reason": r.reason,
        "status": r.status,
        "decline_reason": r.decline_reason,
        "invitation": r.invitation_id,
    }


def request_access(
    *, by: Any, organisation: Organisation, name: str, email: str, reason: str
) -> AccessRequest:
    """Someone asks to join an organisation; its admins (or a coordinator) decide.

    `by` is the person if signed in, otherwise a principal labelled with the address given.
    """
    name, email, reason = name.strip(), email.strip().lower(), reason.strip()
    if not name:
        raise AccountsError("Enter your name", "name")
    if len(name) > 200:
        raise AccountsError("Your name can be at most 200 characters", "name")
    if not email:
        raise AccountsError("Enter your email address", "email")
    try:
        validate_email(email)
    except ValidationError:
        raise AccountsError(
            "Enter an email address in the right format, like name@nhs.net", "email"
        ) from None
    if not reason:
        raise AccountsError("Say in a sentence why you need access", "reason")
    if len(reason) > 500:
        raise AccountsError("Keep the reason to 500 characters or fewer", "reason")
    if organisation.is_retired:
        raise AccountsError(
            f"{organisation.code} is a retired code. Ask for access to the organisation that "
            "took over from it."
        )
    with transaction.atomic():
        if AccessRequest.objects.filter(
            organisation=organisation, email=email, status=AccessRequestStatus.PENDING
        ).exists():
            raise AccountsError(
                f"There is already a request from {email} waiting for {organisation.name}. "
                "You will get an email when it is decided.",
                "email",
            )
        try:
            with transaction.atomic():
                req = AccessRequest.objects.create(
                    organisation=organisation, name=name, email=email, reason=reason
                )
        except IntegrityError:
            # Someone sent the same request a moment ago: the constraint kept just one.
            raise AccountsError(
                f"There is already a request from {email} waiting for {organisation.name}.",
                "email",
            ) from None
        audit.record(
            by=by,
            action="accounts.access_requested",
            obj=req,
            organisation_id=organisation.pk,
            after=_request_snapshot(req),
        )
    return req


def _lock_pending(by: Any, access_request: AccessRequest) -> AccessRequest:
    if not may_decide(as_principal(by).user, access_request):
        raise PermissionDenied("You may not decide this request")
    req = (
        AccessRequest.objects.select_for_update(of=("self",))
        .select_related("organisation")
        .get(pk=access_request.pk)
    )
    if req.status != AccessRequestStatus.PENDING:
        raise AccountsError(
            f"This request was already {req.get_status_display().lower()} "
            f"on {when(req.decided_at)}."
        )
    return req


#: The audit action for each decision on an access request.
DECIDED = {
    AccessRequestStatus.APPROVED: "accounts.access_approved",
    AccessRequestStatus.DECLINED: "accounts.access_declined",
}


def _decide(by: Any, req: AccessRequest, status: str, at: datetime, **fields: Any) -> None:
    """Record a decision on a locked, pending request (with any further fields), audited
    with the request before and after."""
    audit.change(
        by=by,
        obj=req,
        action=DECIDED[status],
        snapshot=_request_snapshot,
        changes={
            "status": status,
            "decided_by": as_principal(by).user,
            "decided_at": at,
            **fields,
        },
        organisation_id=req.organisation_id,
    )


def approve_access_request(
    *, by: Any, access_request: AccessRequest, role: str, base_url: str
) -> tuple[PersonInvitation, str]:
    """Let the person in: an invitation for the role, emailed to them; returns it and its secret.

    A coordinator deciding for an organisation with no admin makes the person its first
    admin, whatever `role` says; that invitation works only while there is still no admin.
    """
    user = as_principal(by).user
    with transaction.atomic():
        req = _lock_pending(by, access_request)
        org = req.organisation
        first_admin = decides_as_coordinator(user, org)
        if first_admin:
            role = Role.ORG_ADMIN
        elif role not in Role.values:
            raise AccountsError("Choose the role they will have", "role")
        inv, secret = _make_invitation(
            by=by,
            organisation=org,
            role=role,
            audit_extra={"access_request": req.pk},
            email=req.email,
            first_admin=first_admin,
        )
        _decide(by, req, AccessRequestStatus.APPROVED, inv.created_at, invitation=inv)
        emails.send_on_commit(
            to=req.email,
            subject=f"Your access to {org.name} on Flotilla",
            template="accounts/email/request_approved.txt",
            context={
                "request": req,
                "organisation": org,
                "role": inv.get_role_display(),
                "link": invitation_link(base_url, secret),
                "expires": when(inv.expires_at),
            },
        )
    return inv, secret


def decline_access_request(*, by: Any, access_request: AccessRequest, reason: str) -> None:
    """Say no, with a reason the person is sent by email."""
    reason = reason.strip()
    if not reason:
        raise AccountsError("Say why, in a sentence: the person is sent it", "decline_reason")
    with transaction.atomic():
        req = _lock_pending(by, access_request)
        _decide(by, req, AccessRequestStatus.DECLINED, timezone.now(), decline_reason=reason[:1000])
        emails.send_on_commit(
            to=req.email,
            subject=f"Your request for access to {req.organisation.name} on Flotilla",
            template="accounts/email/request_declined.txt",
            context={"request": req, "organisation": req.organisation},
        )


# The sign-in throttle


def throttle_keys(username: str, address: str) -> list[tuple[str, str]]:
    """The (kind, key) pairs one sign-in attempt counts against."""
    keys = [(ThrottleKind.ACCOUNT.value, username.strip().lower()[:150])]
    if address:
        keys.append((ThrottleKind.ADDRESS.value, address[:150]))
    return keys


@dataclass(frozen=True)
class _Rule:
    """How many events a throttle key may have within a window before it is paused, and for
    how long."""

    limit: int
    window: timedelta
    pause: timedelta
    #: The audit action written when a key is paused.
    action: str


def _rule(kind: str) -> _Rule:
    if kind == ThrottleKind.MAIL:
        hour = timedelta(hours=1)
        return _Rule(settings.MAIL_FORMS_PER_HOUR, hour, hour, "accounts.mail_forms_paused")
    return _Rule(
        settings.SIGNIN_ADDRESS_MAX_FAILURES
        if kind == ThrottleKind.ADDRESS
        else settings.SIGNIN_MAX_FAILURES,
        timedelta(minutes=settings.SIGNIN_WINDOW_MINUTES),
        timedelta(minutes=settings.SIGNIN_LOCK_MINUTES),
        "accounts.signin_locked",
    )


def _count(kind: str, key: str, now: datetime) -> datetime | None:
    """Count one event against (kind, key), inside the caller's transaction; pause the key at
    its limit. Returns when the pause ends, if this event started one.

    The events are bookkeeping, not audited (a guesser would fill the audit chain); a pause
    being set is audited.
    """
    rule = _rule(kind)
    # Rows whose every event is out of the window and whose pause is over say nothing.
    SignInThrottle.objects.filter(
        kind=kind, last_failure_at__lt=now - max(rule.window, rule.pause)
    ).delete()
    SignInThrottle.objects.get_or_create(kind=kind, key=key, defaults={"last_failure_at": now})
    throttle = SignInThrottle.objects.select_for_update().get(kind=kind, key=key)
    throttle.last_failure_at = now
    SignInFailure.objects.create(throttle=throttle, at=now)
    recent = throttle.failures.filter(at__gt=now - rule.window).count()
    if recent < rule.limit:
        throttle.save(update_fields=["last_failure_at"])
        return None
    # Paused; the count starts again when the pause ends.
    throttle.failures.all().delete()
    throttle.locked_until = now + rule.pause
    throttle.save(update_fields=["last_failure_at", "locked_until"])
    audit.record(
        by=Principal.system("signin-throttle"),
        action=rule.action,
        obj=throttle,
        after={
            "kind": kind,
            "key": key,
            "failures": recent,
            "locked_until": throttle.locked_until.isoformat(),
        },
    )
    return throttle.locked_until


def note_signin_failure(
    *, username: str, address: str, now: datetime | None = None
) -> datetime | None:
    """Count a failed sign-in against the account name and the address; lock either at its limit.

    Returns when the attempt's lock ends, if this failure locked the account name or address
    (the later of the two).
    """
    now = now or timezone.now()
    with transaction.atomic():
        ends = [_count(kind, key, now) for kind, key in throttle_keys(username, address)]
    return max((e for e in ends if e is not None), default=None)


def mail_form_keys(address: str) -> list[tuple[str, str]]:
    """The (kind, key) pairs a form that sends an email counts against (none without an
    address: a request that did not come over the network, as in tests)."""
    return [(ThrottleKind.MAIL.value, address[:150])] if address else []


def note_mail_form(*, address: str, now: datetime | None = None) -> datetime | None:
    """Count an access request or password reset asked for from `address`; at the hourly
    limit the address is paused for an hour. Returns when the pause ends, if this one began it.
    """
    now = now or timezone.now()
    with transaction.atomic():
        ends = [_count(kind, key, now) for kind, key in mail_form_keys(address)]
    return max((e for e in ends if e is not None), default=None)


def clear_signin_failures(*, username: str) -> None:
    """A successful sign-in (or password reset) forgets the account name's failures.

    Not the address's: one person signing in must not reset the count for a guesser on the
    same network.
    """
    kind, key = throttle_keys(username, "")[0]
    with transaction.atomic():
        SignInThrottle.objects.filter(kind=kind, key=key).delete()


def reset_password(*, user: Any, password: str, by: Any = None) -> Any:
    """Set a new password for someone who proved they own the account's email address.

    `by` defaults to the person themselves (a reset link acts for its owner). The account
    name's sign-in failures and any lock on it are cleared: they were probably the reason.
    """
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise AccountsError(" ".join(exc.messages), "new_password1") from None
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        audit.record(
            by=by or user,
            action="accounts.password_reset",
            obj=user,
            after={"username": user.get_username()},
        )
        clear_signin_failures(username=user.get_username())
    return user


# Rate limits


def count_request(subject: str, minute: int) -> int:
    """Count one request against `subject` in `minute` and return the count so far (see
    `count_requests`)."""
    return count_requests([subject], minute)[subject]


def count_requests(subjects: list[str], minute: int) -> dict[str, int]:
    """Count one request against each of `subjects` in `minute` and return each one's count
    so far, in one atomic statement (an upsert of every subject at once), so concurrent
    requests never share a number. A subject is stored in its first 160 characters; the
    counts are keyed by the subjects as given. The first request of a minute for any
    subject also deletes the rows of minutes before the last."""
    table = RequestCount._meta.db_table
    keys = list(dict.fromkeys(s[:160] for s in subjects))
    if not keys:
        return {}
    rows = ", ".join(["(%s, %s, 1)"] * len(keys))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (subject, minute, count) VALUES {rows} "
            f"ON CONFLICT (subject, minute) DO UPDATE SET count = {table}.count + 1 "
            "RETURNING subject, count",
            [v for key in keys for v in (key, minute)],
        )
        counts = {key: int(count) for key, count in cursor.fetchall()}
    if 1 in counts.values():
        RequestCount.objects.filter(minute__lt=minute - 1).delete()
    return {subject: counts[subject[:160]] for subject in subjects}


# ------------------------------------------------------------------ OpenID Connect


def link_identity(*, user: Any, issuer: str, subject: str, by: Any) -> OidcIdentity:
    """Link the provider's account (issuer, subject) to `user`, audited.

    If a concurrent sign-in of the same account linked it a moment ago, that link is returned.
    """
    try:
        with transaction.atomic():
            identity = OidcIdentity.objects.create(user=user, issuer=issuer, subject=subject)
            audit.record(
                by=by,
                action="accounts.oidc_identity_linked",
                obj=identity,
                after=identity_snapshot(identity),
            )
    except IntegrityError:
        return OidcIdentity.objects.select_related("user").get(issuer=issuer, subject=subject)
    return identity


def unlink_identity(*, by: Any, identity: OidcIdentity) -> None:
    """Remove a provider account's link (the person's own, or by an operator), audited: that
    account no longer signs anyone in until it is linked again by a verified email."""
    with transaction.atomic():
        locked = OidcIdentity.objects.select_for_update().filter(pk=identity.pk).first()
        if locked is None:
            raise AccountsError("That sign-in account is no longer linked.")
        if not _is_self_or_operator(by, locked.user_id):
            raise PermissionDenied("Only the person may remove their own linked account.")
        audit.record(
            by=by,
            action="accounts.oidc_identity_unlinked",
            obj=locked,
            before=identity_snapshot(locked),
            after=None,
        )
        locked.delete()


def identity_snapshot(identity: OidcIdentity) -> dict[str, Any]:
    return {"user": identity.user_id, "issuer": identity.issuer, "subject": identity.subject}


# ------------------------------------------------------------------ the second factor (ADR 0031)

#: Recovery codes issued at a time: each signs in once, in place of the app's code.
RECOVERY_CODES = 10

#: What the person's devices are called on their account page.
AUTHENTICATOR = "Authenticator app"
RECOVERY = "Recovery codes"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def authenticator_snapshot(device: TOTPDevice) -> dict[str, Any]:
    """What the audit record keeps of an authenticator: whose, confirmed or not, and the key's
    SHA-256 (never the key), so that a key swapped in the database is seen."""
    return {
        "user": device.user_id,
        "confirmed": device.confirmed,
        "key_sha256": _sha256(device.key),
    }


def recovery_snapshot(device: StaticDevice) -> dict[str, Any]:
    """Whose, and how many codes are left with the SHA-256 of them all (never the codes)."""
    codes = sorted(device.token_set.values_list("token", flat=True))
    return {
        "user": device.user_id,
        "confirmed": device.confirmed,
        "codes_left": len(codes),
        "codes_sha256": _sha256(" ".join(codes)),
    }


def _is_self_or_operator(by: Any, user_id: int) -> bool:
    """The person themselves, or the platform's operator at the command line (a system
    principal: only someone with the server's shell can act as one)."""
    if isinstance(by, Principal):
        return by.user is None and by.token_id is None and by.label.startswith("system:")
    return getattr(by, "pk", None) == user_id


def _remove_devices(by: Any, devices: Any) -> int:
    removed = 0
    for device in devices:
        if isinstance(device, TOTPDevice):
            before, action = authenticator_snapshot(device), "accounts.authenticator_removed"
        else:
            before, action = recovery_snapshot(device), "accounts.recovery_codes_removed"
        audit.record(by=by, action=action, obj=device, before=before, after=None)
        device.delete()
        removed += 1
    return removed


def _normal_code(code: str) -> str:
    """A code as typed ("123 456", "abcd-efgh") as stored: no spaces or hyphens, lower case."""
    return "".join(ch for ch in code if ch not in " -\t").lower()


def _refusal(device: Any, code: str) -> str:
    """Why `code` cannot be tried on `device` now ("" when it can)."""
    if not code:
        return "Enter the 6-digit code your authenticator app shows now."
    allowed, data = device.verify_is_allowed()
    if not allowed:
        wait = max(1, int((data["locked_until"] - timezone.now()).total_seconds()) + 1)
        return (
            f"Too many wrong codes in a row. Wait {wait} second{'s' if wait != 1 else ''}, "
            "then enter the code your app shows then."
        )
    return ""


def _new_recovery_codes(by: Any) -> list[str]:
    """Replace the person's recovery codes with new ones; the codes, to be shown once."""
    _remove_devices(by, list(StaticDevice.objects.select_for_update().filter(user=by)))
    device = StaticDevice.objects.create(user=by, name=RECOVERY, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
    audit.record(
        by=by,
        action="accounts.recovery_codes_issued",
        obj=device,
        after=recovery_snapshot(device),
    )
    return [f"{c[:4]}-{c[4:]}" for c in codes]


def new_authenticator_key() -> str:
    """A new random key for an authenticator app (160 bits, as hex), to be shown to the person
    and kept in their session until the app's first code proves it holds it."""
    return random_hex(20)


def authenticator_secret(key: str) -> str:
    """The key as an authenticator app takes it typed in: base 32, without padding."""
    return b32encode(unhexlify(key)).decode().rstrip("=")


def authenticator_uri(*, user: Any, key: str) -> str:
    """The otpauth:// address an app reads from the QR code: the key, our name, the account."""
    label = quote(f"{settings.OTP_TOTP_ISSUER}:{user.get_username()}")
    secret = authenticator_secret(key)
    issuer = quote(settings.OTP_TOTP_ISSUER)
    return f"otpauth://totp/{label}?secret={secret}&issuer={issuer}&digits=6&period=30"


def add_authenticator(*, by: Any, key: str, code: str) -> tuple[TOTPDevice, list[str]]:
    """Add the authenticator app holding `key`, once its code shows it does: it replaces the
    person's earlier app (if any), and new recovery codes replace the old. Returns the device
    and the recovery codes, which are shown once and never again.

    Nothing is stored until the code is right: the key waits in the person's session."""
    code = _normal_code(code)
    if not code:
        raise AccountsError("Enter the 6-digit code your authenticator app shows now.", "code")
    totp = TOTP(unhexlify(key))
    if not code.isdigit() or not totp.verify(int(code), tolerance=1):
        raise AccountsError(
            "That code is not the one your app shows for this key. Check that you added the "
            "key shown here and that your phone's clock is right, then enter the newest code.",
            "code",
        )
    with transaction.atomic():
        earlier = TOTPDevice.objects.select_for_update().filter(user=by)
        _remove_devices(by, list(earlier))
        device = TOTPDevice.objects.create(
            user=by, name=AUTHENTICATOR, key=key, confirmed=True, last_t=totp.t()
        )
        audit.record(
            by=by,
            action="accounts.authenticator_added",
            obj=device,
            after=authenticator_snapshot(device),
        )
        codes = _new_recovery_codes(by)
    return device, codes


def new_recovery_codes(*, by: Any) -> list[str]:
    """New recovery codes for a person with an authenticator, the old ones no longer valid."""
    with transaction.atomic():
        if not TOTPDevice.objects.filter(user=by, confirmed=True).exists():
            raise AccountsError("Set up an authenticator app first.")
        return _new_recovery_codes(by)


def pass_second_factor(*, by: Any, code: str) -> Any:
    """Check a code from the person's authenticator app, or one of their recovery codes (which
    is then used up, audited). Returns the device that matched, for the session to remember.

    A wrong code is refused with the reason; each wrong code doubles the wait before the next
    may be tried (django-otp's throttle), counted even though the refusal is an error."""
    code = _normal_code(code)
    device: Any = None
    with transaction.atomic():
        if code.isdigit() or not code:
            device = (
                TOTPDevice.objects.select_for_update()
                .filter(user=by, confirmed=True)
                .order_by("-pk")
                .first()
            )
            wrong = "That code is not right. Enter the newest code your authenticator app shows."
        else:
            device = StaticDevice.objects.select_for_update().filter(user=by).first()
            wrong = "That recovery code is not right, or has been used already."
        if device is None:
            refusal = "You have no authenticator app set up."
        else:
            refusal = _refusal(device, code)
        if not refusal:
            before = recovery_snapshot(device) if isinstance(device, StaticDevice) else None
            if not device.verify_token(code):
                refusal = wrong
            elif before is not None:
                audit.record(
                    by=by,
                    action="accounts.recovery_code_used",
                    obj=device,
                    before=before,
                    after=recovery_snapshot(device),
                )
    if refusal:
        raise AccountsError(refusal, "code")
    return device


def remove_second_factor(*, by: Any, user: Any, reason: str = "") -> int:
    """Remove a person's authenticator and recovery codes, audited: by the person (who is not
    required to keep one), or by an operator from the command line, with a reason, for someone
    who lost both their phone and their codes. An admin is then asked to set up a new app at
    their next sign-in. Returns how many devices were removed."""
    if not _is_self_or_operator(by, user.pk):
        raise PermissionDenied("Only the person, or an operator, may remove a second factor.")
    with transaction.atomic():
        devices = [
            *TOTPDevice.objects.select_for_update().filter(user=user),
            *StaticDevice.objects.select_for_update().filter(user=user),
        ]
        removed = _remove_devices(by, devices)
        if removed:
            audit.record(
                by=by,
                action="accounts.second_factor_removed",
                obj=user,
                after={"devices": removed, "reason": reason},
            )
        return removed
