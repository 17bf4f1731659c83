"""The load-shedding worker's decision (flotilla.serving): a request that waited longer than
the limit for a thread is answered 503 with Retry-After without running the application or
reading the body; one that did not is run. The worker here is gunicorn's own, parsing real
bytes from a socket pair; only the time the connection was queued is set by the test.
(tests/integration/test_load_shedding.py runs it in a real gunicorn.)"""

from __future__ import annotations

import gc
import http.client
import json
import os
import random
import socket
import threading
import time

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger
from gunicorn.workers.gthread import TConn

from flotilla import serving
from flotilla.middleware import API_PREFIX


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(None, 5.0), ("", 5.0), ("0", 0.0), ("2.5", 2.5), (" 10 ", 10.0)],
)
def test_the_limit_is_read_from_the_environment_with_a_default_of_five_seconds(value, seconds):
    environ = {} if value is None else {serving.SETTING: value}
    assert serving.queue_timeout(environ) == seconds


@pytest.mark.parametrize("value", ["-1", "five", "nan", "inf", "5s"])
def test_a_limit_that_is_not_a_number_of_seconds_is_refused(value):
    with pytest.raises(ValueError, match=serving.SETTING):
        serving.queue_timeout({serving.SETTING: value})


@pytest.mark.parametrize(
    ("waited", "limit", "refused"),
    [
        (0.0, 5.0, False),
        (5.0, 5.0, False),
        (5.001, 5.0, True),
        (60.0, 5.0, True),
        (60.0, 0.0, False),
    ],
)
def test_only_a_request_that_waited_longer_than_the_limit_is_refused(waited, limit, refused):
    assert serving.waited_too_long(waited, limit) is refused


@pytest.mark.parametrize(("limit", "low", "high"), [(5.0, 5, 10), (0.2, 1, 2), (2.5, 3, 6)])
def test_retry_after_is_spread_between_the_limit_and_twice_it(limit, low, high):
    rng = random.Random(30)
    seen = {serving.retry_after(limit, rng) for _ in range(500)}
    assert seen == set(range(low, high + 1))


def test_the_api_prefix_is_the_one_the_middleware_answers_api_clients_under():
    assert serving.API_PREFIX == API_PREFIX


def test_api_clients_get_the_apis_error_body_and_people_a_page():
    headers, body = serving.busy_answer("/api/reports", 7)
    assert dict(headers)["Content-Type"] == "application/json"
    assert json.loads(body) == {"detail": json.loads(body)["detail"], "errors": []}
    assert "Try again in 7 seconds." in json.loads(body)["detail"]
    headers, body = serving.busy_answer("/c/river/", 7)
    assert dict(headers)["Content-Type"] == "text/html; charset=utf-8"
    assert b"<h1>Flotilla is busy</h1>" in body and b"Try again in 7 seconds." in body
    for path in ("/api/reports", "/c/river/"):
        headers, body = serving.busy_answer(path, 7)
        assert dict(headers)["Retry-After"] == "7"
        assert dict(headers)["Content-Length"] == str(len(body))


# The worker, on a socket pair ------------------------------------------------------------


class App:
    """The application behind the worker: counts its calls and answers 200."""

    def __init__(self):
        self.calls = 0

    def __call__(self, environ, start_response):
        self.calls += 1
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Length", str(len(body) + 2))])
        return [b"ok" + body]


@pytest.fixture
def worker(monkeypatch):
    monkeypatch.setenv(serving.SETTING, "5")
    cfg = Config()
    w = serving.QueueTimeoutWorker(
        age=1, ppid=os.getpid(), sockets=[], app=None, timeout=30, cfg=cfg, log=Logger(cfg)
    )
    w.wsgi = App()
    yield w
    w.tmp.close()


def serve(worker, request: bytes, *, waited: float) -> tuple[http.client.HTTPResponse, bool]:
    """Send `request` on one end of a socket pair, let the worker handle the other end as if
    the connection had been queued `waited` seconds ago, and return the response and whether
    the worker would keep the connection open."""
    client, server = socket.socketpair()
    client.settimeout(10)
    client.sendall(request)
    conn = TConn(worker.cfg, server, ("10.0.0.9", 50000), ("127.0.0.1", 8000))
    conn.queued_at = time.monotonic() - waited
    outcome = []
    # In a thread with a bound: a worker that read the body it was never sent would block.
    thread = threading.Thread(target=lambda: outcome.append(worker.handle(conn)), daemon=True)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive(), "the worker waited for the body"
    server.close()
    response = http.client.HTTPResponse(client, method=request.split()[0].decode())
    response.begin()
    response.body = response.read()
    client.close()
    return response, bool(outcome[0])


POST_WITHOUT_ITS_BODY = (
    b"POST /api/reports HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Content-Length: 5000\r\n\r\n"
)


def test_a_request_that_waited_too_long_is_answered_503_without_reading_its_body(worker):
    response, keep_alive = serve(worker, POST_WITHOUT_ITS_BODY, waited=6)
    assert response.status == 503
    assert 5 <= int(response.getheader("Retry-After")) <= 10
    assert response.getheader("Connection") == "close" and not keep_alive
    assert json.loads(response.body)["errors"] == []
    assert worker.wsgi.calls == 0


def test_a_page_that_waited_too_long_is_answered_with_a_short_page(worker):
    response, _ = serve(worker, b"GET /c/river/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", waited=6)
    assert response.status == 503 and response.getheader("Content-Type").startswith("text/html")
    assert b"Flotilla is busy" in response.body
    assert worker.wsgi.calls == 0


def test_a_head_request_gets_the_503_without_a_body(worker):
    response, _ = serve(worker, b"HEAD /c/river/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", waited=6)
    assert response.status == 503 and response.getheader("Retry-After")
    assert response.body == b""


def test_a_request_that_did_not_wait_too_long_is_run(worker):
    request = b"POST /api/reports HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n\r\nabc"
    response, keep_alive = serve(worker, request, waited=4.9)
    assert (response.status, response.body) == (200, b"okabc")
    assert keep_alive
    assert worker.wsgi.calls == 1


def test_with_the_limit_at_zero_nothing_is_refused(worker):
    worker.queue_timeout = serving.queue_timeout({serving.SETTING: "0"})
    response, _ = serve(worker, b"GET /c/river/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", waited=600)
    assert response.status == 200
    assert worker.wsgi.calls == 1


def test_a_wrong_limit_stops_the_server_at_start(monkeypatch):
    monkeypatch.setenv(serving.SETTING, "soon")
    cfg = Config()
    with pytest.raises(ValueError, match=serving.SETTING):
        serving.QueueTimeoutWorker.check_config(cfg, Logger(cfg))


class Loaded:
    """gunicorn's application object: `wsgi()` loads the application."""

    def wsgi(self):
        return App()


def test_a_worker_keeps_what_it_loaded_at_start_out_of_the_collectors_passes(worker):
    worker.app = Loaded()
    try:
        worker.load_wsgi()
        assert isinstance(worker.wsgi, App)
        assert gc.get_freeze_count() > 0
        assert not any(o is worker.wsgi for o in gc.get_objects())
    finally:
        gc.unfreeze()
