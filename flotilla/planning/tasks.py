"""Planning's background jobs (see `flotilla.jobs` and `flotilla.jobs.schedule`)."""

from __future__ import annotations

from datetime import timedelta

from flotilla.jobs.retry import job
from flotilla.planning import actions


@job(
    max_attempts=5,
    backoff=timedelta(seconds=30),
    takes_over=True,
    settles_for="FORECASTS_SETTLE_SECONDS",
)
def forecast_organisations(organisation_ids: list[int]) -> dict[str, int]:
    """Forecast these organisations' measures again from their newest figures. Idempotent:
    one forecast per organisation, site, measure, origin and target day, replaced only when
    what it says changed. Takes over the same forecasts waiting behind it, and settles for
    `FORECASTS_SETTLE_SECONDS`, longer than the other recomputes (ADR 0043)."""
    return actions.recompute_for(organisation_ids=organisation_ids)


@job(max_attempts=3, backoff=timedelta(minutes=2))
def forecast_everyone(slot: str) -> dict[str, int]:
    """Forecast every organisation again, once a day: catches up a report whose job failed
    for good, and figures stored without a report event. Queues `forecast_organisations`
    for batches of organisations (each its own transaction, spread over however many
    workers there are) rather than doing them all in one. Idempotent as above."""
    return actions.forecast_everyone()
