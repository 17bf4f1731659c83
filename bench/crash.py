"""The crash drill at full count: the web server killed with SIGKILL (master and workers) in
the middle of API submissions, 200 times, then the database checked.

    .venv/bin/python bench/crash.py [--rounds 200]
    DATABASE_URL=postgres://... .venv/bin/python bench/crash.py

Builds a throwaway database (like the other benchmarks), an organisation and a submit token;
then, each round, starts gunicorn (2 workers × 4 threads), has six clients send four-value
reports as fast as it answers, and kills it at a random moment 0-0.3 s after the round's first
acknowledgement (a fixed delay from the start could kill before anything was answered on a
busy machine, and test nothing). Target: every acknowledged (201) report stored whole, no
report stored in part, `verify-audit` clean.
The same drill runs in CI with a few rounds (tests/integration/test_crash_consistency.py).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from scratch import in_scratch_database


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    return in_scratch_database(lambda: run(args.rounds))


def run(rounds: int) -> int:
    from django.db import connection

    from flotilla.audit.principals import Principal
    from flotilla.authz import actions as authz
    from flotilla.authz.models import Role, TokenScope
    from flotilla.organisations import actions as organisations
    from flotilla.organisations.models import OrganisationKind
    from tests.crash_drill import drill, problems

    by = Principal.system("bench")
    trust = organisations.register_organisation(
        by=by, code="CR1", name="Crash Drill Trust", kind=OrganisationKind.ACUTE
    )
    admin = authz.create_user(by=by, username="crash-admin", password="crash-pw-1")
    authz.set_membership(by=by, user=admin, organisation=trust, role=Role.ORG_ADMIN)
    _, secret = authz.issue_token(
        by=admin, organisation=trust, name="drill", scope=TokenScope.SUBMIT
    )
    log = Path(tempfile.mkdtemp(prefix="flotilla-crash-")) / "gunicorn.log"
    started = time.perf_counter()
    tally = drill(rounds, secret, log)
    found = problems(tally)
    print(
        f"{tally.rounds} kills on {connection.vendor} in {time.perf_counter() - started:.0f} s: "
        f"{tally.sent} reports sent, {len(tally.acknowledged)} acknowledged, "
        f"{tally.cut} cut by a kill, {len(tally.refused)} refused"
    )
    for problem in found[:20]:
        print(f"  {problem}")
    print(
        "target (every acknowledged report whole, none in part, verify-audit clean): "
        + ("met" if not found else f"MISSED ({len(found)} problems)")
    )
    return 0 if not found else 1


if __name__ == "__main__":
    sys.exit(main())
