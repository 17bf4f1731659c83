"""What one request of each kind in the load mix costs, measured alone in one process through
Django's test client: CPU time (the process's, so the database's own time is not in it),
wall time and statements sent, medians over `--runs` requests, on a database as
`make bench-load` builds it (the demo loaded, then world.py's people and tokens).

    DATABASE_URL=postgres://.../db FLOTILLA_VAR_DIR=... \\
        .venv/bin/python bench/load/cost.py WORLD.json [--runs 40] [--only refresh,picture]

`--profile KIND` prints the functions that took the most time for that kind (cProfile,
`--sort cumulative` by default) and the statements of one request of it; `--callers PATTERN`
adds who called the functions whose names match PATTERN (pstats' `print_callers`); `--cpu`
times the process's CPU instead of the wall clock, so waits on the database drop out. The
settings are the load test's (DEBUG off, HTTPS behind a trusted proxy, rate limits on); the
client plays the proxy as the locustfile does. `about` (a signed-in page with nothing of its
own) and `signin` (the sign-in page, no session) show what every request costs before its
view.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import re
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def settings_env() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flotilla.settings")
    os.environ.update(
        {
            "FLOTILLA_DEBUG": "0",
            "FLOTILLA_SECRET_KEY": "cost-of-a-request-" + "x" * 40,
            "FLOTILLA_ALLOWED_HOSTS": "testserver,127.0.0.1",
            "FLOTILLA_HTTPS": "1",
            "FLOTILLA_BEHIND_TLS_PROXY": "1",
            "FLOTILLA_TRUSTED_PROXIES": "1",
        }
    )
    sys.path.insert(0, str(ROOT))


def _database_cpu(connection):
    """A function giving the CPU ms the PostgreSQL backend serving `connection` has used, when
    that backend is a process of this machine whose /proc this user may read; else None. Its
    mean over the runs is the `db cpu ms` column (a mean: the backend's clock ticks in 10 ms)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        stat = Path(f"/proc/{cursor.fetchone()[0]}/stat")
    tick = os.sysconf("SC_CLK_TCK")

    def used() -> float:
        fields = stat.read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) * 1000 / tick  # utime + stime

    try:
        used()
    except OSError:
        return None
    return used


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("world", type=Path)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--profile", default="")
    parser.add_argument("--only", default="", help="comma-separated kinds")
    parser.add_argument("--sort", default="cumulative", help="cProfile's order (tottime…)")
    parser.add_argument(
        "--callers", default="", help="with --profile: who called the functions matching this"
    )
    parser.add_argument(
        "--callees", default="", help="with --profile: what the functions matching this called"
    )
    parser.add_argument("--sql", type=int, default=200, help="characters of each statement")
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="with --profile: time the process's CPU, leaving out waits on the database",
    )
    args = parser.parse_args()
    settings_env()
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    User = get_user_model()

    world = json.loads(args.world.read_text())
    slug = world["collaborative"]
    orgs = world["organisations"]
    reporting = [o for o in orgs if "submit" in o]
    org = reporting[0]
    address = "10.50.0.1"
    proxy = {"HTTP_X_FORWARDED_FOR": address, "HTTP_X_FORWARDED_PROTO": "https"}

    reporter = Client(**proxy)
    reporter.force_login(User.objects.get(username=org["login"]["username"]))
    viewer = Client(**proxy)
    viewer.force_login(User.objects.get(username=org["login"]["username"]))
    api = Client(**proxy)

    def form_get():
        return reporter.get(f"/o/{org['code']}/report", secure=True)

    page = form_get().content.decode()
    form = page.partition('id="report-form"')[2].partition("</form>")[0]
    inputs = re.findall(r'<input[^>]*\bname="([^"]+)"[^>]*\bvalue="([^"]*)"', form)
    fields = {k: unescape(v) for k, v in inputs if v}

    def form_post():
        data = dict(fields)
        data["ga_occupied"] = str(random.randint(400, 500))
        data["handover_30_60"] = str(random.randint(0, 12))
        origin = "https://testserver"
        return reporter.post(
            f"/o/{org['code']}/report",
            data,
            secure=True,
            HTTP_ORIGIN=origin,
            HTTP_REFERER=origin + f"/o/{org['code']}/report",
        )

    def api_post():
        as_of = datetime.now(UTC).replace(second=0, microsecond=0).isoformat()
        values = [
            {
                "measure": m,
                "as_of": as_of,
                "value": v + (random.randint(0, 3) if "occupied" in m else 0),
            }
            for m, v in org["figures"].items()
        ]
        return api.post(
            "/api/reports",
            json.dumps({"values": values}),
            content_type="application/json",
            secure=True,
            HTTP_AUTHORIZATION=f"Bearer {org['submit']}",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )

    def dashboard():
        return viewer.get(f"/c/{slug}/", secure=True)

    def refresh():
        return viewer.get(
            f"/c/{slug}/table",
            secure=True,
            HTTP_HX_REQUEST="true",
            HTTP_HX_CURRENT_URL=f"https://testserver/c/{slug}/",
        )

    def picture():
        return api.get(
            f"/api/collaboratives/{slug}/picture",
            secure=True,
            HTTP_AUTHORIZATION=f"Bearer {org['read']}",
        )

    def about():
        return viewer.get("/about/", secure=True)

    def signin_page():
        return api.get("/signin/", secure=True)

    kinds = {
        "about": (about, 200),
        "signin": (signin_page, 200),
        "form_post": (form_post, 302),
        "form_page": (form_get, 200),
        "api_post": (api_post, 201),
        "dashboard": (dashboard, 200),
        "refresh": (refresh, 200),
        "picture": (picture, 200),
    }
    if args.only:
        kinds = {k: v for k, v in kinds.items() if k in args.only.split(",")}
    database_cpu = _database_cpu(connection)
    print(
        f"{'kind':<10} {'cpu ms p50':>10} {'wall ms p50':>11} {'statements':>10}"
        + (f" {'db cpu ms':>9}" if database_cpu else "")
    )
    for name, (call, expected) in kinds.items():
        for _ in range(3):
            response = call()
            assert response.status_code == expected, (
                name,
                response.status_code,
                response.content[:500],
            )
        cpu, wall, statements = [], [], []
        db0 = database_cpu() if database_cpu else 0.0
        for _ in range(args.runs):
            with CaptureQueriesContext(connection) as q:
                c0, w0 = time.process_time(), time.perf_counter()
                response = call()
                cpu.append((time.process_time() - c0) * 1000)
                wall.append((time.perf_counter() - w0) * 1000)
            statements.append(len(q.captured_queries))
            assert response.status_code == expected, (name, response.status_code)
        db = (database_cpu() - db0) / args.runs if database_cpu else None
        print(
            f"{name:<10} {statistics.median(cpu):>10.1f} {statistics.median(wall):>11.1f}"
            f" {statistics.median(statements):>10.0f}" + (f" {db:>9.1f}" if db is not None else "")
        )
        if name == args.profile:
            profiler = cProfile.Profile(time.process_time) if args.cpu else cProfile.Profile()
            profiler.enable()
            for _ in range(args.runs):
                call()
            profiler.disable()
            stats = pstats.Stats(profiler).sort_stats(args.sort)
            stats.print_stats(60)
            if args.callers:
                stats.print_callers(args.callers)
            if args.callees:
                stats.print_callees(args.callees)
            with CaptureQueriesContext(connection) as q:
                call()
            for query in q.captured_queries:
                print(query["sql"][: args.sql])
    return 0


if __name__ == "__main__":
    sys.exit(main())
