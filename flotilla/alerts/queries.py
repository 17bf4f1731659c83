"""Who may see which alert: the alerts app's one visibility rule, on the sharing policy.

An alert says something about an organisation's figure, so it is shown (on a page, in the
API, in an export, in a notification) only to a viewer who may see that figure: one of the
people (or a token) of an active member of the rule's collaborative, and, for a person's own
rule, only that person; and then only when `sharing.policy` lets the viewer see the figure
that opened it: the owner's grants of the figure's group, at their delay, exactly for a count
or a ratio (a rounded figure would still tell where the threshold was crossed), at any detail
for a level. Overdue reports and the system level are shown to every member's people.

A viewer whose grants let them see an older figure but not the newest sees the alert as it
stood at the figures they may see: not yet resolved, and with the figure that opened it
rather than the latest. Pages, the API and notifications ask here and never filter
themselves; what is shown of another organisation goes on its access record.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from flotilla.alerts import logic
from flotilla.alerts.models import Alert, AlertRule, Notice, Subscription
from flotilla.authz.models import Membership
from flotilla.collaboratives.models import CollaborativeMembership
from flotilla.collaboratives.queries import active, collaboratives_of
from flotilla.sharing import policy
from flotilla.sharing.policy import Viewer

#: The largest id the database holds (a 64-bit integer): larger ones would overflow a query.
MAX_ID = 2**63 - 1


def member_collaboratives(viewer: Viewer) -> set[int]:
    """Ids of the collaboratives the viewer's organisations are active members of."""
    if not viewer.organisation_ids:
        return set()
    return set(collaboratives_of(viewer.organisation_ids).values_list("id", flat=True))


def _candidates(viewer: Viewer, collaboratives: set[int]) -> QuerySet[Alert]:
    """Alerts of rules in the viewer's collaboratives: the collaboratives' rules, and the
    person's own."""
    mine = Q(rule__owner__isnull=True)
    if viewer.user_id is not None:
        mine |= Q(rule__owner_id=viewer.user_id)
    return Alert.objects.filter(mine, rule__collaborative_id__in=collaboratives).select_related(
        "rule", "rule__collaborative", "rule__organisation", "organisation", "acknowledged_by"
    )


def seen_by(
    viewer: Viewer,
    alerts: Iterable[Alert],
    now: datetime | None = None,
    collaboratives: set[int] | None = None,
    access: dict[int, Any] | None = None,
    note: bool = True,
) -> list[Alert]:
    """The alerts the viewer may see, each marked with how they see it (`seen_state`,
    `seen_last_value`, `seen_last_as_of`, `seen_resolved_at`). `collaboratives` and `access`
    may be given when already read (a job telling many people)."""
    now = now or timezone.now()
    alerts = list(alerts)
    if collaboratives is None:
        collaboratives = member_collaboratives(viewer)
    if access is None:
        owners = {a.organisation_id for a in alerts if a.organisation_id is not None}
        access = policy.access_map(viewer, owners) if owners else {}
    out = []
    for a in alerts:
        rule = a.rule
        if rule.collaborative_id not in collaboratives:
            continue
        if rule.owner_id is not None and rule.owner_id != viewer.user_id:
            continue
        figure = rule.figure
        held = access.get(a.organisation_id, {}).get(figure.group, ()) if figure.group else ()
        if not logic.shown(figure, held, a.as_of, now):
            continue
        _mark(a, figure, held, now)
        out.append(a)
    if note:
        _note(viewer, out)
    return out


def _mark(a: Alert, figure: logic.Figure, held: Any, now: datetime) -> None:
    """How the viewer sees the alert: its state and latest figure as at what they may see."""
    a.seen_state, a.seen_resolved_at = a.state, a.resolved_at  # type: ignore[attr-defined]
    a.seen_last_value, a.seen_last_as_of = a.last_value, a.last_as_of  # type: ignore[attr-defined]
    if not logic.shown(figure, held, a.last_as_of, now):
        a.seen_last_value, a.seen_last_as_of = a.value, a.as_of  # type: ignore[attr-defined]
    hidden = a.resolved_as_of is not None and not logic.shown(figure, held, a.resolved_as_of, now)
    if a.state == logic.RESOLVED and hidden:
        still = logic.ACKNOWLEDGED if a.acknowledged_at else logic.OPEN
        a.seen_state, a.seen_resolved_at = still, None  # type: ignore[attr-defined]


def _note(viewer: Viewer, shown: list[Alert]) -> None:
    """Put the figures shown of other organisations on their access records, through the
    policy (each alert is a figure derived from its owner's data, as of its report time)."""
    by_group: dict[str, list[Alert]] = defaultdict(list)
    for a in shown:
        group = a.rule.figure.group
        if group and a.organisation_id not in viewer.organisation_ids:
            by_group[group].append(a)
    for group, found in by_group.items():

        def fetch(cutoffs: dict[int, datetime], found: list[Alert] = found) -> list[Alert]:
            return [a for a in found if a.as_of <= cutoffs.get(a.organisation_id, a.as_of)]

        policy.read_derived(viewer, group, {a.organisation_id for a in found}, fetch)  # type: ignore[misc]


def alerts_seen_by(
    viewer: Viewer,
    *,
    states: Iterable[str] | None = None,
    collaborative_id: int | None = None,
    subscribed_only: bool = False,
    since: datetime | None = None,
    limit: int = 200,
) -> list[Alert]:
    """The alerts the viewer may see, newest first: those of their collaboratives' rules
    (only those they subscribe to, with `subscribed_only`) and of their own."""
    collaboratives = member_collaboratives(viewer)
    found = _candidates(viewer, collaboratives)
    if collaborative_id is not None:
        found = found.filter(rule__collaborative_id=collaborative_id)
    if subscribed_only and viewer.user_id is not None:
        found = found.filter(
            Q(rule__owner_id=viewer.user_id) | Q(rule__subscriptions__user_id=viewer.user_id)
        )
    if since is not None:
        found = found.filter(Q(opened_at__gte=since) | ~Q(state=logic.RESOLVED))
    wanted = set(states or logic.STATES)
    # The stored state may be newer than what a delayed viewer sees: filter after marking.
    seen = seen_by(
        viewer, found.order_by("-opened_at", "-pk")[: limit * 2], collaboratives=collaboratives
    )
    return [a for a in seen if a.seen_state in wanted][:limit]  # type: ignore[attr-defined]


def get_alert(viewer: Viewer, pk: int) -> Alert:
    """One alert the viewer may see, or 404 (never 403: nobody learns what exists)."""
    if not 1 <= pk <= MAX_ID:
        raise Http404("Not found")
    collaboratives = member_collaboratives(viewer)
    a = _candidates(viewer, collaboratives).filter(pk=pk).first()
    if a is None:
        raise Http404("Not found")
    seen = seen_by(viewer, [a], collaboratives=collaboratives)
    if not seen:
        raise Http404("Not found")
    return seen[0]


def subscribed(user: Any, rules_: Iterable[AlertRule]) -> set[int]:
    """Ids of those rules the person subscribes to."""
    ids = [r.pk for r in rules_]
    return set(
        Subscription.objects.filter(user=user, rule_id__in=ids).values_list("rule_id", flat=True)
    )


def may_acknowledge(user: Any, alert: Alert) -> bool:
    """A subscriber to the collaborative's rule, or the owner of a personal one (who must
    also be able to see it: ask `get_alert` first)."""
    if not getattr(user, "is_authenticated", False):
        return False
    if alert.rule.owner_id is not None:
        return alert.rule.owner_id == user.pk
    return Subscription.objects.filter(user=user, rule_id=alert.rule_id).exists()


def rules_of(collaborative: Any, *, active_only: bool = True) -> list[AlertRule]:
    """The collaborative's own rules (not people's personal ones)."""
    found = AlertRule.objects.filter(collaborative=collaborative, owner__isnull=True)
    if active_only:
        found = found.filter(active=True)
    return list(
        found.select_related("organisation", "collaborative").order_by("kind", "measure", "pk")
    )


def personal_rules(user: Any) -> list[AlertRule]:
    return list(
        AlertRule.objects.filter(owner=user, active=True)
        .select_related("organisation", "collaborative")
        .order_by("collaborative__name", "kind", "pk")
    )


def open_counts(viewer: Viewer, rule_ids: Iterable[int]) -> dict[int, int]:
    """Rule id → how many of its unresolved alerts the viewer may see."""
    ids = list(rule_ids)
    found = _candidates(viewer, member_collaboratives(viewer)).filter(
        rule_id__in=ids, state__in=[logic.OPEN, logic.ACKNOWLEDGED]
    )
    out: dict[int, int] = defaultdict(int)
    for a in seen_by(viewer, found, note=False):
        if a.seen_state != logic.RESOLVED:  # type: ignore[attr-defined]
            out[a.rule_id] += 1
    return out


# ------------------------------------------------------------------ for telling people


def viewers_of(user_ids: Iterable[int]) -> dict[int, Viewer]:
    """User id → the viewer they read as (their organisations), in one query, as
    `policy.viewer_of` makes for one person."""
    orgs: dict[int, set[int]] = defaultdict(set)
    names: dict[int, str] = {}
    rows = Membership.objects.filter(user_id__in=list(user_ids)).values_list(
        "user_id", "organisation_id", "user__username"
    )
    for user_id, org_id, name in rows:
        orgs[user_id].add(org_id)
        names[user_id] = name
    return {
        u: Viewer(label=names[u], organisation_ids=frozenset(o), user_id=u) for u, o in orgs.items()
    }


def members(collaborative_ids: Iterable[int]) -> dict[int, set[int]]:
    """Collaborative id → its active member organisations' ids."""
    out: dict[int, set[int]] = defaultdict(set)
    rows = active(
        CollaborativeMembership.objects.filter(collaborative_id__in=list(collaborative_ids))
    ).values_list("collaborative_id", "organisation_id")
    for c, o in rows:
        out[c].add(o)
    return out


def told_recently(user_ids: Iterable[int], now: datetime) -> dict[int, int]:
    """User id → alerts told to them within the storm window."""
    out: dict[int, int] = defaultdict(int)
    rows = Notice.objects.filter(
        user_id__in=list(user_ids), told_at__gt=now - logic.STORM_WINDOW, told_at__lte=now
    ).values_list("user_id", flat=True)
    for u in rows:
        out[u] += 1
    return out
