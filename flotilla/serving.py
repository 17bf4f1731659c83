"""Shedding load that waited too long: gunicorn's threaded worker, answering 503 at once to a
request that waited in the server's queue longer than `FLOTILLA_QUEUE_TIMEOUT` seconds.

    gunicorn flotilla.wsgi -k flotilla.serving.QueueTimeoutWorker --workers 2 --threads 4

gunicorn's threaded worker (gthread) accepts every connection as soon as it arrives (up to
`--worker-connections`, 1,000 a worker) and hands it to its thread pool, whose queue has no
bound. Over capacity nothing is refused: requests wait there, and are answered tens of seconds
late, by which time the person has given up or the system sending them has timed out and sent
again, so the server spends its time on answers nobody reads. The rate limits
(`flotilla.middleware`) cannot help: they count a request only when a thread takes it up,
after it has waited, and they count per client, not for the server as a whole (ADR 0030).

This worker stamps a connection with the time it was queued for a thread (accepted, or a
kept-alive connection that became readable; `time.monotonic()`, measured by the server, never
taken from a client or proxy header). When a thread takes it up and has parsed the request
line and headers, a request that waited longer than the limit is answered **503 Service
Unavailable with `Retry-After`** and the connection is closed, without running Django and
without reading the body: the API's error body (`{"detail": ..., "errors": []}`) under
`/api/`, a short page elsewhere. Nothing was stored, so sending it again later is safe.
gunicorn closes the connection gracefully (half-close, then drain what the client still
sends), so the client reads the answer instead of a reset.

`FLOTILLA_QUEUE_TIMEOUT` is read when the server starts (a wrong value stops it there):
seconds, 5 by default, 0 to turn shedding off. It bounds the wait, not the answer: a request
taken up in time runs to the end however long it takes (the statement timeout bounds that).
`Retry-After` is spread between the limit and twice it, so that clients refused together do
not all come back together.

What it does not see: time a connection spent in the kernel's listen backlog before gunicorn
accepted it (only when a worker already holds `--worker-connections` connections), and
HTTP/2 (Flotilla is served HTTP/1.1 behind its proxy).

Once a worker has loaded the application, what is alive then (Django, the apps, the URLs) is
kept out of the garbage collector's later passes (`load_wsgi`, ADR 0044).

This module is part of the shell (scripts/check_layers.py) and imports nothing of Django and of
Flotilla only `flotilla.heap`, which is plain Python: gunicorn's master loads the worker class
before any worker has loaded Django.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gunicorn.http import wsgi
from gunicorn.workers.gthread import ThreadWorker

from flotilla.heap import freeze_what_is_loaded

#: The environment variable holding the limit, in seconds (0: off).
SETTING = "FLOTILLA_QUEUE_TIMEOUT"
DEFAULT_QUEUE_TIMEOUT = 5.0
#: Where the API is mounted (flotilla/urls.py; the same as flotilla.middleware.API_PREFIX, which
#: cannot be imported here: it needs Django). Its clients get JSON, not a page.
API_PREFIX = "/api/"
STATUS = "503 Service Unavailable"


def queue_timeout(environ: Mapping[str, str] = os.environ) -> float:
    """The limit in seconds from the environment: the default when unset, 0 for off."""
    raw = environ.get(SETTING, "").strip()
    if not raw:
        return DEFAULT_QUEUE_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{SETTING} must be a number of seconds, 0 for off (not {raw!r})")
    return value


def waited_too_long(waited: float, limit: float) -> bool:
    """Whether a request that waited `waited` seconds for a thread is refused (limit 0: off)."""
    return limit > 0 and waited > limit


def retry_after(limit: float, rng: random.Random | Any = random) -> int:
    """Seconds a refused client is asked to wait: between the limit (at least 1) and twice
    it, at random, so that a crowd refused at once comes back spread out."""
    low = max(1, math.ceil(limit))
    return int(rng.randint(low, 2 * low))


def busy_answer(path: str, seconds: int) -> tuple[list[tuple[str, str]], bytes]:
    """The 503's headers and body: the API's error shape under the API, else a short page.
    The page is self-contained (no style sheet or script to fetch from a busy server)."""
    again = f"Try again in {seconds} seconds."
    if path.startswith(API_PREFIX):
        detail = (
            "The service is busy: the request waited too long to be answered and was not "
            f"run, so nothing was stored. {again}"
        )
        body = json.dumps({"detail": detail, "errors": []}).encode()
        kind = "application/json"
    else:
        body = (
            '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<title>Flotilla is busy</title></head>\n<body>\n<h1>Flotilla is busy</h1>\n"
            "<p>Too many requests arrived at once, and yours waited too long to be answered. "
            "Nothing you sent was saved.</p>\n"
            f"<p>{again} A form you were filling in can be sent again.</p>\n</body>\n</html>\n"
        ).encode()
        kind = "text/html; charset=utf-8"
    headers = [
        ("Content-Type", kind),
        ("Content-Length", str(len(body))),
        ("Retry-After", str(seconds)),
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
        # Stricter than the site's own policy: the page loads nothing at all.
        ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
        ("X-Frame-Options", "DENY"),
    ]
    return headers, body


class QueueTimeoutWorker(ThreadWorker):
    """gunicorn's gthread worker, answering 503 to requests that waited too long for a thread."""

    @classmethod
    def check_config(cls, cfg: Any, log: Any) -> None:
        super().check_config(cfg, log)
        queue_timeout()  # a wrong value stops the master at start, not a worker later

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.queue_timeout = queue_timeout()

    def load_wsgi(self) -> None:
        super().load_wsgi()
        # The application and all it loaded live as long as this worker (ADR 0044).
        frozen = freeze_what_is_loaded()
        self.log.info(
            "Worker %s kept %d objects loaded at start out of collections", self.pid, frozen
        )

    def enqueue_req(self, conn: Any) -> None:
        # Every way into the thread pool comes through here: a new connection, a kept-alive one
        # that became readable, one put back to wait for its first bytes.
        conn.queued_at = time.monotonic()
        super().enqueue_req(conn)

    def handle(self, conn: Any) -> Any:
        # Taken up by a thread now: time spent after this waiting for a slow client's bytes is
        # the client's, not the queue's.
        conn.taken_up_at = time.monotonic()
        return super().handle(conn)

    def handle_request(self, req: Any, conn: Any) -> bool:
        """Called once the request line and headers are parsed, before the body is read."""
        queued, taken = getattr(conn, "queued_at", None), getattr(conn, "taken_up_at", None)
        if (
            queued is None
            or taken is None
            or not waited_too_long(taken - queued, self.queue_timeout)
        ):
            return bool(super().handle_request(req, conn))
        self.refuse(req, conn)
        return False  # close: gunicorn drains what is left of the body, then closes

    def refuse(self, req: Any, conn: Any) -> None:
        """Answer 503 with Retry-After on the connection, and log it like any answer. Not
        `wsgi.create`: it would send `100 Continue` to a client that asked, inviting the body."""
        started = datetime.now()
        headers, body = busy_answer(req.path or "", retry_after(self.queue_timeout))
        resp = wsgi.Response(req, conn.sock, self.cfg)
        resp.force_close()
        resp.start_response(STATUS, headers)
        resp.write(body)
        resp.close()
        environ = wsgi.default_environ(req, conn.sock, self.cfg)
        environ["PATH_INFO"] = req.path
        client = conn.client  # (address, port), or a unix socket's name
        if isinstance(client, bytes):
            client = client.decode()
        environ["REMOTE_ADDR"] = client if isinstance(client, str) else str(client[0])
        self.log.access(resp, req, environ, datetime.now() - started)
