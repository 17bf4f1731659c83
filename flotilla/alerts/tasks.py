"""The alerts app's background jobs (see `flotilla.jobs` and `flotilla.jobs.schedule`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flotilla.alerts import actions, logic
from flotilla.alerts.models import AlertRule
from flotilla.collaboratives.models import CollaborativeMembership
from flotilla.collaboratives.queries import active
from flotilla.jobs.retry import job


@job(max_attempts=5, backoff=timedelta(seconds=10), takes_over=True)
def evaluate_alerts(
    organisation_ids: list[int],
    collaborative_ids: list[int] | None = None,
    kinds: list[str] | None = None,
) -> dict[str, Any]:
    """Judge the rules about these organisations (only those of `kinds` when given; and the
    system-level rules of these collaboratives) on their newest figures, and queue the
    telling of what opened. Idempotent: one unresolved alert per rule and organisation,
    each told once. Takes over the same evaluation waiting behind it: it judges the
    figures and levels they were queued for."""
    out = actions.evaluate(organisation_ids=organisation_ids, kinds=kinds).as_dict()
    if collaborative_ids:
        system = actions.evaluate_collaboratives(collaborative_ids=collaborative_ids)
        out = {k: v + system.as_dict()[k] for k, v in out.items()}
    return out


@job(max_attempts=5, backoff=timedelta(seconds=10))
def tell_alerts(alert_ids: list[int]) -> int:
    """Tell the people who may see them of these alerts just opened. Idempotent: an alert is
    told once (`told_at`, set in the same transaction), one notice per alert and person."""
    return actions.tell(alert_ids=alert_ids)


@job(max_attempts=3, backoff=timedelta(minutes=1))
def evaluate_all(slot: str) -> dict[str, Any]:
    """Every five minutes: judge every rule in force (overdue reports grow overdue with no
    report at all; a job that failed for good is caught up), then tell of any alert opened
    and not told. Idempotent for the same reasons as `evaluate_alerts`."""
    now = datetime.fromisoformat(slot)
    in_force = AlertRule.objects.filter(active=True)
    collaboratives = set(in_force.values_list("collaborative_id", flat=True))
    members = set(
        active(
            CollaborativeMembership.objects.filter(collaborative_id__in=collaboratives)
        ).values_list("organisation_id", flat=True)
    )
    out = actions.evaluate(organisation_ids=members, now=now).as_dict()
    system = set(
        in_force.filter(kind=logic.SYSTEM_LEVEL).values_list("collaborative_id", flat=True)
    )
    if system:
        more = actions.evaluate_collaboratives(collaborative_ids=system, now=now).as_dict()
        out = {k: v + more[k] for k, v in out.items()}
    out["told"] += actions.tell(now=now)
    return out
