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
