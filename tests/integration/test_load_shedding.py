"""Load shedding in a real gunicorn (flotilla.serving, ADR 0030): with one worker of one
thread and a queue limit of 2 s, requests that waited behind a request holding the thread for
longer than that are answered 503 with Retry-After, never 500 and without running Django; a
request that waited less, or not at all, is served as usual.

The thread is held by a form whose body the client sends late: Django reads form bodies
before any view (`RefuseNulMiddleware`), so the thread waits for exactly as long as the test
decides, whatever the machine's speed. Connections are queued in the order they arrive, so
what is sent after the holding request waits behind it.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings

from tests.factories import unused_port
from tests.integration.servers import environment

pytestmark = pytest.mark.django_db(transaction=True)

LIMIT = 2.0
#: How long the thread is held before the queued requests: well over the limit, so that they
#: certainly waited longer than it.
LONG_HOLD = LIMIT + 3
#: ... and well under it, so that they certainly did not.
SHORT_HOLD = 0.1
#: What the test asks while the server starts: on a busy machine Django's first page can take
#: longer than the limit, and a probe sent again meanwhile is rightly answered 503. The access
#: log tells these apart from the test's requests.
PROBE = "/signin/?probe"


@contextmanager
def shedding_server(log: Path) -> Iterator[int]:
    """gunicorn with the load-shedding worker, one worker of one thread, on a free port; its
    access log (a line per answer) and error log go to `log`. Yields the port."""
    port = unused_port()
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "flotilla.wsgi",
        "--worker-class",
        "flotilla.serving.QueueTimeoutWorker",
        "--workers",
        "1",
        "--threads",
        "1",
        "--bind",
        f"127.0.0.1:{port}",
        "--access-logfile",
        "-",
        "--access-logformat",
        'ACCESS %(s)s "%(r)s"',
    ]
    with log.open("a") as out:
        server = subprocess.Popen(
            cmd,
            env=environment(FLOTILLA_QUEUE_TIMEOUT=str(LIMIT)),
            cwd=settings.PROJECT_DIR,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{PROBE}", timeout=5):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not start:\n{log.read_text()}") from None
                time.sleep(0.05)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


class Holder:
    """A form POST whose body comes when the test says: it holds the server's one thread."""

    BODY = b"username=someone&password=secret"

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.sendall(
            b"POST /signin/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(self.BODY)
        )

    def release(self) -> int:
        """Send the body; the status Django answered it with."""
        self.sock.sendall(self.BODY)
        response = http.client.HTTPResponse(self.sock, method="POST")
        response.begin()
        response.read()
        self.sock.close()
        return response.status


class Answer:
    def __init__(self, response: http.client.HTTPResponse):
        self.status = response.status
        self.headers = response.headers
        self.body = response.read()


#: The queued requests: a page, an API read, an API write and a form, with their bodies.
QUEUED = [
    ("GET", "/signin/", None, {}),
    ("GET", "/api/collaboratives/river/picture", None, {"Authorization": "Bearer x"}),
    (
        "POST",
        "/api/reports",
        json.dumps({"values": [{"measure": "ga_open", "value": 1}] * 200}).encode(),
        {"Content-Type": "application/json", "Authorization": "Bearer x"},
    ),
    (
        "POST",
        "/signin/",
        b"username=someone&password=" + b"x" * 8000,
        {"Content-Type": "application/x-www-form-urlencoded"},
    ),
]


def queue_behind(port: int, hold: float, requests: list) -> tuple[int, list[Answer]]:
    """Hold the server's thread, send `requests` at once so that they queue behind it, release
    it `hold` seconds after the last was sent; the holder's status and their answers."""
    holder = Holder(port)
    sent = threading.Semaphore(0)
    answers: dict[int, Answer | BaseException] = {}

    def send(i: int, method: str, path: str, body: bytes | None, headers: dict) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request(method, path, body=body, headers={"Connection": "close", **headers})
            sent.release()
            answers[i] = Answer(conn.getresponse())
        except BaseException as e:  # reported below
            answers[i] = e
            sent.release()
        finally:
            conn.close()

    threads = [threading.Thread(target=send, args=(i, *r)) for i, r in enumerate(requests)]
    for t in threads:
        t.start()
    for _ in threads:
        assert sent.acquire(timeout=30)
    time.sleep(hold)
    held = holder.release()
    for t in threads:
        t.join(timeout=30)
    out = [answers[i] for i in range(len(requests))]
    errors = [a for a in out if isinstance(a, BaseException)]
    assert not errors, f"no answer (a reset?): {errors!r}"
    return held, out


def test_requests_that_waited_too_long_get_503_with_retry_after_and_the_rest_are_served(tmp_path):
    log = tmp_path / "gunicorn.log"
    with shedding_server(log) as port:
        held, answers = queue_behind(port, LONG_HOLD, QUEUED)
        # Django ran the request that held the thread (it refused it: no CSRF token).
        assert held == 403
        for (method, path, _, _), answer in zip(QUEUED, answers, strict=True):
            assert answer.status == 503, (method, path, answer.status, answer.body[:200])
            assert LIMIT <= int(answer.headers["Retry-After"]) <= 2 * LIMIT
            assert answer.headers["Connection"] == "close"
            if path.startswith("/api/"):
                assert answer.headers["Content-Type"] == "application/json"
                body = json.loads(answer.body)
                assert body["errors"] == [] and "Try again in" in body["detail"]
            else:
                assert b"Flotilla is busy" in answer.body

        # A request that waited behind the thread for less than the limit is served...
        held, answers = queue_behind(port, SHORT_HOLD, QUEUED[:1])
        assert held == 403
        assert answers[0].status == 200 and b"csrfmiddlewaretoken" in answers[0].body
        # ... and so is one that did not wait at all.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/signin/", timeout=10) as r:
            assert r.status == 200

    text = log.read_text()
    statuses = [
        line.split()[1]
        for line in text.splitlines()
        if line.startswith("ACCESS ") and PROBE not in line
    ]
    assert statuses.count("503") == len(QUEUED), text
    assert "500" not in statuses and "Traceback" not in text, text
