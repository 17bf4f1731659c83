"""Backing up the whole database to one file, and restoring it into an empty database.

SQLite: the backup is a copy of the database made with SQLite's online backup API, so it is
consistent while the platform runs (WAL mode included); restoring copies it back the same way.
PostgreSQL: `pg_dump --format=custom`, restored with `pg_restore` in a single transaction, so a
failed restore leaves the database as it was. Both need nothing but the database itself (and,
for PostgreSQL, its client programs on the PATH).

A restore goes only into a database that holds no tables (migrate nothing first), so that it
never mixes two databases. The commands (`flotilla backup`, `flotilla restore`) then count
every table and verify the audit chains, so a restore drill is one command and its output.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from django.apps import apps
from django.db import connection


class BackupError(Exception):
    """A backup or restore that could not be done, and why, in a sentence."""


def table_counts() -> dict[str, int]:
    """Rows in every table of the platform's models, by table name."""
    counts = {}
    for model in apps.get_models(include_auto_created=True):
        if model._meta.managed and not model._meta.proxy:
            counts[model._meta.db_table] = model._base_manager.count()
    return dict(sorted(counts.items()))


def _pg_env() -> tuple[list[str], dict[str, str]]:
    """The connection options of pg_dump/pg_restore for the configured database, and the
    environment carrying its password."""
    s = connection.settings_dict
    args = [f"--dbname={s['NAME']}"]
    if s.get("HOST"):
        args.append(f"--host={s['HOST']}")
    if s.get("PORT"):
        args.append(f"--port={s['PORT']}")
    if s.get("USER"):
        args.append(f"--username={s['USER']}")
    env = dict(os.environ)
    if s.get("PASSWORD"):
        env["PGPASSWORD"] = str(s["PASSWORD"])
    return args, env


def _run(program: str, args: list[str], env: dict[str, str]) -> None:
    found = shutil.which(program)
    if found is None:
        raise BackupError(f"{program} is not on the PATH: install PostgreSQL's client programs")
    done = subprocess.run([found, *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{program} failed: {done.stderr.strip() or done.returncode}")


def backup(path: Path) -> None:
    """Write a backup of the whole database to `path` (replaced if it exists)."""
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        target = sqlite3.connect(path)
        try:
            connection.connection.backup(target)
        finally:
            target.close()
    elif connection.vendor == "postgresql":
        args, env = _pg_env()
        _run("pg_dump", ["--format=custom", "--no-owner", f"--file={path}", *args], env)
    else:
        raise BackupError(f"backups of {connection.vendor} databases are not supported")


def restore(path: Path) -> None:
    """Restore the backup at `path` into the configured database, which must hold no tables."""
    if not path.is_file():
        raise BackupError(f"{path} is not a file")
    tables = connection.introspection.table_names()
    if tables:
        raise BackupError(
            f"the database already holds {len(tables)} tables: restore only into an empty "
            "database (create it, and do not migrate it first)"
        )
    if connection.vendor == "sqlite":
        with path.open("rb") as f:
            if not f.read(16).startswith(b"SQLite format 3"):
                raise BackupError(f"{path} is not a SQLite backup")
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            connection.ensure_connection()
            source.backup(connection.connection)
        finally:
            source.close()
    elif connection.vendor == "postgresql":
        args, env = _pg_env()
        options = ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
        _run("pg_restore", [*options, *args, str(path)], env)
    else:
        raise BackupError(f"restoring {connection.vendor} databases is not supported")
    connection.close()  # the next query sees the restored database afresh
