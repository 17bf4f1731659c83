"""Who sees which requests and offers: the exchange's one visibility rule, beside the sharing
policy and read through the same `Viewer`.

- A **request** is seen by its current audience, which widens with its `reach`: the
  requesting organisation (its other sites), then the collaborative's members, then every
  organisation in the requester's region, then every organisation on Flotilla.
- An **unsolicited offer** is seen, with its terms, by its audience in the same way.
- An **offer answering a request**, and its terms, are seen by the two parties and by the
  collaborative's coordinators (people who run it day to day), never by the rest of the
  audience.
- Whoever has taken up part of an offer keeps seeing it.

Figures from organisations' reports are not read here: matching reads them through
`flotilla.sharing.policy` (see `matching`). Pages, the API, exports, jobs and notifications
all ask these functions; nothing else filters requests or offers by viewer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.http import Http404

from flotilla.authz.models import Membership
from flotilla.authz.permissions import ROLE_PERMISSIONS, Perm
from flotilla.collaboratives.queries import collaboratives_of
from flotilla.exchange.models import AidRequest, Commitment, Offer, Reach
from flotilla.organisations.models import Organisation
from flotilla.sharing.policy import Viewer

#: Commitments that count against a request: all but those released before fulfilment.
ACTIVE_COMMITMENTS = Q(state__in=("committed", "in_progress", "fulfilled", "returned")) | Q(
    state="released", fulfilled_at__isnull=False
)


#: Help that happened: fulfilled (and whatever became of it afterwards).
HAPPENED = Q(fulfilled_at__isnull=False)


def totals(request_ids: Iterable[int] | QuerySet[Any], which: Q) -> dict[int, int]:
    """Request id → the quantity of its commitments matching `which` (ACTIVE_COMMITMENTS:
    committed; HAPPENED: given), in one query for any number of requests. A request with
    none is absent."""
    ids = request_ids if isinstance(request_ids, QuerySet) else list(request_ids)
    rows = (
        Commitment.objects.filter(which, request_id__in=ids)
        .values("request_id")
        .annotate(n=Sum("quantity"))
        .values_list("request_id", "n")
    )
    return {r: int(n or 0) for r, n in rows}


def committed_to(request: AidRequest) -> int:
    """How much of a request is committed and not released before it happened."""
    return totals([request.pk], ACTIVE_COMMITMENTS).get(request.pk, 0)


def given_to(request: AidRequest) -> int:
    """How much of a request was given (fulfilled)."""
    return totals([request.pk], HAPPENED).get(request.pk, 0)


def _regions(viewer: Viewer) -> QuerySet[Organisation]:
    return Organisation.objects.filter(id__in=viewer.organisation_ids, region__isnull=False).values(
        "region_id"
    )


def _audience(viewer: Viewer, prefix: str = "") -> Q:
    """Things whose reach includes one of the viewer's organisations (`prefix`: the path
    from the filtered model to the thing with `reach`, `collaborative` and `organisation`)."""
    p = prefix
    if not viewer.organisation_ids:
        return Q(pk__in=[])
    return (
        Q(**{f"{p}organisation_id__in": viewer.organisation_ids})
        | Q(
            **{
                f"{p}reach__gte": Reach.COLLABORATIVE,
                f"{p}collaborative__in": collaboratives_of(viewer.organisation_ids),
            }
        )
        | Q(**{f"{p}reach__gte": Reach.REGION, f"{p}organisation__region_id__in": _regions(viewer)})
        | Q(**{f"{p}reach": Reach.PLATFORM})
    )


def requests_seen_by(viewer: Viewer) -> QuerySet[AidRequest]:
    """Every request the viewer may see, in any state."""
    if viewer.platform:
        return AidRequest.objects.all()
    return AidRequest.objects.filter(_audience(viewer))


def coordinated_by(viewer: Viewer) -> QuerySet[Organisation]:
    """The organisations whose collaboratives the viewer coordinates (a person holding a role
    that runs collaboratives there); none for a token."""
    if viewer.user_id is None:
        return Organisation.objects.none()
    roles = [r for r, perms in ROLE_PERMISSIONS.items() if Perm.MANAGE_COLLABORATIVE in perms]
    return Organisation.objects.filter(
        id__in=Membership.objects.filter(user_id=viewer.user_id, role__in=roles).values(
            "organisation_id"
        )
    )


def offers_seen_by(viewer: Viewer) -> QuerySet[Offer]:
    """Every offer the viewer may see (with its terms), in any state."""
    if viewer.platform:
        return Offer.objects.all()
    if not viewer.organisation_ids:
        return Offer.objects.none()
    mine = viewer.organisation_ids
    coordinated = collaboratives_of(coordinated_by(viewer).values_list("id", flat=True))
    taken_by_me = Commitment.objects.filter(organisation_id__in=mine).values("offer_id")
    return Offer.objects.filter(
        Q(organisation_id__in=mine)
        | Q(request__organisation_id__in=mine)
        | Q(collaborative__in=coordinated)
        | Q(pk__in=taken_by_me)
        | (Q(request__isnull=True) & _audience(viewer))
    )


def commitments_seen_by(viewer: Viewer) -> QuerySet[Commitment]:
    """The commitments of the offers the viewer may see."""
    return Commitment.objects.filter(offer__in=offers_seen_by(viewer))


def get_request(viewer: Viewer, pk: int) -> AidRequest:
    """The request, or 404 when it does not exist or the viewer is not in its audience."""
    found = (
        requests_seen_by(viewer)
        .filter(pk=pk)
        .select_related("organisation", "site", "collaborative")
    )
    request = found.first()
    if request is None:
        raise Http404("Not found")
    return request


def get_offer(viewer: Viewer, pk: int) -> Offer:
    """The offer, or 404 when it does not exist or the viewer may not see it."""
    offer = (
        offers_seen_by(viewer)
        .filter(pk=pk)
        .select_related("organisation", "site", "collaborative", "request")
        .first()
    )
    if offer is None:
        raise Http404("Not found")
    return offer


def get_commitment(viewer: Viewer, pk: int) -> Commitment:
    """The commitment, or 404 when the viewer may not see its offer."""
    commitment = (
        commitments_seen_by(viewer).filter(pk=pk).select_related("offer", "organisation").first()
    )
    if commitment is None:
        raise Http404("Not found")
    return commitment


def audience_of(request_or_offer: AidRequest | Offer) -> QuerySet[Organisation]:
    """The organisations a request (or unsolicited offer) currently reaches, its own included."""
    thing = request_or_offer
    reach = Q(pk=thing.organisation_id)
    if thing.reach >= Reach.COLLABORATIVE:
        reach |= Q(
            collaborative_memberships__collaborative_id=thing.collaborative_id,
            collaborative_memberships__left_at__isnull=True,
        )
    if thing.reach >= Reach.REGION and thing.organisation.region_id is not None:
        reach |= Q(region_id=thing.organisation.region_id)
    if thing.reach >= Reach.PLATFORM:
        reach = Q()
    return Organisation.objects.filter(reach).distinct()
