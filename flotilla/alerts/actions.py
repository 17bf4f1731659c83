"""Every write of the alerts app: rules, subscriptions, acknowledging, and evaluation.

Each change runs in a transaction with its audit event. Evaluation (`evaluate`) reads each
concerned organisation's own figures as that organisation (`policy.acting_for`), so the
thresholds are judged on exact figures whatever the organisation shares; who is then shown
or told of an alert is decided by `queries.seen_by`, on the sharing policy. It runs in a job
enqueued inside every report's transaction (`after_report`), after every levels computation
(`after_levels`), after forecasts change (`after_forecasts`: the forecast rules only) and
every five minutes (`tasks.evaluate_all`). It is idempotent: the database
keeps one unresolved alert per rule and organisation, and one notice per alert and person.

Telling (`tell`) is a second step: every alert opened and not yet told is told, in one
transaction, to the people who may see it then, one notification each, or one digest for
a person who would otherwise get more than three within ten minutes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from flotilla import catalogue
from flotilla.alerts import logic, queries
from flotilla.alerts.models import Alert, AlertRule, Notice, Subscription
from flotilla.audit import actions as audit
from flotilla.audit.principals import Principal
from flotilla.authz.checks import can
from flotilla.authz.permissions import Perm
from flotilla.collaboratives.models import Collaborative, CollaborativeMembership
from flotilla.collaboratives.queries import active
from flotilla.escalation import queries as escalation
from flotilla.formatting import day, when
from flotilla.jobs.retry import Wanted, queue_all
from flotilla.notifications import actions as notifications
from flotilla.organisations.models import Organisation
from flotilla.planning import queries as forecasts
from flotilla.reporting.reminders import NON_REPORTING, last_reports
from flotilla.sharing import policy

#: Who evaluates rules: the platform, reading each organisation's own figures as it.
EVALUATOR = Principal.system("alerts")


class AlertError(Exception):
    """A change that cannot be made: a sentence, and the fields at fault (field → words)."""

    def __init__(self, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or {}


# ------------------------------------------------------------------ rules


def _rule_snapshot(r: AlertRule) -> dict[str, Any]:
    return {
        "collaborative": r.collaborative.slug,
        "owner": r.owner.get_username() if r.owner_id and r.owner else None,
        "kind": r.kind,
        "measure": r.measure,
        "organisation": r.organisation.code if r.organisation_id and r.organisation else None,
        "within_days": r.within_days,
        "quantile": r.quantile,
        "threshold": r.threshold,
        "clear_at": r.clear_at,
        "min_interval_minutes": r.min_interval_minutes,
        "active": r.active,
    }


def _member_ids(collaborative: Collaborative) -> set[int]:
    return set(
        active(CollaborativeMembership.objects.filter(collaborative=collaborative)).values_list(
            "organisation_id", flat=True
        )
    )


def _person_of_member(user: Any, collaborative: Collaborative) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    viewer = policy.viewer_of(user)
    return bool(viewer.organisation_ids & _member_ids(collaborative))


def add_rule(
    *,
    by: Any,
    collaborative: Collaborative,
    kind: str,
    measure: str = "",
    organisation: Organisation | None = None,
    threshold: float | None = None,
    clear_at: float | None = None,
    min_interval_minutes: int = 60,
    within_days: int | None = None,
    quantile: float | None = None,
    personal: bool = False,
) -> AlertRule:
    """Add a rule to a collaborative: its own (its coordinators only; the maker is
    subscribed) or, with `personal`, the person's own (any person of a member). Missing
    thresholds take the kind's defaults; a forecast rule looks `logic.DEFAULT_WITHIN_DAYS`
    ahead at the median unless it says. Refusals name the fields (`AlertError.errors`)."""
    if personal:
        if not _person_of_member(by, collaborative):
            raise AlertError("Only people of the collaborative's members can add alert rules")
    elif not can(by, Perm.MANAGE_COLLABORATIVE, collaborative):
        raise AlertError("Only the collaborative's coordinators can add its alert rules")
    errors: dict[str, str] = {}
    if kind not in logic.KINDS:
        errors["kind"] = "Choose what the rule watches"
    figure = None
    if kind in logic.FIGURE_KINDS:
        try:
            figure = logic.figure_of(kind, measure)
        except KeyError:
            errors["measure"] = (
                "Choose a figure that is forecast: beds occupied, or an occupancy"
                if kind == logic.FORECAST and measure
                else "Choose a figure from the list"
            )
    else:
        measure = ""
    if kind == logic.FORECAST:
        within_days = logic.DEFAULT_WITHIN_DAYS if within_days is None else within_days
        quantile = logic.DEFAULT_QUANTILE if quantile is None else quantile
    if organisation is not None:
        if kind == logic.SYSTEM_LEVEL:
            errors["organisation"] = "The system level is the collaborative's, not a member's"
        elif organisation.pk not in _member_ids(collaborative):
            errors["organisation"] = "Choose a member of the collaborative"
    if kind in logic.KINDS:
        if threshold is None:
            threshold = logic.default_threshold(kind, collaborative.reporting_interval_hours)
        if clear_at is None and kind != logic.LEVEL_CHANGE:
            clear_at = logic.default_clear_at(kind, threshold, figure.kind if figure else "count")
        errors.update(
            logic.check(
                kind,
                threshold,
                clear_at,
                min_interval_minutes,
                within_days,
                quantile,
                catalogue.current().forecast_days,
            )
        )
    if errors:
        raise AlertError("The rule has errors; nothing was saved", errors)
    now = timezone.now()
    with transaction.atomic():
        rule = AlertRule.objects.create(
            collaborative=collaborative,
            owner=by if personal else None,
            kind=kind,
            measure=measure,
            organisation=organisation,
            threshold=threshold,
            clear_at=clear_at,
            min_interval_minutes=min_interval_minutes,
            within_days=within_days,
            quantile=quantile,
            created_by=by,
            created_at=now,
        )
        audit.record(
            by=by,
            action="alerts.rule_added",
            obj=rule,
            after={**_rule_snapshot(rule), "description": rule.describe()},
        )
        if not personal:
            _subscribe(by, rule, now)
        # Judge the new rule on the figures there are now, without waiting for the schedule.
        _enqueue(sorted(_member_ids(collaborative)), [collaborative.pk])
    return rule


def _may_manage(by: Any, rule: AlertRule) -> bool:
    if rule.owner_id is not None:
        return getattr(by, "pk", None) == rule.owner_id
    return can(by, Perm.MANAGE_COLLABORATIVE, rule.collaborative)


def end_rule(*, by: Any, rule: AlertRule, now: datetime | None = None) -> AlertRule:
    """End a rule (its coordinators, or the owner of a personal one): it is kept, with who
    ended it and when, and its unresolved alerts resolve. Ending an ended rule changes
    nothing."""
    if not _may_manage(by, rule):
        raise AlertError("Only the collaborative's coordinators can end its alert rules")
    now = now or timezone.now()
    with transaction.atomic():
        rule = (
            AlertRule.objects.select_for_update(of=("self",))
            .select_related("collaborative")
            .get(pk=rule.pk)
        )
        if not rule.active:
            return rule
        audit.change(
            by=by,
            obj=rule,
            action="alerts.rule_ended",
            snapshot=_rule_snapshot,
            changes={"active": False, "ended_at": now, "ended_by": by},
        )
        for a in (
            Alert.objects.select_for_update(of=("self",))
            .filter(rule=rule)
            .exclude(state=logic.RESOLVED)
        ):
            _resolve(a, now, None, "the rule was ended", by=by)
    return rule


def _subscribe(user: Any, rule: AlertRule, now: datetime) -> bool:
    _, made = Subscription.objects.get_or_create(user=user, rule=rule, defaults={"created_at": now})
    if made:
        audit.record(
            by=user,
            action="alerts.subscribed",
            obj=rule,
            after={"user": user.get_username(), "rule": rule.describe()},
        )
    return made


def subscribe(*, by: Any, rule: AlertRule) -> bool:
    """Be told of a collaborative rule's alerts (people of its members only). Returns
    whether anything changed."""
    if rule.owner_id is not None or not rule.active:
        raise AlertError("Only the collaborative's rules in force can be subscribed to")
    if not _person_of_member(by, rule.collaborative):
        raise AlertError("Only people of the collaborative's members can subscribe")
    with transaction.atomic():
        return _subscribe(by, rule, timezone.now())


def unsubscribe(*, by: Any, rule: AlertRule) -> bool:
    """Stop being told of a rule's alerts. Returns whether anything changed."""
    with transaction.atomic():
        gone, _ = Subscription.objects.filter(user=by, rule=rule).delete()
        if gone:
            audit.record(
                by=by,
                action="alerts.unsubscribed",
                obj=rule,
                before={"user": by.get_username(), "rule": rule.describe()},
            )
    return bool(gone)


# ------------------------------------------------------------------ acknowledging


def _alert_snapshot(a: Alert) -> dict[str, Any]:
    return {
        "rule": a.rule_id,
        "organisation": a.organisation_id,
        "state": a.state,
        "measure": a.measure,
        "value": a.value,
        "as_of": a.as_of.isoformat(),
        "last_value": a.last_value,
        "last_as_of": a.last_as_of.isoformat(),
        "acknowledged_by": a.acknowledged_by.get_username() if a.acknowledged_by else None,
        "acknowledged_at": a.acknowledged_at.isoformat() if a.acknowledged_at else None,
        "resolved_at": a.resolved_at.isoformat() if a.resolved_at else None,
        "resolved_why": a.resolved_why,
        "times_reopened": a.times_reopened,
    }


def acknowledge(*, by: Any, alert: Alert, now: datetime | None = None) -> Alert:
    """Acknowledge an alert for the team: a subscriber who may see it (or the owner of a
    personal rule). It still resolves when the figure clears. Acknowledging an acknowledged
    alert changes nothing; a resolved one cannot be (`AlertError`)."""
    now = now or timezone.now()
    viewer = policy.viewer_of(by)
    seen = queries.seen_by(viewer, [alert], now, note=False)
    if not seen or not queries.may_acknowledge(by, alert):
        raise AlertError("Only the people told of this alert can acknowledge it")
    with transaction.atomic():
        a = (
            Alert.objects.select_for_update(of=("self",))
            .select_related("acknowledged_by")
            .get(pk=alert.pk)
        )
        if a.state == logic.ACKNOWLEDGED:
            return a
        if a.state == logic.RESOLVED:
            raise AlertError("The alert has resolved already: there is nothing to acknowledge")
        audit.change(
            by=by,
            obj=a,
            action="alerts.acknowledged",
            snapshot=_alert_snapshot,
            changes={"state": logic.ACKNOWLEDGED, "acknowledged_by": by, "acknowledged_at": now},
            organisation_id=a.organisation_id,
        )
    return a


# ------------------------------------------------------------------ evaluation


@dataclass(frozen=True)
class Reading:
    """A rule's figure for one organisation (or the collaborative)."""

    value: float | None
    as_of: datetime | None
    #: For a level change: the level computed before this one.
    previous: float | None = None
    #: For a forecast: the first day forecast at or above the threshold (`logic.Outlook`).
    target: date | None = None


@dataclass
class Outcome:
    """What one evaluation did."""

    opened: list[int] = field(default_factory=list)
    reopened: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    updated: int = 0
    told: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "opened": len(self.opened),
            "reopened": len(self.reopened),
            "resolved": len(self.resolved),
            "updated": self.updated,
            "told": self.told,
        }


def _measures_read(codes: set[str]) -> tuple[list[str], bool]:
    """The measures to read for these rule figures, and whether occupancy is needed."""
    cat = catalogue.current()
    occupancy = {i.code: i for i in cat.indicators if i.source == "occupancy"}
    out: set[str] = set()
    for code in codes:
        if code in occupancy:
            out.update(occupancy[code].measures)
        else:
            out.add(code)
    return sorted(out), any(c in occupancy for c in codes)


def _own_figures(org: Organisation, codes: set[str]) -> dict[str, Reading]:
    """The organisation's own latest figures for these rule figures (exact: its own read;
    see `escalation.queries.own_figures`). Occupancy only organisation-wide."""
    measures, occupancy = _measures_read(codes)
    own = escalation.own_figures(org, measures, purpose="alerts", occupancy=occupancy)
    return {code: Reading(value, as_of) for code, (value, as_of) in own.items() if code in codes}


def _own_forecasts(org: Organisation, rules: list[AlertRule], now: datetime) -> dict[int, Reading]:
    """Rule id → what the organisation's own newest forecast (read exactly, as itself,
    through the policy) says of the rule's threshold over the days it looks ahead: the
    highest figure forecast at its quantile, and the first day at or above the threshold.
    An occupancy is the forecast occupied count over the beds open last reported. The
    organisation's own series only: one reporting only by site has no forecast of its
    total (ADR 0020). No forecast of those days (or no bed base): no reading."""
    cat = catalogue.current()
    occupancy = {i.code: i.measures for i in cat.indicators if i.source == "occupancy"}
    counted = {r.measure: occupancy.get(r.measure, (r.measure,))[0] for r in rules}
    viewer = policy.acting_for(org, "alerts")
    seen = {
        s.measure: s
        for s in forecasts.forecasts_seen_by(
            viewer, [org], site=None, measures=sorted(set(counted.values())), at=now
        )
    }
    beds_open = [occupancy[m][1] for m in counted if m in occupancy]
    beds = escalation.own_figures(org, beds_open, purpose="alerts", at=now) if beds_open else {}
    today = timezone.localdate(now)
    out = {}
    for rule in rules:
        series = seen.get(counted[rule.measure])
        if series is None:
            continue
        assert rule.threshold is not None and rule.quantile is not None
        divisor, as_of = 1.0, series.as_of
        if rule.measure in occupancy:
            base, base_as_of = beds.get(occupancy[rule.measure][1], (None, None))
            if not base or base_as_of is None:
                continue  # no bed base to divide by (missing, or none open)
            divisor, as_of = base, max(as_of, base_as_of)
        said = logic.outlook(
            ((d.target, d.values[rule.quantile] / divisor) for d in series.days),
            today=today,
            within=rule.within_days or logic.DEFAULT_WITHIN_DAYS,
            threshold=rule.threshold,
        )
        if said is not None:
            out[rule.pk] = Reading(round(said.value, 6), as_of, target=said.target)
    return out


class _Levels:
    """Computed levels, read as each organisation itself under the profile each
    collaborative scores it with; cached for one evaluation."""

    def __init__(self) -> None:
        self.profiles: dict[tuple[int, str], Any] = {}
        self.seen: dict[tuple[int, int, bool], Reading] = {}

    def reading(self, org: Organisation, collaborative: Collaborative, change: bool) -> Reading:
        """The level (and, for a change rule, the level before it). The organisation's own
        level, read as itself: the levels only, not the explanation's grants."""
        key = (org.pk, collaborative.pk, change)
        if key not in self.seen:
            pkey = (collaborative.pk, org.kind)
            if pkey not in self.profiles:
                self.profiles[pkey] = escalation.profile_for(collaborative, org.kind)
            profile = self.profiles[pkey]
            found = None
            if profile is not None:
                viewer = policy.acting_for(org, "alerts")
                found = escalation.levels_seen_by(
                    viewer, [org], {org.pk: profile}, levels_only=True
                ).get(org.pk)
            if found is None:
                self.seen[key] = Reading(None, None)
            else:
                computed = found.computed
                previous = None
                if change:
                    before = escalation.previous_level(computed)
                    previous = before.level if before is not None else None
                self.seen[key] = Reading(computed.level, computed.as_of, previous)
        return self.seen[key]


def _current(a: Alert | None) -> logic.Current | None:
    if a is None:
        return None
    return logic.Current(a.state, a.opened_at, a.resolved_at, a.last_value, a.last_as_of)


def _step(rule: AlertRule, cur: Alert | None, r: Reading, now: datetime) -> logic.Step:
    interval = timedelta(minutes=rule.min_interval_minutes)
    if rule.kind == logic.LEVEL_CHANGE:
        return logic.decide_change(
            min_interval=interval,
            current=_current(cur),
            level=r.value,
            previous=r.previous,
            as_of=r.as_of,
            now=now,
        )
    assert rule.threshold is not None and rule.clear_at is not None
    return logic.decide(
        threshold=rule.threshold,
        clear_at=rule.clear_at,
        min_interval=interval,
        current=_current(cur),
        value=r.value,
        now=now,
    )


def _reopening(a: Alert, r: Reading, now: datetime) -> dict[str, Any]:
    """What re-opening a resolved alert changes. Acknowledged before it resolved: still
    acknowledged, so a figure bouncing on the line does not ask the team to acknowledge it
    again."""
    return {
        "state": logic.ACKNOWLEDGED if a.acknowledged_at else logic.OPEN,
        "resolved_at": None,
        "resolved_why": "",
        "resolved_as_of": None,
        "times_reopened": a.times_reopened + 1,
        "reopened_at": now,
        "last_value": r.value,
        "last_as_of": r.as_of,
    }


def _resolving(now: datetime, r: Reading | None, why: str) -> dict[str, Any]:
    """What resolving an alert changes (the figure that resolved it, when there is one)."""
    changes: dict[str, Any] = {
        "state": logic.RESOLVED,
        "resolved_at": now,
        "resolved_why": why[:200],
        "resolved_as_of": r.as_of if r is not None else None,
    }
    if r is not None and r.as_of is not None:
        changes.update(last_value=r.value, last_as_of=r.as_of)
    return changes


def _resolve(a: Alert, now: datetime, r: Reading | None, why: str, by: Any = EVALUATOR) -> None:
    changes = _resolving(now, r, why)
    audit.change(
        by=by,
        obj=a,
        action="alerts.resolved",
        snapshot=_alert_snapshot,
        changes=changes,
        organisation_id=a.organisation_id,
    )


def _why_resolved(rule: AlertRule, r: Reading) -> str:
    if rule.kind == logic.LEVEL_CHANGE:
        return f"the level held at {r.value:g} for {rule.min_interval_minutes} minutes"
    if rule.kind == logic.OVERDUE:
        return "a report arrived"
    if rule.kind == logic.FORECAST:
        return f"the forecast fell below {rule.clear_at:g} over the next {rule.within_days} days"
    return f"the figure fell below {rule.clear_at:g}"


def _known(
    rule_ids: list[int], org_ids: Iterable[int | None], now: datetime, longest: int
) -> dict[tuple[int, int | None], Alert]:
    """(rule, organisation) → its unresolved alert, else its latest resolved within the
    longest minimum interval: one query."""
    orgs = [o for o in org_ids if o is not None]
    where = Q(organisation_id__in=orgs)
    if None in org_ids:
        where |= Q(organisation__isnull=True)
    recent = Q(state__in=[logic.OPEN, logic.ACKNOWLEDGED]) | Q(
        resolved_at__gte=now - timedelta(minutes=longest)
    )
    out: dict[tuple[int, int | None], Alert] = {}
    # Locked for the evaluation's transaction: a second evaluation at once waits, then
    # finds them as this one left them.
    rows = Alert.objects.select_for_update(of=("self",)).filter(where, recent, rule_id__in=rule_ids)
    for a in rows.order_by("resolved_at", "pk"):
        key = (a.rule_id, a.organisation_id)
        held = out.get(key)
        if held is None or held.state == logic.RESOLVED:
            out[key] = a
    return out


def _apply_together(
    judged: list[tuple[AlertRule, int | None, Reading]],
    known: dict[tuple[int, int | None], Alert],
    now: datetime,
    outcome: Outcome,
    updates: list[Alert],
) -> None:
    """`_apply` for every judged rule at once: the alerts opened in one INSERT, those
    re-opened or resolved in one UPDATE, and every change's audit event in one append to the
    chain (a storm of crossings costs a few statements, not a few per crossing). Raises
    IntegrityError, changing nothing, when another evaluation got there first."""
    opened: list[tuple[AlertRule, Alert]] = []
    changed: list[tuple[str, Alert, dict[str, Any]]] = []
    newer: list[tuple[Alert, Reading]] = []
    for rule, org_id, r in judged:
        cur = known.get((rule.pk, org_id))
        step = _step(rule, cur, r, now)
        if step is logic.Step.OPEN:
            assert r.as_of is not None
            new = Alert(
                rule=rule,
                organisation_id=org_id,
                state=logic.OPEN,
                opened_at=now,
                measure=rule.figure.code,
                value=r.value,
                as_of=r.as_of,
                target=r.target,
                last_value=r.value,
                last_as_of=r.as_of,
            )
            opened.append((rule, new))
        elif step is logic.Step.REOPEN:
            assert cur is not None
            if cur.state == logic.RESOLVED:
                changed.append(("alerts.reopened", cur, _reopening(cur, r, now)))
        elif step is logic.Step.RESOLVE:
            assert cur is not None
            if cur.state != logic.RESOLVED:
                changed.append(("alerts.resolved", cur, _resolving(now, r, _why_resolved(rule, r))))
        elif step is logic.Step.UPDATE:
            assert cur is not None
            if r.as_of is not None and (cur.last_value, cur.last_as_of) != (r.value, r.as_of):
                newer.append((cur, r))
    events = []
    Alert.objects.bulk_create([a for _, a in opened])
    for rule, a in opened:
        after = {**_alert_snapshot(a), "rule": rule.describe()}
        events.append(
            audit.Event("alerts.opened", a, organisation_id=a.organisation_id, after=after)
        )
        outcome.opened.append(a.pk)
    for action, a, changes in changed:
        before = _alert_snapshot(a)
        for name, value in changes.items():
            setattr(a, name, value)
        events.append(
            audit.Event(
                action,
                a,
                organisation_id=a.organisation_id,
                before=before,
                after=_alert_snapshot(a),
            )
        )
        (outcome.reopened if action == "alerts.reopened" else outcome.resolved).append(a.pk)
    _update_alike([(a.pk, changes) for _, a, changes in changed])
    audit.record_many(by=EVALUATOR, events=events)
    # The newest figure of the alerts still open (saved by the caller), now that nothing
    # above can fail.
    for cur, r in newer:
        cur.last_value, cur.last_as_of = r.value, r.as_of
        updates.append(cur)


def evaluate(
    *,
    organisation_ids: Iterable[int],
    now: datetime | None = None,
    kinds: Iterable[str] | None = None,
) -> Outcome:
    """Judge every rule in force about these organisations (measure, forecast, level, level
    change and overdue rules of the collaboratives they are active members of; only those of
    `kinds` when given) on their newest figures, then queue the telling of what opened
    (`tell`, in the `tell_alerts` job). In a few reads: the rules (one query), the alerts
    they have (one), and each organisation's figures (one read for every measure its rules
    need, and one of its forecasts)."""
    now = now or timezone.now()
    ids = sorted(set(organisation_ids))
    outcome = Outcome()
    memberships = list(
        active(CollaborativeMembership.objects.filter(organisation_id__in=ids)).values_list(
            "organisation_id", "collaborative_id", "joined_at"
        )
    )
    if not memberships:
        return outcome
    collabs_of: dict[int, set[int]] = defaultdict(set)
    joined: dict[tuple[int, int], datetime] = {}
    for o, c, at in memberships:
        collabs_of[o].add(c)
        joined[(o, c)] = at
    collab_ids = {c for cs in collabs_of.values() for c in cs}
    all_rules = list(
        AlertRule.objects.filter(
            Q(organisation__isnull=True) | Q(organisation_id__in=ids),
            active=True,
            kind__in=[k for k in logic.PER_ORGANISATION if kinds is None or k in set(kinds)],
            collaborative_id__in=collab_ids,
        )
    )
    if not all_rules:
        return outcome
    # A few collaboratives among many rules: read once, not joined to every rule.
    collabs = Collaborative.objects.in_bulk(collab_ids)
    for rule in all_rules:
        rule.collaborative = collabs[rule.collaborative_id]
    orgs = {o.pk: o for o in Organisation.objects.filter(pk__in=list(collabs_of))}
    concerned: dict[int, list[AlertRule]] = defaultdict(list)
    for rule in all_rules:
        for org_id in [rule.organisation_id] if rule.organisation_id else list(orgs):
            if org_id in orgs and rule.collaborative_id in collabs_of[org_id]:
                concerned[org_id].append(rule)
    figures = {
        org_id: _own_figures(orgs[org_id], {r.measure for r in rs if r.kind == logic.MEASURE})
        if any(r.kind == logic.MEASURE for r in rs)
        else {}
        for org_id, rs in concerned.items()
    }
    ahead = {
        org_id: _own_forecasts(orgs[org_id], wanted, now)
        for org_id, rs in concerned.items()
        if (wanted := [r for r in rs if r.kind == logic.FORECAST])
    }
    overdue_orgs = [o for o, rs in concerned.items() if any(r.kind == logic.OVERDUE for r in rs)]
    last = last_reports(overdue_orgs) if overdue_orgs else {}
    levels = _Levels()
    judged: list[tuple[AlertRule, int | None, Reading]] = []
    for org_id, rs in concerned.items():
        org = orgs[org_id]
        for rule in rs:
            if rule.kind == logic.MEASURE:
                r = figures[org_id].get(rule.measure, Reading(None, None))
            elif rule.kind == logic.FORECAST:
                r = ahead[org_id].get(rule.pk, Reading(None, None))
            elif rule.kind in (logic.LEVEL, logic.LEVEL_CHANGE):
                r = levels.reading(org, rule.collaborative, rule.kind == logic.LEVEL_CHANGE)
            else:
                if org.kind in NON_REPORTING:
                    continue
                since = last.get(org_id) or joined[(org_id, rule.collaborative_id)]
                r = Reading((now - since).total_seconds() / 3600, since)
            judged.append((rule, org_id, r))
    return _judge(judged, list(concerned), now)


def _judge(
    judged: list[tuple[AlertRule, int | None, Reading]],
    organisation_ids: list[int | None],
    now: datetime,
) -> Outcome:
    """Apply the figures read to the rules' alerts, in one transaction (each change audited
    in it), then tell of those opened."""
    outcome = Outcome()
    if not judged:
        return outcome
    longest = max(rule.min_interval_minutes for rule, _, _ in judged)
    rule_ids = sorted({rule.pk for rule, _, _ in judged})
    with transaction.atomic():
        known = _known(rule_ids, organisation_ids, now, longest)
        updates: list[Alert] = []
        try:
            with transaction.atomic():
                _apply_together(judged, known, now, outcome, updates)
        except IntegrityError:
            # Another evaluation opened an alert of one of these rules a moment ago (rows
            # not yet there could not be locked). Its alerts are there now: lock them and
            # judge again. A second clash fails the job, which is retried.
            outcome, updates = Outcome(), []
            known = _known(rule_ids, organisation_ids, now, longest)
            _apply_together(judged, known, now, outcome, updates)
        # The newest figure of the alerts still open.
        _update_alike(
            [(a.pk, {"last_value": a.last_value, "last_as_of": a.last_as_of}) for a in updates]
        )
        outcome.updated = len(updates)
        if outcome.opened:
            # Telling reads each recipient's grants and puts what they are shown on the
            # owners' access records: a job of its own, queued in this transaction, so that
            # judging stays quick and an alert is never told before it is stored.
            _enqueue_telling(outcome.opened)
    return outcome


def _update_alike(rows: list[tuple[int, dict[str, Any]]]) -> None:
    """Save alerts' changes (alert id, changes): one UPDATE per distinct set of changes, not
    one per alert, nor one CASE per alert and field. Alerts crossing one line at one report
    change alike (a storm of crossings costs a statement per line crossed), and alerts of
    many rules on one measure share their newest figure."""
    alike: dict[tuple[tuple[str, Any], ...], list[int]] = defaultdict(list)
    for pk, changes in rows:
        alike[tuple(sorted(changes.items(), key=lambda item: item[0]))].append(pk)
    for items, ids in alike.items():
        Alert.objects.filter(pk__in=ids).update(**dict(items))


def evaluate_collaboratives(
    *, collaborative_ids: Iterable[int], now: datetime | None = None
) -> Outcome:
    """Judge the system-level rules of these collaboratives on their newest system level."""

    now = now or timezone.now()
    outcome = Outcome()
    all_rules = list(
        AlertRule.objects.filter(
            active=True, kind=logic.SYSTEM_LEVEL, collaborative_id__in=list(collaborative_ids)
        ).select_related("collaborative")
    )
    if not all_rules:
        return outcome
    levels: dict[int, Reading] = {}
    judged: list[tuple[AlertRule, int | None, Reading]] = []
    for rule in all_rules:
        if rule.collaborative_id not in levels:
            s = escalation.system_level(rule.collaborative)
            levels[rule.collaborative_id] = (
                Reading(s.level, s.computed_at) if s is not None else Reading(None, None)
            )
        judged.append((rule, None, levels[rule.collaborative_id]))
    return _judge(judged, [None], now)


# ------------------------------------------------------------------ telling


def _sentence(a: Alert) -> str:
    rule = a.rule
    who = a.organisation.name if a.organisation_id and a.organisation else rule.collaborative.name
    figure = rule.figure
    if rule.kind == logic.LEVEL_CHANGE:
        what = f"{who}'s computed OPEL changed to {a.shown_value()}"
    elif rule.kind == logic.FORECAST:
        by = f" by {day(a.target)}" if a.target else ""
        label = logic.figure_of(logic.MEASURE, rule.measure).label
        how = logic.QUANTILE_WORDS.get(rule.quantile or logic.DEFAULT_QUANTILE, "")
        return (
            f"{who}: {label} forecast to reach {a.shown_value(rule.threshold)}{by} "
            f"({a.shown_value()} at the {how} within {rule.within_days} days; "
            f"made from figures reported {when(a.as_of)})"
        )
    elif rule.kind == logic.OVERDUE:
        what = f"{who}'s report is overdue: last reported {when(a.as_of)}"
        return what
    else:
        what = (
            f"{who}: {figure.label} {a.shown_value()}, at or above {a.shown_value(rule.threshold)}"
        )
    return f"{what} (reported {when(a.as_of)})"


def _recipients(alerts: list[Alert], now: datetime) -> dict[int, list[Alert]]:
    """Person id → the alerts they may see, of rules they subscribe to or own."""
    subscribers: dict[int, set[int]] = defaultdict(set)
    for rule_id, user_id in Subscription.objects.filter(
        rule_id__in={a.rule_id for a in alerts}
    ).values_list("rule_id", "user_id"):
        subscribers[rule_id].add(user_id)
    wanted: dict[int, set[int]] = {}
    for a in alerts:
        owner = a.rule.owner_id
        wanted[a.pk] = {owner} if owner is not None else subscribers[a.rule_id]
    everyone = {u for us in wanted.values() for u in us}
    viewers = queries.viewers_of(everyone)
    membership = queries.members({a.rule.collaborative_id for a in alerts})
    owners = {a.organisation_id for a in alerts if a.organisation_id is not None}
    access_cache: dict[frozenset[int], Any] = {}
    out: dict[int, list[Alert]] = defaultdict(list)
    for user_id in sorted(everyone):
        viewer = viewers.get(user_id)
        if viewer is None:
            continue
        mine = [a for a in alerts if user_id in wanted[a.pk]]
        collabs = {c for c, orgs in membership.items() if orgs & viewer.organisation_ids}
        if viewer.organisation_ids not in access_cache:
            access_cache[viewer.organisation_ids] = policy.access_map(viewer, owners)
        seen = queries.seen_by(
            viewer, mine, now, collaboratives=collabs, access=access_cache[viewer.organisation_ids]
        )
        # Told as it is now: a delayed viewer is not told of a figure they may not see yet.
        out[user_id] = [a for a in seen if a.seen_state != logic.RESOLVED]  # type: ignore[attr-defined]
    return out


def tell(*, alert_ids: Iterable[int] | None = None, now: datetime | None = None) -> int:
    """Tell the people who may see them of the alerts opened and not told yet (those in
    `alert_ids`, or all): in the inbox and by email (their preferences permitting), never by
    webhook (the words carry figures; webhooks are outside the sharing policy). Each person
    gets one notification per alert, or one digest for all of them when that would make
    more than three within ten minutes. Returns the notifications sent. Idempotent: an
    alert is told once (`told_at`), and one notice per alert and person is kept."""
    now = now or timezone.now()
    with transaction.atomic():
        found = Alert.objects.select_for_update(of=("self",)).filter(
            told_at__isnull=True, state__in=[logic.OPEN, logic.ACKNOWLEDGED]
        )
        if alert_ids is not None:
            found = found.filter(pk__in=list(alert_ids))
        alerts = list(
            found.select_related("rule", "rule__collaborative", "organisation").order_by("pk")
        )
        if not alerts:
            return 0
        by_person = _recipients(alerts, now)
        already = set(Notice.objects.filter(alert__in=alerts).values_list("alert_id", "user_id"))
        people = {
            u.pk: u for u in get_user_model().objects.filter(pk__in=list(by_person), is_active=True)
        }
        recent = queries.told_recently(list(people), now)
        sent = 0
        notices = []
        for user_id, theirs in by_person.items():
            person = people.get(user_id)
            theirs = [a for a in theirs if (a.pk, user_id) not in already]
            if person is None or not theirs:
                continue
            digest = logic.as_digest(len(theirs), recent.get(user_id, 0))
            if digest:
                names = [_sentence(a) for a in theirs[: logic.DIGEST_NAMES]]
                more = len(theirs) - len(names)
                text = f"{len(theirs)} alerts opened: " + "; ".join(names)
                text += f"; and {more} more." if more else "."
                if len(text) > 480:
                    text = text[:477] + "…"
                notifications.notify(
                    by=EVALUATOR, recipients=[person], text=text, link=reverse("alerts:mine")
                )
                sent += 1
            else:
                for a in theirs:
                    notifications.notify(
                        by=EVALUATOR,
                        recipients=[person],
                        text=f"Alert: {_sentence(a)}."[:500],
                        link=reverse("alerts:alert", args=[a.pk]),
                    )
                    sent += 1
            notices += [Notice(alert=a, user=person, told_at=now, in_digest=digest) for a in theirs]
        Notice.objects.bulk_create(notices, ignore_conflicts=True)
        Alert.objects.filter(pk__in=[a.pk for a in alerts]).update(told_at=now)
    return sent


# ------------------------------------------------------------------ signals


def _evaluation(
    organisation_ids: list[int],
    collaborative_ids: list[int] | None = None,
    kinds: list[str] | None = None,
) -> list[Wanted]:
    from flotilla.alerts.tasks import evaluate_alerts

    if not (organisation_ids or collaborative_ids):
        return []
    kwargs = {
        "organisation_ids": sorted(set(organisation_ids)),
        "collaborative_ids": sorted(set(collaborative_ids or [])),
        "kinds": kinds,
    }
    return [Wanted(evaluate_alerts, kwargs=kwargs)]


def _enqueue(
    organisation_ids: list[int],
    collaborative_ids: list[int] | None = None,
    kinds: list[str] | None = None,
) -> None:
    queue_all(_evaluation(organisation_ids, collaborative_ids, kinds))


def _enqueue_telling(alert_ids: list[int]) -> None:
    from flotilla.alerts.tasks import tell_alerts

    tell_alerts.enqueue(alert_ids=sorted(alert_ids))


#: The rules a report is judged by when it is stored: those about its figures and about when
#: it came. The rules about levels and forecasts are judged when those are worked out from
#: it (`after_levels`, `after_forecasts`): judged at the report, they would read the levels
#: and forecasts the report has not changed yet.
ON_REPORT = [logic.MEASURE, logic.OVERDUE]
#: The rules judged when an organisation's levels are worked out (with the system-level
#: rules of its collaboratives).
ON_LEVELS = [logic.LEVEL, logic.LEVEL_CHANGE]


def after_report(*, newest: dict[int, datetime], **_: Any) -> list[Wanted]:
    """Receiver of `reporting.events.report_recorded`: the evaluation a report calls for (the
    rules `ON_REPORT`), which the report queues inside its transaction, so a report rolled
    back queues nothing."""
    return _evaluation(list(newest), kinds=ON_REPORT)


def after_levels(*, organisation_ids: list[int], collaborative_ids: list[int], **_: Any) -> None:
    """Receiver of `escalation.events.levels_computed`: judge the level rules (`ON_LEVELS`)
    and the system-level rules on the levels just computed, in a job of its own."""
    _enqueue(list(organisation_ids), list(collaborative_ids), kinds=ON_LEVELS)


def after_forecasts(*, organisation_ids: list[int], **_: Any) -> None:
    """Receiver of `planning.events.forecasts_computed`: judge the forecast rules about these
    organisations on the forecasts just stored, in a job of its own (queued in the
    forecasts' transaction)."""
    _enqueue(list(organisation_ids), kinds=[logic.FORECAST])
