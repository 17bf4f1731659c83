"""Who belongs to which collaborative: the membership questions every other app asks.

Membership is not sharing: being a member says which collaboratives an organisation's people
may open, not what they may read of other members' data (that is `flotilla.sharing.policy`).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet
from django.http import Http404

from flotilla.authz.models import Membership
from flotilla.collaboratives.models import Collaborative, CollaborativeMembership, SurgeSwitch
from flotilla.organisations.models import Organisation


def active(qs: QuerySet[CollaborativeMembership]) -> QuerySet[CollaborativeMembership]:
    """Memberships not ended (leaving keeps the row, with `left_at`)."""
    return qs.filter(left_at__isnull=True)


def collaboratives_of(organisation_ids: Iterable[int]) -> QuerySet[Collaborative]:
    """The collaboratives in which any of these organisations is an active member."""
    ids = active(
        CollaborativeMembership.objects.filter(organisation_id__in=list(organisation_ids))
    ).values("collaborative_id")
    return Collaborative.objects.filter(id__in=ids)


def find_collaborative(organisation_ids: Iterable[int], slug: str) -> Collaborative:
    """The collaborative, or 404 unless one of these organisations is an active member."""
    collab = collaboratives_of(organisation_ids).filter(slug=slug).first()
    if collab is None:
        raise Http404("Not found")
    return collab


def members_of(collaborative: Collaborative) -> list[Organisation]:
    """The collaborative's active member organisations, by name. Ask only about a
    collaborative the asker may open (`find_collaborative`): the list is for members."""
    ids = active(collaborative.memberships.all()).values("organisation_id")
    return list(Organisation.objects.filter(id__in=ids).order_by("name"))


def member_ids(collaborative: Collaborative) -> list[int]:
    """The ids of the collaborative's active member organisations, in order: whose data its
    picture shows. As `members_of`, for a collaborative the asker may open."""
    return sorted(active(collaborative.memberships.all()).values_list("organisation_id", flat=True))


def co_members(organisation_ids: Iterable[int]) -> set[int]:
    """Every organisation sharing an active collaborative with one of these."""
    mine = collaboratives_of(organisation_ids).values("id")
    return set(
        active(CollaborativeMembership.objects.filter(collaborative_id__in=mine)).values_list(
            "organisation_id", flat=True
        )
    )


def people_of_members(collaborative: Collaborative) -> QuerySet[Membership]:
    """The roles people hold in the collaborative's active member organisations (a person
    in two members appears twice), by organisation and username: who may be listed to hear
    of surge."""
    ids = active(collaborative.memberships.all()).values("organisation_id")
    return (
        Membership.objects.filter(organisation_id__in=ids)
        .select_related("user", "organisation")
        .order_by("organisation__name", "user__username")
    )


def surge_switches(collaborative: Collaborative, limit: int = 50) -> list[SurgeSwitch]:
    """The collaborative's switches into and out of surge, newest first."""
    return list(collaborative.surge_switches.select_related("by")[:limit])
