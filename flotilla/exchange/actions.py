"""Every change to the exchange goes through here: one transaction each, audited, with the
parties told through the notification layer in the same transaction.

Who may act: a person holding `Perm.ARRANGE_AID` in the organisation concerned, an API token
with the `aid` scope acting for its own organisation, or the platform itself (the scheduled
jobs that widen and expire). Which side a mover speaks for (the organisation that asked, the
one that offered) decides which moves of `lifecycle.MOVES` they may make.

No double promise: `commit` takes from an offer's `remaining` with one conditional update
under a row lock, and the database's check on `remaining` refuses anything that would go
below zero whatever the code above it does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from flotilla.audit import actions as audit
from flotilla.audit.principals import Principal, as_principal
from flotilla.authz.checks import organisations_where, people_with
from flotilla.authz.permissions import Perm
from flotilla.collaboratives.models import Collaborative
from flotilla.collaboratives.queries import collaboratives_of
from flotilla.exchange import kinds, lifecycle
from flotilla.exchange.lifecycle import IllegalMove, Party
from flotilla.exchange.models import (
    AidRequest,
    Commitment,
    CostRecovery,
    IdempotencyRecord,
    Offer,
    Reach,
    Transport,
    Urgency,
)
from flotilla.exchange.queries import (
    audience_of,
    committed_to,
    offers_seen_by,
    requests_seen_by,
)
from flotilla.notifications import actions as notifications
from flotilla.organisations.models import Organisation, Site
from flotilla.sharing.policy import Viewer

__all__ = ["AidInvalid", "IllegalMove", "NotAllowed"]

MAX_QUANTITY = 500
MAX_DISTANCE_KM = 1000
#: An offer stays open at most this long; a standing offer is renewed, not left for ever.
MAX_OFFER_DAYS = 90
#: The longest note or conditions, in characters.
MAX_TEXT = 1000
#: Who the scheduled jobs act as.
WIDENING = Principal.system("aid-widening")
EXPIRING = Principal.system("aid-expiry")

#: The longest sentence a notification takes (`notifications.models.Notification.text`).
_TEXT_LIMIT = 500


class AidInvalid(Exception):
    """A request, offer or commitment that cannot be made as given: field → sentence."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class NotAllowed(Exception):
    """The mover does not speak for an organisation that may do this."""


def request_path(pk: int) -> str:
    return f"/aid/requests/{pk}"


def offer_path(pk: int) -> str:
    return f"/aid/offers/{pk}"


# ------------------------------------------------------------------ who is acting


def speaks_for(by: Any) -> set[int] | None:
    """The organisations the mover may arrange aid for; None for the platform itself."""
    actor = as_principal(by)
    if actor.user is not None:
        return set(organisations_where(actor.user, Perm.ARRANGE_AID))
    if actor.token_id is not None:
        return {actor.organisation_id} if actor.organisation_id is not None else set()
    return None


def _require_for(by: Any, organisation: Organisation) -> None:
    orgs = speaks_for(by)
    if orgs is not None and organisation.pk not in orgs:
        raise NotAllowed(
            f"You cannot arrange aid for {organisation.name}: ask a coordinator or admin there."
        )


def parties(by: Any, requester_id: int | None, offerer_id: int | None) -> set[Party]:
    """The sides the mover speaks for in one negotiation (both, within one organisation)."""
    return sides(speaks_for(by), requester_id, offerer_id)


def sides(orgs: set[int] | None, requester_id: int | None, offerer_id: int | None) -> set[Party]:
    """The sides a mover arranging aid for `orgs` (None: the platform) speaks for: for pages
    that ask about many things at once and read `speaks_for` once."""
    if orgs is None:
        return {Party.PLATFORM}
    held = set()
    if requester_id in orgs:
        held.add(Party.REQUESTER)
    if offerer_id in orgs:
        held.add(Party.OFFERER)
    return held


# ------------------------------------------------------------------ snapshots


def _request_snapshot(r: AidRequest) -> dict[str, Any]:
    return {
        "kind": r.kind,
        "details": r.details,
        "quantity": r.quantity,
        "urgency": r.urgency,
        "needed_by": r.needed_by.isoformat(),
        "site": r.site.code,
        "reach": r.reach,
        "state": r.state,
        "reason": r.reason,
    }


def _offer_snapshot(o: Offer) -> dict[str, Any]:
    return {
        "request": o.request_id,
        "kind": o.kind,
        "details": o.details,
        "quantity": o.quantity,
        "remaining": o.remaining,
        "available_from": o.available_from.isoformat(),
        "available_until": o.available_until.isoformat(),
        "reach": o.reach,
        "terms": {
            "duration_hours": o.duration_hours,
            "transport": o.transport,
            "cost_recovery": o.cost_recovery,
            "conditions": o.conditions,
        },
        "state": o.state,
        "reason": o.reason,
    }


def _commitment_snapshot(c: Commitment) -> dict[str, Any]:
    return {
        "offer": c.offer_id,
        "request": c.request_id,
        "organisation": c.organisation_id,
        "quantity": c.quantity,
        "state": c.state,
        "reason": c.reason,
    }


# ------------------------------------------------------------------ telling people


def tell_arrangers(
    *,
    by: Any,
    organisations: list[Organisation],
    text: str,
    link: str,
    kind: str,
    data: dict[str, Any],
) -> None:
    """Tell the people who arrange aid at each organisation (never the mover) in the inbox
    and by email, and the organisation's webhooks subscribed to `kind`."""
    actor = as_principal(by).user
    text = " ".join(text.split())
    if len(text) > _TEXT_LIMIT:
        # A long reason or summary is cut short rather than failing the change it tells of.
        text = text[: _TEXT_LIMIT - 1].rstrip() + "…"
    for org in organisations:
        people = [p for p in people_with(Perm.ARRANGE_AID, org.pk) if p != actor]
        notifications.notify(
            by=by,
            recipients=people,
            text=text,
            link=link,
            organisation=org,
            kind=kind,
            data={**data, "organisation": org.code},
        )


def _told(thing: AidRequest | Offer, leaving_out: set[int]) -> list[Organisation]:
    """The organisations a request or standing offer reaches that have people to tell (an
    organisation nobody has joined Flotilla for has no inbox and no webhooks), by name."""
    audience = audience_of(thing).exclude(pk__in=leaving_out)
    return list(audience.filter(memberships__isnull=False).distinct().order_by("name"))


def _tell_audience(*, by: Any, request: AidRequest, already: set[int]) -> None:
    """Tell the organisations a request now reaches that it did not reach before."""
    reached = _told(request, already | {request.organisation_id})
    urgency = Urgency(request.urgency).label.lower()
    tell_arrangers(
        by=by,
        organisations=reached,
        text=f"{request.organisation.name} asks for help ({urgency}): {request.summary}.",
        link=request_path(request.pk),
        kind="aid.request",
        data={"request": request.pk, "collaborative": request.collaborative.slug},
    )


# ------------------------------------------------------------------ requests


def _check_text(errors: dict[str, str], field: str, text: str, limit: int = MAX_TEXT) -> str:
    # Counted as given, white space included, as the API's document states the limit.
    if len(text) > limit:
        errors[field] = f"use {limit} characters or fewer"
    elif kinds.looks_like_patient_identity(text):
        errors[field] = kinds.IDENTITY_MESSAGE
    return text.strip()


def _check_details(errors: dict[str, str], kind: str, details: dict[str, Any]) -> dict[str, Any]:
    try:
        return kinds.validate(kind, details)
    except kinds.DetailsInvalid as exc:
        errors.update(
            {("kind" if k == "kind" else f"details.{k}"): v for k, v in exc.errors.items()}
        )
        return {}


def _check_quantity(errors: dict[str, str], quantity: int) -> None:
    if not 1 <= quantity <= MAX_QUANTITY:
        errors["quantity"] = f"give a whole number from 1 to {MAX_QUANTITY}"


def _member(organisation: Organisation, collaborative: Collaborative) -> bool:
    return collaboratives_of([organisation.pk]).filter(pk=collaborative.pk).exists()


def raise_request(
    *,
    by: Any,
    organisation: Organisation,
    collaborative: Collaborative,
    site: Site,
    kind: str,
    details: dict[str, Any],
    quantity: int,
    urgency: str,
    needed_by: datetime,
    max_distance_km: int | None = None,
    note: str = "",
    reach: int | None = None,
) -> AidRequest:
    """Ask for help. Every problem is found before anything is stored (AidInvalid names each
    field); the audience is told in the same transaction. `reach` None shows it first to the
    collaborative's default audience (`Collaborative.default_aid_reach`: its members, or
    wider while it is in surge)."""
    _require_for(by, organisation)
    if reach is None:
        reach = collaborative.default_aid_reach
    errors: dict[str, str] = {}
    if not _member(organisation, collaborative):
        errors["collaborative"] = f"{organisation.name} is not a member of {collaborative.name}"
    if site.organisation_id != organisation.pk:
        errors["site"] = f"{site.name} is not a site of {organisation.name}"
    clean = _check_details(errors, kind, details)
    _check_quantity(errors, quantity)
    if urgency not in Urgency.values:
        errors["urgency"] = f"choose one of {', '.join(Urgency.values)}"
    now = timezone.now()
    if needed_by <= now:
        errors["needed_by"] = "must be in the future"
    if max_distance_km is not None and not 1 <= max_distance_km <= MAX_DISTANCE_KM:
        errors["max_distance_km"] = f"give a distance from 1 to {MAX_DISTANCE_KM} km, or none"
    note = _check_text(errors, "note", note)
    if reach not in Reach.values:
        errors["reach"] = "choose who to ask: 1 (own sites) to 4 (everyone on Flotilla)"
    if errors:
        raise AidInvalid(errors)
    with transaction.atomic():
        request = AidRequest.objects.create(
            collaborative=collaborative,
            organisation=organisation,
            site=site,
            kind=kind,
            details=clean,
            quantity=quantity,
            urgency=urgency,
            needed_by=needed_by,
            max_distance_km=max_distance_km,
            note=note,
            reach=reach,
            reach_since=now,
            created_by=as_principal(by).user,
            created_at=now,
        )
        audit.record(
            by=by,
            action="exchange.request_raised",
            obj=request,
            organisation_id=organisation.pk,
            after=_request_snapshot(request),
        )
        _tell_audience(by=by, request=request, already=set())
    return request


def widen(*, by: Any, request: AidRequest, now: datetime | None = None) -> AidRequest:
    """Show an open request one step further up the ladder, and tell the newly reached.
    The ladder's clock restarts at `now` (a scheduled job's moment; default: now)."""
    with transaction.atomic():
        locked = AidRequest.objects.select_for_update().get(pk=request.pk)
        held = parties(by, locked.organisation_id, None)
        if not held & {Party.REQUESTER, Party.PLATFORM}:
            raise IllegalMove("Only the organisation that asked can widen this request.")
        if locked.state != "open":
            raise IllegalMove("Only an open request can be shown more widely.")
        if locked.reach >= Reach.PLATFORM:
            raise IllegalMove("This request is already seen by every organisation on Flotilla.")
        already = set(audience_of(locked).values_list("pk", flat=True))
        audit.change(
            by=by,
            obj=locked,
            action="exchange.request_widened",
            snapshot=_request_snapshot,
            changes={"reach": locked.reach + 1, "reach_since": now or timezone.now()},
            organisation_id=locked.organisation_id,
        )
        _tell_audience(by=by, request=locked, already=already)
    return locked


# ------------------------------------------------------------------ offers


def make_offer(
    *,
    by: Any,
    organisation: Organisation,
    site: Site,
    quantity: int,
    available_from: datetime,
    available_until: datetime,
    transport: str,
    cost_recovery: str,
    request: AidRequest | None = None,
    collaborative: Collaborative | None = None,
    kind: str = "",
    details: dict[str, Any] | None = None,
    duration_hours: int | None = None,
    conditions: str = "",
    note: str = "",
    reach: int = Reach.COLLABORATIVE,
) -> Offer:
    """Offer help with its terms: in answer to `request` (its kind and collaborative), or
    unsolicited in `collaborative` to the audience `reach` gives."""
    _require_for(by, organisation)
    errors: dict[str, str] = {}
    if request is not None:
        # The offering organisation must be in the audience, not just anyone the mover
        # arranges aid for (a person may do so at several organisations).
        offering = Viewer(
            label=as_principal(by).label, organisation_ids=frozenset({organisation.pk})
        )
        if not requests_seen_by(offering).filter(pk=request.pk).exists():
            raise NotAllowed("This request is not open to your organisation.")
        kind, collaborative = kind or request.kind, request.collaborative
        if request.state != "open":
            errors["request"] = "this request is no longer open"
        if kind != request.kind:
            errors["kind"] = f"this request asks for {kinds.KINDS[request.kind].label.lower()}"
    if collaborative is None:
        errors["collaborative"] = "say which collaborative the offer is made in"
    elif request is None and not _member(organisation, collaborative):
        errors["collaborative"] = f"{organisation.name} is not a member of {collaborative.name}"
    if site.organisation_id != organisation.pk:
        errors["site"] = f"{site.name} is not a site of {organisation.name}"
    clean = _check_details(errors, kind, details or {})
    _check_quantity(errors, quantity)
    now = timezone.now()
    if available_until <= max(available_from, now):
        errors["available_until"] = "must be after the start and in the future"
    elif available_until - available_from > timedelta(days=MAX_OFFER_DAYS):
        errors["available_until"] = f"an offer can stand for at most {MAX_OFFER_DAYS} days"
    if duration_hours is not None and not 1 <= duration_hours <= 24 * MAX_OFFER_DAYS:
        errors["duration_hours"] = f"give hours from 1 to {24 * MAX_OFFER_DAYS}, or none"
    if transport not in Transport.values:
        errors["transport"] = f"choose one of {', '.join(Transport.values)}"
    if cost_recovery not in CostRecovery.values:
        errors["cost_recovery"] = f"choose one of {', '.join(CostRecovery.values)}"
    conditions = _check_text(errors, "conditions", conditions)
    note = _check_text(errors, "note", note)
    if reach not in Reach.values:
        errors["reach"] = "choose who to offer to: 1 (own sites) to 4 (everyone on Flotilla)"
    if errors:
        raise AidInvalid(errors)
    assert collaborative is not None
    with transaction.atomic():
        if request is not None:
            # As it is now, not as the caller read it: it may have ended meanwhile.
            request = AidRequest.objects.select_for_update().get(pk=request.pk)
            if request.state != "open":
                raise AidInvalid({"request": "this request is no longer open"})
        offer = Offer.objects.create(
            collaborative=collaborative,
            request=request,
            organisation=organisation,
            site=site,
            kind=kind,
            details=clean,
            quantity=quantity,
            remaining=quantity,
            available_from=available_from,
            available_until=available_until,
            reach=reach,
            duration_hours=duration_hours,
            transport=transport,
            cost_recovery=cost_recovery,
            conditions=conditions,
            note=note,
            created_by=as_principal(by).user,
            created_at=now,
        )
        audit.record(
            by=by,
            action="exchange.offer_made",
            obj=offer,
            organisation_id=organisation.pk,
            after=_offer_snapshot(offer),
        )
        data = {"offer": offer.pk, "collaborative": collaborative.slug}
        if request is not None:
            tell_arrangers(
                by=by,
                organisations=[request.organisation],
                text=f"{organisation.name} offers {offer.summary} for your request.",
                link=request_path(request.pk),
                kind="aid.offer",
                data={**data, "request": request.pk},
            )
        else:
            tell_arrangers(
                by=by,
                organisations=_told(offer, {organisation.pk}),
                text=f"{organisation.name} offers {offer.summary}.",
                link=offer_path(offer.pk),
                kind="aid.offer",
                data=data,
            )
    return offer


# ------------------------------------------------------------------ commitments


def commit(
    *, by: Any, offer: Offer, quantity: int, organisation: Organisation | None = None
) -> Commitment:
    """Take up `quantity` of an offer: for the request it answers (by its requester), or, for
    an unsolicited offer, for `organisation` in its audience. Never more than is left: the
    offer is locked, its `remaining` taken by a conditional update, and the database's
    check refuses a negative remainder even if two commits raced past the lock."""
    with transaction.atomic():
        locked = (
            Offer.objects.select_for_update(of=("self",)).select_related("request").get(pk=offer.pk)
        )
        request = locked.request
        if request is not None:
            request = AidRequest.objects.select_for_update().get(pk=request.pk)
            taker = request.organisation
            if Party.REQUESTER not in parties(by, request.organisation_id, locked.organisation_id):
                raise NotAllowed("Only the organisation that asked can take up this offer.")
        else:
            if organisation is None:
                raise AidInvalid({"organisation": "say which organisation takes up the offer"})
            taker = organisation
            _require_for(by, taker)
            viewer = Viewer(label="commit", organisation_ids=frozenset({taker.pk}))
            if not offers_seen_by(viewer).filter(pk=locked.pk).exists():
                raise NotAllowed(f"This offer is not open to {taker.name}.")
        if locked.state != "offered":
            raise IllegalMove(
                f"This offer is {lifecycle.LABELS[locked.state].lower()}: nothing can be "
                "committed against it."
            )
        if locked.available_until <= timezone.now():
            raise IllegalMove("This offer's window has closed: nothing can be committed.")
        if not 1 <= quantity <= locked.quantity:
            raise AidInvalid({"quantity": f"give a whole number from 1 to {locked.quantity}"})
        if request is not None:
            still_needed = request.quantity - committed_to(request)
            if request.state != "open":
                raise IllegalMove("The request this offer answers is no longer open.")
            if quantity > still_needed:
                raise AidInvalid(
                    {"quantity": f"the request needs {max(still_needed, 0)} more, not {quantity}"}
                )
        before = _offer_snapshot(locked)
        # The conditional update takes only what is left; the CHECK on `remaining` refuses a
        # negative remainder even if this ever ran without the lock (an IntegrityError then).
        taken = Offer.objects.filter(pk=locked.pk, remaining__gte=quantity).update(
            remaining=F("remaining") - quantity
        )
        if not taken:
            raise AidInvalid(
                {"quantity": f"only {locked.remaining} left on this offer, not {quantity}"}
            )
        locked.refresh_from_db(fields=["remaining"])
        now = timezone.now()
        commitment = Commitment.objects.create(
            offer=locked,
            request=request,
            organisation=taker,
            quantity=quantity,
            created_by=as_principal(by).user,
            created_at=now,
        )
        audit.record(
            by=by,
            action="exchange.committed",
            obj=commitment,
            organisation_id=taker.pk,
            # The offer as it was and became, beside the commitment (whose own "offer" is
            # only the offer's id, so it goes first and the offer's state wins the key).
            before={"offer": {"id": locked.pk, **before}},
            after={
                **_commitment_snapshot(commitment),
                "offer": {"id": locked.pk, **_offer_snapshot(locked)},
            },
        )
        tell_arrangers(
            by=by,
            organisations=[locked.organisation],
            text=f"{taker.name} takes up {quantity} of your offer: {locked.summary}.",
            link=offer_path(locked.pk),
            kind="aid.commitment",
            data={"offer": locked.pk, "commitment": commitment.pk},
        )
    return commitment


# ------------------------------------------------------------------ moves


def _moved(
    *,
    by: Any,
    thing: str,
    obj: AidRequest | Offer | Commitment,
    to: str,
    reason: str,
    requester_id: int | None,
    offerer_id: int | None,
    snapshot: Any,
    organisation_id: int,
) -> lifecycle.Move:
    """Check one move against the table and record it on the locked row."""
    held = parties(by, requester_id, offerer_id)
    answers = thing != "offer" or requester_id is not None
    move = lifecycle.step(thing, obj.state, to, held, reason, answers_request=answers)
    # The event goes on the record of the side that moved (the owner's, for the platform).
    if Party.REQUESTER in held and requester_id is not None:
        organisation_id = requester_id
    elif Party.OFFERER in held and offerer_id is not None:
        organisation_id = offerer_id
    now = timezone.now()
    changes: dict[str, Any] = {"state": to, "reason": reason.strip()[:500]}
    if thing == "commitment":
        stamp = {"in_progress": "started_at", "fulfilled": "fulfilled_at"}.get(to, "ended_at")
        changes[stamp] = now
    else:  # every move of a request or an offer ends it (see lifecycle.MOVES)
        changes["ended_at"] = now
    audit.change(
        by=by,
        obj=obj,
        action=f"exchange.{thing}_{to}",
        snapshot=snapshot,
        changes=changes,
        organisation_id=organisation_id,
    )
    return move


def move_request(*, by: Any, request: AidRequest, to: str, reason: str = "") -> AidRequest:
    """Close, withdraw or expire a request (see `lifecycle`). Offers made for it that nobody
    took up are left as they are: their makers decide what to do with them."""
    with transaction.atomic():
        locked = AidRequest.objects.select_for_update().get(pk=request.pk)
        _moved(
            by=by,
            thing="request",
            obj=locked,
            to=to,
            reason=reason,
            requester_id=locked.organisation_id,
            offerer_id=None,
            snapshot=_request_snapshot,
            organisation_id=locked.organisation_id,
        )
        helpers = Organisation.objects.filter(
            pk__in=locked.offers.values("organisation_id")
        ).exclude(pk=locked.organisation_id)
        # An expiry is the platform's move: the requester hears of it too, as an expiry.
        told = [locked.organisation] if to == "expired" else []
        tell_arrangers(
            by=by,
            organisations=told + list(helpers),
            text=f"{locked.organisation.name}'s request ({locked.summary}) is now "
            f"{lifecycle.LABELS[to].lower()}" + (f": {locked.reason}" if locked.reason else "."),
            link=request_path(locked.pk),
            kind="aid.expired" if to == "expired" else "aid.changed",
            data={"request": locked.pk, "state": to},
        )
    return locked


def move_offer(*, by: Any, offer: Offer, to: str, reason: str = "") -> Offer:
    """Withdraw, decline or expire an offer. Commitments already made stand."""
    with transaction.atomic():
        locked = Offer.objects.select_for_update().get(pk=offer.pk)
        request = locked.request
        _moved(
            by=by,
            thing="offer",
            obj=locked,
            to=to,
            reason=reason,
            requester_id=request.organisation_id if request is not None else None,
            offerer_id=locked.organisation_id,
            snapshot=_offer_snapshot,
            organisation_id=locked.organisation_id,
        )
        # Whoever else is concerned: the offerer hears of a decline or an expiry; the
        # requester (or, unsolicited, those who took some up) of a withdrawal or an expiry.
        told = []
        if to in ("declined", "expired"):
            told.append(locked.organisation)
        if to in ("withdrawn", "expired"):
            if request is not None:
                told.append(request.organisation)
            else:
                takers = locked.commitments.values("organisation_id")
                told.extend(Organisation.objects.filter(pk__in=takers).order_by("name"))
        tell_arrangers(
            by=by,
            organisations=told,
            text=f"{locked.organisation.name}'s offer ({locked.summary}) is now "
            f"{lifecycle.LABELS[to].lower()}: {locked.reason}",
            link=request_path(request.pk) if request is not None else offer_path(locked.pk),
            kind="aid.expired" if to == "expired" else "aid.changed",
            data={"offer": locked.pk, "state": to},
        )
    return locked


def move_commitment(*, by: Any, commitment: Commitment, to: str, reason: str = "") -> Commitment:
    """Start, fulfil, return or release a commitment. Releasing before fulfilment puts the
    quantity back on the offer, in the same transaction."""
    with transaction.atomic():
        offer = (
            Offer.objects.select_for_update(of=("self",))
            .select_related("request")
            .get(pk=commitment.offer_id)
        )
        locked = Commitment.objects.select_for_update().get(pk=commitment.pk)
        # The side that asked is the taker (for an answered request, the requester).
        move = _moved(
            by=by,
            thing="commitment",
            obj=locked,
            to=to,
            reason=reason,
            requester_id=locked.organisation_id,
            offerer_id=offer.organisation_id,
            snapshot=_commitment_snapshot,
            organisation_id=locked.organisation_id,
        )
        if move.gives_back:
            Offer.objects.filter(pk=offer.pk).update(remaining=F("remaining") + locked.quantity)
        mover = speaks_for(by) or set()
        other = [o for o in (locked.organisation, offer.organisation) if o.pk not in mover]
        tell_arrangers(
            by=by,
            organisations=other,
            text=f"{offer.organisation.name} to {locked.organisation.name}: {locked.quantity} "
            f"of the offer of {offer.summary} is now {lifecycle.LABELS[to].lower()}"
            + (f": {locked.reason}" if locked.reason else "."),
            link=request_path(offer.request_id) if offer.request_id else offer_path(offer.pk),
            kind="aid.changed",
            data={"commitment": locked.pk, "offer": offer.pk, "state": to},
        )
    return locked


# ------------------------------------------------------------------ scheduled work


def widen_unmet(*, now: datetime | None = None) -> list[int]:
    """Widen every open request still short of commitments after its collaborative's set
    time on its current step. Returns the requests widened.

    Each open request is looked at under its row lock, and only there is it decided whether
    it is due: a request closed, widened or taken up by someone else since the list was
    read is simply not due. Safe to run twice: each request's clock restarts when it widens,
    no earlier than the moment acted for.
    """
    now = now or timezone.now()
    widened = []
    for pk in AidRequest.objects.filter(state="open", reach__lt=Reach.PLATFORM).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            request = (
                AidRequest.objects.select_for_update(of=("self",))
                .select_related("collaborative")
                .get(pk=pk)
            )
            wait = timedelta(minutes=request.collaborative.aid_widen_after_minutes)
            if (
                request.state != "open"
                or request.reach >= Reach.PLATFORM
                or request.reach_since + wait > now
                or committed_to(request) >= request.quantity
            ):
                continue
            widen(by=WIDENING, request=request, now=max(now, timezone.now()))
            widened.append(pk)
    return widened


def expire_due(*, now: datetime | None = None) -> tuple[list[int], list[int]]:
    """Expire open requests past their needed-by time and offers whose window has closed,
    saying how much was taken up. Returns (requests expired, offers expired).

    As with widening, each open request or offer is judged under its row lock, so one closed
    or withdrawn by someone else meanwhile is left alone. Safe to run twice.
    """
    now = now or timezone.now()
    requests, offers = [], []
    for pk in AidRequest.objects.filter(state="open").values_list("pk", flat=True):
        with transaction.atomic():
            request = AidRequest.objects.select_for_update().get(pk=pk)
            if request.state != "open" or request.needed_by > now:
                continue
            reason = (
                f"Needed by {timezone.localtime(request.needed_by):%d %b %H:%M}; "
                f"{committed_to(request)} of {request.quantity} committed by then."
            )
            move_request(by=EXPIRING, request=request, to="expired", reason=reason)
            requests.append(pk)
    for pk in Offer.objects.filter(state="offered").values_list("pk", flat=True):
        with transaction.atomic():
            offer = Offer.objects.select_for_update().get(pk=pk)
            if offer.state != "offered" or offer.available_until > now:
                continue
            reason = (
                f"Available until {timezone.localtime(offer.available_until):%d %b %H:%M}; "
                f"{offer.quantity - offer.remaining} of {offer.quantity} taken up."
            )
            move_offer(by=EXPIRING, offer=offer, to="expired", reason=reason)
            offers.append(pk)
    return sorted(requests), sorted(offers)


# ------------------------------------------------------------------ API retries


class KeyReused(Exception):
    """An Idempotency-Key already used by this token for a different request."""


def _judged(record: IdempotencyRecord, key: str, body_sha256: str) -> tuple[int, dict[str, Any]]:
    """The stored answer for a key, if it was used for this very request."""
    if record.body_sha256 != body_sha256:
        raise KeyReused(
            f"Idempotency-Key {key!r} was already used with a different request; nothing was "
            "stored. Use a new key for a new request."
        )
    return record.status, record.response


def create_once(
    *, token: Any, key: str, body_sha256: str, create: Callable[[], tuple[int, dict[str, Any]]]
) -> tuple[int, dict[str, Any], bool]:
    """Make something for an API token unless this key was used before: returns (status,
    answer, replayed). `create()` makes it (through the actions above) and returns the status
    and the JSON answer, which is kept for retries. `body_sha256` fingerprints the whole
    request (operation and body): the same key with another fingerprint is KeyReused.

    The key's record is created in the same transaction as the thing, so of two concurrent
    requests with one key exactly one creates: on SQLite the second waits for the write lock
    and then finds the record; on PostgreSQL its insert waits on the unique index, fails once
    the first commits, and `get_or_create` reads the winner's record instead. A refused
    creation (AidInvalid, IllegalMove, NotAllowed) rolls the record back too, so a corrected
    retry may reuse the key.
    """
    with transaction.atomic():
        # get_or_create inserts the key's record, or, when a concurrent request with the key
        # committed first (its insert waited on the unique index), reads that one's answer.
        record, made = IdempotencyRecord.objects.get_or_create(
            token=token,
            key=key,
            defaults={"body_sha256": body_sha256, "status": 0, "response": {}},
        )
        if not made:
            return (*_judged(record, key, body_sha256), True)
        status, answer = create()
        record.status, record.response = status, answer
        record.save(update_fields=["status", "response"])
        return status, answer, False
