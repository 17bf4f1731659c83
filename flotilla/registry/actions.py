"""Every write to the registry goes through here: one transaction each, audited."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from flotilla.audit import actions as audit
from flotilla.audit.principals import as_principal
from flotilla.registry.models import (
    Collaborative,
    CollaborativeMembership,
    Invitation,
    InvitationStatus,
    Membership,
    Organisation,
    RagThreshold,
    Role,
)
from flotilla.registry.thresholds import STANDARD_THRESHOLDS
from flotilla.sharing import actions as sharing


class RegistryError(Exception):
    """A registry change that cannot be made, with the reason in words."""


def _membership_snapshot(m: CollaborativeMembership) -> dict[str, Any]:
    return {
        "collaborative": m.collaborative_id,
        "organisation": m.organisation_id,
        "joined_at": m.joined_at.isoformat(),
        "left_at": m.left_at.isoformat() if m.left_at else None,
    }


def create_collaborative(
    *,
    by: Any,
    organisation: Organisation,
    name: str,
    purpose: str,
    reporting_interval_hours: int = 4,
    slug: str = "",
) -> Collaborative:
    """Create a collaborative with the creating organisation as its first member.

    `slug` (optional) fixes the start of its address; otherwise it comes from the name.
    """
    name, purpose = name.strip(), purpose.strip()
    if not name:
        raise RegistryError("Enter a name for the collaborative")
    if not purpose:
        raise RegistryError("Enter the shared purpose, in a sentence")
    base = slugify(slug or name)[:70] or "collaborative"
    with transaction.atomic():
        slug, n = base, 1
        while Collaborative.objects.filter(slug=slug).exists():
            n += 1
            slug = f"{base}-{n}"
        collab = Collaborative.objects.create(
            name=name,
            slug=slug,
            purpose=purpose,
            created_by_organisation=organisation,
            reporting_interval_hours=reporting_interval_hours,
        )
        RagThreshold.objects.bulk_create(
            RagThreshold(collaborative=collab, indicator=k, amber=a, red=r)
            for k, (a, r) in STANDARD_THRESHOLDS.items()
        )
        membership = CollaborativeMembership.objects.create(
            collaborative=collab, organisation=organisation, joined_at=timezone.now()
        )
        sharing.open_by_default(by=by, membership=membership)
        audit.record(
            by=by,
            action="registry.collaborative_created",
            obj=collab,
            organisation_id=organisation.pk,
            after={
                "name": name,
                "purpose": purpose,
                "reporting_interval_hours": reporting_interval_hours,
                "first_member": _membership_snapshot(membership),
            },
        )
    return collab


def update_collaborative(
    *,
    by: Any,
    collaborative: Collaborative,
    thresholds: dict[str, tuple[float, float]],
    reporting_interval_hours: int,
) -> None:
    """Change a collaborative's reporting interval and RAG thresholds."""
    for indicator, (amber, red) in thresholds.items():
        if indicator not in STANDARD_THRESHOLDS:
            raise RegistryError(f"Unknown indicator {indicator!r}")
        if red < amber:
            raise RegistryError(f"{indicator}: red must be at or above amber")
    if not 1 <= reporting_interval_hours <= 168:
        raise RegistryError("The reporting interval must be between 1 and 168 hours")
    with transaction.atomic():
        collab = Collaborative.objects.select_for_update().get(pk=collaborative.pk)
        before = {
            "reporting_interval_hours": collab.reporting_interval_hours,
            "thresholds": {t.indicator: [t.amber, t.red] for t in collab.thresholds.all()},
        }
        collab.reporting_interval_hours = reporting_interval_hours
        collab.save(update_fields=["reporting_interval_hours"])
        for indicator, (amber, red) in thresholds.items():
            RagThreshold.objects.update_or_create(
                collaborative=collab, indicator=indicator, defaults={"amber": amber, "red": red}
            )
        after = {
            "reporting_interval_hours": reporting_interval_hours,
            "thresholds": {t.indicator: [t.amber, t.red] for t in collab.thresholds.all()},
        }
        audit.record(
            by=by, action="registry.collaborative_updated", obj=collab, before=before, after=after
        )


def invite(*, by: Any, collaborative: Collaborative, organisation: Organisation) -> Invitation:
    """Invite an organisation to join; its admin accepts in one step."""
    with transaction.atomic():
        if CollaborativeMembership.objects.filter(
            collaborative=collaborative, organisation=organisation, left_at__isnull=True
        ).exists():
            raise RegistryError(f"{organisation.name} is already a member")
        if Invitation.objects.filter(
            collaborative=collaborative, organisation=organisation, status=InvitationStatus.PENDING
        ).exists():
            raise RegistryError(f"{organisation.name} already has an invitation waiting")
        if organisation.is_retired:
            raise RegistryError(f"{organisation.code} is a retired code; invite its successor")
        inv = Invitation.objects.create(
            collaborative=collaborative, organisation=organisation, invited_by=by
        )
        audit.record(
            by=by,
            action="registry.invited",
            obj=inv,
            organisation_id=organisation.pk,
            after={"collaborative": collaborative.pk, "organisation": organisation.pk},
        )
    return inv


def respond(*, by: Any, invitation: Invitation, accept: bool) -> CollaborativeMembership | None:
    """Accept or decline an invitation. Accepting makes the organisation a member at once."""
    with transaction.atomic():
        inv = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if inv.status != InvitationStatus.PENDING:
            raise RegistryError(f"This invitation is already {inv.get_status_display().lower()}")
        inv.status = InvitationStatus.ACCEPTED if accept else InvitationStatus.DECLINED
        inv.responded_by = as_principal(by).user
        inv.responded_at = timezone.now()
        inv.save(update_fields=["status", "responded_by", "responded_at"])
        membership = None
        if accept:
            membership = CollaborativeMembership.objects.create(
                collaborative_id=inv.collaborative_id,
                organisation_id=inv.organisation_id,
                joined_at=inv.responded_at,
            )
            sharing.open_by_default(by=by, membership=membership)
        audit.record(
            by=by,
            action="registry.invitation_accepted" if accept else "registry.invitation_declined",
            obj=inv,
            organisation_id=inv.organisation_id,
            before={"status": InvitationStatus.PENDING},
            after={
                "status": inv.status,
                "membership": _membership_snapshot(membership) if membership else None,
            },
        )
    return membership


def leave(*, by: Any, collaborative: Collaborative, organisation: Organisation) -> None:
    """An organisation leaves; from the next request the others no longer see its data."""
    with transaction.atomic():
        m = (
            CollaborativeMembership.objects.select_for_update()
            .filter(collaborative=collaborative, organisation=organisation, left_at__isnull=True)
            .first()
        )
        if m is None:
            raise RegistryError(f"{organisation.name} is not a member")
        before = _membership_snapshot(m)
        m.left_at = timezone.now()
        m.save(update_fields=["left_at"])
        sharing.end_on_leaving(by=by, membership=m)
        audit.record(
            by=by,
            action="registry.left",
            obj=m,
            organisation_id=organisation.pk,
            before=before,
            after=_membership_snapshot(m),
        )


def set_membership(*, by: Any, user: Any, organisation: Organisation, role: str) -> Membership:
    """Give a person a role in an organisation (or change it)."""
    if role not in Role.values:
        raise RegistryError(f"Unknown role {role!r}")
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
            action="registry.membership_set",
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
            action="registry.user_created",
            obj=user,
            after={"username": username, "email": email},
        )
    return user


def _org_snapshot(o: Organisation) -> dict[str, Any]:
    return {
        "code": o.code,
        "name": o.name,
        "kind": o.kind,
        "region": o.region_id,
        "ics": o.ics_id,
        "postcode": o.postcode,
        "latitude": o.latitude,
        "longitude": o.longitude,
        "successor": o.successor_id,
        "closed_on": o.closed_on.isoformat() if o.closed_on else None,
    }


def register_organisation(
    *, by: Any, code: str, name: str, kind: str, **fields: Any
) -> Organisation:
    """Create an organisation, or bring an existing one with this code up to date.

    Returns the organisation; writes an audit event only when something changed.
    """
    code = code.strip().upper()
    if not code:
        raise RegistryError("An organisation needs a code")
    with transaction.atomic():
        org = Organisation.objects.select_for_update().filter(code=code).first()
        values = {"name": name, "kind": kind, **fields}
        if org is None:
            org = Organisation.objects.create(code=code, **values)
            audit.record(
                by=by,
                action="registry.organisation_registered",
                obj=org,
                organisation_id=org.pk,
                after=_org_snapshot(org),
            )
            return org
        before = _org_snapshot(org)
        for k, v in values.items():
            setattr(org, k, v)
        after = _org_snapshot(org)
        if after != before:
            org.save()
            audit.record(
                by=by,
                action="registry.organisation_updated",
                obj=org,
                organisation_id=org.pk,
                before=before,
                after=after,
            )
    return org


def register_site(
    *, by: Any, code: str, name: str, organisation: Organisation, **fields: Any
) -> Any:
    """Create a site, or bring an existing one with this code up to date."""
    from flotilla.registry.models import Site

    code = code.strip().upper()
    with transaction.atomic():
        site = Site.objects.select_for_update().filter(code=code).first()
        values = {"name": name, "organisation": organisation, **fields}

        def snap(s: Site) -> dict[str, Any]:
            return {
                "code": s.code,
                "name": s.name,
                "organisation": s.organisation_id,
                "postcode": s.postcode,
                "latitude": s.latitude,
                "longitude": s.longitude,
            }

        if site is None:
            site = Site.objects.create(code=code, **values)
            audit.record(
                by=by,
                action="registry.site_registered",
                obj=site,
                organisation_id=organisation.pk,
                after=snap(site),
            )
            return site
        before = snap(site)
        for k, v in values.items():
            setattr(site, k, v)
        if snap(site) != before:
            site.save()
            audit.record(
                by=by,
                action="registry.site_updated",
                obj=site,
                organisation_id=organisation.pk,
                before=before,
                after=snap(site),
            )
    return site
