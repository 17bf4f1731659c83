"""Locust scenario: people and trusts' systems using Flotilla at once (see mix.py for the
shares). Run by bench/load/run.py, which builds the world and starts gunicorn; by hand:

    LOAD_WORLD=world.json LOAD_RATE=100 .venv/bin/locust -f bench/load/locustfile.py \\
        --headless --host http://127.0.0.1:PORT -u 800 -r 270 --run-time 60s

(`-u` as many clients as mix.users(LOAD_RATE) says.)

Environment: `LOAD_WORLD` (the JSON written by world.py, with each organisation's address and
signed-in session added by the driver), `LOAD_RATE` (requests a second, all kinds together),
`LOAD_OUT` (where to write every request's status and time at the end, for the driver),
`LOAD_ONE_ADDRESS` (set: every client comes from one address instead of its organisation's).

Locust stands in for the TLS proxy in front of gunicorn: every request carries
`X-Forwarded-Proto: https` and `X-Forwarded-For` with the client's address, as a proxy
would append it (the server runs with FLOTILLA_BEHIND_TLS_PROXY=1 and
FLOTILLA_TRUSTED_PROXIES=1). Each organisation's people and system come from one address of
their own (a trust's network), so the rate limits count per organisation as in production.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from html import unescape
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path

import gevent
from locust import FastHttpUser, events, task
from mix import plan
from requests.cookies import create_cookie

WORLD = json.loads(Path(os.environ["LOAD_WORLD"]).read_text())
RATE = float(os.environ.get("LOAD_RATE", "100"))
PLAN = plan(RATE)
ONE_ADDRESS = "10.99.0.1" if os.environ.get("LOAD_ONE_ADDRESS") else None
SLUG = WORLD["collaborative"]
ORGS = WORLD["organisations"]
REPORTING = [o for o in ORGS if "submit" in o]
#: How the server refuses overload: a rate limit's 429, or a 503 for a request that waited
#: too long in the server's queue; both with Retry-After.
OVERLOAD = (429, 503)

_next = defaultdict(itertools.count)


def _pick(kind: str, among: list[dict]) -> dict:
    """The next organisation for a client of this kind, in turn, so that every organisation
    has its share of each kind."""
    return among[next(_next[kind]) % len(among)]


# Every request's outcome, for the driver: name -> [[milliseconds, status, Retry-After
# present (for a 429 or 503), why it failed (None: it did not)], ...]
RECORD: dict[str, list[list]] = defaultdict(list)
STARTED = [time.time()]


@events.spawning_complete.add_listener
def _reset(**_kw) -> None:
    # What happened while clients were still being started is not measured (as --reset-stats).
    RECORD.clear()
    STARTED[0] = time.time()


@events.request.add_listener
def _record(name, response_time, response=None, exception=None, **_kw) -> None:
    status = getattr(response, "status_code", 0) or 0
    headers = getattr(response, "headers", None) or {}
    retry_after = bool(headers.get("Retry-After")) if status in OVERLOAD else None
    failure = None
    if exception is not None:
        # Why it failed: the status and what was expected, or for no status at all (a
        # timeout, a refused or reset connection) the error underneath.
        error = getattr(response, "error", None) if not status else None
        failure = repr(error or exception)[:120]
    RECORD[name].append([round(response_time, 2), status, retry_after, failure])


@events.quitting.add_listener
def _write(**_kw) -> None:
    out = os.environ.get("LOAD_OUT")
    if out:
        body = {"started": STARTED[0], "stopped": time.time(), "rate": RATE, "requests": RECORD}
        Path(out).write_text(json.dumps(body))


class Client(FastHttpUser):
    """One person or system of one organisation, behind the proxy."""

    abstract = True
    network_timeout = 30.0
    connection_timeout = 30.0
    org: dict

    next_at: float  # when its current task was due
    kind: str  # the class's name in mix.MIX
    among: list[dict]  # the organisations its clients belong to

    def on_start(self) -> None:
        self.org = _pick(self.kind, self.among)
        address = ONE_ADDRESS or self.org["address"]
        # A proxy in front opens a connection to gunicorn for each request (nginx's default
        # upstream), so no request is sent on a connection gunicorn is closing (its
        # keep-alive is 2 s; these clients ask every 10 s).
        self.proxy_headers = {
            "X-Forwarded-For": address,
            "X-Forwarded-Proto": "https",
            "Connection": "close",
        }
        # Each client starts at a random moment of its period, so that requests arrive evenly
        # however fast the clients were started.
        gevent.sleep(random.uniform(0, 1 / PLAN[self.kind][1]))
        self.prepare()
        self.next_at = time.monotonic()

    def prepare(self) -> None:
        """What a client does before its tasks."""

    def sign_in(self) -> None:
        """Carry the session the driver signed in for this organisation's person (people sign
        in once a day; the password hash's deliberate cost is not part of the mix). The
        cookies are Secure (HTTPS only): the browser speaks HTTPS to the proxy, so they are
        sent here too."""
        self.client.cookiejar.set_policy(DefaultCookiePolicy(secure_protocols=("http", "https")))
        for name, value in self.org["session"].items():
            self.client.cookiejar.set_cookie(
                create_cookie(name, value, domain="127.0.0.1", path="/", secure=True)
            )

    def check(self, response, expected: int, what: str = "") -> None:
        """`expected`, or overload refused as it should be: 429 (a rate limit) or 503 (load
        shed, ADR 0030) with Retry-After, which the driver counts apart, not as a failure. A
        429 or 503 without Retry-After is a failure like any other status."""
        status = response.status_code
        if status in OVERLOAD:
            if response.headers.get("Retry-After"):
                response.success()
            else:
                response.failure(f"{status} without Retry-After (expected {expected})")
        elif status != expected:
            response.failure(f"{status} (expected {expected}) {what}".strip())


def _wait(kind: str):
    """Each client's tasks one period apart, counted from its first (locust's own
    `constant_throughput` counts from the client's creation, before its random start, and so
    bunches every client's second task); a task that overruns is followed at once by the
    next, and the missed ones are dropped."""
    period = 1 / PLAN[kind][1]

    def wait(user: Client) -> float:
        now = time.monotonic()
        user.next_at = max(user.next_at + period, now)
        return user.next_at - now

    return wait


FORM = 'id="report-form"'
INPUT = re.compile(r'<input[^>]*\bname="([^"]+)"[^>]*\bvalue="([^"]*)"')


class FormReporter(Client):
    """A trust's reporter with the form open: changes the beds occupied and the handovers,
    saves, and is shown the form again with the figures saved."""

    kind = "FormReporter"
    among = REPORTING
    fixed_count = PLAN[kind][0]
    wait_time = _wait(kind)

    def prepare(self) -> None:
        self.sign_in()
        self.url = f"/o/{self.org['code']}/report"
        self.open_form()

    def open_form(self) -> None:
        """Open the form (before the first report, or again after it was refused, say with
        a 429, so that the next report has a form and its CSRF token to send)."""
        with self.client.get(
            self.url,
            headers=self.proxy_headers,
            name="form: first page",
            allow_redirects=False,
            catch_response=True,
        ) as r:
            self.check(r, 200)
            self.page = r.text or ""
            if r.status_code == 200 and FORM not in self.page:
                r.failure("not the reporting form")

    def fields(self) -> dict[str, str]:
        form = self.page.partition(FORM)[2].partition("</form>")[0]
        values = {name: unescape(value) for name, value in INPUT.findall(form)}
        figures = {k: v for k, v in values.items() if v}
        # The page shows figures as people read them (1,012), and the form takes them so.
        open_ = float((figures.get("ga_open") or "500").replace(",", ""))
        figures["ga_occupied"] = str(random.randint(int(0.85 * open_), int(open_)))
        figures["handover_30_60"] = str(random.randint(0, 12))
        figures["handover_over_60"] = str(random.randint(0, 4))
        return figures

    @task
    def report(self) -> None:
        if FORM not in self.page:
            self.open_form()
            if FORM not in self.page:
                return
        headers = {**self.proxy_headers, "Origin": self.host.replace("http://", "https://")}
        headers["Referer"] = headers["Origin"] + self.url
        with self.client.post(
            self.url,
            data=self.fields(),
            headers=headers,
            name="form: POST report",
            allow_redirects=False,
            catch_response=True,
        ) as r:
            if r.status_code == 200:
                errors = re.findall(r'<a href="#id_[^"]*">([^<]*)</a>', r.text or "")
                r.failure(f"form shown again: {'; '.join(errors[:3]) or 'no error named'}")
                return
            self.check(r, 302)
            if r.status_code != 302:
                return
        with self.client.get(
            self.url,
            headers=self.proxy_headers,
            name="form: page after saving",
            allow_redirects=False,
            catch_response=True,
        ) as r:
            self.check(r, 200)
            if r.status_code == 200:
                self.page = r.text or ""
                if "Report saved" not in self.page:
                    r.failure("no 'Report saved' confirmation")


class ApiReporter(Client):
    """A trust's own system (an EPR feed) sending its figures through the API."""

    kind = "ApiReporter"
    among = REPORTING
    fixed_count = PLAN[kind][0]
    wait_time = _wait(kind)

    def prepare(self) -> None:
        self.figures = dict(self.org["figures"])

    def values(self) -> list[dict]:
        as_of = datetime.now(UTC).replace(second=0, microsecond=0).isoformat()
        out = []
        for measure, value in self.figures.items():
            if measure.endswith("_occupied"):
                open_ = self.figures.get(measure.replace("_occupied", "_open"), value)
                value = random.randint(int(0.85 * open_), int(open_))
            elif measure.startswith("handover"):
                value = random.randint(0, 12)
            out.append({"measure": measure, "as_of": as_of, "value": value})
        return out

    @task
    def report(self) -> None:
        headers = {
            **self.proxy_headers,
            "Authorization": f"Bearer {self.org['submit']}",
            "Idempotency-Key": str(uuid.uuid4()),
        }
        with self.client.post(
            "/api/reports",
            json={"values": self.values()},
            headers=headers,
            name="api: POST /api/reports",
            catch_response=True,
        ) as r:
            self.check(r, 201, (r.text or "")[:200] if r.status_code == 422 else "")


class DashboardViewer(Client):
    """Someone opening the collaborative's dashboard."""

    kind = "DashboardViewer"
    among = ORGS
    fixed_count = PLAN[kind][0]
    wait_time = _wait(kind)

    def prepare(self) -> None:
        self.sign_in()

    @task
    def dashboard(self) -> None:
        with self.client.get(
            f"/c/{SLUG}/",
            headers=self.proxy_headers,
            name="dashboard: page",
            allow_redirects=False,
            catch_response=True,
        ) as r:
            self.check(r, 200)


class LiveRefresh(Client):
    """A dashboard left open: htmx fetches its table again (every 30 s in a browser)."""

    kind = "LiveRefresh"
    among = ORGS
    fixed_count = PLAN[kind][0]
    wait_time = _wait(kind)

    def prepare(self) -> None:
        self.sign_in()
        self.proxy_headers |= {
            "HX-Request": "true",
            "HX-Current-URL": self.host.replace("http://", "https://") + f"/c/{SLUG}/",
        }

    @task
    def refresh(self) -> None:
        with self.client.get(
            f"/c/{SLUG}/table",
            headers=self.proxy_headers,
            name="dashboard: live refresh",
            allow_redirects=False,
            catch_response=True,
        ) as r:
            self.check(r, 200)


class PictureReader(Client):
    """An organisation's system reading the collaborative's picture through the API."""

    kind = "PictureReader"
    among = ORGS
    fixed_count = PLAN[kind][0]
    wait_time = _wait(kind)

    def prepare(self) -> None:
        self.proxy_headers |= {"Authorization": f"Bearer {self.org['read']}"}

    @task
    def picture(self) -> None:
        with self.client.get(
            f"/api/collaboratives/{SLUG}/picture",
            headers=self.proxy_headers,
            name="api: GET picture",
            allow_redirects=False,
            catch_response=True,
        ) as r:
            self.check(r, 200)
