"""Server time of evaluating a collaborative's 1,000 alert rules after one report.

    .venv/bin/python bench/alerts.py            # SQLite, in a fresh temporary file
    DATABASE_URL=postgres://... .venv/bin/python bench/alerts.py
    ... bench/alerts.py --each      # each run's time, statements and changes
    ... bench/alerts.py --profile   # where the time of all runs goes

Builds, through the actions, a collaborative of 40 acute trusts with 1,000 rules in a mix of
kinds, thresholds and scopes (three quarters about every member, a quarter about one member
each; figures with thresholds spread so that some alerts are open, some resolve and some
re-open), twelve subscribers, and a computed escalation level and a month of daily figures
with their forecasts for the reporting trust (so forecast rules read a real forecast). Then,
`RUNS` times, that trust reports (figures wandering around the thresholds) and
`alerts.actions.evaluate` is timed for it alone, as the job a report queues would run it:
its rules read, its figures read once as itself, its alerts read, opened, updated and
resolved, each change audited, and the telling queued. Telling (the `tell_alerts` job the
evaluation queues) is timed apart and printed beside it.

Target: p95 ≤ 200 ms. Like the other benchmarks it builds a throwaway database (SQLite in a
temporary FLOTILLA_VAR_DIR, or a test database on the server named by DATABASE_URL) and drops
it afterwards.
"""

from __future__ import annotations

import cProfile
import pstats
import random
import statistics
import sys
import time
from collections import Counter
from datetime import timedelta

from scratch import in_scratch_database, p95

ORGANISATIONS, RULES, SUBSCRIBERS, RUNS = 40, 1000, 12, 30
TARGET_P95_MS = 200

#: (kind, measure, thresholds to draw from): the mix of rules, by weight.
MIX = [
    (30, "measure", "ga_occupied", [80, 90, 95, 100, 105, 110]),
    (15, "measure", "ga_occupancy", [0.85, 0.9, 0.92, 0.95, 0.98]),
    (10, "measure", "nctr", [20, 30, 40, 50]),
    (10, "measure", "handover_over_60", [1, 5, 10]),
    (5, "measure", "opel_declared", [2, 3, 4]),
    (5, "measure", "dta_waiting", [10, 25, 40]),
    (10, "level", "", [2, 3, 4]),
    (5, "level_change", "", [None]),
    (10, "overdue", "", [2, 4, 8, 12]),
    (5, "forecast", "ga_occupied", [95, 100, 105, 110]),
    (5, "forecast", "ga_occupancy", [0.9, 0.95, 0.98]),
]


class Figures:
    """The reporting trust's figures: each wanders a little from one report to the next (as
    hourly figures do), around the rules' thresholds."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.now = {
            "ga_occupied": 100.0, "cc_adult_occupied": 8.0, "nctr": 35.0,
            "handover_over_60": 5.0, "dta_waiting": 25.0, "escalation_open": 8.0,
            "opel_declared": 3.0,
        }  # fmt: skip
        self.limits = {
            "ga_occupied": (70, 110), "cc_adult_occupied": (4, 10), "nctr": (10, 60),
            "handover_over_60": (0, 14), "dta_waiting": (0, 50), "escalation_open": (0, 20),
            "opel_declared": (1, 4),
        }  # fmt: skip

    def next(self) -> dict[str, float]:
        for code, (low, high) in self.limits.items():
            step = self.rng.choice((-1, 0, 1)) * (1 if code == "opel_declared" else 2)
            if code == "opel_declared" and self.rng.random() < 0.8:
                step = 0
            self.now[code] = min(high, max(low, self.now[code] + step))
        return {"ga_open": 110, "cc_adult_open": 10, **self.now}


def build(rng: random.Random, walk: Figures) -> tuple[object, object]:
    from django.utils import timezone

    from flotilla.alerts import actions as alerts
    from flotilla.audit.principals import Principal
    from flotilla.authz import actions as authz
    from flotilla.authz.models import Role
    from flotilla.collaboratives import actions as collaboratives
    from flotilla.escalation import actions as escalation
    from flotilla.organisations import actions as organisations
    from flotilla.organisations.models import OrganisationKind
    from flotilla.planning import actions as planning
    from flotilla.reporting.actions import record_report
    from flotilla.reporting.models import Source
    from flotilla.reporting.validation import CellIn

    by = Principal.system("bench")
    orgs = [
        organisations.register_organisation(
            by=by, code=f"AB{i:02d}", name=f"Alert Bench Trust {i}", kind=OrganisationKind.ACUTE
        )
        for i in range(ORGANISATIONS)
    ]
    coordinator = authz.create_user(by=by, username="bench-coordinator", password="bench-pw-1")
    authz.set_membership(by=by, user=coordinator, organisation=orgs[0], role=Role.COORDINATOR)
    collab = collaboratives.create_collaborative(
        by=by,
        organisation=orgs[0],
        name="Alert bench system",
        purpose="Measure alert evaluation.",
        reporting_interval_hours=4,
    )
    for org in orgs[1:]:
        inv = collaboratives.invite(by=coordinator, collaborative=collab, organisation=org)
        collaboratives.respond(by=by, invitation=inv, accept=True)
    people = [coordinator]
    for n in range(SUBSCRIBERS - 1):
        person = authz.create_user(by=by, username=f"bench-{n}", password="bench-pw-1")
        authz.set_membership(by=by, user=person, organisation=orgs[n % 8], role=Role.VIEWER)
        people.append(person)
    weights = [w for w, *_ in MIX]
    for _ in range(RULES):
        _, kind, measure, thresholds = rng.choices(MIX, weights)[0]
        scoped = rng.random() < 0.25
        rule = alerts.add_rule(
            by=coordinator,
            collaborative=collab,
            kind=kind,
            measure=measure,
            organisation=rng.choice(orgs) if scoped else None,
            threshold=rng.choice(thresholds),
        )
        for person in rng.sample(people[1:], 2):
            alerts.subscribe(by=person, rule=rule)
    reporter = orgs[3]
    now = timezone.now()

    def report(at, values):
        cells = [CellIn(reporter.pk, None, c, at, value=float(v)) for c, v in values.items()]
        record_report(by=by, organisation_id=reporter.pk, source=Source.FORM, cells=cells)

    # Every other member reported a while ago (so overdue rules have something to judge).
    for org in orgs:
        if org is not reporter:
            cells = [CellIn(org.pk, None, "ga_occupied", now - timedelta(hours=3), value=90.0)]
            record_report(by=by, organisation_id=org.pk, source=Source.FORM, cells=cells)
    # A month of the reporting trust's daily figures, and the forecasts made from them.
    for days in range(30, 0, -1):
        occupied = 100 + rng.randint(-8, 8)
        report(now - timedelta(days=days), {"ga_open": 110, "ga_occupied": occupied})
    planning.recompute(organisation=reporter)
    report(now - timedelta(minutes=RUNS + 5), walk.next())
    escalation.recompute(organisation=reporter)
    alerts.evaluate(organisation_ids=[reporter.pk])  # the alerts the first report opens
    return reporter, report


def main() -> int:
    return in_scratch_database(run)


def run() -> int:
    from django.db import connection
    from django.utils import timezone

    from flotilla.alerts import actions as alerts
    from flotilla.alerts.models import Alert, AlertRule
    from flotilla.escalation import actions as escalation

    rng = random.Random(19)
    started = time.perf_counter()
    walk = Figures(rng)
    reporter, report = build(rng, walk)
    print(
        f"built {AlertRule.objects.count():,} rules for {ORGANISATIONS} organisations "
        f"on {connection.vendor} in {time.perf_counter() - started:.0f} s"
    )
    concerning = AlertRule.objects.filter(organisation__isnull=True).count()
    concerning += AlertRule.objects.filter(organisation=reporter).count()
    times, queries, changed, telling = [], [], [], []
    profiler = cProfile.Profile() if "--profile" in sys.argv else None
    base = timezone.now() - timedelta(minutes=RUNS)
    for n in range(RUNS):
        at = base + timedelta(minutes=n)
        report(at, walk.next())
        escalation.recompute(organisation=reporter)  # the level rules see a new level
        # Queries are counted by a bare wrapper: capturing their SQL (as Django's test
        # helper does) would be timed too.
        counted = [0]

        def count(execute, sql, params, many, context, counted=counted):
            counted[0] += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            if profiler is not None:
                profiler.enable()
            t = time.perf_counter()
            outcome = alerts.evaluate(organisation_ids=[reporter.pk])
            times.append((time.perf_counter() - t) * 1000)
            if profiler is not None:
                profiler.disable()
        if "--each" in sys.argv:
            print(f"  run {n}: {times[-1]:.1f} ms, {counted[0]} queries, {outcome.as_dict()}")
        queries.append(counted[0])
        changed.append(outcome.as_dict())
        if outcome.opened:  # the job evaluation queued, timed apart
            t = time.perf_counter()
            alerts.tell(alert_ids=outcome.opened)
            telling.append((time.perf_counter() - t) * 1000)
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    slowest = p95(times)
    median = statistics.median(times)
    opened = sum(c["opened"] + c["reopened"] for c in changed)
    resolved = sum(c["resolved"] for c in changed)
    kinds = Counter(Alert.objects.values_list("rule__kind", flat=True))
    print(
        f"evaluate after one report: {concerning} rules concern the reporting trust "
        f"(of {RULES}); {Alert.objects.count()} alerts in all ("
        + ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items()))
        + ")"
    )
    print(
        f"  {RUNS} runs: median {median:.1f} ms, p95 {slowest:.1f} ms, max {max(times):.1f} ms; "
        f"queries median {statistics.median(queries):.0f}; "
        f"opened or re-opened {opened}, resolved {resolved}, "
        f"updated median {statistics.median(c['updated'] for c in changed):.0f} per run"
    )
    if telling:
        print(
            f"  telling (its own job, after): {len(telling)} runs opened alerts; median "
            f"{statistics.median(telling):.1f} ms, max {max(telling):.1f} ms"
        )
    ok = slowest <= TARGET_P95_MS
    print(f"  target p95 ≤ {TARGET_P95_MS} ms: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
