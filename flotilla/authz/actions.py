"""Every write to API tokens goes through here: one transaction each, audited."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from flotilla.audit import actions as audit
from flotilla.authz.checks import can
from flotilla.authz.models import ApiToken, TokenScope
from flotilla.authz.permissions import Perm
from flotilla.registry.models import Organisation

#: Every secret starts with this, so that leaked tokens are easy to recognise and scan for.
SECRET_PREFIX = "flt_"
#: How stale `last_used_at` may get before a request writes it again.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _snapshot(token: ApiToken) -> dict[str, Any]:
    return {
        "organisation": token.organisation_id,
        "name": token.name,
        "scope": token.scope,
        "prefix": token.prefix,
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
            after=_snapshot(token),
        )
    return token, secret


def revoke_token(*, by: Any, token: ApiToken) -> ApiToken:
    """Stop a token working from now on. Revoking a revoked token changes nothing."""
    _require_manage(by, token.organisation)
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is not None:
            return token
        before = _snapshot(token)
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(
            by=by,
            action="authz.token_revoked",
            obj=token,
            organisation_id=token.organisation_id,
            before=before,
            after=_snapshot(token),
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
