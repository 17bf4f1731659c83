"""The load test's mix: what share of the requests each kind of client makes, and how many
simulated clients give a rate. Read by the locustfile (which users to start) and by the
driver (how many users to ask locust for), so that both agree.

Rates are HTTP requests a second. A write is a request that stores a report; a read is any
other. At the steady 100 requests a second the mix is 50 writes and 50 reads:

- writes: 20/s through the reporting form (a person's POST) and 30/s through the API
  (`POST /api/reports` from a trust's own system, a submit token);
- reads: 20/s the form page each form POST is redirected to (the saved figures, and the form
  for the next report), 5/s the dashboard page, 15/s its live refresh (the htmx fragment the
  page polls every 30 s), 10/s the picture API (`GET /api/collaboratives/{slug}/picture`,
  a read token).

A form user's task is two requests (the POST and the page it is redirected to); every other
task is one.
"""

from __future__ import annotations

import math

#: Each kind of client: its share of the requests, and the requests one task makes.
MIX: dict[str, tuple[float, int]] = {
    "FormReporter": (0.40, 2),  # 20% form POSTs + 20% the form page after saving
    "ApiReporter": (0.30, 1),
    "DashboardViewer": (0.05, 1),
    "LiveRefresh": (0.15, 1),
    "PictureReader": (0.10, 1),
}
#: Which requests are writes (by the name locust records them under).
WRITES = {"form: POST report", "api: POST /api/reports"}
#: Requests a client makes once, before its tasks: not part of the rate.
ONCE = {"form: first page"}
#: Tasks a second one simulated client makes: one every 10 s, each client starting at a random
#: moment of its period, so that requests arrive evenly and the rate is offered by many
#: independent clients (rate / PACE tasks in flight at most). Locust is a closed loop: a client
#: waits for its answer, so only a server slower than 10 s an answer is offered less than the
#: rate (the driver says how much was served).
PACE = 0.1


def plan(rate: float, pace: float = PACE) -> dict[str, tuple[int, float]]:
    """For `rate` requests a second: each kind of client's number of simulated clients and
    the tasks a second each makes (about `pace`, exactly what gives the kind its share)."""
    out = {}
    for name, (share, requests_per_task) in MIX.items():
        tasks = rate * share / requests_per_task
        count = max(1, math.ceil(tasks / pace - 1e-9))
        out[name] = (count, tasks / count)
    return out


def users(rate: float) -> int:
    """How many simulated clients in all give `rate` requests a second."""
    return sum(count for count, _ in plan(rate).values())
