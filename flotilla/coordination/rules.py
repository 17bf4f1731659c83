"""Who may do what in a collaborative's shared work, and which figures an objective may
be set on. Reads only.

Authorisation stays with `authz`: the collaborative's coordinators are those holding
`Perm.MANAGE_COLLABORATIVE` over it. Beside them, the people given a role in the
collaborative (convenor, sponsor, lead, dedicated team) keep its log and run its call, for
as long as they still belong to the member organisation they hold the role for.
"""

from __future__ import annotations

from typing import Any

from flotilla import catalogue
from flotilla.authz.checks import can, people_with
from flotilla.authz.models import Membership
from flotilla.authz.permissions import Perm
from flotilla.collaboratives.models import Collaborative
from flotilla.collaboratives.queries import members_of
from flotilla.coordination.models import CollaborativeRole, LogItem, RoleKind
from flotilla.organisations.models import Organisation


def manages(user: Any, collaborative: Collaborative) -> bool:
    """A coordinator (or admin) of one of its members."""
    return can(user, Perm.MANAGE_COLLABORATIVE, collaborative)


def current_roles(collaborative: Collaborative) -> Any:
    """Roles held now, by people still in the organisation they hold them for."""
    held = CollaborativeRole.objects.filter(collaborative=collaborative, ended_at__isnull=True)
    member_ids = [m.pk for m in members_of(collaborative)]
    held = held.filter(organisation_id__in=member_ids)
    kept = Membership.objects.filter(
        user_id__in=held.values("user_id"), organisation_id__in=held.values("organisation_id")
    ).values_list("user_id", "organisation_id")
    pairs = set(kept)
    return [
        r
        for r in held.select_related("user", "organisation")
        if (r.user_id, r.organisation_id) in pairs
    ]


def may_coordinate(user: Any, collaborative: Collaborative) -> bool:
    """Keep the log, run the call, add objectives and workstreams."""
    if not getattr(user, "is_authenticated", False):
        return False
    if manages(user, collaborative):
        return True
    return any(r.user_id == user.pk for r in current_roles(collaborative))


def belongs(user: Any, organisation: Organisation) -> bool:
    return Membership.objects.filter(user=user, organisation=organisation).exists()


def person_of_member(user: Any, collaborative: Collaborative) -> bool:
    member_ids = [m.pk for m in members_of(collaborative)]
    return Membership.objects.filter(user=user, organisation_id__in=member_ids).exists()


def people_of_members(collaborative: Collaborative) -> list[Any]:
    """Everyone who may read the collaborative's picture, once each, by username."""
    found = {
        p.pk: p for m in members_of(collaborative) for p in people_with(Perm.VIEW_PICTURE, m.pk)
    }
    return sorted(found.values(), key=lambda p: p.get_username())


def sponsors_of(item: LogItem) -> list[Any]:
    """Who an item is escalated to: its workstream's sponsor, else the collaborative's
    executive sponsors."""
    if item.workstream_id and item.workstream.sponsor_id:
        return [item.workstream.sponsor]
    return sorted(
        (r.user for r in current_roles(item.collaborative) if r.kind == RoleKind.SPONSOR),
        key=lambda u: u.get_username(),
    )


def objective_measures() -> dict[str, str]:
    """Code → kind ("ratio", "count", "level") of every figure an objective may target: the
    occupancy indicators and the catalogue's counts and levels."""
    cat = catalogue.current()
    out = {i.code: "ratio" for i in cat.indicators if i.source == "occupancy"}
    out |= {m.code: m.kind for m in cat.measures if m.kind in ("count", "level")}
    return out


def measure_label(code: str) -> str:
    cat = catalogue.current()
    labels = {m.code: m.label for m in cat.measures} | {i.code: i.label for i in cat.indicators}
    return labels.get(code, code)
