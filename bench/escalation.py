"""How long recomputing a collaborative's escalation levels takes after one report.

    .venv/bin/python bench/escalation.py [--members 40] [--runs 30] [--profile] [--queries]

Builds a throwaway database (SQLite in a temporary FLOTILLA_VAR_DIR, or a test database on the
server named by DATABASE_URL), a collaborative of 40 acute trusts that share openly, each with
a report and a computed level, and a week of history. Then, for each run, one trust reports
new figures and the recompute job's work is timed (`escalation.actions.recompute_for`: that
trust's level, its explanation and audit event, and the collaborative's system level rolled
up as the collaborative sees its members). Server time only: the report itself is not timed.
Target: p95 at most 50 ms. `--profile` prints where the time of one run goes.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import pstats
import statistics
import sys
import time
from datetime import timedelta

from scratch import collaborative_of, in_scratch_database, p95

TARGET_MS = 50.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=40)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--queries", action="store_true", help="print the last run's statements")
    args = parser.parse_args()

    return in_scratch_database(lambda: run(args))


def figures(i: int, k: int) -> dict[str, float]:
    """Plausible figures that move from one report to the next."""
    return {
        "ga_open": 400 + 10 * (i % 7),
        "ga_occupied": 360 + ((i * 7 + k * 13) % 45),
        "cc_adult_open": 20,
        "cc_adult_occupied": 14 + (i + k) % 7,
        "nctr": 30 + (i * 3 + k) % 40,
        "handover_over_60": (i + 2 * k) % 12,
        "dta_waiting": (i * 5 + k) % 45,
        "escalation_open": (i + k) % 25,
        "long_stay_21": 40 + (i + k) % 60,
        "opel_declared": 1 + (i + k) % 4,
    }


def run(args: argparse.Namespace) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from flotilla.audit.principals import Principal
    from flotilla.collaboratives.models import CollaborativeMembership
    from flotilla.escalation import actions
    from flotilla.escalation.models import ComputedLevel, SystemLevel
    from flotilla.reporting.actions import record_report
    from flotilla.reporting.models import Source
    from flotilla.reporting.validation import CellIn

    system = Principal.system("bench")
    orgs, collab = collaborative_of(args.members)
    assert CollaborativeMembership.objects.filter(collaborative=collab).count() == args.members

    now = timezone.now().replace(minute=0, second=0, microsecond=0)

    def report(org, i: int, k: int, at) -> None:
        cells = [CellIn(org.pk, None, m, at, value=float(v)) for m, v in figures(i, k).items()]
        record_report(by=system, organisation_id=org.pk, source=Source.API, cells=cells)

    # A week of four-hourly history, every level computed.
    for k in range(42, 0, -1):
        for i, org in enumerate(orgs):
            report(org, i, k, now - timedelta(hours=4 * k))
    for org in orgs:
        actions.backfill(organisation=org, since=now - timedelta(days=8))
    actions.roll_up(collaborative=collab)
    print(
        f"{args.members} trusts, {ComputedLevel.objects.count()} levels of history, "
        f"{connection.vendor}"
    )

    times = []
    for r in range(args.runs):
        org = orgs[r % len(orgs)]
        at = now - timedelta(minutes=args.runs - r)
        report(org, r, 1000 + r, at)
        started = time.perf_counter()
        if args.profile and r == args.runs - 1:
            profiler = cProfile.Profile()
            profiler.enable()
        last = r == args.runs - 1
        with CaptureQueriesContext(connection) if last else contextlib.nullcontext() as captured:
            done = actions.recompute_for(organisation_ids=[org.pk])
        if args.profile and r == args.runs - 1:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(60)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
        if last:
            statements = captured.captured_queries
        times.append((time.perf_counter() - started) * 1000)
        assert done["computed"] == 1, done
    if args.queries:
        for q in statements:
            print(f"{q['time']:>6} {q['sql'][:160]}")
    print(f"{len(statements)} statements in the last run")
    worst = p95(times)
    print(
        f"recompute after one report ({args.runs} runs): median {statistics.median(times):.1f} ms, "
        f"p95 {worst:.1f} ms, max {max(times):.1f} ms (target p95 <= {TARGET_MS:.0f} ms); "
        f"{SystemLevel.objects.filter(collaborative=collab).count()} system levels stored"
    )
    return 0 if worst <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
