"""Every write to collaboratives (founding, invitations, membership, settings, surge) goes
through here: one transaction each, audited."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from flotilla.audit import actions as audit
from flotilla.audit.principals import as_principal
from flotilla.authz.checks import can, people_with
from flotilla.authz.models import Membership, Role
from flotilla.authz.permissions import Perm
from flotilla.collaboratives import events
from flotilla.collaboratives.models import (
    SURGE_LEVELS,
    AidReach,
    Collaborative,
    CollaborativeMembership,
    Invitation,
    InvitationStatus,
    InvitePolicy,
    RagThreshold,
    SurgeSwitch,
)
from flotilla.collaboratives.thresholds import STANDARD_THRESHOLDS
from flotilla.formatting import plural
from flotilla.notifications import actions as notifications
from flotilla.organisations.models import Organisation


class CollaborativeError(Exception):
    """A change to a collaborative that cannot be made, with the reason in words."""


#: The roles that may run a collaborative day to day (those `authz` grants
#: MANAGE_COLLABORATIVE; a test holds the two together).
MANAGING_ROLES = (Role.COORDINATOR, Role.ORG_ADMIN)


def _manages_for(user: Any, organisation_id: int) -> bool:
    return Membership.objects.filter(
        user=user, organisation_id=organisation_id, role__in=MANAGING_ROLES
    ).exists()


def _founder_is_member(collab: Collaborative) -> bool:
    return CollaborativeMembership.objects.filter(
        collaborative=collab,
        organisation_id=collab.created_by_organisation_id,
        left_at__isnull=True,
    ).exists()


def why_cannot_invite(*, by: Any, collaborative: Collaborative) -> str:
    """The sentence saying why `by` may not invite into `collaborative` under its setting, or "".

    Only the collaborative's own rule is checked here (who may invite); whether `by` manages
    the collaborative at all is for `authz`. The platform (no person) may always invite.
    """
    user = as_principal(by).user
    if collaborative.invite_policy != InvitePolicy.FOUNDER_ONLY or user is None:
        return ""
    if _manages_for(user, collaborative.created_by_organisation_id):
        return ""
    founder = collaborative.created_by_organisation
    return (
        f"In {collaborative.name} only coordinators of {founder.name}, which started it, may "
        "invite organisations. Ask one of them to send the invitation."
    )


def _tell_other_members(
    *, by: Any, collaborative: Collaborative, about: Organisation, kind: str, sentence: str
) -> None:
    """Tell every other active member organisation: its admins in the inbox (and by email),
    each with a link to their organisation's "who can see our data" page, and its webhooks
    subscribed to `kind`. Runs inside the caller's transaction."""
    others = (
        CollaborativeMembership.objects.filter(collaborative=collaborative, left_at__isnull=True)
        .exclude(organisation=about)
        .select_related("organisation")
        .order_by("organisation__name")
    )
    admins = Membership.objects.filter(
        organisation_id__in=others.values("organisation_id"), role=Role.ORG_ADMIN
    ).select_related("user")
    actor = as_principal(by).user
    people: dict[int, list[Any]] = defaultdict(list)
    for m in admins.order_by("user__username"):
        if actor is None or m.user_id != actor.pk:
            people[m.organisation_id].append(m.user)
    for member in others:
        org = member.organisation
        notifications.notify(
            by=by,
            recipients=people[org.pk],
            text=sentence,
            link=reverse("sharing:who_can_see", args=[org.code]),
            organisation=org,
            kind=kind,
            data={"collaborative": collaborative.slug, "organisation": about.code},
        )


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
        raise CollaborativeError("Enter a name for the collaborative")
    if not purpose:
        raise CollaborativeError("Enter the shared purpose, in a sentence")
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
        events.member_joined.send(sender=CollaborativeMembership, by=by, membership=membership)
        audit.record(
            by=by,
            action="collaboratives.collaborative_created",
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
    invite_policy: str | None = None,
    aid_widen_after_minutes: int | None = None,
) -> None:
    """Change a collaborative's reporting interval, RAG thresholds, who may invite and how
    long an unmet request for aid waits before its audience widens.

    `invite_policy` or `aid_widen_after_minutes` None leaves it as it is. While the founding
    organisation is a member, only its coordinators and admins may change who may invite
    (otherwise a setting that keeps inviting to the founder could be undone by anyone it
    keeps out).
    """
    if invite_policy is not None and invite_policy not in InvitePolicy.values:
        raise CollaborativeError("Choose who may invite organisations")
    for indicator, (amber, red) in thresholds.items():
        if indicator not in STANDARD_THRESHOLDS:
            raise CollaborativeError(f"Unknown indicator {indicator!r}")
        if red < amber:
            raise CollaborativeError(f"{indicator}: red must be at or above amber")
    if not 1 <= reporting_interval_hours <= 168:
        raise CollaborativeError("The reporting interval must be between 1 and 168 hours")
    if aid_widen_after_minutes is not None and not 15 <= aid_widen_after_minutes <= 1440:
        raise CollaborativeError(
            "An unmet request must wait between 15 and 1440 minutes before it is shown wider"
        )
    with transaction.atomic():
        collab = Collaborative.objects.select_for_update().get(pk=collaborative.pk)
        if reporting_interval_hours < collab.surge_reporting_interval_hours:
            raise CollaborativeError(
                f"Members report every {collab.surge_reporting_interval_hours} hours in surge, "
                "and the usual interval cannot be shorter than that: shorten the surge interval "
                "first"
            )
        before = {
            "reporting_interval_hours": collab.reporting_interval_hours,
            "invite_policy": collab.invite_policy,
            "aid_widen_after_minutes": collab.aid_widen_after_minutes,
            "thresholds": {t.indicator: [t.amber, t.red] for t in collab.thresholds.all()},
        }
        if aid_widen_after_minutes is not None:
            collab.aid_widen_after_minutes = aid_widen_after_minutes
        if invite_policy is not None and invite_policy != collab.invite_policy:
            if not may_set_invite_policy(by=by, collaborative=collab):
                raise CollaborativeError(
                    f"Only coordinators of {collab.created_by_organisation.name}, which started "
                    f"{collab.name}, may change who may invite organisations"
                )
            collab.invite_policy = invite_policy
        collab.reporting_interval_hours = reporting_interval_hours
        collab.save(
            update_fields=["reporting_interval_hours", "invite_policy", "aid_widen_after_minutes"]
        )
        for indicator, (amber, red) in thresholds.items():
            RagThreshold.objects.update_or_create(
                collaborative=collab, indicator=indicator, defaults={"amber": amber, "red": red}
            )
        after = {
            "reporting_interval_hours": reporting_interval_hours,
            "invite_policy": collab.invite_policy,
            "aid_widen_after_minutes": collab.aid_widen_after_minutes,
            "thresholds": {t.indicator: [t.amber, t.red] for t in collab.thresholds.all()},
        }
        audit.record(
            by=by,
            action="collaboratives.collaborative_updated",
            obj=collab,
            before=before,
            after=after,
        )


def may_set_invite_policy(*, by: Any, collaborative: Collaborative) -> bool:
    """True if `by` may change who may invite into `collaborative` (see update_collaborative)."""
    user = as_principal(by).user
    if user is None or not _founder_is_member(collaborative):
        return True
    return _manages_for(user, collaborative.created_by_organisation_id)


def invite(*, by: Any, collaborative: Collaborative, organisation: Organisation) -> Invitation:
    """Invite an organisation to join; its admin accepts in one step.

    Refused, with the reason, when the collaborative lets only its founding organisation's
    coordinators invite and `by` is not one of them.
    """
    with transaction.atomic():
        collaborative = Collaborative.objects.select_related("created_by_organisation").get(
            pk=collaborative.pk
        )
        refusal = why_cannot_invite(by=by, collaborative=collaborative)
        if refusal:
            raise CollaborativeError(refusal)
        if CollaborativeMembership.objects.filter(
            collaborative=collaborative, organisation=organisation, left_at__isnull=True
        ).exists():
            raise CollaborativeError(f"{organisation.name} is already a member")
        if Invitation.objects.filter(
            collaborative=collaborative, organisation=organisation, status=InvitationStatus.PENDING
        ).exists():
            raise CollaborativeError(f"{organisation.name} already has an invitation waiting")
        if organisation.is_retired:
            raise CollaborativeError(f"{organisation.code} is a retired code; invite its successor")
        inv = Invitation.objects.create(
            collaborative=collaborative, organisation=organisation, invited_by=by
        )
        audit.record(
            by=by,
            action="collaboratives.invited",
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
            raise CollaborativeError(
                f"This invitation is already {inv.get_status_display().lower()}"
            )
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
            events.member_joined.send(sender=CollaborativeMembership, by=by, membership=membership)
            collab, org = inv.collaborative, inv.organisation
            _tell_other_members(
                by=by,
                collaborative=collab,
                about=org,
                kind="collaborative.member_joined",
                sentence=f"{org.name} joined {collab.name}. It will see your data under your "
                f"grant to {collab.name}.",
            )
        audit.record(
            by=by,
            action="collaboratives.invitation_accepted"
            if accept
            else "collaboratives.invitation_declined",
            obj=inv,
            organisation_id=inv.organisation_id,
            before={"status": InvitationStatus.PENDING},
            after={
                "status": inv.status,
                "membership": _membership_snapshot(membership) if membership else None,
            },
        )
    return membership


def why_cannot_leave(*, collaborative: Collaborative, organisation: Organisation) -> str:
    """The sentence saying why `organisation` may not leave `collaborative` now, or "".

    Leaving is refused while the members that would stay have nobody to run the
    collaborative (no coordinator and no organisation admin). The last member may leave.
    """
    remaining = CollaborativeMembership.objects.filter(
        collaborative=collaborative, left_at__isnull=True
    ).exclude(organisation=organisation)
    if not remaining.exists():
        return ""
    if Membership.objects.filter(
        organisation_id__in=remaining.values("organisation_id"), role__in=MANAGING_ROLES
    ).exists():
        return ""
    return (
        f"{organisation.name} cannot leave {collaborative.name} yet: no other member has a "
        "coordinator or an organisation admin, so nobody would be left to run it. Ask another "
        "member organisation's admin to give someone the coordinator role first."
    )


def leave(*, by: Any, collaborative: Collaborative, organisation: Organisation) -> None:
    """An organisation leaves; from the next request the others no longer see its data.

    Refused, under a lock on the collaborative, for the reason `why_cannot_leave` gives. The
    other members' admins are told in their inbox.
    """
    with transaction.atomic():
        # One leaver at a time per collaborative, so two members cannot each leave counting on
        # the other's coordinators.
        collaborative = Collaborative.objects.select_for_update().get(pk=collaborative.pk)
        m = (
            CollaborativeMembership.objects.select_for_update()
            .filter(collaborative=collaborative, organisation=organisation, left_at__isnull=True)
            .first()
        )
        if m is None:
            raise CollaborativeError(f"{organisation.name} is not a member")
        refusal = why_cannot_leave(collaborative=collaborative, organisation=organisation)
        if refusal:
            raise CollaborativeError(refusal)
        audit.change(
            by=by,
            obj=m,
            action="collaboratives.left",
            snapshot=_membership_snapshot,
            changes={"left_at": timezone.now()},
            organisation_id=organisation.pk,
        )
        events.member_left.send(sender=CollaborativeMembership, by=by, membership=m)
        _tell_other_members(
            by=by,
            collaborative=collaborative,
            about=organisation,
            kind="collaborative.member_left",
            sentence=f"{organisation.name} left {collaborative.name}. It no longer sees your "
            f"data through {collaborative.name}, and you no longer see its data there.",
        )


# ------------------------------------------------------------------ surge


class SurgeInvalid(CollaborativeError):
    """Surge settings or a switch that cannot be made: `errors` maps each field to its
    sentence (the form fields of the surge page have the same names)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(" ".join(errors.values()))
        self.errors = errors


def _require_surge_manager(by: Any, collaborative: Collaborative) -> None:
    """A person needs the permission that guards the collaborative's settings; the platform
    (the escalation app's automatic switch, a command) may act for any collaborative; an API
    token may not."""
    principal = as_principal(by)
    if principal.user is None and principal.token_id is None:
        return
    if principal.user is None or not can(principal.user, Perm.MANAGE_COLLABORATIVE, collaborative):
        raise PermissionDenied(f"You may not run surge mode for {collaborative.name}")


def _member_people_ids(collaborative: Collaborative) -> set[int]:
    active_ids = CollaborativeMembership.objects.filter(
        collaborative=collaborative, left_at__isnull=True
    ).values("organisation_id")
    return set(
        Membership.objects.filter(organisation_id__in=active_ids).values_list("user_id", flat=True)
    )


def _surge_settings_snapshot(c: Collaborative) -> dict[str, Any]:
    return {
        "surge_level": c.surge_level,
        "surge_automatic": c.surge_automatic,
        "surge_reporting_interval_hours": c.surge_reporting_interval_hours,
        "surge_aid_reach": c.surge_aid_reach,
        "surge_notify": sorted(c.surge_notify.values_list("pk", flat=True)),
    }


def update_surge_settings(
    *,
    by: Any,
    collaborative: Collaborative,
    level: int,
    automatic: bool,
    reporting_interval_hours: int,
    aid_reach: int,
    notify: Iterable[Any] = (),
) -> Collaborative:
    """Set how `collaborative` works in surge: the system level at which surge applies,
    whether it switches on and off by itself, how often members report in surge (never less
    often than usual), who new requests for aid are shown to first, and the people (of member
    organisations) told when it starts or ends, besides the members' coordinators.

    Refused with `SurgeInvalid` naming each field at fault; nothing is written or recorded
    when nothing changes. Changing the settings does not switch surge on or off.
    """
    _require_surge_manager(by, collaborative)
    people = list({p.pk: p for p in notify}.values())
    errors: dict[str, str] = {}
    if level not in SURGE_LEVELS:
        errors["surge_level"] = "Choose the system level at which surge applies: 2, 3 or 4"
    if not 1 <= reporting_interval_hours <= 168:
        errors["surge_reporting_interval_hours"] = (
            "The surge reporting interval must be between 1 and 168 hours"
        )
    if aid_reach not in AidReach.values:
        errors["surge_aid_reach"] = "Choose who new requests for aid are shown to in surge"
    with transaction.atomic():
        collab = Collaborative.objects.select_for_update().get(pk=collaborative.pk)
        if (
            "surge_reporting_interval_hours" not in errors
            and reporting_interval_hours > collab.reporting_interval_hours
        ):
            usual = collab.reporting_interval_hours
            errors["surge_reporting_interval_hours"] = (
                f"In surge members must report at least as often as usual (every {usual} "
                f"hours): enter {usual} hours or fewer"
            )
        allowed = _member_people_ids(collab)
        outside = [p for p in people if p.pk not in allowed]
        if outside:
            names = ", ".join(sorted(p.get_username() for p in outside))
            errors["surge_notify"] = (
                f"Only people of {collab.name}'s member organisations can be told of surge, "
                f"not {names}"
            )
        if errors:
            raise SurgeInvalid(errors)
        before = _surge_settings_snapshot(collab)
        collab.surge_level = level
        collab.surge_automatic = automatic
        collab.surge_reporting_interval_hours = reporting_interval_hours
        collab.surge_aid_reach = aid_reach
        collab.save(
            update_fields=[
                "surge_level",
                "surge_automatic",
                "surge_reporting_interval_hours",
                "surge_aid_reach",
            ]
        )
        collab.surge_notify.set(people)
        after = _surge_settings_snapshot(collab)
        if after != before:
            audit.record(
                by=by,
                action="collaboratives.surge_settings_updated",
                obj=collab,
                before=before,
                after=after,
            )
    for name, value in after.items():
        if name != "surge_notify":
            setattr(collaborative, name, value)
    return collab


def _surge_state(c: Collaborative) -> dict[str, Any]:
    return {
        "surge_since": c.surge_since.isoformat() if c.surge_since else None,
        "surge_switched_automatically": c.surge_switched_automatically,
    }


def surge_sentence(collaborative: Collaborative, switch: SurgeSwitch) -> str:
    """What people are told of a switch, in one sentence or two (a long reason is cut)."""
    how = (
        f"automatically, at system level {switch.level}"
        if switch.automatic and switch.level is not None
        else "automatically"
        if switch.automatic
        else f"by {switch.by_label}"
    )
    reason = switch.reason if len(switch.reason) <= 200 else switch.reason[:199] + "…"
    if switch.on:
        reach = AidReach(collaborative.surge_aid_reach).label
        every = plural(collaborative.surge_reporting_interval_hours, "hour")
        return (
            f"{collaborative.name} is in surge, switched on {how}. Members now report every "
            f"{every}, and new requests for aid are shown first to: {reach.lower()}. "
            f"Reason: {reason}"
        )
    return (
        f"{collaborative.name} is out of surge, switched off {how}. Members report every "
        f"{plural(collaborative.reporting_interval_hours, 'hour')} again. Reason: {reason}"
    )


def _tell_of_surge(*, by: Any, collaborative: Collaborative, switch: SurgeSwitch) -> None:
    """Tell each member organisation's coordinators (and admins, who count as coordinators),
    with its webhooks subscribed to the switch's kind, then the people listed to hear of
    surge who are still in a member organisation; nobody twice, and not whoever switched.
    Runs inside the switch's transaction."""
    kind = "collaborative.surge_on" if switch.on else "collaborative.surge_off"
    text = surge_sentence(collaborative, switch)
    link = reverse("collaboratives:surge", args=[collaborative.slug])
    data = {"collaborative": collaborative.slug, "surge": switch.on, "level": switch.level}
    actor = as_principal(by).user
    told: set[int] = {actor.pk} if actor is not None else set()
    members = (
        CollaborativeMembership.objects.filter(collaborative=collaborative, left_at__isnull=True)
        .select_related("organisation")
        .order_by("organisation__name")
    )
    for member in members:
        org = member.organisation
        coordinators = [
            p for p in people_with(Perm.MANAGE_COLLABORATIVE, org.pk) if p.pk not in told
        ]
        told |= {p.pk for p in coordinators}
        notifications.notify(
            by=by,
            recipients=coordinators,
            text=text,
            link=link,
            organisation=org,
            kind=kind,
            data={**data, "organisation": org.code},
        )
    still_members = _member_people_ids(collaborative)
    listed = collaborative.surge_notify.filter(pk__in=still_members).exclude(pk__in=told)
    notifications.notify(
        by=by, recipients=listed.order_by("username"), text=text, link=link, kind=kind, data=data
    )


def switch_surge(
    *,
    by: Any,
    collaborative: Collaborative,
    on: bool,
    reason: str,
    level: int | None = None,
    automatic: bool = False,
) -> SurgeSwitch | None:
    """Switch `collaborative` into surge (`on`) or out of it, with the reason, and the
    system escalation level that led to it when known; `automatic` when the platform does
    it because the level moved (see `surge_due`). The switch is kept in the surge history,
    audited with the state before and after, and told to the members' coordinators and the
    people listed to hear of surge (`_tell_of_surge`).

    Idempotent: switching on a collaborative already in surge (or off one that is not)
    changes nothing, records nothing and returns None.
    """
    _require_surge_manager(by, collaborative)
    reason = " ".join(reason.split())
    errors: dict[str, str] = {}
    if not reason:
        errors["reason"] = "Say why surge is switched " + ("on" if on else "off")
    elif len(reason) > 500:
        errors["reason"] = "Keep the reason to 500 characters or fewer"
    if level is not None and not 1 <= level <= 4:
        errors["level"] = "A system escalation level is from 1 to 4"
    if errors:
        raise SurgeInvalid(errors)
    with transaction.atomic():
        collab = Collaborative.objects.select_for_update().get(pk=collaborative.pk)
        if collab.in_surge == on:
            return None
        now = timezone.now()
        principal = as_principal(by)
        switch = SurgeSwitch.objects.create(
            collaborative=collab,
            on=on,
            at=now,
            by=principal.user,
            by_label=principal.label[:150],
            automatic=automatic,
            level=level,
            reason=reason,
        )
        audit.change(
            by=by,
            obj=collab,
            action="collaboratives.surge_on" if on else "collaboratives.surge_off",
            snapshot=_surge_state,
            changes={
                "surge_since": now if on else None,
                "surge_switched_automatically": on and automatic,
            },
            after_extra={
                "switch": switch.pk,
                "automatic": automatic,
                "level": level,
                "reason": reason,
            },
        )
        _tell_of_surge(by=by, collaborative=collab, switch=switch)
    collaborative.surge_since = collab.surge_since
    collaborative.surge_switched_automatically = collab.surge_switched_automatically
    return switch


def surge_due(*, collaborative: Collaborative, system_level: int | None) -> bool | None:
    """Whether the platform should switch `collaborative`'s surge now, as the system
    escalation level stands: True to switch it on, False to switch it off, None to leave it.
    Reads only the collaborative as given; writes nothing.

    Only a collaborative that chose automatic surge is switched. It goes into surge when the
    level reaches its surge level. It comes out only of a surge that was switched on
    automatically (one a person switched on is left for a person to end), and only once the
    level has dropped below the surge level: the hysteresis is that band, so a level that
    stays at the surge level keeps surge on, and a level unknown (None) changes nothing.
    """
    if not collaborative.surge_automatic or system_level is None:
        return None
    if not collaborative.in_surge:
        return True if system_level >= collaborative.surge_level else None
    if collaborative.surge_switched_automatically and system_level < collaborative.surge_level:
        return False
    return None
