"""How fast POST /api/reports stores values, end to end through the Django stack.

    .venv/bin/python bench/api_ingest.py [--batches 5] [--size 10000] [--profile]

Builds a throwaway database (SQLite in a temporary FLOTILLA_VAR_DIR, or a test database on the
server named by DATABASE_URL), issues a submit token, then posts batches of new values, a
batch of corrections and a repeated batch through Django's test client, and prints values per
second for each. Target: at least 5,000 new values per second. `--profile` prints where the
time of one new batch goes.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from datetime import UTC, datetime, timedelta

from scratch import in_scratch_database

TARGET = 5_000
MEASURES = (
    "ga_open",
    "ga_occupied",
    "ga_closed",
    "ga_void",
    "ga_admissible",
    "cc_adult_open",
    "cc_adult_occupied",
    "nctr",
    "discharges",
    "dta_waiting",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--size", type=int, default=10_000, help="values per call")
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    return in_scratch_database(lambda: run(args))


def run(args: argparse.Namespace) -> int:
    from django.db import connection
    from django.test import Client

    from flotilla.audit.principals import Principal
    from flotilla.authz import actions as authz_actions
    from flotilla.organisations import actions as organisations_actions
    from flotilla.reporting.actions import record_report
    from flotilla.reporting.models import Observation
    from flotilla.reporting.validation import CellIn

    system = Principal.system("bench")
    org = organisations_actions.register_organisation(
        by=system, code="RB1", name="Bench Trust", kind="acute"
    )
    admin = authz_actions.create_user(by=system, username="bench", password="bench-bench-bench")
    authz_actions.set_membership(by=system, user=admin, organisation=org, role="org_admin")
    sites = [
        organisations_actions.register_site(
            by=system, code=f"RB{i:03d}", name=f"Site {i}", organisation=org
        )
        for i in range(args.sites)
    ]
    site_ids = {s.code: s.pk for s in sites}
    _, secret = authz_actions.issue_token(by=admin, organisation=org, name="bench", scope="submit")
    client = Client()
    headers = {"Authorization": f"Bearer {secret}"}
    start_time = datetime(2026, 1, 5, tzinfo=UTC)
    per_time = len(sites) * len(MEASURES)
    times_per_batch = max(1, args.size // per_time)

    def body(batch: int, bump: int = 0) -> dict:
        values = []
        for t in range(times_per_batch):
            as_of = (start_time + timedelta(hours=batch * times_per_batch + t)).isoformat()
            for s in sites:
                for m in MEASURES:
                    values.append(
                        {"site_code": s.code, "measure": m, "as_of": as_of, "value": 10 + bump}
                    )
        return {"values": values[: args.size]}

    def post(payload: dict, key: str) -> tuple[float, dict]:
        began = time.perf_counter()
        response = client.post(
            "/api/reports",
            payload,
            content_type="application/json",
            headers={**headers, "Idempotency-Key": key},
        )
        elapsed = time.perf_counter() - began
        if response.status_code != 201:
            raise SystemExit(f"unexpected {response.status_code}: {response.content[:500]!r}")
        return elapsed, response.json()

    print(f"database: {connection.vendor}; {args.size} values per call")
    payloads = [body(b) for b in range(args.batches)]
    total_values, total_time = 0, 0.0
    for b, payload in enumerate(payloads):
        elapsed, result = post(payload, f"new-{b}")
        n = len(payload["values"])
        total_values += n
        total_time += elapsed
        print(f"  new batch {b}: {n} values in {elapsed:.2f}s = {n / elapsed:,.0f} values/s")
    rate = total_values / total_time
    elapsed, result = post(body(0, bump=1), "revise-0")
    print(f"  corrections: {result['revised']} revised in {elapsed:.2f}s")
    elapsed, result = post(body(1), "repeat-1")
    print(f"  repeat (no key reuse): {result['unchanged']} unchanged in {elapsed:.2f}s")
    elapsed, _ = post(body(1), "repeat-1")
    print(f"  replay of a used key: {elapsed * 1000:.0f} ms")
    # The same work without HTTP, JSON or validation of the request: the action alone.
    direct = body(args.batches + 2)["values"]
    cells = [
        CellIn(
            organisation_id=org.pk,
            site_id=site_ids[v["site_code"]],
            measure=v["measure"],
            as_of=datetime.fromisoformat(v["as_of"]),
            value=float(v["value"]),
        )
        for v in direct
    ]
    began = time.perf_counter()
    record_report(by=system, organisation_id=org.pk, source="api", cells=cells)
    elapsed = time.perf_counter() - began
    rate_alone = len(cells) / elapsed
    print(
        f"  record_report alone: {len(cells)} values in {elapsed:.2f}s = {rate_alone:,.0f} values/s"
    )
    print(f"stored {Observation.objects.count():,} observations")
    verdict = "meets" if rate >= TARGET else "BELOW"
    print(f"ingest rate: {rate:,.0f} new values/s ({verdict} the {TARGET:,}/s target)")

    if args.profile:
        payload = body(args.batches + 1)
        profiler = cProfile.Profile()
        profiler.enable()
        post(payload, "profiled")
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)
    return 0 if rate >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
