"""Webhooks: an organisation's events POSTed to its own systems, signed, retried with backoff,
given up into dead letters its admins can replay. Every request here is real HTTP to a receiver
on 127.0.0.1, and time moves by passing `now=` to deliver_due (nobody sleeps)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from flotilla.audit.models import AuditEvent
from flotilla.authz.models import Role
from flotilla.notifications import actions, delivery
from flotilla.notifications.models import Delivery, DeliveryStatus, Webhook
from tests import factories as f
from tests.concurrency import at_once

pytestmark = pytest.mark.django_db

JOINED = "collaborative.member_joined"


class _QuietServer(ThreadingHTTPServer):
    """Says nothing when a client hangs up before the answer: the timeout test makes
    Flotilla give up on purpose, and the late reply's broken pipe is expected, not news."""

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class Receiver:
    """An HTTP server on a random port of 127.0.0.1 that records every request and answers
    with the statuses it is given, in turn (the last one again once they run out)."""

    def __init__(self) -> None:
        self.answers: list[int] = [200]
        self.delay = 0.0
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver._lock:
                    receiver.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body}
                    )
                    status = receiver.answers.pop(0) if len(receiver.answers) > 1 else None
                    status = status or receiver.answers[0]
                time.sleep(receiver.delay)
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"thanks" if status < 300 else b"receiver is broken")

            def log_message(self, *args: object) -> None:
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/flotilla?v=1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    r = Receiver()
    yield r
    r.close()


def verifies(request: dict, secret: str) -> bool:
    """What docs/api.md tells a receiver to do with the signature."""
    stamp = request["headers"]["Flotilla-Timestamp"]
    expected = hmac.new(
        secret.encode(), stamp.encode() + b"." + request["body"], hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(request["headers"]["Flotilla-Signature"], f"sha256={expected}")


def test_an_event_reaches_the_organisations_subscribed_webhook_signed_with_its_secret(
    client, cast, receiver
):
    client.force_login(cast.people[Role.ORG_ADMIN])
    page = client.post(
        "/o/RN1/webhooks", {"name": "Bed bureau", "url": receiver.url, "kinds": [JOINED]}
    ).content.decode()
    secret = re.search(r'<code id="new-secret">(whsec_[\w-]+)</code>', page).group(1)
    f.webhook(cast.north, url=receiver.url, kinds=("report.overdue",), name="Other kind")
    f.webhook(cast.south, url=receiver.url, name="South's own")

    f.event(
        cast.north,
        JOINED,
        text="Outside joined River System.",
        link="/o/RN1/sharing",
        data={"collaborative": cast.collab.slug},
    )
    assert delivery.deliver_due() == {"sent": 1}

    (request,) = receiver.requests
    d = Delivery.objects.get(webhook__name="Bed bureau")
    assert request["path"] == "/hooks/flotilla?v=1"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["Flotilla-Event"] == JOINED
    assert request["headers"]["Flotilla-Delivery"] == str(d.uuid)
    assert abs(int(request["headers"]["Flotilla-Timestamp"]) - time.time()) < 60
    assert verifies(request, secret)
    assert not verifies(request, secret + "x")
    assert json.loads(request["body"]) == {
        "id": str(d.uuid),
        "kind": JOINED,
        "occurred_at": d.created_at.isoformat(),
        "organisation": {"code": "RN1", "name": "North Hospitals NHS Trust"},
        "text": "Outside joined River System.",
        "link": "http://127.0.0.1:8000/o/RN1/sharing",
        "data": {"collaborative": cast.collab.slug},
    }
    assert (d.status, d.attempts, d.sent_at is not None) == (DeliveryStatus.SENT, 1, True)
    assert [h["outcome"] for h in d.history] == ["sent"]


def test_a_receiver_that_fails_three_times_gets_the_delivery_on_the_fourth_try(cast, receiver):
    _hook, secret = f.webhook(cast.north, url=receiver.url)
    receiver.answers = [500, 503, 502, 200]
    f.event(cast.north)
    d = Delivery.objects.get()
    t0 = d.next_attempt_at

    assert delivery.deliver_due(now=t0) == {"failed": 1}
    # The retries wait 1, 5 and 30 minutes: nothing is tried before each is up.
    for wait, then in [(1, 5), (5, 30), (30, None)]:
        d.refresh_from_db()
        due = d.next_attempt_at
        assert delivery.deliver_due(now=due - timedelta(seconds=1)) == {}
        assert delivery.deliver_due(now=due) == ({"failed": 1} if then else {"sent": 1})
        assert due - d.last_attempt_at == timedelta(minutes=wait)

    d.refresh_from_db()
    assert (d.status, d.attempts) == (DeliveryStatus.SENT, 4)
    assert [h["outcome"] for h in d.history] == ["failed", "failed", "failed", "sent"]
    assert d.history[0]["error"].startswith("The receiver answered 500")
    assert d.sent_at == t0 + timedelta(minutes=36)
    assert len(receiver.requests) == 4
    # The same delivery id and body every time (so the receiver can tell), each signed afresh.
    assert {r["headers"]["Flotilla-Delivery"] for r in receiver.requests} == {str(d.uuid)}
    assert len({r["body"] for r in receiver.requests}) == 1
    assert all(verifies(r, secret) for r in receiver.requests)


def test_a_receiver_that_always_fails_becomes_a_dead_letter_the_admin_sees_and_replays(
    client, cast, receiver
):
    _hook, secret = f.webhook(cast.north, url=receiver.url)
    receiver.answers = [500]
    f.event(cast.north)
    d = Delivery.objects.get()
    at = d.next_attempt_at
    limit = d.attempt_limit
    assert limit == 7  # the first try and six retries (1, 5, 30 min, 2, 8, 24 h)
    for attempt in range(1, limit + 1):
        delivery.deliver_due(now=at)
        d.refresh_from_db()
        assert d.attempts == attempt
        assert d.status == (DeliveryStatus.DEAD if attempt == limit else DeliveryStatus.PENDING)
        at = d.next_attempt_at or at
    assert d.next_attempt_at is None
    assert delivery.deliver_due(now=at + timedelta(days=30)) == {}
    assert len(receiver.requests) == limit

    admin = cast.people[Role.ORG_ADMIN]
    client.force_login(admin)
    assert "1 delivery could not be delivered" in client.get("/o/RN1/webhooks").content.decode()
    page = client.get("/o/RN1/webhooks/deliveries").content.decode()
    dead_section = page.split("<h2>Dead letters</h2>")[1].split("<h2>All deliveries</h2>")[0]
    assert str(d.uuid) in dead_section
    assert "The receiver answered 500 Internal Server Error: receiver is broken" in dead_section

    receiver.answers = [200]
    response = client.post(f"/o/RN1/webhooks/deliveries/{d.pk}/replay")
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="notifications.delivery_replayed")
    assert event.actor_label == admin.username
    assert event.organisation_id == cast.north.pk
    assert (event.before["status"], event.after["status"]) == ("dead", "pending")

    assert delivery.deliver_due() == {"sent": 1}
    d.refresh_from_db()
    assert (d.status, d.attempts, d.replays) == (DeliveryStatus.SENT, limit + 1, 1)
    assert receiver.requests[-1]["headers"]["Flotilla-Delivery"] == str(d.uuid)
    assert verifies(receiver.requests[-1], secret)
    page = client.get("/o/RN1/webhooks/deliveries").content.decode()
    assert "None: everything has been delivered" in page


def test_a_replay_to_a_receiver_still_failing_is_one_attempt_then_dead_again(cast, receiver):
    hook, _ = f.webhook(cast.north, url=receiver.url)
    receiver.answers = [500]
    d = f.dead_letter(hook)
    actions.replay(by=cast.people[Role.ORG_ADMIN], delivery=d)
    assert delivery.deliver_due() == {"dead": 1}
    d.refresh_from_db()
    assert (d.status, d.attempts, d.attempt_limit) == (DeliveryStatus.DEAD, 8, 8)


def test_only_a_dead_letter_of_a_webhook_still_in_use_can_be_replayed(cast, receiver):
    hook, _ = f.webhook(cast.north, url=receiver.url)
    f.event(cast.north)
    delivery.deliver_due()
    sent = Delivery.objects.get()
    with pytest.raises(actions.NotificationError, match="given up"):
        actions.replay(by=f.SYSTEM, delivery=sent)
    receiver.answers = [500]
    dead = f.dead_letter(hook)
    actions.remove_webhook(by=f.SYSTEM, webhook=hook)
    with pytest.raises(actions.NotificationError, match="was removed"):
        actions.replay(by=f.SYSTEM, delivery=dead)
    assert not AuditEvent.objects.filter(action="notifications.delivery_replayed").exists()


def test_deliver_due_run_twice_sends_once(cast, receiver):
    f.webhook(cast.north, url=receiver.url)
    f.event(cast.north)
    f.event(cast.north)
    now = timezone.now()
    assert delivery.deliver_due(now=now) == {"sent": 2}
    assert delivery.deliver_due(now=now) == {}
    assert delivery.deliver(Delivery.objects.first().pk, now) is None
    assert len(receiver.requests) == 2


@pytest.mark.django_db(transaction=True)
def test_deliver_due_running_in_several_workers_at_once_sends_each_delivery_once(cast, receiver):
    f.webhook(cast.north, url=receiver.url)
    for _ in range(6):
        f.event(cast.north)
    receiver.delay = 0.05  # long enough for the workers to overlap
    outcomes = at_once(lambda _: delivery.deliver_due(), threads=3)
    ids = [r["headers"]["Flotilla-Delivery"] for r in receiver.requests]
    assert len(ids) == len(set(ids)) == 6
    assert sum(o.get("sent", 0) for o in outcomes) == 6
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}


def test_a_claim_left_by_a_worker_that_died_is_taken_up_after_the_lease(cast, receiver):
    f.webhook(cast.north, url=receiver.url)
    f.event(cast.north)
    d = Delivery.objects.get()
    now = timezone.now()
    # A worker claimed it and began the attempt, then died.
    Delivery.objects.filter(pk=d.pk).update(
        status=DeliveryStatus.SENDING,
        claim=d.uuid,
        claimed_at=now,
        attempts=1,
        last_attempt_at=now,
    )
    assert delivery.deliver_due(now=now + timedelta(minutes=5)) == {}
    assert delivery.deliver_due(now=now + delivery.LEASE + timedelta(seconds=1)) == {"failed": 1}
    d.refresh_from_db()
    assert d.last_error == "An attempt was interrupted before it finished"
    assert delivery.deliver_due(now=d.next_attempt_at) == {"sent": 1}
    d.refresh_from_db()
    assert d.attempts == 2


@pytest.mark.parametrize(
    ("status", "delivered"), [(200, True), (202, True), (204, True), (302, False), (404, False)]
)
def test_only_a_2xx_answer_counts_as_delivered(cast, receiver, status, delivered):
    f.webhook(cast.north, url=receiver.url)
    receiver.answers = [status]
    f.event(cast.north)
    assert delivery.deliver_due() == ({"sent": 1} if delivered else {"failed": 1})


def test_a_receiver_slower_than_the_timeout_is_a_failure(cast, receiver, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.2
    receiver.delay = 1
    f.webhook(cast.north, url=receiver.url)
    f.event(cast.north)
    assert delivery.deliver_due() == {"failed": 1}
    assert Delivery.objects.get().last_error == "The receiver did not answer within 0.2 seconds"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://127.0.0.1/x", "must start with https:// or http://"),
        ("javascript:alert(1)", "must start with https:// or http://"),
        ("http:///path-only", "needs a host name"),
        ("http://10.0.0.5/hook", "private or local address"),
        ("http://192.168.1.20/hook", "private or local address"),
        ("http://169.254.169.254/latest/meta-data", "private or local address"),
        ("http://[::1]:8080/hook", "private or local address"),
        ("http://0.0.0.0:8080/hook", "private or local address"),
        ("http://user:pw@127.0.0.1:8080/hook", "user name and password"),
        ("https://no-such-host.invalid/hook", "could not find the host"),
        ("", "Enter the address"),
    ],
)
def test_webhook_addresses_that_are_not_http_or_not_public_are_refused(cast, settings, url, reason):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    with pytest.raises(actions.NotificationError, match=re.escape(reason)):
        actions.add_webhook(
            by=f.SYSTEM, organisation=cast.north, name="Receiver", url=url, kinds=[JOINED]
        )
    assert not Webhook.objects.exists()


def test_loopback_is_refused_unless_the_setting_allows_it_even_for_an_existing_webhook(
    cast, receiver, settings
):
    f.webhook(cast.north, url=receiver.url)
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    with pytest.raises(actions.NotificationError, match="private or local address"):
        f.webhook(cast.north, url=receiver.url)
    f.event(cast.north)
    assert delivery.deliver_due() == {"failed": 1}
    assert "127.0.0.1 is a private or local address" in Delivery.objects.get().last_error
    assert receiver.requests == []


def test_adding_a_webhook_shows_the_secret_once_and_audits_without_it(client, cast, receiver):
    client.force_login(cast.people[Role.ORG_ADMIN])
    page = client.post(
        "/o/RN1/webhooks",
        {"name": "Bed bureau", "url": receiver.url, "kinds": [JOINED, "report.overdue"]},
    ).content.decode()
    secret = re.search(r'<code id="new-secret">(whsec_[\w-]+)</code>', page).group(1)
    hook = Webhook.objects.get()
    assert hook.secret == secret
    assert hook.kinds == [JOINED, "report.overdue"]
    assert secret not in client.get("/o/RN1/webhooks").content.decode()
    event = AuditEvent.objects.get(action="notifications.webhook_added")
    assert event.organisation_id == cast.north.pk
    assert event.after["secret_starts"] == secret[:12]
    assert secret not in json.dumps(event.after)


def test_the_webhook_form_explains_what_is_wrong(client, cast, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    client.force_login(cast.people[Role.ORG_ADMIN])
    page = client.post(
        "/o/RN1/webhooks", {"name": "Bed bureau", "url": "http://10.1.2.3/", "kinds": [JOINED]}
    ).content.decode()
    assert "There is a problem" in page and "private or local address" in page
    assert 'value="http://10.1.2.3/"' in page
    page = client.post("/o/RN1/webhooks", {"name": "x", "url": "ftp://x"}).content.decode()
    assert "https://" in page
    assert not Webhook.objects.exists()


def test_an_event_kind_nobody_listed_is_refused_so_none_is_silently_unsubscribable(cast, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    with pytest.raises(actions.NotificationError, match="Unknown kind"):
        f.event(cast.north, "report.something_new")
    with pytest.raises(actions.NotificationError, match="needs a kind"):
        actions.notify(by=f.SYSTEM, recipients=[], text="Hello", organisation=cast.north)
    with pytest.raises(actions.NotificationError, match="Unknown kind"):
        f.webhook(cast.north, kinds=("report.something_new",))


def test_removing_a_webhook_cancels_what_waits_for_it_and_keeps_the_record(client, cast, receiver):
    hook, _ = f.webhook(cast.north, url=receiver.url)
    f.event(cast.north)
    client.force_login(cast.people[Role.ORG_ADMIN])
    assert client.post(f"/o/RN1/webhooks/{hook.pk}/remove").status_code == 302
    d = Delivery.objects.get()
    assert (d.status, d.last_error) == (
        DeliveryStatus.CANCELLED,
        "The webhook was removed before it was sent",
    )
    f.event(cast.north)
    assert Delivery.objects.count() == 1
    assert delivery.deliver_due() == {}
    assert receiver.requests == []
    event = AuditEvent.objects.get(action="notifications.webhook_removed")
    assert event.after["cancelled_deliveries"] == 1
    assert "Bed bureau" in client.get("/o/RN1/webhooks/deliveries").content.decode()
    assert "No webhooks yet." in client.get("/o/RN1/webhooks").content.decode()


def test_a_test_event_reaches_one_webhook_whatever_it_subscribes_to(client, cast, receiver):
    hook, secret = f.webhook(cast.north, url=receiver.url, kinds=("report.overdue",))
    client.force_login(cast.people[Role.ORG_ADMIN])
    response = client.post(f"/o/RN1/webhooks/{hook.pk}/test")
    assert response["Location"] == "/o/RN1/webhooks/deliveries"
    assert delivery.deliver_due() == {"sent": 1}
    (request,) = receiver.requests
    assert request["headers"]["Flotilla-Event"] == "webhook.test"
    assert verifies(request, secret)
    assert AuditEvent.objects.filter(action="notifications.webhook_tested").count() == 1


def test_only_the_organisations_admins_reach_its_webhooks_and_outsiders_get_404(
    client, cast, receiver
):
    north_hook, _ = f.webhook(cast.north, url=receiver.url)
    outside_hook, _ = f.webhook(cast.outside, url=receiver.url)
    receiver.answers = [500]
    outside_dead = f.dead_letter(outside_hook)

    for who in (Role.VIEWER, Role.REPORTER, Role.COORDINATOR, "outsider"):
        client.force_login(cast.people[who])
        assert client.get("/o/RN1/webhooks").status_code == 404
        assert client.get("/o/RN1/webhooks/deliveries").status_code == 404
        assert client.post(f"/o/RN1/webhooks/{north_hook.pk}/remove").status_code == 404

    # North's admin cannot reach Outside's webhook or dead letter through North's pages.
    client.force_login(cast.people[Role.ORG_ADMIN])
    assert client.post(f"/o/RN1/webhooks/{outside_hook.pk}/remove").status_code == 404
    assert client.post(f"/o/RN1/webhooks/{outside_hook.pk}/test").status_code == 404
    assert client.post(f"/o/RN1/webhooks/deliveries/{outside_dead.pk}/replay").status_code == 404
    assert client.get("/o/RX1/webhooks").status_code == 404
    assert str(outside_dead.uuid) not in client.get("/o/RN1/webhooks/deliveries").content.decode()
    outside_hook.refresh_from_db()
    outside_dead.refresh_from_db()
    assert outside_hook.is_active and outside_dead.status == DeliveryStatus.DEAD

    client.force_login(cast.people["outsider"])
    assert str(outside_dead.uuid) in client.get("/o/RX1/webhooks/deliveries").content.decode()


def test_the_settings_page_links_an_admin_to_their_organisations_webhooks(client, cast):
    client.force_login(cast.people[Role.ORG_ADMIN])
    assert "/o/RN1/webhooks" in client.get("/inbox/settings").content.decode()
    client.force_login(cast.people[Role.COORDINATOR])
    assert "/webhooks" not in client.get("/inbox/settings").content.decode()
