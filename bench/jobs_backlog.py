"""How long one worker takes to work through the jobs that a burst of reports queues.

    .venv/bin/python bench/jobs_backlog.py [--members 22] [--reports 5] [--days 28]
                                           [--no-take-over]

Builds a throwaway database (SQLite in a temporary FLOTILLA_VAR_DIR, or a test database on the
server named by DATABASE_URL): a collaborative of `--members` acute trusts sharing openly, the
demo's alert rules (a measure, a level, a level change and an overdue rule), `--days` days of
daily figures for each, and every level and forecast already made. Then each trust reports
`--reports` times, a minute apart, faster than any worker runs their jobs: each report queues
three (its escalation levels, its forecasts, its alert rules), as at the top of the hour or
under load. One worker (`flotilla worker --batch`, in this process) then works through the
queue, including the jobs those jobs queue, and is timed until nothing is left.

The jobs are due at once (a settle time of 0, ADR 0037): the queue is the one a worker finds
when it has fallen behind by more than the settle time, and the jobs the jobs queue are run
in the same pass. What settling saves a worker that keeps up is measured by the load test.

`--no-take-over` runs every job itself, as before jobs took over the identical jobs waiting
behind them (ADR 0036), for comparison on the same machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from datetime import timedelta

from scratch import collaborative_of, in_scratch_database


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=22)
    parser.add_argument("--reports", type=int, default=5, help="reports from each trust")
    parser.add_argument("--days", type=int, default=28, help="days of history before")
    parser.add_argument("--no-take-over", action="store_true")
    args = parser.parse_args()
    return in_scratch_database(lambda: run(args))


def figures(i: int, k: int) -> dict[str, float]:
    """Plausible figures that move from one report to the next."""
    return {
        "ga_open": 400 + 10 * (i % 7),
        "ga_occupied": 340 + ((i * 7 + k * 13) % 60),
        "cc_adult_open": 20,
        "cc_adult_occupied": 12 + (i + k) % 9,
        "handover_over_60": (i + 2 * k) % 12,
        "opel_declared": 1 + (i + k) % 4,
    }


def run(args: argparse.Namespace) -> int:
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone
    from django_tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    from flotilla.alerts import actions as alerts_actions
    from flotilla.audit.principals import Principal
    from flotilla.authz import actions as authz_actions
    from flotilla.authz.models import Role
    from flotilla.escalation import actions as escalation_actions
    from flotilla.jobs import retry
    from flotilla.jobs.worker import run_batch
    from flotilla.planning import actions as planning_actions
    from flotilla.reporting.actions import record_report
    from flotilla.reporting.models import Source
    from flotilla.reporting.validation import CellIn

    settings.JOBS_SETTLE_SECONDS = 0  # see the docstring
    system = Principal.system("bench")
    orgs, collab = collaborative_of(args.members)
    # The demo's rules (flotilla.demo.loader), for every member.
    rules = [
        {"kind": "measure", "measure": "ga_occupancy", "threshold": 0.97, "clear_at": 0.95},
        {"kind": "forecast", "measure": "ga_occupancy", "threshold": 0.96, "within_days": 3},
        {"kind": "level", "threshold": 4},
        {"kind": "system_level", "threshold": 3},
        {"kind": "overdue"},
    ]
    coordinator = authz_actions.create_user(
        by=system, username="bench-coordinator", password="bench-bench-bench"
    )
    authz_actions.set_membership(
        by=system, user=coordinator, organisation=orgs[0], role=Role.COORDINATOR
    )
    for rule in rules:
        alerts_actions.add_rule(by=coordinator, collaborative=collab, **rule)
    now = timezone.now().replace(second=0, microsecond=0)

    def report(org, i: int, k: int, at) -> None:
        cells = [CellIn(org.pk, None, m, at, value=float(v)) for m, v in figures(i, k).items()]
        record_report(by=system, organisation_id=org.pk, source=Source.API, cells=cells)

    history_end = now - timedelta(hours=1)
    for day in range(args.days, 0, -1):
        for i, org in enumerate(orgs):
            report(org, i, day, history_end - timedelta(days=day - 1))
    for org in orgs:
        escalation_actions.backfill(organisation=org, since=history_end - timedelta(days=2))
    planning_actions.recompute_for(organisation_ids=[o.pk for o in orgs])
    DBTaskResult.objects.all().delete()  # the history's jobs: made above, all at once

    for r in range(args.reports):
        for i, org in enumerate(orgs):
            report(org, i, 1000 + r, now - timedelta(minutes=args.reports - r))
    queued = DBTaskResult.objects.filter(status=TaskResultStatus.READY).count()
    if args.no_take_over:
        retry._TAKING_OVER.clear()

    wall, cpu = time.perf_counter(), time.process_time()
    run_batch(worker_id="bench")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu

    rows = list(DBTaskResult.objects.values("task_path", "status", "worker_ids"))
    failed = [r for r in rows if r["status"] != TaskResultStatus.SUCCESSFUL]
    ran = Counter(r["task_path"].rsplit(".", 1)[-1] for r in rows if r["worker_ids"])
    taken = sum(1 for r in rows if not r["worker_ids"])
    reports = args.members * args.reports
    print(
        f"{args.members} trusts, {args.days} days of history, {connection.vendor}; "
        f"take-over {'off' if args.no_take_over else 'on'}"
    )
    print(
        f"{reports} reports queued {queued} jobs; with the jobs they queued, {len(rows)} in all: "
        f"{sum(ran.values())} run ({', '.join(f'{n} {k}' for k, n in sorted(ran.items()))}), "
        f"{taken} taken over, {len(failed)} failed"
    )
    print(
        f"one worker: {wall:.1f} s ({cpu:.1f} s of its CPU), "
        f"{1000 * wall / reports:.0f} ms a report, {reports / wall:.1f} reports a second"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
