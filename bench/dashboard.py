"""Server time of the collaborative dashboard with a year of hourly history, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/flotilla_bench \
        .venv/bin/python bench/dashboard.py

Builds (once; reused on later runs) a collaborative of 40 sites, each holding one year of
hourly values for 20 measures (about 7 million observations), then requests the dashboard
200 times through Django's test client and prints p50 / p95 / max server time.
Target: p95 ≤ 100 ms. Defaults to the local PostgreSQL when DATABASE_URL is unset.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

SITES, HOURS, REQUESTS = 40, 365 * 24, 200
MEASURES = (
    "ga_open", "ga_occupied", "ga_closed", "ga_void", "ga_admissible",
    "cc_adult_open", "cc_adult_occupied", "cc_adult_admissible",
    "escalation_open", "escalation_occupied",
    "handover_30_60", "handover_over_60", "dta_waiting", "nctr", "discharges",
    "ed_attendances", "long_stay_7", "long_stay_21", "staff_absent", "opel_declared",
)  # fmt: skip
TARGET_P95_MS = 100


def setup_django() -> None:
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/flotilla_bench")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flotilla.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()


def ensure_database() -> None:
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        sys.exit("this benchmark needs PostgreSQL (set DATABASE_URL)")
    with psycopg.connect(
        host=db["HOST"],
        port=db["PORT"] or 5432,
        user=db["USER"],
        dbname="postgres",
        autocommit=True,
    ) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname=%s", [db["NAME"]]).fetchone():
            conn.execute(f'CREATE DATABASE "{db["NAME"]}"')


def build() -> str:
    """Create the collaborative and its history unless it is already there; return its slug."""
    from django.core.management import call_command
    from django.db import connection, transaction

    from flotilla.audit.principals import Principal
    from flotilla.registry import actions
    from flotilla.registry.models import Collaborative, OrganisationKind, Role
    from flotilla.reporting.actions import _series_ids
    from flotilla.reporting.models import Source, Submission

    call_command("migrate", verbosity=0)
    existing = Collaborative.objects.filter(slug="bench-system").first()
    if existing:
        return existing.slug
    by = Principal.system("bench")
    started = time.perf_counter()
    with transaction.atomic():
        orgs = [
            actions.register_organisation(
                by=by, code=f"B{i:02d}", name=f"Bench Trust {i}", kind=OrganisationKind.ACUTE
            )
            for i in range(10)
        ]
        sites = [
            actions.register_site(
                by=by,
                code=f"B{i // 4:02d}{i % 4:02d}",
                name=f"Bench Site {i}",
                organisation=orgs[i // 4],
            )
            for i in range(SITES)
        ]
        collab = actions.create_collaborative(
            by=by,
            organisation=orgs[0],
            name="Bench system",
            purpose="Measure the dashboard.",
            reporting_interval_hours=1,
            slug="bench-system",
        )
        user = actions.create_user(by=by, username="bench", password="bench-password-1")
        actions.set_membership(by=by, user=user, organisation=orgs[0], role=Role.VIEWER)
        for org in orgs[1:]:
            inv = actions.invite(by=user, collaborative=collab, organisation=org)
            actions.respond(by=by, invitation=inv, accept=True)
        keys = {(s.organisation_id, s.pk, m) for s in sites for m in MEASURES}
        series_ids = list(_series_ids(keys).values())
        sub = Submission.objects.create(
            organisation=orgs[0],
            source=Source.IMPORT,
            received_at="2026-01-01T00:00Z",
            reference="bench",
        )
    # One INSERT … SELECT per series keeps memory flat; values wander around a plausible level.
    with connection.cursor() as cur:
        for sid in series_ids:
            cur.execute(
                """
                INSERT INTO reporting_observation
                    (series_id, as_of, value, text, missing_reason, submission_id, revision,
                     is_current)
                SELECT %s, now() - make_interval(hours => h),
                       round(100 + 20 * sin(h / 24.0) + random() * 10), NULL, '', %s, 1, true
                FROM generate_series(0, %s) AS h
                """,
                [sid, sub.pk, HOURS - 1],
            )
        cur.execute("ANALYZE reporting_observation")
    print(
        f"built {len(series_ids) * HOURS:,} observations in {time.perf_counter() - started:.0f} s"
    )
    return "bench-system"


def measure(slug: str) -> dict[str, float]:
    from django.test import Client

    from flotilla.reporting.models import Observation

    client = Client()
    client.login(username="bench", password="bench-password-1")
    client.get(f"/c/{slug}/")  # warm caches and connections
    times = []
    for _ in range(REQUESTS):
        t0 = time.perf_counter()
        response = client.get(f"/c/{slug}/")
        times.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200
    times.sort()
    return {
        "observations": Observation.objects.count(),
        "p50_ms": statistics.median(times),
        "p95_ms": times[int(len(times) * 0.95) - 1],
        "max_ms": times[-1],
    }


def main() -> int:
    setup_django()
    ensure_database()
    slug = build()
    result = measure(slug)
    print(
        f"dashboard, {SITES} sites x {len(MEASURES)} measures x {HOURS} hours "
        f"({result['observations']:,} observations), {REQUESTS} requests: "
        f"p50 {result['p50_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms, "
        f"max {result['max_ms']:.1f} ms "
        f"(target p95 <= {TARGET_P95_MS} ms)"
    )
    return 0 if result["p95_ms"] <= TARGET_P95_MS else 1


if __name__ == "__main__":
    sys.exit(main())
