"""Real processes against the test database: the background worker and the web server, as
production runs them, for tests that must cross a process boundary."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

from tests.factories import unused_port


def database_url() -> str:
    """The test database, for another process to use."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = quote(s["USER"]) + (f":{quote(s['PASSWORD'])}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def environment(**extra: str) -> dict[str, str]:
    """The process's environment: the test database, and the rate limits off (these tests
    send far more requests a minute from one address than a person would; the limits have
    tests of their own, tests/integration/test_rate_limits.py)."""
    return {
        **os.environ,
        "DATABASE_URL": database_url(),
        "FLOTILLA_VAR_DIR": str(settings.VAR_DIR),
        "FLOTILLA_RATE_LIMIT_PER_ADDRESS": "0",
        "FLOTILLA_RATE_LIMIT_PER_TOKEN": "0",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def start_gunicorn(
    log: Path, *, workers: int = 2, threads: int = 25, own_session: bool = False
) -> tuple[subprocess.Popen[bytes], str]:
    """Start Flotilla under gunicorn, as `make run` does, on a free port; return the process
    and its base URL once a worker answers a page (the master listens before its workers
    have loaded Django). `own_session` puts it in a process group of its own, so that one
    signal reaches the master and its workers."""
    port = unused_port()
    cmd = [sys.executable, "-m", "gunicorn", "flotilla.wsgi", "--bind", f"127.0.0.1:{port}"]
    with log.open("a") as out:
        server = subprocess.Popen(
            [*cmd, "--workers", str(workers), "--threads", str(threads)],
            env=environment(),
            cwd=settings.PROJECT_DIR,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=own_session,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/signin/", timeout=5):
                return server, url
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError(f"gunicorn did not start:\n{log.read_text()}") from None
            time.sleep(0.05)


@contextmanager
def gunicorn(log: Path, *, workers: int = 2, threads: int = 25) -> Iterator[str]:
    """`start_gunicorn`, stopped at the end."""
    server, url = start_gunicorn(log, workers=workers, threads=threads)
    try:
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
