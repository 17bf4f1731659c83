"""Every write of the escalation app: profiles, adoptions, computed levels, system levels and
the notes organisations write when their declared level differs from the computed one.

Each runs in one transaction and records an audit event in it. Levels are computed by the
`recompute_levels` job (`tasks.py`), enqueued inside the transaction of every report
(`reporting.events.report_recorded`) and by a schedule, so they never lag the figures by
more than a job's run; `recompute` is idempotent (one row per organisation, profile version
and report time).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from flotilla import opel
from flotilla.audit import actions as audit
from flotilla.audit.principals import Principal
from flotilla.authz.checks import can
from flotilla.authz.permissions import Perm
from flotilla.collaboratives import actions as collaboratives_actions
from flotilla.collaboratives.models import Collaborative, CollaborativeMembership
from flotilla.collaboratives.queries import active, members_of
from flotilla.escalation import events, queries
from flotilla.escalation.models import (
    Adoption,
    ComputedLevel,
    DifferenceNote,
    ProfileVersion,
    SystemDeclaration,
    SystemLevel,
)
from flotilla.jobs.retry import Wanted, queue_all
from flotilla.organisations.models import Organisation
from flotilla.reporting.queries import report_times
from flotilla.sharing import policy

#: Who computes levels: the platform, on the owners' behalf, from their own figures.
COMPUTER = Principal.system("escalation levels")


class EscalationError(Exception):
    """A change to escalation settings or notes that cannot be made, in a sentence."""


# Profiles -----------------------------------------------------------------------------------


def _profile_snapshot(v: ProfileVersion) -> dict[str, Any]:
    return {
        "code": v.code,
        "version": v.version,
        "label": v.label,
        "based_on": v.based_on_id,
        "collaborative": v.collaborative_id,
    }


def register_shipped(*, by: Any) -> list[ProfileVersion]:
    """Store every shipped profile version not stored yet (run after every migrate). A
    version's text never changes once stored: a shipped file edited without a new version
    number is refused, so old levels keep the profile that produced them."""
    out = []
    for profile in opel.shipped().values():
        text = queries.shipped_text(profile.code)
        with transaction.atomic():
            found = ProfileVersion.objects.filter(code=profile.code, version=profile.version)
            existing = found.first()
            if existing is not None:
                if existing.text != text:
                    raise EscalationError(
                        f"The shipped profile {profile.code} {profile.version} changed without "
                        "a new version number: give the file a new version"
                    )
                out.append(existing)
                continue
            v = ProfileVersion.objects.create(
                code=profile.code,
                version=profile.version,
                label=profile.label,
                text=text,
                created_at=timezone.now(),
            )
            audit.record(
                by=by, action="escalation.profile_registered", obj=v, after=_profile_snapshot(v)
            )
            out.append(v)
    return out


def _manages(by: Any, collaborative: Collaborative) -> None:
    if not can(by, Perm.MANAGE_COLLABORATIVE, collaborative):
        raise EscalationError("Only the collaborative's coordinators can change its profiles")


def save_variant(*, by: Any, collaborative: Collaborative, text: str) -> ProfileVersion:
    """Store a collaborative's local variant of a shipped profile (TOML text with `extends`),
    after validating it; the errors name the line. Its code and version must be new."""
    _manages(by, collaborative)
    profile = opel.load(text, name="variant", bases=opel.shipped())
    if not profile.extends:
        raise EscalationError(
            'A local variant extends a shipped profile: start it with extends = "<code>"'
        )
    # `extends` names the shipped version it was checked against ("acute 2026.1").
    code, _, version = profile.extends.partition(" ")
    base = ProfileVersion.objects.filter(
        code=code, version=version, collaborative__isnull=True
    ).first()
    if base is None:
        raise EscalationError(f"There is no shipped profile {profile.extends!r} to vary")
    try:
        with transaction.atomic():
            v = ProfileVersion.objects.create(
                code=profile.code,
                version=profile.version,
                label=profile.label,
                text=text,
                based_on=base,
                collaborative=collaborative,
                created_at=timezone.now(),
            )
            audit.record(
                by=by,
                action="escalation.variant_saved",
                obj=v,
                after={**_profile_snapshot(v), "text": text},
            )
    except IntegrityError:
        raise EscalationError(
            f"A profile {profile.code} {profile.version} exists already: give the variant "
            "a new version"
        ) from None
    return v


def adopt(
    *, by: Any, collaborative: Collaborative, organisation_kind: str, profile: ProfileVersion
) -> Adoption:
    """Score this kind of member with `profile` from now on; levels already computed keep
    the profile that produced them. A collaborative may adopt only a shipped profile or a
    variant of its own, and only for a kind the profile applies to."""
    _manages(by, collaborative)
    if profile.collaborative_id not in (None, collaborative.pk):
        raise EscalationError("That profile is another collaborative's variant")
    if organisation_kind not in queries.loaded(profile).applies_to:
        raise EscalationError(f"{profile} does not score organisations of kind {organisation_kind}")
    now = timezone.now()
    with transaction.atomic():
        current = (
            Adoption.objects.select_for_update()
            .filter(collaborative=collaborative, organisation_kind=organisation_kind, ended_at=None)
            .first()
        )
        if current is not None and current.profile_id == profile.pk:
            return current
        if current is not None:
            current.ended_at = now
            current.save(update_fields=["ended_at"])
        adoption = Adoption.objects.create(
            collaborative=collaborative,
            organisation_kind=organisation_kind,
            profile=profile,
            adopted_at=now,
        )
        audit.record(
            by=by,
            action="escalation.profile_adopted",
            obj=collaborative,
            before={"profile": current.profile_id} if current else None,
            after={"kind": organisation_kind, "profile": profile.pk, "label": str(profile)},
        )
        # The members' next levels use it: queued in the adoption's transaction, as a
        # report queues its recompute.
        _enqueue([m.pk for m in members_of(collaborative) if m.kind == organisation_kind])
    return adoption


# Computing levels ---------------------------------------------------------------------------


def _values(
    organisation: Organisation, measures: list[str], at: datetime | None = None
) -> tuple[dict[str, float | None], datetime | None]:
    """The organisation's own figures a profile scores, and the report time of the newest."""
    own = queries.own_figures(organisation, measures, purpose="escalation levels", at=at)
    newest = max((as_of for _, as_of in own.values()), default=None)
    return {code: value for code, (value, _) in own.items()}, newest


def _explanation(result: opel.Result) -> dict[str, Any]:
    """The stored explanation: everything the result says but the profile itself (the
    level row points at the profile version that produced it)."""
    out = dataclasses.asdict(result)
    out.pop("profile", None)
    return out


def recompute(
    *, organisation: Organisation, now: datetime | None = None, at: datetime | None = None
) -> list[ComputedLevel]:
    """Compute the organisation's level under each profile that scores it, from its newest
    figures (as at `at`: None for now), and store any not stored yet, each with its audit
    event, in one transaction. Idempotent: one row per organisation, profile version and
    report time, so a retry or a second worker adds nothing."""
    with transaction.atomic(savepoint=False):
        stored, changes = _compute(organisation, now or timezone.now(), at)
        audit.record_many(by=COMPUTER, events=changes)
    return stored


def _compute(
    organisation: Organisation, now: datetime, at: datetime | None
) -> tuple[list[ComputedLevel], list[audit.Event]]:
    """`recompute`'s work inside the caller's transaction: the levels stored, and the audit
    events the caller records (in the same transaction)."""
    stored, changes = [], []
    for version in queries.profiles_of(organisation):
        profile = queries.loaded(version)
        values, as_of = _values(organisation, sorted(queries.measures_of(profile)), at)
        if as_of is None:
            continue  # nothing reported: no level, and nothing to say
        # The newest level stored up to this report time: this one (nothing to do), or the
        # one before it (what the audit event says it was).
        before = (
            ComputedLevel.objects.filter(
                organisation=organisation, profile=version, as_of__lte=as_of
            )
            .order_by("-as_of")
            .first()
        )
        if before is not None and before.as_of == as_of:
            continue
        result = opel.score(profile, values)
        try:
            with transaction.atomic():  # the one savepoint: an insert that may clash
                level = ComputedLevel.objects.create(
                    organisation=organisation,
                    profile=version,
                    as_of=as_of,
                    computed_at=now,
                    level=result.level,
                    score=result.score,
                    explanation=_explanation(result),
                )
        except IntegrityError:
            continue  # another worker stored it a moment ago
        stored.append(level)
        changes.append(
            audit.Event(
                "escalation.level_computed",
                level,
                organisation_id=organisation.pk,
                before={"level": before.level, "as_of": before.as_of.isoformat()}
                if before
                else None,
                after={
                    "level": level.level,
                    "score": level.score,
                    "profile": f"{version.code} {version.version}",
                    "as_of": as_of.isoformat(),
                },
            )
        )
    return stored, changes


def backfill(*, organisation: Organisation, since: datetime, until: datetime | None = None) -> int:
    """Compute the organisation's levels as at each moment it reported between two times,
    so that its history of computed levels starts with the history of its figures (after
    loading history, or adopting a profile). Idempotent like `recompute`."""
    until = until or timezone.now()
    measures = sorted(
        {
            m
            for v in queries.profiles_of(organisation)
            for m in queries.measures_of(queries.loaded(v))
        }
    )
    times = report_times(organisation.pk, measures, since, until)
    return sum(len(recompute(organisation=organisation, at=t)) for t in times)


def _roll(
    collaborative: Collaborative, now: datetime
) -> tuple[int | None, str, list[Any], list[Any]]:
    """The collaborative's level as a body sees its members', and who was left out, why."""
    body = policy.collaborative_body(collaborative)
    members = [m for m in members_of(collaborative) if m.kind != "commissioner"]
    by_kind = queries.profiles_for_members(collaborative, {m.kind for m in members})
    profiles = {m.pk: by_kind[m.kind] for m in members}
    seen = queries.levels_seen_by(body, members, profiles, levels_only=True)
    # Why a member has no level here is asked only when one has none (seldom).
    unseen = [m.pk for m in members if m.pk not in seen]
    shares = policy.access_map(body, unseen) if unseen else {}
    too_old = queries.stale_before(collaborative, now)
    counted, left_out = [], []
    for m in members:
        s = seen.get(m.pk)
        why = ""
        if profiles[m.pk] is None:
            why = "no profile scores its kind of organisation"
        elif s is None and not shares.get(m.pk, {}).get(queries.GROUP):
            why = "does not share its escalation level with the collaborative"
        elif s is None:
            why = "has no computed level yet"
        elif s.computed.level is None:
            why = "reported too few of the figures its profile scores"
        elif s.computed.as_of < too_old:
            why = f"its newest figures are from {s.computed.as_of:%d %b %H:%M}, too old to count"
        if why:
            left_out.append({"organisation": m.pk, "name": m.name, "why": why})
        else:
            assert s is not None
            counted.append(
                {
                    "organisation": m.pk,
                    "name": m.name,
                    "level": s.computed.level,
                    "profile": f"{s.computed.profile.code} {s.computed.profile.version}",
                }
            )
    rule_profile = _rule_profile(by_kind)
    rule = rule_profile.rollup if rule_profile is not None else opel.Rollup("highest")
    level = opel.rollup(rule, [c["level"] for c in counted])
    return level, queries.describe_rule(rule), counted, left_out


def _rule_profile(by_kind: dict[str, ProfileVersion | None]) -> opel.Profile | None:
    """Whose roll-up rule the collaborative uses: its acute-trust profile's (the framework
    rolls providers up from the acute pillar first), else the first profile in use."""
    for kind in sorted(by_kind, key=lambda k: (k != "acute", k)):
        version = by_kind[kind]
        if version is not None:
            return queries.loaded(version)
    return None


def roll_up(*, collaborative: Collaborative, now: datetime | None = None) -> SystemLevel | None:
    """Store the collaborative's system level when it (or who counts) has changed."""
    return _roll_up(collaborative, now or timezone.now(), [])


def _roll_up(
    collaborative: Collaborative, now: datetime, changes: list[audit.Event]
) -> SystemLevel | None:
    """`roll_up`, recording `changes` (the members' levels that led to it) in the same
    append to the audit chain as the system level's own event."""
    level, rule, counted, left_out = _roll(collaborative, now)
    with transaction.atomic(savepoint=False):
        locked = Collaborative.objects.select_for_update().get(pk=collaborative.pk)
        last = queries.system_level(collaborative)
        same = last is not None and (last.level, last.counted, last.left_out, last.rule) == (
            level,
            counted,
            left_out,
            rule,
        )
        row = None
        if not same:
            row = SystemLevel.objects.create(
                collaborative=collaborative,
                computed_at=now,
                level=level,
                rule=rule,
                counted=counted,
                left_out=left_out,
            )
            changes = [
                *changes,
                audit.Event(
                    "escalation.system_level_computed",
                    collaborative,
                    before={"level": last.level} if last else None,
                    after={
                        "level": level,
                        "rule": rule,
                        "counted": len(counted),
                        "left_out": [x["name"] for x in left_out],
                    },
                ),
            ]
        audit.record_many(by=COMPUTER, events=changes)
        # After the level it follows from, on the record; whether or not the level changed
        # (the collaborative may have chosen automatic surge since).
        _surge_if_due(locked, level)
    return row


def _surge_if_due(collaborative: Collaborative, level: int | None) -> None:
    """Switch the collaborative's surge settings on or off when it chose automatic surge and
    its system level says so (`collaboratives.actions.surge_due`); on the record like a
    switch by hand, in the roll-up's transaction."""
    due = collaboratives_actions.surge_due(collaborative=collaborative, system_level=level)
    if due is None:
        return
    reason = (
        f"The system level reached OPEL {level} (surge from OPEL {collaborative.surge_level})"
        if due
        else f"The system level fell to OPEL {level}, below OPEL {collaborative.surge_level}"
    )
    collaboratives_actions.switch_surge(
        by=COMPUTER,
        collaborative=collaborative,
        on=due,
        reason=reason,
        level=level,
        automatic=True,
    )


def recompute_for(
    *, organisation_ids: Iterable[int], now: datetime | None = None
) -> dict[str, Any]:
    """The job's body: each organisation's levels, then the system level of every
    collaborative they belong to; then tell whoever listens (alerts)."""
    now = now or timezone.now()
    with transaction.atomic(), queries.profiles_read_once():  # one commit for the whole job
        return _recompute_for(organisation_ids, now)


def _recompute_for(organisation_ids: Iterable[int], now: datetime) -> dict[str, Any]:
    orgs = list(Organisation.objects.filter(pk__in=set(organisation_ids)))
    computed, changes = [], []
    for org in orgs:
        stored, events_of_org = _compute(org, now, None)
        computed += stored
        changes += events_of_org
    collabs = Collaborative.objects.filter(
        pk__in=active(
            CollaborativeMembership.objects.filter(organisation_id__in=[o.pk for o in orgs])
        ).values("collaborative_id")
    )
    systems = []
    for c in collabs:
        # The levels' audit events go in the first roll-up's append: one lock of the chain.
        row = _roll_up(c, now, changes)
        changes = []
        if row is not None:
            systems.append(row)
    audit.record_many(by=COMPUTER, events=changes)  # in no collaborative
    events.levels_computed.send(
        sender=ComputedLevel,
        organisation_ids=[o.pk for o in orgs],
        computed=computed,
        system_levels=systems,
        collaborative_ids=[c.pk for c in collabs],
    )
    return {"computed": len(computed), "system_levels": len(systems)}


def _recompute(organisation_ids: list[int]) -> list[Wanted]:
    from flotilla.escalation.tasks import recompute_levels

    if not organisation_ids:
        return []
    return [Wanted(recompute_levels, kwargs={"organisation_ids": sorted(set(organisation_ids))})]


def _enqueue(organisation_ids: list[int]) -> None:
    queue_all(_recompute(organisation_ids))


def after_report(*, newest: dict[int, datetime], **_: Any) -> list[Wanted]:
    """Receiver of `reporting.events.report_recorded`: the recompute a report calls for,
    which the report queues inside its transaction, so a report rolled back queues nothing."""
    return _recompute(list(newest))


# Notes -------------------------------------------------------------------------------------


def _declared(level: int, reason: str) -> str:
    """A declared level checked, and its reason tidied (whitespace) and checked."""
    if not 1 <= level <= 4:
        raise EscalationError("A declared level is 1 to 4")
    reason = " ".join(reason.split())
    if len(reason) > 1000:
        raise EscalationError("Keep the reason to 1,000 characters or fewer")
    return reason


def note_difference(
    *, by: Any, computed: ComputedLevel, declared_level: int, reason: str
) -> DifferenceNote:
    """Record, for the organisation, why its declared level differs from the computed one.
    Only its own reporters may; the note is kept with the computed level it answers."""
    organisation = computed.organisation
    if not can(by, Perm.SUBMIT_REPORT, organisation):
        raise EscalationError("Only the organisation's own people can say why its level differs")
    reason = _declared(declared_level, reason)
    if not reason:
        raise EscalationError("Say why the declared level differs from the computed one")
    with transaction.atomic():
        note = DifferenceNote.objects.create(
            organisation=organisation,
            computed=computed,
            declared_level=declared_level,
            reason=reason,
            written_by=by,
            written_at=timezone.now(),
        )
        audit.record(
            by=by,
            action="escalation.difference_noted",
            obj=note,
            organisation_id=organisation.pk,
            after={
                "computed_level": computed.level,
                "declared_level": declared_level,
                "reason": reason,
            },
        )
    return note


def declare_system_level(
    *, by: Any, collaborative: Collaborative, level: int, reason: str = ""
) -> SystemDeclaration:
    """The collaborative's coordinators declare the system's level (with why, if it differs
    from the computed one). Kept beside the computed level; the newest is in force."""
    if not can(by, Perm.MANAGE_COLLABORATIVE, collaborative):
        raise EscalationError("Only the collaborative's coordinators declare its level")
    reason = _declared(level, reason)
    with transaction.atomic():
        before = queries.system_declaration(collaborative)
        row = SystemDeclaration.objects.create(
            collaborative=collaborative,
            level=level,
            reason=reason,
            declared_by=by,
            declared_at=timezone.now(),
        )
        audit.record(
            by=by,
            action="escalation.system_level_declared",
            obj=collaborative,
            before={"level": before.level} if before else None,
            after={"level": level, "reason": reason},
        )
    return row
