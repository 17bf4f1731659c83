"""Mutual aid pages: a collaborative's aid board, asking for and offering help, a request's
thread with its offers, commitments and matches, the moves each side may make, one's own
requests and offers, and the reciprocity ledger.

Reads go through `exchange.queries` (404 for anything the viewer may not see, never 403);
writes through `exchange.actions`, which refuse in their own words. Forms and buttons are
for people who arrange aid (`Perm.ARRANGE_AID`); everyone else gets 404 from them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from flotilla.audit.models import AuditEvent
from flotilla.authz.checks import organisations_where
from flotilla.authz.permissions import Perm
from flotilla.collaboratives.models import Collaborative
from flotilla.collaboratives.queries import collaboratives_of, find_collaborative, members_of
from flotilla.exchange import actions, kinds, lifecycle, matching, queries, reciprocity
from flotilla.exchange.forms import OfferForm, RequestForm, field_for, sentence
from flotilla.exchange.lifecycle import IllegalMove, Party
from flotilla.exchange.models import (
    URGENCY_RANK,
    AidRequest,
    Commitment,
    Offer,
    Reach,
    Urgency,
)
from flotilla.formatting import error_summary
from flotilla.organisations.models import Organisation, Site
from flotilla.planning import queries as planning
from flotilla.sharing import policy
from flotilla.sharing.policy import Viewer

KIND_CHOICES = [(code, k.label) for code, k in kinds.KINDS.items()]

#: The terms an offer form starts with: neutral ones, which the offerer changes when they
#: know better (one decision fewer for someone offering at 3 a.m.; the terms are shown on
#: the offer either way).
DEFAULT_TERMS = {"transport": "shared", "cost_recovery": "to_agree"}
#: What each audited action of the exchange did, as a request's thread says it.
EVENT_WORDS = {
    "exchange.request_raised": "Asked for help",
    "exchange.request_widened": "Showed the request more widely",
    "exchange.request_closed": "Closed the request",
    "exchange.request_withdrawn": "Withdrew the request",
    "exchange.request_expired": "The request expired",
    "exchange.offer_made": "Offered help",
    "exchange.offer_withdrawn": "Withdrew an offer",
    "exchange.offer_declined": "Declined an offer",
    "exchange.offer_expired": "An offer expired",
    "exchange.committed": "Took up part of an offer",
    "exchange.commitment_in_progress": "Started the help",
    "exchange.commitment_fulfilled": "Marked the help as given",
    "exchange.commitment_returned": "Marked it returned",
    "exchange.commitment_released": "Released a commitment",
}
#: The things that move, as the move route names them, and how to find one.
THINGS = ("request", "offer", "commitment")


# ------------------------------------------------------------------ helpers


def _arranging(user: Any, among: list[Organisation] | None = None) -> list[Organisation]:
    """The organisations the person arranges aid for (of `among`, if given), by name."""
    ids = actions.speaks_for(user) or set()
    if among is not None:
        return [o for o in among if o.pk in ids]
    return list(Organisation.objects.filter(pk__in=ids).order_by("name"))


@dataclass(frozen=True)
class Arranger:
    """Whom the person arranges aid for, read once per page and asked about every offer and
    commitment on it (rather than a query for each)."""

    organisations: list[Organisation]

    def sides(self, requester_id: int | None, offerer_id: int | None) -> set[Party]:
        return actions.sides({o.pk for o in self.organisations}, requester_id, offerer_id)


def _arranger(user: Any) -> Arranger:
    return Arranger(_arranging(user))


def _alone(organisation: Organisation) -> Viewer:
    """One organisation as a viewer: what it may see, whoever in it is asking."""
    return Viewer(label=organisation.code, organisation_ids=frozenset({organisation.pk}))


def _query(params: dict[str, str]) -> str:
    kept = {k: v for k, v in params.items() if v}
    return "?" + urlencode(kept) if kept else ""


def _request_page(pk: int | None) -> str:
    return reverse("exchange:request", args=[pk])


def _offer_page(offer: Offer) -> str:
    """Where an offer is discussed: its request's page, or its own for a standing offer."""
    if offer.request_id is not None:
        return _request_page(offer.request_id)
    return reverse("exchange:offer", args=[offer.pk])


@dataclass(frozen=True)
class MoveButton:
    """A move the viewer's side may make on one thing, as a button (with a reason box if the
    move needs one)."""

    thing: str
    pk: int
    to: str
    verb: str
    reason_required: bool

    @property
    def label(self) -> str:
        return self.verb.capitalize()

    @property
    def field_id(self) -> str:
        return f"reason-{self.thing}-{self.pk}-{self.to}"


def _moves(
    who: Arranger,
    thing: str,
    obj: AidRequest | Offer | Commitment,
    requester_id: int | None,
    offerer_id: int | None,
) -> list[MoveButton]:
    """The moves of `lifecycle` from the thing's state that the person's side may make."""
    held = who.sides(requester_id, offerer_id)
    answers = thing != "offer" or requester_id is not None
    return [
        MoveButton(thing, obj.pk, to, move.verb, move.reason_required)
        for to, move in lifecycle.open_to(thing, obj.state, held, answers_request=answers).items()
    ]


def _commitment_moves(who: Arranger, c: Commitment) -> list[MoveButton]:
    return _moves(who, "commitment", c, c.organisation_id, c.offer.organisation_id)


def _reach_words(reach: int) -> str:
    """A step of the ladder inside a sentence: 'every organisation on Flotilla'."""
    label = str(Reach(reach).label)
    return label[:1].lower() + label[1:]


def _given(value: Any, stand_in: Any) -> Any:
    """A field's value as read, or a valid stand-in when it could not be read (its own
    error is already on the form, and the call is a dry run)."""
    return stand_in if value is None else value


def _capitalised(errors: dict[str, str]) -> list[str]:
    return [sentence(text) for text in errors.values()]


def _try(form: Any, call: Callable[[], Any], *, dry: bool) -> Any:
    """Run an action, putting its refusals on the form against the fields they name.

    `dry`: the form already has fields it could not read, so the action is called with
    stand-ins for them only to gather its sentences about the rest, and is rolled back
    whatever it does: nothing is stored while any field is in error.

    Only refusals of what was typed are caught: the forms offer only organisations the
    person arranges aid for (and, answering a request, that it is open to), so the
    actions' other refusals cannot come from them."""
    try:
        with transaction.atomic():
            result = call()
            if dry:
                transaction.set_rollback(True)
                return None
            return result
    except actions.AidInvalid as exc:
        for key, text in exc.errors.items():
            name = field_for(form, key)
            if name is None or name not in form.errors:
                form.add_error(name, sentence(text))
    return None


def _form_errors(form: Any) -> list[dict[str, str]]:
    """The error summary: each message, linked to its field (the first box of a group)."""
    return error_summary(form)


def _initial_times(start: datetime, until: datetime) -> dict[str, str]:
    a, b = timezone.localtime(start), timezone.localtime(until)
    return {
        "available_from_date": a.strftime("%Y-%m-%d"),
        "available_from_time": a.strftime("%H:%M"),
        "available_until_date": b.strftime("%Y-%m-%d"),
        "available_until_time": b.strftime("%H:%M"),
    }


# ------------------------------------------------------------------ the board


def _board_context(request: HttpRequest, slug: str) -> dict[str, Any]:
    viewer = policy.viewer_of(request.user)
    collab = find_collaborative(viewer.organisation_ids, slug)
    kind = request.GET.get("kind", "")
    urgency = request.GET.get("urgency", "")
    filter_errors: dict[str, str] = {}
    if kind and kind not in kinds.KINDS:
        filter_errors["kind"] = "Choose a kind of aid from the list; showing every kind."
        kind = ""
    if urgency and urgency not in Urgency.values:
        filter_errors["urgency"] = "Choose an urgency from the list; showing every urgency."
        urgency = ""
    now = timezone.now()
    # Moves of a plan put to this person's organisations, waiting for them to decide.
    drafts = list(planning.drafts_waiting_for(request.user).filter(collaborative=collab))
    requests = (
        queries.requests_seen_by(viewer)
        .filter(collaborative=collab, state="open")
        .select_related("organisation", "site")
    )
    # On the board: the offers anyone in the audience may take up. Answers to a request are
    # for its two parties, on the request's page.
    offers = (
        queries.offers_seen_by(viewer)
        .filter(collaborative=collab, state="offered", request__isnull=True)
        .filter(available_until__gt=now, remaining__gt=0)
        .select_related("organisation", "site")
    )
    if kind:
        requests, offers = requests.filter(kind=kind), offers.filter(kind=kind)
    if urgency:
        requests = requests.filter(urgency=urgency)
    # Most urgent first, and within an urgency the newest first.
    request_list = sorted(
        requests, key=lambda r: (URGENCY_RANK[r.urgency], -r.created_at.timestamp())
    )
    params = {"kind": kind, "urgency": urgency}
    return {
        "collab": collab,
        "requests": request_list,
        "committed": queries.totals([r.pk for r in request_list], queries.ACTIVE_COMMITMENTS),
        "offers": list(offers.order_by("-created_at", "-pk")),
        "kind": kind,
        "urgency": urgency,
        "kinds": KIND_CHOICES,
        "urgencies": Urgency.choices,
        "filter_errors": filter_errors,
        "filtered": bool(kind or urgency),
        "query": _query(params),
        "may_arrange": bool(_arranging(request.user, members_of(collab))),
        "drafts": drafts,
        "now": now,
    }


@login_required
def board(request: HttpRequest, slug: str) -> HttpResponse:
    """The collaborative's open requests and offers; its lists alone for htmx's polling."""
    ctx = _board_context(request, slug)
    template = "exchange/_board_lists.jinja" if request.htmx else "exchange/board.jinja"
    response = render(request, template, ctx)
    patch_vary_headers(response, ["HX-Request"])
    return response


# ------------------------------------------------------------------ asking


def _arranging_member(request: HttpRequest, slug: str) -> tuple[Collaborative, list[Organisation]]:
    """The collaborative and the member organisations the person arranges aid for (404 when
    none: forms are for people who arrange aid)."""
    viewer = policy.viewer_of(request.user)
    collab = find_collaborative(viewer.organisation_ids, slug)
    orgs = _arranging(request.user, members_of(collab))
    if not orgs:
        raise Http404("Not found")
    return collab, orgs


def _kind_or_choose(
    request: HttpRequest, template_ctx: dict[str, Any], heading: str
) -> tuple[str | None, HttpResponse | None]:
    """The kind chosen (`?kind=`, or posted), or the page that asks for one."""
    kind = request.POST.get("kind") or request.GET.get("kind", "")
    if kind in kinds.KINDS:
        return kind, None
    errors = []
    if kind or "step" in request.GET:
        errors = [{"text": "Choose the kind of aid", "anchor": "kind"}]
    page = render(
        request,
        "exchange/choose_kind.jinja",
        {**template_ctx, "heading": heading, "kinds": KIND_CHOICES, "errors": errors},
    )
    return None, page


@login_required
def new_request(request: HttpRequest, slug: str) -> HttpResponse:
    collab, orgs = _arranging_member(request, slug)
    kind, chooser = _kind_or_choose(request, {"collab": collab}, "Ask for help")
    if chooser is not None:
        return chooser
    assert kind is not None
    default_by = timezone.localtime(timezone.now() + timedelta(hours=4))
    initial = {
        "organisation": str(orgs[0].pk),
        # The collaborative's default audience: wider while it is in surge.
        "reach": collab.default_aid_reach,
        "needed_by_date": default_by.strftime("%Y-%m-%d"),
        "needed_by_time": default_by.strftime("%H:%M"),
    }
    form = RequestForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        organisations=orgs,
        kind=kind,
    )
    if request.method == "POST":
        ok = form.is_valid()
        made = _raise(request, form, collab, dry=not ok)
        if made is not None:
            messages.success(
                request,
                f"Your request is on {collab.name}'s aid board: {made.summary}. "
                "The organisations it reaches have been told.",
            )
            return redirect("exchange:request", made.pk)
    return render(
        request,
        "exchange/request_form.jinja",
        {
            "collab": collab,
            "form": form,
            "kind": form.kind,
            "errors": _form_errors(form) if request.method == "POST" else [],
            "reaches": Reach.choices,
            "urgencies": Urgency.choices,
        },
    )


def _raise(request: HttpRequest, form: RequestForm, collab: Collaborative, *, dry: bool) -> Any:
    d = form.cleaned_data
    org = form.organisation() or form.organisations[0]
    site = form.site() or Site.objects.filter(organisation=org).first()
    if site is None:
        form.add_error(None, f"{org.name} has no sites on Flotilla, so it cannot ask for help yet.")
        return None
    return _try(
        form,
        lambda: actions.raise_request(
            by=request.user,
            organisation=org,
            collaborative=collab,
            site=site,
            kind=form.kind.code,
            details=form.details(),
            quantity=_given(d.get("quantity"), 1),
            urgency=d.get("urgency") or Urgency.PLANNED,
            needed_by=form.needed_by() or timezone.now() + timedelta(hours=1),
            max_distance_km=d.get("max_distance_km"),
            note=d.get("note") or "",
            reach=d.get("reach"),
        ),
        dry=dry,
    )


# ------------------------------------------------------------------ offering


def _offer_page_response(
    request: HttpRequest,
    *,
    form: OfferForm,
    collab: Collaborative,
    aid_request: AidRequest | None,
) -> HttpResponse:
    return render(
        request,
        "exchange/offer_form.jinja",
        {
            "collab": collab,
            "form": form,
            "kind": form.kind,
            "aid_request": aid_request,
            "errors": _form_errors(form) if request.method == "POST" else [],
            "reaches": Reach.choices,
        },
    )


def _make_offer(
    request: HttpRequest,
    form: OfferForm,
    *,
    dry: bool,
    aid_request: AidRequest | None = None,
    collab: Collaborative | None = None,
) -> Offer | None:
    d = form.cleaned_data
    org = form.organisation() or form.organisations[0]
    site = form.site() or Site.objects.filter(organisation=org).first()
    if site is None:
        form.add_error(None, f"{org.name} has no sites on Flotilla, so it cannot offer help yet.")
        return None
    now = timezone.now()
    return _try(
        form,
        lambda: actions.make_offer(
            by=request.user,
            organisation=org,
            site=site,
            quantity=_given(d.get("quantity"), 1),
            available_from=form.available_from() or now,
            available_until=form.available_until() or now + timedelta(days=1),
            transport=d.get("transport") or "not_needed",
            cost_recovery=d.get("cost_recovery") or "none",
            request=aid_request,
            collaborative=collab,
            kind=form.kind.code,
            details=form.details(),
            duration_hours=d.get("duration_hours"),
            conditions=d.get("conditions") or "",
            note=d.get("note") or "",
            reach=d.get("reach") or Reach.COLLABORATIVE,
        ),
        dry=dry,
    )


@login_required
def new_offer(request: HttpRequest, slug: str) -> HttpResponse:
    """A standing offer, not in answer to a request, to an audience the offerer chooses."""
    collab, orgs = _arranging_member(request, slug)
    kind, chooser = _kind_or_choose(request, {"collab": collab}, "Offer help")
    if chooser is not None:
        return chooser
    assert kind is not None
    now = timezone.now()
    initial = {
        "organisation": str(orgs[0].pk),
        "reach": Reach.COLLABORATIVE,
        **DEFAULT_TERMS,
        **_initial_times(now, now + timedelta(days=1)),
    }
    form = OfferForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        organisations=orgs,
        kind=kind,
        standing=True,
    )
    if request.method == "POST":
        ok = form.is_valid()
        made = _make_offer(request, form, dry=not ok, collab=collab)
        if made is not None:
            messages.success(
                request, f"Your offer is on {collab.name}'s aid board: {made.summary}."
            )
            return redirect("exchange:offer", made.pk)
    return _offer_page_response(request, form=form, collab=collab, aid_request=None)


@login_required
def offer_help(request: HttpRequest, pk: int) -> HttpResponse:
    """An offer in answer to a request: its kind fixed, its details to start from."""
    viewer = policy.viewer_of(request.user)
    aid_request = queries.get_request(viewer, pk)
    orgs = [
        o
        for o in _arranging(request.user)
        if queries.requests_seen_by(_alone(o)).filter(pk=aid_request.pk).exists()
    ]
    if not orgs:
        raise Http404("Not found")
    now = timezone.now()
    needed = max(aid_request.quantity - queries.committed_to(aid_request), 1)
    initial: dict[str, Any] = {
        "organisation": str(orgs[0].pk),
        "quantity": needed,
        **DEFAULT_TERMS,
        **_initial_times(now, max(aid_request.needed_by, now) + timedelta(days=1)),
    }
    for name, value in aid_request.details.items():
        initial[f"detail_{name}"] = "true" if value is True else value
    form = OfferForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        organisations=orgs,
        kind=aid_request.kind,
        standing=False,
    )
    if request.method == "POST":
        ok = form.is_valid()
        made = _make_offer(request, form, dry=not ok, aid_request=aid_request)
        if made is not None:
            messages.success(
                request,
                f"You offered {made.summary} to {aid_request.organisation.name}. "
                "They have been told.",
            )
            return redirect("exchange:request", aid_request.pk)
    return _offer_page_response(
        request, form=form, collab=aid_request.collaborative, aid_request=aid_request
    )


# ------------------------------------------------------------------ a request's page


@dataclass
class ThreadEntry:
    at: datetime
    who: str
    organisation: str
    what: str
    reason: str


def _event_words(event: AuditEvent, offers: dict[int, Offer]) -> str:
    words = EVENT_WORDS.get(event.action, event.action)
    after = event.after or {}
    if event.action == "exchange.request_widened" and after.get("reach") in Reach.values:
        words += f": now {_reach_words(after['reach'])}"
    elif event.action == "exchange.offer_made":
        # `_thread` reads only the events of the offers it is given.
        offer = offers[int(event.object_id)]
        words += f": {kinds.describe(offer.kind, offer.quantity, offer.details)}"
    elif event.action == "exchange.committed" and after.get("quantity"):
        words += f": {after['quantity']}"
    return words


def _thread(
    aid_request: AidRequest, offers: list[Offer], commitments: list[Commitment]
) -> list[ThreadEntry]:
    """The request's history from the audit record: it, its offers and its commitments
    that the viewer may see, oldest first."""
    by_pk = {o.pk: o for o in offers}
    events = AuditEvent.objects.filter(
        Q(object_type="exchange.aidrequest", object_id=str(aid_request.pk))
        | Q(object_type="exchange.offer", object_id__in=[str(o.pk) for o in offers])
        | Q(object_type="exchange.commitment", object_id__in=[str(c.pk) for c in commitments])
    ).order_by("id")
    events = list(events)
    names = dict(
        Organisation.objects.filter(
            pk__in={e.organisation_id for e in events if e.organisation_id}
        ).values_list("pk", "name")
    )
    return [
        ThreadEntry(
            at=e.at,
            who=e.actor_label,
            organisation=names.get(e.organisation_id or 0, ""),
            what=_event_words(e, by_pk),
            reason=str((e.after or {}).get("reason") or ""),
        )
        for e in events
    ]


def _take_up_orgs(who: Arranger, offer: Offer) -> list[Organisation]:
    """Who the person may take up an offer for: the requester, for an answer to a request;
    for a standing offer, each organisation they arrange aid for that the offer is open to."""
    if offer.state != "offered" or offer.remaining <= 0 or offer.available_until <= timezone.now():
        return []
    if offer.request_id is not None:
        request = offer.request
        assert request is not None
        held = who.sides(request.organisation_id, offer.organisation_id)
        if Party.REQUESTER not in held or request.state != "open":
            return []
        return [request.organisation]
    return [
        o
        for o in who.organisations
        if o.pk != offer.organisation_id
        and queries.offers_seen_by(_alone(o)).filter(pk=offer.pk).exists()
    ]


@login_required
def request_page(request: HttpRequest, pk: int) -> HttpResponse:
    viewer = policy.viewer_of(request.user)
    aid_request = queries.get_request(viewer, pk)
    offers = list(
        queries.offers_seen_by(viewer)
        .filter(request=aid_request)
        .select_related("organisation", "site", "request")
        .order_by("created_at", "pk")
    )
    commitments = list(
        queries.commitments_seen_by(viewer)
        .filter(request=aid_request)
        .select_related("offer", "offer__organisation", "organisation")
        .order_by("created_at", "pk")
    )
    who = _arranger(request.user)
    requester_side = Party.REQUESTER in who.sides(aid_request.organisation_id, None)
    is_open = aid_request.state == "open"
    # The ranked matches are for the people of the organisation that asked.
    ours = aid_request.organisation_id in viewer.organisation_ids
    # htmx's polling asks only for the offers and what was taken up: no matching (whose
    # reads of other organisations' figures would go on their access records every 30 s).
    live = bool(request.htmx)
    matches = matching.match(viewer, aid_request) if ours and is_open and not live else None
    widen_to = None
    if requester_side and is_open and aid_request.reach < Reach.PLATFORM:
        widen_to = _reach_words(aid_request.reach + 1)
    next_widening = None
    committed = queries.committed_to(aid_request)
    if is_open and aid_request.reach < Reach.PLATFORM and committed < aid_request.quantity:
        wait = timedelta(minutes=aid_request.collaborative.aid_widen_after_minutes)
        next_widening = aid_request.reach_since + wait
    may_offer = is_open and any(
        queries.requests_seen_by(_alone(o)).filter(pk=aid_request.pk).exists()
        for o in who.organisations
    )
    response = render(
        request,
        "exchange/_request_live.jinja" if live else "exchange/request.jinja",
        {
            "r": aid_request,
            "kind": kinds.KINDS[aid_request.kind],
            "details": _details(aid_request.kind, aid_request.details),
            "committed": committed,
            "fulfilled": queries.given_to(aid_request),
            "offers": [
                {
                    "offer": o,
                    "moves": _moves(
                        who, "offer", o, aid_request.organisation_id, o.organisation_id
                    ),
                    "take_up": _take_up_orgs(who, o),
                }
                for o in offers
            ],
            "commitments": [{"c": c, "moves": _commitment_moves(who, c)} for c in commitments],
            "request_moves": _moves(who, "request", aid_request, aid_request.organisation_id, None),
            "thread": [] if live else _thread(aid_request, offers, commitments),
            "matches": matches,
            "widen_to": widen_to,
            "next_widening": next_widening,
            "may_offer": may_offer,
            "audience": queries.audience_of(aid_request).count(),
            "labels": lifecycle.LABELS,
            # The board and the ledger are the collaborative's members' pages.
            "member": collaboratives_of(viewer.organisation_ids)
            .filter(pk=aid_request.collaborative_id)
            .exists(),
        },
    )
    patch_vary_headers(response, ["HX-Request"])
    return response


def _details(kind: str, details: dict[str, Any]) -> list[tuple[str, str]]:
    """A kind's details in words, as (label, value) pairs, in the kind's order."""
    out = []
    for f in kinds.KINDS[kind].fields:
        value = details.get(f.name)
        if value is None or value == []:
            continue
        if f.type == "choice":
            shown = (f.choices or {}).get(value, str(value))
        elif f.type == "choices":
            shown = ", ".join((f.choices or {}).get(v, v) for v in value)
        elif f.type == "bool":
            shown = "Yes" if value else "No"
        else:
            shown = str(value)
        out.append((f.label, shown))
    return out


# ------------------------------------------------------------------ an offer's page


@login_required
def offer_page(request: HttpRequest, pk: int) -> HttpResponse:
    viewer = policy.viewer_of(request.user)
    offer = queries.get_offer(viewer, pk)
    commitments = list(
        offer.commitments.select_related("organisation", "offer").order_by("created_at", "pk")
    )
    requester_id = offer.request.organisation_id if offer.request is not None else None
    who = _arranger(request.user)
    return render(
        request,
        "exchange/offer.jinja",
        {
            "offer": offer,
            "kind": kinds.KINDS[offer.kind],
            "details": _details(offer.kind, offer.details),
            "commitments": [{"c": c, "moves": _commitment_moves(who, c)} for c in commitments],
            "moves": _moves(who, "offer", offer, requester_id, offer.organisation_id),
            "takers": _take_up_orgs(who, offer),
            "labels": lifecycle.LABELS,
        },
    )


# ------------------------------------------------------------------ moves


def _require_arranging(user: Any) -> None:
    """Buttons are for people who arrange aid; others get 404, as from the forms."""
    if not organisations_where(user, Perm.ARRANGE_AID):
        raise Http404("Not found")


@login_required
@require_POST
def move(request: HttpRequest, thing: str, pk: int) -> HttpResponse:
    """Make one move of the negotiation; a move the table or the mover's side does not
    allow is refused with its sentence and changes nothing."""
    if thing not in THINGS:
        raise Http404("Not found")
    viewer = policy.viewer_of(request.user)
    _require_arranging(request.user)
    to = request.POST.get("to", "")
    reason = request.POST.get("reason", "")
    try:
        if thing == "request":
            aid_request = queries.get_request(viewer, pk)
            back = _request_page(aid_request.pk)
            actions.move_request(by=request.user, request=aid_request, to=to, reason=reason)
            done = f"The request is now {lifecycle.LABELS[to].lower()}."
        elif thing == "offer":
            offer = queries.get_offer(viewer, pk)
            back = _offer_page(offer)
            actions.move_offer(by=request.user, offer=offer, to=to, reason=reason)
            done = f"The offer is now {lifecycle.LABELS[to].lower()}."
        else:
            commitment = queries.get_commitment(viewer, pk)
            back = _offer_page(commitment.offer)
            actions.move_commitment(by=request.user, commitment=commitment, to=to, reason=reason)
            done = f"The commitment is now {lifecycle.LABELS[to].lower()}."
    except (IllegalMove, actions.NotAllowed) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return redirect(back)


@login_required
@require_POST
def widen(request: HttpRequest, pk: int) -> HttpResponse:
    viewer = policy.viewer_of(request.user)
    aid_request = queries.get_request(viewer, pk)
    _require_arranging(request.user)
    try:
        widened = actions.widen(by=request.user, request=aid_request)
    except (IllegalMove, actions.NotAllowed) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            f"The request is now shown to {_reach_words(widened.reach)}. "
            "The organisations it newly reaches have been told.",
        )
    return redirect("exchange:request", aid_request.pk)


@login_required
@require_POST
def commit(request: HttpRequest, pk: int) -> HttpResponse:
    """Take up part of an offer."""
    viewer = policy.viewer_of(request.user)
    offer = queries.get_offer(viewer, pk)
    _require_arranging(request.user)
    back = _offer_page(offer)
    raw = request.POST.get("quantity", "").strip()
    if not raw.isdigit():
        messages.error(request, "Enter how many to take up as a whole number, like 1.")
        return redirect(back)
    taker = None
    if offer.request_id is None:
        taker = next(
            (o for o in _arranging(request.user) if str(o.pk) == request.POST.get("organisation")),
            None,
        )
        if taker is None:
            messages.error(request, "Choose which of your organisations takes up the offer.")
            return redirect(back)
    try:
        made = actions.commit(by=request.user, offer=offer, quantity=int(raw), organisation=taker)
    except actions.AidInvalid as exc:
        for text in _capitalised(exc.errors):
            messages.error(request, text)
    except (IllegalMove, actions.NotAllowed) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            f"{made.organisation.name} takes up {made.quantity} of {offer.organisation.name}'s "
            "offer. They have been told.",
        )
    return redirect(back)


# ------------------------------------------------------------------ one's own


@login_required
def mine(request: HttpRequest) -> HttpResponse:
    """The requests and offers of the viewer's organisations: open ones, then recent ones."""
    viewer = policy.viewer_of(request.user)
    ours = Q(organisation_id__in=viewer.organisation_ids)
    requests = AidRequest.objects.filter(ours).select_related(
        "organisation", "site", "collaborative"
    )
    offers = Offer.objects.filter(ours).select_related("organisation", "site", "collaborative")
    open_requests = list(requests.filter(state="open").order_by("needed_by", "pk"))
    return render(
        request,
        "exchange/mine.jinja",
        {
            "open_requests": open_requests,
            "committed": queries.totals([r.pk for r in open_requests], queries.ACTIVE_COMMITMENTS),
            "past_requests": list(requests.exclude(state="open").order_by("-created_at")[:20]),
            "open_offers": list(offers.filter(state="offered").order_by("available_until", "pk")),
            "past_offers": list(offers.exclude(state="offered").order_by("-created_at")[:20]),
            "labels": lifecycle.LABELS,
        },
    )


# ------------------------------------------------------------------ the ledger


def _span(span: timedelta | None) -> str:
    """A median time in words: '45 min', '3 h 5 min', '2 days 4 h'; '–' for none."""
    if span is None:
        return "–"
    minutes = int(span.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h" if hours else f"{days} days"


def _amounts(by_kind: dict[str, int]) -> str:
    """'3 patients, 2 beds' (in each kind's own unit), or '–'."""
    parts = [f"{n} {kinds.KINDS[k].unit}" for k, n in sorted(by_kind.items()) if n]
    return ", ".join(parts) or "–"


@login_required
def ledger(request: HttpRequest, slug: str) -> HttpResponse:
    viewer = policy.viewer_of(request.user)
    collab = find_collaborative(viewer.organisation_ids, slug)
    book = reciprocity.ledger_of(collab)
    ids = {e.request_id for e in book.exchanges if e.request_id}
    visible = set(queries.requests_seen_by(viewer).filter(pk__in=ids).values_list("pk", flat=True))
    return render(
        request,
        "exchange/ledger.jinja",
        {
            "collab": collab,
            "ledger": book,
            "amounts": _amounts,
            "times": [
                ("From a request to its first offer", _span(book.to_first_offer)),
                ("From a request to its first commitment", _span(book.to_commitment)),
                ("From a request to help given", _span(book.to_fulfilment)),
            ],
            "visible": visible,
            "labels": lifecycle.LABELS,
        },
    )


@login_required
def ledger_csv(request: HttpRequest, slug: str) -> HttpResponse:
    """The ledger's exchanges, one row each, through the one CSV writer."""
    viewer = policy.viewer_of(request.user)
    collab = find_collaborative(viewer.organisation_ids, slug)
    book = reciprocity.ledger_of(collab)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{collab.slug}-aid-ledger.csv"'
    reciprocity.write_csv(book, response)
    return response
