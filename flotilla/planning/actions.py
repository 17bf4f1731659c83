"""Every write of the planning app: daily forecasts made from an organisation's own figures,
and the drafts a plan's moves become.

`recompute` forecasts each measure the metric catalogue declares forecastable
(`[forecasts]` in `flotilla/catalogue/v1.toml`), for the organisation and for each of its
sites, from the daily history of its own figures read through the sharing policy as itself
(`policy.acting_for`). One value a day: the last figure reported that day, in local time; a
day with none, or with only "missing", is a gap (carried over by the core, never counted as
zero). A series with no figure in the window gets no forecast. The core's fallbacks (short
series, flat series) are stored as the forecast's `method`.

The `forecast_organisations` job (`tasks.py`) runs it when figures arrive (queued inside the
report's transaction by `after_report`) and the daily `forecast-daily` schedule queues it for
everyone, a batch of organisations to a job (`forecast_everyone`). It is idempotent: the
forecasts of one series and origin day are written as a state (replaced only when what they
say changed, each change with its audit event in the same transaction), keyed by
organisation, site, measure, origin and target.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from django.db import IntegrityError, transaction
from django.utils import timezone

from flotilla import catalogue
from flotilla.audit import actions as audit
from flotilla.audit.principals import Principal, as_principal
from flotilla.authz.checks import can
from flotilla.authz.permissions import Perm
from flotilla.collaboratives.models import Collaborative
from flotilla.exchange import actions as exchange
from flotilla.exchange.models import AidRequest, CostRecovery, Offer, Transport, Urgency
from flotilla.jobs.retry import Wanted, queue_all
from flotilla.organisations.models import Organisation, Site
from flotilla.planning import events, published, queries
from flotilla.planning.balancing import Move, Outlook, Plan, Redirect
from flotilla.planning.core import gbm
from flotilla.planning.core.forecast import forecast_array
from flotilla.planning.core.scoring import QUANTILES as CORE_QUANTILES
from flotilla.planning.models import (
    QUANTILES,
    AidDraft,
    DraftSide,
    DraftState,
    Forecast,
    ForecastCalibration,
    ForecastModel,
)
from flotilla.sharing import policy

#: Who makes forecasts: the platform, on the owners' behalf, from their own figures.
FORECASTER = Principal.system("forecasts")
#: How many days of history a forecast is made from (ending at its origin day).
HISTORY_DAYS = 120
#: Quantiles are stored to this many decimal places (patients): a recompute that changes
#: nothing beyond them stores nothing.
PLACES = 3

assert tuple(level for level, _ in QUANTILES) == CORE_QUANTILES, "the core's quantile levels"


@dataclass(frozen=True)
class Daily:
    """One series' daily history: a value per day from its first to its last figure."""

    site: Site | None
    measure: str
    first: date
    #: NaN where the day had no figure.
    values: list[float]
    #: The report time of the newest figure (on the last day).
    as_of: datetime

    @property
    def origin(self) -> date:
        return self.first + timedelta(days=len(self.values) - 1)

    @property
    def points(self) -> int:
        return sum(1 for v in self.values if not np.isnan(v))


def daily_history(
    organisation: Organisation, site: Site | None, measures: Iterable[str], until: datetime
) -> list[Daily]:
    """The organisation's (or its site's) own daily history of each measure up to `until`:
    the last figure reported each day (local time), read as itself through the policy."""
    viewer = policy.acting_for(organisation, "forecasts")
    since = until - timedelta(days=HISTORY_DAYS + 1)
    history = policy.read_history(viewer, organisation, site, list(measures), since, until)
    last: dict[str, dict[date, tuple[float, datetime]]] = {}
    for code, as_of, value in history.rows:  # oldest first: a later figure wins its day
        if value is not None:
            last.setdefault(code, {})[timezone.localtime(as_of).date()] = (value, as_of)
    out = []
    for code, days in last.items():
        first, end = min(days), max(days)
        first = max(first, end - timedelta(days=HISTORY_DAYS - 1))
        span = (end - first).days + 1
        values = [float("nan")] * span
        for day, (value, _) in days.items():
            if day >= first:
                values[(day - first).days] = value
        out.append(Daily(site, code, first, values, days[end][1]))
    return out


def _rounded(x: float) -> float:
    return round(float(x), PLACES)


def _made(
    series: list[Daily], horizon: int, forecaster: queries.Forecaster | None = None
) -> list[tuple[str, list[list[float]]]]:
    """The core's forecasts of several series ending on the same origin day, in one pass
    (the core is vectorised over series): each one's method, and each day's quantiles.
    Shorter series are padded at the start with gaps (never counted as figures), and each
    series is its own group, so none borrows another's errors.

    With a trained forecaster in use (ADR 0026), the series it may forecast (a measure it
    knows, an origin within the winters it learnt, enough recent history) are its own; the
    others, and every series when there is none, are the ensemble's."""
    first = min(x.first for x in series)
    span = max(len(x.values) + (x.first - first).days for x in series)
    grid = np.full((len(series), span), np.nan)
    for i, x in enumerate(series):
        grid[i, (x.first - first).days :] = x.values
    mine = np.zeros(len(series), dtype=bool)
    if forecaster is not None and horizon <= gbm.HORIZON:
        known = np.array([x.measure in gbm.MEASURES for x in series])
        mine = known & gbm.usable(grid) & forecaster.model.knows(series[0].origin)
    out: list[tuple[str, list[list[float]]]] = [("", [])] * len(series)
    if mine.any():
        assert forecaster is not None
        picked = np.flatnonzero(mine)
        codes = np.array([gbm.MEASURES[series[i].measure] for i in picked], dtype=np.int64)
        made = gbm.forecast(forecaster.model, gbm.Panel(grid[picked], codes, first))
        for row, i in enumerate(picked):
            out[i] = (forecaster.method, [[_rounded(q) for q in d] for d in made[row, :horizon]])
    rest = np.flatnonzero(~mine)
    if rest.size:
        # The ensemble only for the series the model does not forecast.
        values, methods = forecast_array(grid[rest], np.arange(rest.size, dtype=np.int64), horizon)
        for row, i in enumerate(rest):
            out[i] = (methods[row], [[_rounded(q) for q in d] for d in values[row]])
    return out


def _snapshot(series: Daily, method: str, medians: list[float]) -> dict[str, Any]:
    return {
        "site": series.site.code if series.site else None,
        "measure": series.measure,
        "origin": series.origin.isoformat(),
        "as_of": series.as_of.isoformat(),
        "method": method,
        "points": series.points,
        "median": medians,
    }


def _store(
    organisation: Organisation, series: Daily, method: str, days: list[list[float]], now: datetime
) -> tuple[list[Forecast], audit.Event | None]:
    """Store one series' forecasts from its origin day, unless the same are stored already."""
    stored = list(
        Forecast.objects.select_for_update()
        .filter(
            organisation=organisation,
            site=series.site,
            measure=series.measure,
            origin=series.origin,
        )
        .order_by("horizon")
    )
    points = series.points
    said = [(f.as_of, f.method, f.points, [getattr(f, n) for _, n in QUANTILES]) for f in stored]
    wanted = [(series.as_of, method, points, day) for day in days]
    if said == wanted:
        return [], None  # stored already: a retry, a second worker, or nothing new
    rows = [
        Forecast(
            organisation=organisation,
            site=series.site,
            measure=series.measure,
            origin=series.origin,
            target=series.origin + timedelta(days=h),
            horizon=h,
            as_of=series.as_of,
            computed_at=now,
            method=method,
            points=points,
            **{name: q for (_, name), q in zip(QUANTILES, day, strict=True)},
        )
        for h, day in enumerate(days, 1)
    ]
    try:
        with transaction.atomic():  # the one savepoint: inserts that may clash
            Forecast.objects.filter(pk__in=[f.pk for f in stored]).delete()
            made = Forecast.objects.bulk_create(rows)
    except IntegrityError:
        return [], None  # another worker stored them a moment ago
    medians = [day[3] for day in days]
    event = audit.Event(
        "planning.forecast_computed",
        made[0],
        organisation_id=organisation.pk,
        before=_snapshot(series, stored[0].method, [f.q50 for f in stored])
        | {"as_of": stored[0].as_of.isoformat(), "points": stored[0].points}
        if stored
        else None,
        after=_snapshot(series, method, medians),
    )
    return made, event


def _reporting(
    organisation: Organisation, measures: tuple[str, ...], now: datetime
) -> list[Site | None]:
    """The organisation (None) and those of its sites that have a figure of any of these
    measures as at `now`: the series worth reading the history of (one query, through the
    policy as itself, rather than one per site: a trust may have dozens of sites)."""
    viewer = policy.acting_for(organisation, "forecasts")
    reading = policy.read_latest(viewer, now, {organisation.pk}, list(measures))
    site_ids = {v.site_id for v in reading.values}
    sites: list[Site | None] = [None] if None in site_ids else []
    ids = site_ids - {None}
    return sites + list(Site.objects.filter(pk__in=ids).order_by("code")) if ids else sites


def _compute(
    organisation: Organisation, now: datetime, forecaster: queries.Forecaster | None
) -> tuple[list[Forecast], list[audit.Event]]:
    """`recompute`'s work inside the caller's transaction: the forecasts stored, and the
    audit events the caller records (in the same transaction)."""
    cat = catalogue.current()
    by_origin: dict[date, list[Daily]] = {}
    for site in _reporting(organisation, cat.forecast_measures, now):
        for series in daily_history(organisation, site, cat.forecast_measures, now):
            by_origin.setdefault(series.origin, []).append(series)
    made, changes = [], []
    for group in by_origin.values():
        made_here = _made(group, cat.forecast_days, forecaster)
        for series, (method, days) in zip(group, made_here, strict=True):
            rows, event = _store(organisation, series, method, days, now)
            made += rows
            if event is not None:
                changes.append(event)
    return made, changes


def recompute(*, organisation: Organisation, now: datetime | None = None) -> list[Forecast]:
    """Forecast each forecastable measure of the organisation and its sites from their
    newest figures, storing any forecast not stored yet (or changed), each series' set with
    its audit event, in one transaction. Idempotent."""
    with transaction.atomic():
        forecaster = queries.forecaster_in_use()
        made, changes = _compute(organisation, now or timezone.now(), forecaster)
        audit.record_many(by=FORECASTER, events=changes)
        _computed(made)
    return made


def _computed(made: list[Forecast]) -> None:
    """Tell the apps above (alerts) whose forecasts changed, inside the transaction that
    stored them: nothing changed, nothing sent."""
    changed = sorted({f.organisation_id for f in made})
    if changed:
        events.forecasts_computed.send(sender=Forecast, organisation_ids=changed)


def recompute_for(
    *, organisation_ids: Iterable[int], now: datetime | None = None
) -> dict[str, int]:
    """The job's body: every organisation's forecasts in one transaction and one append to
    the audit chain."""
    now = now or timezone.now()
    made, changes = [], []
    forecaster = queries.forecaster_in_use()
    with transaction.atomic():
        for org in Organisation.objects.filter(pk__in=set(organisation_ids)).order_by("pk"):
            rows, found = _compute(org, now, forecaster)
            made += rows
            changes += found
        audit.record_many(by=FORECASTER, events=changes)
        _computed(made)
    return {"forecasts": len(made), "series": len(changes)}


def backfill(*, organisation: Organisation, days: int, now: datetime | None = None) -> int:
    """The forecasts the job would have made at this time of day on each of the last `days`
    days (from the figures up to then), and now: after loading history, so that a viewer
    whose grant is a day or two late has a forecast to see. Idempotent like `recompute`."""
    now = now or timezone.now()
    return sum(
        len(recompute(organisation=organisation, now=now - timedelta(days=d)))
        for d in range(days, -1, -1)
    )


def _forecasts(organisation_ids: list[int]) -> list[Wanted]:
    from flotilla.planning.tasks import forecast_organisations

    if not organisation_ids:
        return []
    kwargs = {"organisation_ids": sorted(set(organisation_ids))}
    return [Wanted(forecast_organisations, kwargs=kwargs)]


def _enqueue(organisation_ids: list[int]) -> None:
    queue_all(_forecasts(organisation_ids))


#: How many organisations one forecast job does when every organisation is forecast again.
EVERYONE_BATCH = 50


def forecast_everyone() -> dict[str, int]:
    """Queue every organisation's forecasts to be made again, `EVERYONE_BATCH` to a job."""
    ids = sorted(Organisation.objects.values_list("id", flat=True))
    batches = [ids[i : i + EVERYONE_BATCH] for i in range(0, len(ids), EVERYONE_BATCH)]
    for batch in batches:
        _enqueue(batch)
    return {"organisations": len(ids), "jobs": len(batches)}


def after_report(*, newest: dict[int, datetime], **_: Any) -> list[Wanted]:
    """Receiver of `reporting.events.report_recorded`: the forecasts a report calls for,
    which the report queues inside its transaction, so a report rolled back queues nothing."""
    return _forecasts(list(newest))


# The trained forecaster (ADR 0026) ---------------------------------------------------


def _described(p: published.Published) -> dict[str, str]:
    return {
        "file": p.path.name,
        "sha256": hashlib.sha256(p.path.read_bytes()).hexdigest(),
        "first_day": p.panel.first_day.isoformat(),
        "last_day": p.last_day.isoformat(),
    }


def _model_snapshot(m: ForecastModel) -> dict[str, Any]:
    return {
        "trained_on": m.trained_on,
        "settings": m.settings,
        "days": [m.days_from, m.days_to],
        "sha256": m.sha256,
    }


def train_forecaster(
    *,
    by: Any,
    files: list[published.Published],
    settings: gbm.Settings | None = None,
    now: datetime | None = None,
) -> ForecastModel:
    """Train the gradient-boosted forecaster on these published files and store it, with its
    audit event. Idempotent: a model already trained on the same files (by content) with the
    same settings is returned as it is, without training again. Training takes minutes on
    five winters and holds no transaction while it runs."""
    settings = settings or gbm.Settings()
    trained_on = [_described(p) for p in files]
    wanted = {"trained_on": trained_on, "settings": settings.__dict__}
    for m in ForecastModel.objects.defer("text"):
        if {"trained_on": m.trained_on, "settings": m.settings} == wanted:
            return m
    model = gbm.fit([p.panel for p in files], settings)
    text = model.to_text()
    digest = hashlib.sha256(text.encode()).hexdigest()
    with transaction.atomic():
        made, created = ForecastModel.objects.get_or_create(
            sha256=digest,
            defaults={
                "made_at": now or timezone.now(),
                "made_by": by if getattr(by, "is_authenticated", False) else None,
                "trained_on": trained_on,
                "settings": settings.__dict__,
                "days_from": model.days[0],
                "days_to": model.days[1],
                "text": text,
            },
        )
        if created:
            audit.record(
                by=by, action="planning.forecaster_trained", obj=made, after=_model_snapshot(made)
            )
    return made


def calibrate_forecaster(
    *,
    by: Any,
    model: ForecastModel,
    file: published.Published,
    now: datetime | None = None,
) -> ForecastCalibration:
    """Work out how much the model's intervals are widened from a newly published file, and
    put the model to use with it (the newest calibration is the forecaster in use), with its
    audit event, queuing the forecasts of every organisation to be made again. Calibrating
    on the same file again changes nothing."""
    source = _described(file)
    found = ForecastCalibration.objects.filter(model=model, source_sha256=source["sha256"])
    if found.exists():
        return found.get()
    trees = queries.forecaster_model(model)
    widening = gbm.calibrate(trees, file.panel)
    with transaction.atomic():
        made, created = ForecastCalibration.objects.get_or_create(
            model=model,
            source_sha256=source["sha256"],
            defaults={
                "made_at": now or timezone.now(),
                "made_by": by if getattr(by, "is_authenticated", False) else None,
                "source": source,
                "through": file.last_day,
                "widening": [[round(float(x), 6) for x in row] for row in widening],
            },
        )
        if created:
            audit.record(
                by=by,
                action="planning.forecaster_calibrated",
                obj=made,
                after={
                    "model": model.pk,
                    "source": source,
                    "through": made.through.isoformat(),
                    "widening": made.widening,
                },
            )
            # Every organisation's forecasts made again with the forecaster now in use.
            forecast_everyone()
    return made


# From plan to aid: drafts put to organisations (ADR 0021) ---------------------------

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


def move_key(move: Move | Redirect) -> str:
    """How a plan names a move: sender > receiver, by their places' keys."""
    return f"{move.source.key}>{move.target.key}"


def _draft_snapshot(d: AidDraft) -> dict[str, Any]:
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
    *, by: Any, plan: Plan | Outlook, chosen: Iterable[str], now: datetime | None = None
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
                    after={**_draft_snapshot(d), "plan": str(key)},
                )
                for d in drafts
            ],
        )
        for d in drafts:
            exchange.tell_arrangers(
                by=by,
                organisations=[d.organisation],
                text=sentence(d),
                link=draft_path(d.pk),
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
    before = _draft_snapshot(draft)
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
        after=_draft_snapshot(draft),
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
