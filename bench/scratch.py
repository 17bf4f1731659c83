"""A throwaway database for a benchmark: SQLite in a temporary FLOTILLA_VAR_DIR, or a test
database on the server named by DATABASE_URL, made before and dropped after."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path


def in_scratch_database(run: Callable[[], int]) -> int:
    """Set Django up on a fresh, migrated database, call `run`, and drop the database."""
    scratch = tempfile.TemporaryDirectory(prefix="flotilla-bench-")
    os.environ["FLOTILLA_VAR_DIR"] = scratch.name
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flotilla.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        return run()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        scratch.cleanup()


def collaborative_of(members: int, place=None) -> tuple[list, object]:
    """A collaborative of `members` acute trusts, B000 first (which started it), every one
    joined through the actions (so each shares openly with it, as joining does). `place(i)`
    gives trust i's (latitude, longitude), or None for no position."""
    from flotilla.audit.principals import Principal
    from flotilla.authz import actions as authz_actions
    from flotilla.collaboratives import actions as collaboratives_actions
    from flotilla.organisations import actions as organisations_actions

    system = Principal.system("bench")
    orgs = []
    for i in range(members):
        lat, lon = place(i) if place else (None, None)
        orgs.append(
            organisations_actions.register_organisation(
                by=system,
                code=f"B{i:03d}",
                name=f"Bench Trust {i}",
                kind="acute",
                latitude=lat,
                longitude=lon,
            )
        )
    collab = collaboratives_actions.create_collaborative(
        by=system, name="Bench System", purpose="Benchmarks", organisation=orgs[0]
    )
    inviter = authz_actions.create_user(
        by=system, username="bench", password="bench-bench-bench", email="bench@example.nhs.uk"
    )
    for org in orgs[1:]:
        invitation = collaboratives_actions.invite(
            by=inviter, collaborative=collab, organisation=org
        )
        collaboratives_actions.respond(by=inviter, invitation=invitation, accept=True)
    return orgs, collab


def p95(times: list[float]) -> float:
    """The 95th percentile of run times (nearest rank)."""
    ordered = sorted(times)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]
