"""The crash drill: the web server killed (SIGKILL, master and workers) in the middle of API
submissions, again and again, then the database checked.

Every report the server acknowledged (201) must be in the database whole; no report may be
there in part (each has all of its values or none); the audit chains and the state they
describe must verify. Used by tests/integration/test_crash_consistency.py (a few rounds, in CI)
and bench/crash.py (200 rounds).
"""

from __future__ import annotations

import http.client
import io
import itertools
import json
import os
import random
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.core.management import call_command
from django.db.models import Count

from tests.integration.servers import start_gunicorn

#: The values of every report: all of them are stored, or none.
VALUES = {"ga_open": 400, "ga_occupied": 371, "cc_adult_open": 20, "cc_adult_occupied": 17}


@dataclass
class Tally:
    rounds: int = 0
    sent: int = 0
    #: submission id → the report's time, for every 201.
    acknowledged: dict[int, str] = field(default_factory=dict)
    #: Connections cut by the kill (no answer): the report may or may not be stored.
    cut: int = 0
    #: Any answer but 201 (there should be none).
    refused: list[str] = field(default_factory=list)


def kill(server: subprocess.Popen[bytes]) -> None:
    os.killpg(server.pid, signal.SIGKILL)
    server.wait(timeout=30)


def _clients(url, secret, numbers, tally: Tally, lock, stopped, answered, count: int = 6):
    """`count` clients sending reports (each one at a new minute) until stopped or cut;
    `answered` is set at the first 201."""
    start = datetime.now(UTC) - timedelta(days=20)

    def send() -> None:
        while not stopped.is_set():
            n = next(numbers)
            as_of = (start + timedelta(minutes=n)).isoformat()
            values = [{"measure": m, "as_of": as_of, "value": v} for m, v in VALUES.items()]
            request = urllib.request.Request(
                f"{url}/api/reports",
                data=json.dumps({"values": values}).encode(),
                method="POST",
                headers={
                    "Authorization": f"Bearer {secret}",
                    "Content-Type": "application/json",
                    "Idempotency-Key": f"crash-{n}",
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    answer = json.load(response)
                with lock:
                    tally.sent += 1
                    tally.acknowledged[answer["submission_id"]] = as_of
                answered.set()
            except urllib.error.HTTPError as e:
                with lock:
                    tally.sent += 1
                    tally.refused.append(f"{e.code} {e.read()[:200]!r}")
            except (OSError, ValueError, http.client.HTTPException):
                # Cut by the kill: no answer, or part of one (a 201 whose body was cut is not
                # an acknowledgement: the client never learnt what was stored).
                with lock:
                    tally.sent += 1
                    tally.cut += 1
                return
            except Exception as e:  # anything else is a finding, not a lost thread
                with lock:
                    tally.refused.append(f"client failed: {e!r}")
                return

    threads = [threading.Thread(target=send) for _ in range(count)]
    for t in threads:
        t.start()
    return threads


#: How long a round waits for the server's first acknowledgement before it kills anyway.
FIRST_ANSWER_WITHIN = 60.0


def drill(rounds: int, secret: str, log: Path, seed: int = 2026) -> Tally:
    """`rounds` times: serve, send, kill mid-stream. Returns what the clients saw.

    The kill comes at a random moment (0-0.3 s) after the round's first acknowledgement, not
    after the start: a server's first requests are its slowest (workers still importing,
    connections opening), and on a busy machine a fixed delay from the start can kill every
    round before anything was acknowledged, so that the drill tests nothing. Six clients
    send back to back, so some request is in flight whenever the kill comes."""
    rng = random.Random(seed)
    numbers = itertools.count()
    tally = Tally()
    for _ in range(rounds):
        # The rate limits are off (servers.environment): the clients send as fast as it answers.
        server, url = start_gunicorn(log, workers=2, threads=4, own_session=True)
        stopped, answered = threading.Event(), threading.Event()
        clients = _clients(url, secret, numbers, tally, threading.Lock(), stopped, answered)
        answered.wait(timeout=FIRST_ANSWER_WITHIN)
        time.sleep(rng.uniform(0.0, 0.3))
        kill(server)  # mid-stream: requests in flight are cut
        stopped.set()
        for c in clients:
            c.join(timeout=60)
        tally.rounds += 1
    return tally


def problems(tally: Tally) -> list[str]:
    """What the database says against what the clients saw: acknowledged reports missing or
    incomplete, reports stored in part, a chain or a row the audit record does not account
    for, answers other than 201."""
    from flotilla.reporting.models import Submission

    found = [f"answered {r}" for r in tally.refused]
    whole = len(VALUES)
    stored = dict(
        Submission.objects.filter(source="api")
        .annotate(n=Count("observations"))
        .values_list("pk", "n")
    )
    for pk, as_of in sorted(tally.acknowledged.items()):
        if stored.get(pk) != whole:
            found.append(
                f"report {pk} ({as_of}) was acknowledged; {stored.get(pk, 0)} values stored"
            )
    for pk, n in stored.items():
        if n != whole:
            found.append(f"report {pk} is stored in part: {n} of {whole} values")
    out = io.StringIO()
    try:
        call_command("verify-audit", stdout=out)
    except Exception as e:  # a failed check is a finding, not a crash of the drill
        found.append(f"verify-audit: {e}")
    return found
