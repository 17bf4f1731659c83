"""The restore drill: back up a database with data in it, restore it into a fresh one (in
another process, as an operator would), and find every row and intact audit chains there."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from flotilla.audit.backup import table_counts
from tests import factories as f

ROOT = Path(__file__).resolve().parents[3]


def flotilla(*args: str, database_url: str, var_dir: Path) -> subprocess.CompletedProcess[str]:
    """`flotilla ARGS` in a process of its own, on the database at `database_url`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOTILLA_")}
    env.update(DATABASE_URL=database_url, FLOTILLA_VAR_DIR=str(var_dir))
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return subprocess.run(
        [sys.executable, "-m", "flotilla.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


@pytest.fixture
def fresh_database(tmp_path):
    """The address of an empty database on the same server as the tests' (a new SQLite file,
    or a new PostgreSQL database dropped afterwards)."""
    if connection.vendor == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    s = connection.settings_dict
    name = f"{s['NAME']}_restored"
    server = f"postgresql://{s['USER']}@{s['HOST'] or 'localhost'}:{s['PORT'] or 5432}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"{server}/{name}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def restored_counts(output: str) -> dict[str, int]:
    return {
        table: int(n.replace(",", ""))
        for table, n in (
            line.strip().split(": ") for line in output.splitlines() if line.startswith("  ")
        )
    }


@pytest.mark.django_db(transaction=True)
def test_a_backup_restored_into_a_fresh_database_holds_every_row_and_verifies(
    cast, tmp_path, fresh_database
):
    now = datetime.now(UTC)
    for hours in (3, 2, 1):
        f.report(cast.north, now - timedelta(hours=hours), ga_open=100, ga_occupied=90 + hours)
    f.reshare(f.collaborative_grant(cast.south, cast.collab), detail="status")
    backup = tmp_path / "flotilla.backup"
    call_command("backup", str(backup))
    source = {table: n for table, n in table_counts().items() if n}

    done = flotilla("restore", str(backup), database_url=fresh_database, var_dir=tmp_path)

    assert done.returncode == 0, done.stderr
    assert restored_counts(done.stdout) == source
    assert "audit" in done.stdout and "verified" in done.stdout
    # Restoring again into the same (now full) database is refused, and changes nothing.
    again = flotilla("restore", str(backup), database_url=fresh_database, var_dir=tmp_path)
    assert again.returncode != 0
    assert "restore only into an empty database" in again.stderr


def test_restoring_a_file_that_is_not_a_backup_fails_and_leaves_the_database_empty(
    tmp_path, fresh_database
):
    not_a_backup = tmp_path / "notes.txt"
    not_a_backup.write_text("figures for Monday\n")
    done = flotilla("restore", str(not_a_backup), database_url=fresh_database, var_dir=tmp_path)
    assert done.returncode != 0
    assert "notes.txt" in done.stderr or "pg_restore failed" in done.stderr
    tables = flotilla(
        "shell",
        "-c",
        "from django.db import connection; print(len(connection.introspection.table_names()))",
        database_url=fresh_database,
        var_dir=tmp_path,
    )
    assert tables.stdout.split()[-1] == "0", tables.stderr
