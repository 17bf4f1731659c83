"""From plan to aid: a plan's moves put to the organisations on each side as drafts, and
their decisions. The plan recommends; each organisation decides (ADR 0021)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from flotilla.audit import actions as audit
from flotilla.audit.principals import as_principal
from flotilla.authz.checks import can, people_with
from flotilla.authz.permissions import Perm
from flotilla.collaboratives.models import Collaborative
from flotilla.exchange import actions as exchange
from flotilla.exchange.models import AidRequest, CostRecovery, Offer, Transport, Urgency
from flotilla.notifications import actions as notifications
from flotilla.planning.balancing import Move, Plan
from flotilla.planning.models import AidDraft, DraftSide, DraftState

#: The exchange's level of care and bed type for a patient of each catalogue bed type (a
#: transfer is asked for by level of care). A bed type missing here cannot be drafted.
TRANSFER_FOR_BED: dict[str, tuple[str, str]] = {
    "ga": ("ga", "ga"),
    "ga_adult": ("ga", "ga"),
    "ga_paed": ("paediatric", "ga_paed"),
    "cc_adult": ("cc2", "cc_adult"),
    "picu": ("paediatric", "picu"),
    "nicu": ("paediatric", "nicu"),
    "mh_adult": ("mental_health", "mh_adult"),
    "mh_picu": ("mental_health", "mh_picu"),
    "mh_older": ("mental_health", "mh_adult"),
}


class DraftError(Exception):
    """A draft cannot be made or decided as asked: field → why."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class NotAllowed(Exception):
    """The mover may not do this."""


def move_key(move: Move) -> str:
    """How a plan names a move: sender > receiver, by their places' keys."""
    return f"{move.source.key}>{move.target.key}"


def _snapshot(d: AidDraft) -> dict[str, Any]:
    return {
        "side": d.side,
        "organisation": d.organisation_id,
        "counterpart": d.counterpart_id,
        "move": d.move,
        "bed_type": d.bed_type,
        "patients": d.patients,
        "distance_km": round(d.distance_km, 1),
        "state": d.state,
        "request": d.request_id,
        "offer": d.offer_id,
        "reason": d.reason,
    }


def sentence(d: AidDraft) -> str:
    """What the organisation is asked to decide, naming only the two organisations and the
    move (never the figures the plan was made of: those are the planner's view)."""
    beds = d.beds
    if d.side == DraftSide.REQUEST:
        return (
            f"A plan recommends that {d.organisation.name} asks {d.counterpart.name} "
            f"({d.distance_km:.0f} km) to take {d.patients} {beds} "
            f"{'patient' if d.patients == 1 else 'patients'}. Raise it or dismiss it."
        )
    return (
        f"A plan recommends that {d.organisation.name} offers {d.patients} {beds} "
        f"{'bed' if d.patients == 1 else 'beds'} to {d.counterpart.name} "
        f"({d.distance_km:.0f} km). Raise it or dismiss it."
    )


def draft_path(pk: int) -> str:
    return f"/plans/drafts/{pk}"


def draft_moves(
    *, by: Any, plan: Plan, chosen: Iterable[str], now: datetime | None = None
) -> list[AidDraft]:
    """Put the chosen moves of a plan (`move_key`s) to their organisations: a draft request
    to each sender, a draft offer to each receiver, told to the people who arrange aid
    there. Only someone who manages the collaborative may; a move not in the plan (the
    figures changed since the page was drawn) is refused, naming it, and nothing is made."""
    collaborative: Collaborative = plan.collaborative
    if not can(by, Perm.MANAGE_COLLABORATIVE, collaborative):
        raise NotAllowed("only the collaborative's coordinators turn a plan into drafts")
    moves = {move_key(m): m for m in plan.moves}
    wanted = list(dict.fromkeys(chosen))
    errors: dict[str, str] = {}
    if not wanted:
        errors["moves"] = "choose at least one move"
    gone = [k for k in wanted if k not in moves]
    if gone:
        errors["moves"] = (
            f"no longer in the plan (the figures have changed since): {', '.join(gone)}; "
            "look at the new plan and choose again"
        )
    if plan.bed not in TRANSFER_FOR_BED:
        errors["bed"] = f"aid cannot be drafted for {plan.bed_label} beds"
    if errors:
        raise DraftError(errors)
    now = now or timezone.now()
    actor = as_principal(by).user
    key = uuid.uuid4()
    with transaction.atomic():
        drafts = []
        for k in wanted:
            m = moves[k]
            for side, here, there in (
                (DraftSide.REQUEST, m.source, m.target),
                (DraftSide.OFFER, m.target, m.source),
            ):
                drafts.append(
                    AidDraft(
                        collaborative=collaborative,
                        plan=key,
                        made_by=actor,
                        made_at=now,
                        side=side,
                        organisation=here.organisation,
                        site=here.site,
                        counterpart=there.organisation,
                        counterpart_site=there.site,
                        move=k,
                        bed_type=plan.bed,
                        patients=m.patients,
                        distance_km=m.distance_km,
                    )
                )
        AidDraft.objects.bulk_create(drafts)
        audit.record_many(
            by=by,
            events=[
                audit.Event(
                    "planning.aid_drafted",
                    d,
                    organisation_id=d.organisation_id,
                    after={**_snapshot(d), "plan": str(key)},
                )
                for d in drafts
            ],
        )
        for d in drafts:
            people = [p for p in people_with(Perm.ARRANGE_AID, d.organisation_id) if p != actor]
            notifications.notify(
                by=by,
                recipients=people,
                text=sentence(d),
                link=draft_path(d.pk),
                organisation=d.organisation,
                kind="aid.drafted",
                data={"draft": d.pk, "side": d.side, "collaborative": collaborative.slug},
            )
    return drafts


def _deciding(by: Any, draft: AidDraft) -> AidDraft:
    """The draft, locked, if `by` arranges aid for its organisation and it is still waiting."""
    if not can(by, Perm.ARRANGE_AID, draft):
        raise NotAllowed("only the people who arrange aid for the organisation decide a draft")
    locked = AidDraft.objects.select_for_update().get(pk=draft.pk)
    if locked.state != DraftState.WAITING:
        raise DraftError({"state": f"this draft was already {locked.get_state_display()}"})
    return locked


def _decided(by: Any, draft: AidDraft, state: str, **changes: Any) -> AidDraft:
    before = _snapshot(draft)
    for name, value in {"state": state, **changes}.items():
        setattr(draft, name, value)
    draft.decided_by = as_principal(by).user
    draft.decided_at = timezone.now()
    draft.save()
    audit.record(
        by=by,
        action=f"planning.draft_{state}",
        obj=draft,
        organisation_id=draft.organisation_id,
        before=before,
        after=_snapshot(draft),
    )
    return draft


def raise_draft(
    *,
    by: Any,
    draft: AidDraft,
    quantity: int,
    site: Any,
    urgency: str = Urgency.WITHIN_4H,
    needed_by: datetime | None = None,
    available_hours: int = 24,
    transport: str = Transport.SHARED,
    cost_recovery: str = CostRecovery.NONE,
    note: str = "",
) -> AidRequest | Offer:
    """Raise a waiting draft on the aid board, as it is or changed (the quantity, the site,
    the urgency or terms): the sender's as a request for patient transfers, the receiver's
    as an offer of beds open to the collaborative. The exchange checks it as any request or
    offer (its errors come back as they are); the draft is marked raised in the same
    transaction, so a draft is raised once."""
    now = timezone.now()
    with transaction.atomic():
        locked = _deciding(by, draft)
        level, bed = TRANSFER_FOR_BED[locked.bed_type]
        if locked.side == DraftSide.REQUEST:
            made: AidRequest | Offer = exchange.raise_request(
                by=by,
                organisation=locked.organisation,
                collaborative=locked.collaborative,
                site=site,
                kind="transfer",
                details={"level_of_care": level, "bed_type": bed},
                quantity=quantity,
                urgency=urgency,
                needed_by=needed_by or now + timedelta(hours=4),
                note=note,
            )
            _decided(by, locked, DraftState.RAISED, request=made)
        else:
            until = now + timedelta(hours=available_hours)
            made = exchange.make_offer(
                by=by,
                organisation=locked.organisation,
                collaborative=locked.collaborative,
                site=site,
                kind="beds",
                details={
                    "bed_type": bed,
                    "from_date": timezone.localdate(now).isoformat(),
                    "until_date": timezone.localdate(until).isoformat(),
                },
                quantity=quantity,
                available_from=now,
                available_until=until,
                transport=transport,
                cost_recovery=cost_recovery,
                note=note,
            )
            _decided(by, locked, DraftState.RAISED, offer=made)
    return made


def dismiss_draft(*, by: Any, draft: AidDraft, reason: str) -> AidDraft:
    """Decline a waiting draft, saying why (the planner reads it)."""
    reason = " ".join(reason.split())
    if not reason:
        raise DraftError({"reason": "say why, so that the planner knows"})
    if len(reason) > 500:
        raise DraftError({"reason": "keep it to 500 characters"})
    with transaction.atomic():
        locked = _deciding(by, draft)
        return _decided(by, locked, DraftState.DISMISSED, reason=reason)
