"""Test data, built through the actions layer (never by writing models directly).

Each factory's `_create` calls the action a person or system would call, so tests exercise
the same validation and audit as production. Use `Factory(...)` for one object and
`Factory.create_batch(n)` for several.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import factory

from flotilla.audit.principals import Principal
from flotilla.authz import actions as authz_actions
from flotilla.authz.models import Role
from flotilla.collaboratives import actions as collaboratives_actions
from flotilla.organisations import actions as organisations_actions
from flotilla.organisations.models import OrganisationKind
from flotilla.reporting import actions as reporting_actions
from flotilla.reporting.models import Source
from flotilla.reporting.validation import CellIn

SYSTEM = Principal.system("tests")


class UserFactory(factory.Factory):
    class Meta:
        model = dict

    username = factory.Sequence(lambda n: f"user{n}")
    password = "correct horse battery staple"
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.nhs.uk")

    @classmethod
    def _create(cls, model_class: Any, **kwargs: Any) -> Any:
        return authz_actions.create_user(by=SYSTEM, **kwargs)


class OrganisationFactory(factory.Factory):
    class Meta:
        model = dict

    code = factory.Sequence(lambda n: f"T{n:02d}")
    name = factory.Sequence(lambda n: f"Test Hospitals NHS Trust {n}")
    kind = OrganisationKind.ACUTE

    @classmethod
    def _create(cls, model_class: Any, **kwargs: Any) -> Any:
        return organisations_actions.register_organisation(by=SYSTEM, **kwargs)


class SiteFactory(factory.Factory):
    class Meta:
        model = dict

    code = factory.Sequence(lambda n: f"S{n:04d}")
    name = factory.Sequence(lambda n: f"Test General Hospital {n}")
    organisation = factory.SubFactory(OrganisationFactory)

    @classmethod
    def _create(cls, model_class: Any, **kwargs: Any) -> Any:
        return organisations_actions.register_site(by=SYSTEM, **kwargs)


class CollaborativeFactory(factory.Factory):
    class Meta:
        model = dict

    name = factory.Sequence(lambda n: f"Test System Collaborative {n}")
    purpose = "Keep every emergency department flowing this winter."
    organisation = factory.SubFactory(OrganisationFactory)

    @classmethod
    def _create(cls, model_class: Any, **kwargs: Any) -> Any:
        return collaboratives_actions.create_collaborative(by=SYSTEM, **kwargs)


def member(user: Any, organisation: Any, role: str = Role.VIEWER) -> Any:
    """Give `user` a role in `organisation`."""
    return authz_actions.set_membership(by=SYSTEM, user=user, organisation=organisation, role=role)


def join(collaborative: Any, organisation: Any) -> None:
    """Invite `organisation` to `collaborative` and accept at once."""
    inviter = UserFactory()
    inv = collaboratives_actions.invite(
        by=inviter, collaborative=collaborative, organisation=organisation
    )
    collaboratives_actions.respond(by=inviter, invitation=inv, accept=True)


def report(
    organisation: Any,
    as_of: datetime,
    site: Any = None,
    by: Any = SYSTEM,
    source: str = Source.FORM,
    **values: float | str | None,
) -> reporting_actions.ReportResult:
    """Report measure values (None = missing, str = narrative) for an organisation or site."""
    cells = []
    for code, v in values.items():
        if v is None:
            cells.append(
                CellIn(
                    organisation.pk,
                    site.pk if site else None,
                    code,
                    as_of,
                    missing_reason="not_reported",
                )
            )
        elif isinstance(v, str):
            cells.append(CellIn(organisation.pk, site.pk if site else None, code, as_of, text=v))
        else:
            cells.append(
                CellIn(organisation.pk, site.pk if site else None, code, as_of, value=float(v))
            )
    return reporting_actions.record_report(
        by=by, organisation_id=organisation.pk, source=source, cells=cells
    )


def rewind_audit(after_id: int | None) -> None:
    """Remove the audit events a module-level fixture committed, keeping the chain whole.

    For test fixtures that load data once per module outside the per-test transaction: the
    events go, and the chain head moves back to the last event that remains.
    """
    from flotilla.audit.models import AuditEvent, ChainHead

    AuditEvent.objects.filter(id__gt=after_id or 0).delete()
    seq, head = AuditEvent.last_link()
    ChainHead.objects.filter(chain="audit").update(seq=seq, hash=head)


def grant(
    owner: Any,
    *,
    audience: str = "collaborative",
    groups: tuple[str, ...] | None = None,
    detail: str = "exact",
    delay_hours: int = 0,
    purpose: str = "Shared for the tests.",
    **terms: Any,
) -> Any:
    """Share `owner`'s data (every group unless `groups`) through the sharing action.

    `terms` are the rest of `Terms`: collaborative, audience_organisation, expires_at.
    """
    from flotilla.sharing import actions as sharing_actions
    from flotilla.sharing.policy.rules import GROUPS

    return sharing_actions.add_grant(
        by=SYSTEM,
        owner=owner,
        terms=sharing_actions.Terms(
            audience=audience,
            groups=tuple(groups or GROUPS),
            detail=detail,
            delay_hours=delay_hours,
            purpose=purpose,
            **terms,
        ),
    )


def collaborative_grant(owner: Any, collaborative: Any) -> Any:
    """The grant in force by which `owner` shares with `collaborative` (made on joining)."""
    from flotilla.sharing.models import Grant

    return Grant.objects.get(owner=owner, collaborative=collaborative, ended_at__isnull=True)


def reshare(
    old: Any,
    *,
    groups: tuple[str, ...] | None = None,
    detail: str | None = None,
    delay_hours: int | None = None,
) -> Any:
    """Change a grant's groups, detail or delay, keeping its audience, through the action."""
    from flotilla.sharing import actions as sharing_actions

    return sharing_actions.change_grant(
        by=SYSTEM,
        grant=old,
        terms=sharing_actions.Terms(
            audience=old.audience,
            groups=tuple(groups if groups is not None else old.groups),
            detail=detail or old.detail,
            delay_hours=old.delay_hours if delay_hours is None else delay_hours,
            purpose=old.purpose,
            expires_at=old.expires_at,
            collaborative=old.collaborative,
            audience_organisation=old.audience_organisation,
        ),
    )


def unshare(old: Any) -> Any:
    """Revoke a grant through the action."""
    from flotilla.sharing import actions as sharing_actions

    return sharing_actions.revoke_grant(by=SYSTEM, grant=old)


def unused_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound and let go), for a receiver that is down."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def webhook(
    organisation: Any,
    *,
    url: str = "",
    kinds: tuple[str, ...] = ("collaborative.member_joined",),
    name: str = "Bed bureau",
    by: Any = SYSTEM,
) -> tuple[Any, str]:
    """Add a webhook (and return it with its secret) through the action. Without `url` it
    points at a port where nothing answers. The test must allow 127.0.0.1
    (settings.WEBHOOK_ALLOWED_NETWORKS)."""
    from flotilla.notifications import actions as notification_actions

    return notification_actions.add_webhook(
        by=by,
        organisation=organisation,
        name=name,
        url=url or f"http://127.0.0.1:{unused_port()}/flotilla",
        kinds=kinds,
    )


def preferences(person: Any, *, email: bool = True, **choices: Any) -> Any:
    """Set a person's notification preferences, as they would on their settings page."""
    from flotilla.notifications import actions as notification_actions

    return notification_actions.set_preferences(by=person, person=person, email=email, **choices)


def event(organisation: Any, kind: str = "collaborative.member_joined", **kw: Any) -> list[Any]:
    """Notify about an event of `organisation` (its webhooks only, unless `recipients`)."""
    from flotilla.notifications import actions as notification_actions

    return notification_actions.notify(
        by=kw.pop("by", SYSTEM),
        recipients=kw.pop("recipients", []),
        text=kw.pop("text", f"Something happened at {organisation.name}."),
        organisation=organisation,
        kind=kind,
        **kw,
    )


def dead_letter(hook: Any) -> Any:
    """A delivery to `hook` that every attempt failed to deliver (so `hook` must not answer 2xx):
    an event, then every attempt made, a day apart, by the real delivery code."""
    from datetime import timedelta

    from django.utils import timezone

    from flotilla.notifications import delivery
    from flotilla.notifications.models import Delivery, DeliveryStatus

    event(hook.organisation, hook.kinds[0])
    d = Delivery.objects.filter(webhook=hook).latest("pk")
    at = timezone.now()
    for _ in range(d.attempt_limit):
        delivery.deliver(d.pk, at)
        at += timedelta(days=1)
    d.refresh_from_db()
    assert d.status == DeliveryStatus.DEAD, d.last_error
    return d


# ------------------------------------------------------------------ mutual aid


def aid_request(
    *,
    by: Any,
    organisation: Any,
    collaborative: Any,
    site: Any,
    kind: str = "transfer",
    details: dict[str, Any] | None = None,
    quantity: int = 2,
    urgency: str = "within_4h",
    needed_in_hours: float = 6,
    **kw: Any,
) -> Any:
    """A request for aid, raised through the exchange's actions (a transfer by default)."""
    from datetime import timedelta

    from django.utils import timezone

    from flotilla.exchange import actions as exchange_actions

    return exchange_actions.raise_request(
        by=by,
        organisation=organisation,
        collaborative=collaborative,
        site=site,
        kind=kind,
        details=details
        if details is not None
        else {"level_of_care": "cc3", "bed_type": "cc_adult", "clinical_needs": ["ventilation"]},
        quantity=quantity,
        urgency=urgency,
        needed_by=timezone.now() + timedelta(hours=needed_in_hours),
        **kw,
    )


def offer(
    *,
    by: Any,
    organisation: Any,
    site: Any,
    request: Any = None,
    quantity: int = 2,
    hours: float = 72,
    **kw: Any,
) -> Any:
    """An offer of aid with terms: for `request`, or unsolicited (pass collaborative, kind and
    details), open from now for `hours`."""
    from datetime import timedelta

    from django.utils import timezone

    from flotilla.exchange import actions as exchange_actions

    now = timezone.now()
    if request is not None:
        kw.setdefault("details", request.details)
    return exchange_actions.make_offer(
        by=by,
        organisation=organisation,
        site=site,
        request=request,
        quantity=quantity,
        available_from=now,
        available_until=now + timedelta(hours=hours),
        transport=kw.pop("transport", "offerer"),
        cost_recovery=kw.pop("cost_recovery", "none"),
        **kw,
    )


def region(code: str = "Y56", name: str = "London", *organisations: Any) -> Any:
    """An NHS England region, registered as the reference loader does, with `organisations`
    (already made) placed in it through `register_organisation`."""
    from django.db import transaction

    from flotilla.audit import actions as audit_actions
    from flotilla.organisations.models import Region

    with transaction.atomic():
        made = audit_actions.register(
            by=SYSTEM,
            model=Region,
            key={"code": code},
            values={"name": name},
            snapshot=lambda r: {"code": r.code, "name": r.name},
            noun="organisations.region",
        )
    for org in organisations:
        organisations_actions.register_organisation(
            by=SYSTEM, code=org.code, name=org.name, kind=org.kind, region=made
        )
        org.region_id, org.region = made.pk, made
    return made


def aid_token(organisation: Any, by: Any, scope: str = "aid") -> Any:
    """An API token of `organisation` (issued by `by`, who manages tokens there), as the
    principal the API would act as."""
    token, _secret = authz_actions.issue_token(
        by=by, organisation=organisation, name=f"{organisation.code} bed bureau", scope=scope
    )
    return token


def commitment(*, by: Any, offer: Any, quantity: int = 1, **kw: Any) -> Any:
    """Part of an offer taken up, through the exchange's actions."""
    from flotilla.exchange import actions as exchange_actions

    return exchange_actions.commit(by=by, offer=offer, quantity=quantity, **kw)


def move(thing: Any, to: str, *, by: Any, reason: str = "") -> Any:
    """A request, offer or commitment moved to `to` through the exchange's actions."""
    from flotilla.exchange import actions as exchange_actions
    from flotilla.exchange.models import AidRequest, Offer

    if isinstance(thing, AidRequest):
        return exchange_actions.move_request(by=by, request=thing, to=to, reason=reason)
    if isinstance(thing, Offer):
        return exchange_actions.move_offer(by=by, offer=thing, to=to, reason=reason)
    return exchange_actions.move_commitment(by=by, commitment=thing, to=to, reason=reason)


#: Figures that score 1 on every parameter of the shipped acute profile, and 4 on every one.
CALM = {
    "ga_open": 100,
    "ga_occupied": 80,
    "cc_adult_open": 10,
    "cc_adult_occupied": 5,
    "nctr": 4,
    "handover_over_60": 0,
    "dta_waiting": 2,
    "escalation_open": 0,
    "long_stay_21": 5,
}
HOT = {
    "ga_open": 100,
    "ga_occupied": 99,
    "cc_adult_open": 10,
    "cc_adult_occupied": 10,
    "nctr": 40,
    "handover_over_60": 15,
    "dta_waiting": 60,
    "escalation_open": 30,
    "long_stay_21": 40,
}


def levels(*organisations: Any) -> dict[str, Any]:
    """Run the recompute job's work for these organisations now (as the worker would)."""
    from flotilla.escalation import actions as escalation_actions

    return escalation_actions.recompute_for(organisation_ids=[o.pk for o in organisations])


# ------------------------------------------------------------------ surge


def surge_settings(
    collaborative: Any,
    *,
    by: Any = SYSTEM,
    level: int = 4,
    automatic: bool = False,
    reporting_interval_hours: int = 1,
    aid_reach: int = 3,
    notify: tuple[Any, ...] = (),
) -> Any:
    """A collaborative's surge settings, set through the collaboratives' actions."""
    return collaboratives_actions.update_surge_settings(
        by=by,
        collaborative=collaborative,
        level=level,
        automatic=automatic,
        reporting_interval_hours=reporting_interval_hours,
        aid_reach=aid_reach,
        notify=notify,
    )


def surge(
    collaborative: Any, *, by: Any = SYSTEM, on: bool = True, reason: str = "Tests", **kw: Any
) -> Any:
    """Switch a collaborative into (or out of) surge through the collaboratives' actions."""
    return collaboratives_actions.switch_surge(
        by=by, collaborative=collaborative, on=on, reason=reason, **kw
    )


# ------------------------------------------------------------------ alerts


def alert_rule(
    *,
    by: Any,
    collaborative: Any,
    kind: str = "measure",
    measure: str = "",
    organisation: Any = None,
    personal: bool = False,
    **numbers: Any,
) -> Any:
    """An alert rule, added through the alerts' actions: the collaborative's (`by` must
    coordinate it; they are subscribed) or, with `personal`, `by`'s own. `numbers` are
    threshold, clear_at and min_interval_minutes."""
    from flotilla.alerts import actions as alert_actions

    return alert_actions.add_rule(
        by=by,
        collaborative=collaborative,
        kind=kind,
        measure=measure,
        organisation=organisation,
        personal=personal,
        **numbers,
    )


def subscribe(person: Any, rule: Any) -> bool:
    """Subscribe a person to a collaborative's alert rule, as on its page."""
    from flotilla.alerts import actions as alert_actions

    return alert_actions.subscribe(by=person, rule=rule)


def acknowledge(person: Any, alert: Any) -> Any:
    """Acknowledge an alert as `person`, as its page's button does."""
    from flotilla.alerts import actions as alert_actions

    return alert_actions.acknowledge(by=person, alert=alert)


def run_alert_jobs() -> list[Any]:
    """Run the alert jobs queued so far (evaluations, then the telling they queue), oldest
    first, as a worker would; returns what each did."""
    from django_tasks_db.models import DBTaskResult

    from flotilla.alerts.tasks import evaluate_alerts, tell_alerts

    done = []
    tasks = {t.module_path: t for t in (evaluate_alerts, tell_alerts)}
    while True:
        row = (
            DBTaskResult.objects.filter(task_path__in=list(tasks), status="READY")
            .order_by("enqueued_at", "id")
            .first()
        )
        if row is None:
            return done
        row.delete()
        done.append(tasks[row.task_path].call(**row.args_kwargs["kwargs"]))


def draft(*, by: Any, collaborative: Any, sender: Any, receiver: Any, patients: int = 3) -> Any:
    """Drafts of one move of `patients` G&A patients from `sender` to `receiver` (organisations
    as a whole, 20 km apart), made by `by` through `planning.actions.draft_moves` from a plan
    holding just that move: (the sender's draft request, the receiver's draft offer)."""
    from django.utils import timezone

    from flotilla.planning import actions as planning_actions
    from flotilla.planning.balancing import Move, Place, Plan

    now = timezone.now()

    def place(org: Any, occupied: int) -> Any:
        return Place(org, None, 53.8, -1.55, 100, occupied, now, 0)

    here, there = place(sender, 92 + patients), place(receiver, 50)
    plan = Plan(
        collaborative=collaborative,
        bed="ga",
        bed_label="General & acute (all ages)",
        safe_occupancy=0.92,
        radius_km=50.0,
        at=now,
        places=[here, there],
        left_out=[],
        none_reported=[],
        capacity={here.key: 92, there.key: 92},
        after={here.key: 92, there.key: 50 + patients},
        overflow_before=patients,
        overflow_after=0,
        lower_bound=0,
        moves=[Move(here, there, patients, 20.0)],
        status="optimal",
        solve_seconds=0.0,
    )
    key = planning_actions.move_key(plan.moves[0])
    return tuple(planning_actions.draft_moves(by=by, plan=plan, chosen=[key]))


def objective(
    *,
    by: Any,
    collaborative: Any,
    measure: str = "ga_occupancy",
    scope: str = "system",
    comparison: str = "at_most",
    target: float = 0.92,
    statement: str = "Keep G&A occupancy across the system at or below 92%",
    owner: Any = None,
) -> Any:
    """A shared objective, added through the coordination actions (`by` coordinates)."""
    from flotilla.coordination import actions as coordination

    return coordination.add_objective(
        by=by,
        collaborative=collaborative,
        statement=statement,
        measure=measure,
        scope=scope,
        comparison=comparison,
        target=target,
        owner=owner,
    )


def workstream(*, by: Any, collaborative: Any, name: str = "Discharge", **kw: Any) -> Any:
    """A workstream (objectives, sponsor, leads, members and status may be given)."""
    from flotilla.coordination import actions as coordination

    return coordination.add_workstream(by=by, collaborative=collaborative, name=name, **kw)


def log_item(
    *, by: Any, collaborative: Any, kind: str = "action", title: str = "", **kw: Any
) -> Any:
    """A RAID log item, with what its kind needs filled in unless given: an action is due
    tomorrow, a risk scores 3 × 4 and is reviewed in a week, a decision is taken now."""
    from datetime import timedelta

    from django.utils import timezone

    from flotilla.coordination import actions as coordination

    today = timezone.localdate()
    if kind == "action":
        kw.setdefault("due_on", today + timedelta(days=1))
    if kind == "risk":
        kw.setdefault("due_on", today + timedelta(days=7))
        kw.setdefault("likelihood", 3)
        kw.setdefault("impact", 4)
    if kind == "decision" and kw.get("decided", True):
        kw.setdefault("rationale", "Agreed on the call")
        kw.setdefault("decided_by", "The system call")
    return coordination.add_item(
        by=by, collaborative=collaborative, kind=kind, title=title or f"A {kind}", **kw
    )


def role(person: Any, collaborative: Any, organisation: Any, kind: str, *, by: Any) -> Any:
    """A role in the collaborative for `person`, held for `organisation`."""
    from flotilla.coordination import actions as coordination

    return coordination.assign_role(
        by=by, collaborative=collaborative, user=person, organisation=organisation, kind=kind
    )


def on_call(
    organisation: Any,
    *,
    by: Any,
    role: str = "Site manager on call",
    route: str = "phone",
    contact: str = "0113 243 3144",
    hours: str = "24/7",
    **kw: Any,
) -> Any:
    """An entry in `organisation`'s on-call directory, added through the directory actions
    (`by` manages it: a coordinator or admin of the organisation). `kw`: name, site, notes,
    position."""
    from flotilla.directory import actions as directory

    return directory.add_entry(
        by=by,
        organisation=organisation,
        role=role,
        route=route,
        contact=contact,
        hours=hours,
        **kw,
    )


def allocate(person: Any, workstream: Any, week: Any, hours: Any = 10, *, by: Any) -> Any:
    """Give `person` (who holds a dedicated-team role) `hours` of the week of Monday `week` on
    `workstream`, through the coordination actions (`by` coordinates)."""
    from flotilla.coordination import actions as coordination

    return coordination.allocate(by=by, workstream=workstream, user=person, week=week, hours=hours)


def ask(workstream: Any, week: Any, hours: Any = 10, *, by: Any) -> Any:
    """What `workstream` asks of the dedicated team in the week of Monday `week`."""
    from flotilla.coordination import actions as coordination

    return coordination.set_ask(by=by, workstream=workstream, week=week, hours=hours)


def totp_code(key: str, step: int | None = None) -> str:
    """The code an authenticator app holding `key` shows now, or in a given 30-second step."""
    from binascii import unhexlify

    from django_otp.oath import TOTP

    totp = TOTP(unhexlify(key))
    totp.time = time.time() if step is None else step * 30 + 1
    return f"{totp.token():06d}"


def next_code(device: Any) -> str:
    """The app's code after the last one used (a code once used is refused, so a second
    sign-in within the same 30 seconds takes the next)."""
    device.refresh_from_db()
    return totp_code(device.key, device.last_t + 1)


def spent_code(device: Any) -> str:
    """The code last used on `device`."""
    device.refresh_from_db()
    return totp_code(device.key, device.last_t)


def authenticator(person: Any) -> tuple[Any, str, list[str]]:
    """Set up an authenticator app for `person` as the set-up page does: (device, key,
    recovery codes)."""
    from flotilla.accounts import actions as accounts_actions

    key = accounts_actions.new_authenticator_key()
    device, codes = accounts_actions.add_authenticator(by=person, key=key, code=totp_code(key))
    return device, key, codes


def alias(organisation: Any, name: str, *, by: Any = SYSTEM) -> Any:
    """Another name `organisation` goes by in published files (matched by mapped imports)."""
    return organisations_actions.add_organisation_alias(by=by, organisation=organisation, name=name)


def pending_reads(**reader: Any) -> list[tuple[Any, int, list[str]]]:
    """The reads waiting in the access record's inbox (of the readers `reader` filters), one
    (request's row, owner id, groups) per owner read, oldest request first."""
    from flotilla.sharing.models import PendingAccess

    return [
        (row, owner, groups)
        for row in PendingAccess.objects.filter(**reader).order_by("id")
        for owner, groups in row.reads
    ]
