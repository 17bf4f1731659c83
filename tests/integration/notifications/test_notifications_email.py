"""Email: each notification is also emailed to whoever wants it, after the change commits,
respecting their preferences (email off, quiet hours, a daily digest); every email is on the
record of what was sent to them. Time moves by passing `now=` to deliver_due."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from flotilla.audit.models import AuditEvent
from flotilla.authz.models import Role
from flotilla.collaboratives import actions as collaboratives_actions
from flotilla.notifications import actions, delivery, tasks
from flotilla.notifications.models import Channel, Delivery, DeliveryStatus, Preference
from flotilla.notifications.schedule import LONDON
from tests import factories as f

pytestmark = pytest.mark.django_db


def day() -> date:
    """A day safely after every notification a test makes (they are due at once)."""
    return (timezone.now() + timedelta(days=30)).astimezone(LONDON).date()


def london(d: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(d, time(hour, minute), tzinfo=LONDON)


def test_each_recipient_who_wants_email_gets_one_email_with_the_link(cast):
    admin, viewer = cast.people[Role.ORG_ADMIN], cast.people[Role.VIEWER]
    inbox_only = cast.people[Role.REPORTER]
    f.preferences(inbox_only, email=False)
    actions.notify(
        by=f.SYSTEM,
        recipients=[admin, viewer, inbox_only],
        text="South joined River System.",
        link="/o/RN1/sharing",
    )
    assert mail.outbox == []  # nothing is sent inside the transaction

    assert delivery.deliver_due() == {"sent": 2}
    assert sorted(m.to[0] for m in mail.outbox) == [admin.email, viewer.email]
    message = mail.outbox[0]
    assert message.subject == "Flotilla: South joined River System."
    assert "South joined River System." in message.body
    assert "Open it in Flotilla: http://127.0.0.1:8000/o/RN1/sharing" in message.body
    assert "http://127.0.0.1:8000/inbox/settings" in message.body
    assert message.extra_headers["Auto-Submitted"] == "auto-generated"
    # The inbox is always filled; the person who turned email off has no email on record.
    assert inbox_only.notifications.count() == 1
    assert not Delivery.objects.filter(recipient=inbox_only).exists()
    sent = Delivery.objects.get(recipient=admin)
    assert (sent.channel, sent.status, sent.attempts) == (Channel.EMAIL, DeliveryStatus.SENT, 1)
    event = AuditEvent.objects.get(action="notifications.sent")
    assert event.after["email"] == sorted([admin.username, viewer.username])


def test_the_existing_callers_now_email_the_admins_they_tell(cast):
    inv = collaboratives_actions.invite(
        by=cast.people[Role.COORDINATOR], collaborative=cast.collab, organisation=cast.outside
    )
    collaboratives_actions.respond(by=cast.people["outsider"], invitation=inv, accept=True)
    delivery.deliver_due()
    (message,) = mail.outbox
    assert message.to == [cast.people[Role.ORG_ADMIN].email]
    assert message.subject.startswith("Flotilla: Outside Hospitals NHS Trust joined River System.")


def test_emails_go_only_once_the_change_commits_by_a_queued_task(
    cast, django_capture_on_commit_callbacks
):
    admin = cast.people[Role.ORG_ADMIN]
    with django_capture_on_commit_callbacks(execute=True):
        actions.notify(by=f.SYSTEM, recipients=[admin], text="Hello")
    d = Delivery.objects.get()
    (queued,) = DBTaskResult.objects.filter(task_path="flotilla.notifications.tasks.deliver")
    assert queued.args_kwargs == {"args": [d.pk], "kwargs": {}}
    assert mail.outbox == []
    assert tasks.deliver.call(d.pk) == "sent"
    assert len(mail.outbox) == 1
    # The worker running the same task again (a retry of the queue's own) sends nothing more.
    assert tasks.deliver.call(d.pk) is None
    assert len(mail.outbox) == 1


def test_a_notification_rolled_back_sends_nothing(cast):
    admin = cast.people[Role.ORG_ADMIN]

    def notify_then_fail() -> None:
        with transaction.atomic():
            actions.notify(by=f.SYSTEM, recipients=[admin], text="Never happened")
            raise RuntimeError("the change fails")

    with pytest.raises(RuntimeError):
        notify_then_fail()
    assert not Delivery.objects.exists()
    assert delivery.deliver_due() == {}
    assert mail.outbox == []


def test_email_turned_off_before_sending_is_not_sent(cast):
    admin = cast.people[Role.ORG_ADMIN]
    actions.notify(by=f.SYSTEM, recipients=[admin], text="Hello")
    f.preferences(admin, email=False)
    assert delivery.deliver_due() == {"cancelled": 1}
    assert mail.outbox == []
    d = Delivery.objects.get()
    assert (d.status, d.attempts) == (DeliveryStatus.CANCELLED, 0)
    assert d.last_error == "Email was turned off before it was sent"


def test_emails_due_in_quiet_hours_wait_until_they_end(cast):
    admin = cast.people[Role.ORG_ADMIN]
    f.preferences(admin, quiet_from=22, quiet_until=7)
    d0 = day()
    actions.notify(by=f.SYSTEM, recipients=[admin], text="Late news")

    assert delivery.deliver_due(now=london(d0, 23, 30)) == {"held": 1}
    held = Delivery.objects.get()
    assert held.next_attempt_at == london(d0 + timedelta(days=1), 7)
    assert held.attempts == 0
    assert delivery.deliver_due(now=london(d0 + timedelta(days=1), 6, 59)) == {}
    assert mail.outbox == []
    assert delivery.deliver_due(now=london(d0 + timedelta(days=1), 7)) == {"sent": 1}
    assert [m.subject for m in mail.outbox] == ["Flotilla: Late news"]

    # Outside quiet hours an email goes at once.
    actions.notify(by=f.SYSTEM, recipients=[admin], text="Daytime news")
    assert delivery.deliver_due(now=london(d0 + timedelta(days=1), 12)) == {"sent": 1}


def test_a_daily_digest_gathers_the_emails_into_one_message_at_the_chosen_hour(cast):
    admin, viewer = cast.people[Role.ORG_ADMIN], cast.people[Role.VIEWER]
    f.preferences(admin, digest=True, digest_hour=8)
    d0, d1 = day(), day() + timedelta(days=1)
    for n in (1, 2, 3):
        actions.notify(
            by=f.SYSTEM, recipients=[admin, viewer], text=f"News {n}", link=f"/o/RN1/{n}"
        )

    # The viewer (no digest) gets three emails at once; the admin's wait for 08:00 tomorrow.
    assert delivery.deliver_due(now=london(d0, 10)) == {"sent": 3, "held": 3}
    assert all(m.to == [viewer.email] for m in mail.outbox)
    waiting = Delivery.objects.filter(recipient=admin)
    assert {(d.status, d.digest, d.next_attempt_at) for d in waiting} == {
        (DeliveryStatus.PENDING, True, london(d1, 8))
    }
    mail.outbox.clear()
    assert delivery.deliver_due(now=london(d1, 7, 59)) == {}
    assert delivery.deliver_due(now=london(d1, 8)) == {"sent": 1}
    (digest,) = mail.outbox
    assert digest.to == [admin.email]
    assert digest.subject == "Flotilla: 3 notifications"
    for n in (1, 2, 3):
        assert f"News {n}" in digest.body
        assert f"http://127.0.0.1:8000/o/RN1/{n}" in digest.body
    assert {(d.status, d.sent_at) for d in waiting.all()} == {(DeliveryStatus.SENT, london(d1, 8))}
    assert delivery.deliver_due(now=london(d1, 8)) == {}
    assert len(mail.outbox) == 1


def test_a_digest_hour_inside_quiet_hours_waits_for_them_to_end(cast):
    admin = cast.people[Role.ORG_ADMIN]
    f.preferences(admin, digest=True, digest_hour=6, quiet_from=22, quiet_until=7)
    d0 = day()
    actions.notify(by=f.SYSTEM, recipients=[admin], text="News")
    delivery.deliver_due(now=london(d0, 10))
    assert Delivery.objects.get().next_attempt_at == london(d0 + timedelta(days=1), 7)
    assert delivery.deliver_due(now=london(d0 + timedelta(days=1), 7)) == {"sent": 1}
    assert mail.outbox[0].subject == "Flotilla: 1 notification"


def test_turning_the_digest_off_sends_what_it_held_at_once(cast):
    admin = cast.people[Role.ORG_ADMIN]
    f.preferences(admin, digest=True, digest_hour=8)
    actions.notify(by=f.SYSTEM, recipients=[admin], text="Held for the digest")
    now = timezone.now()
    assert delivery.deliver_due(now=now) == {"held": 1}
    f.preferences(admin, digest=False)
    assert delivery.deliver_due(now=timezone.now()) == {"sent": 1}
    assert mail.outbox[0].subject == "Flotilla: Held for the digest"


def test_a_mail_server_that_is_down_is_retried_then_given_up_and_the_person_sees_it(
    client, cast, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", f.unused_port()
    settings.EMAIL_USE_TLS, settings.EMAIL_TIMEOUT = False, 2
    settings.NOTIFICATION_RETRY_MINUTES = [1, 5]
    admin = cast.people[Role.ORG_ADMIN]
    actions.notify(by=f.SYSTEM, recipients=[admin], text="Nobody will read this by email")
    d = Delivery.objects.get()
    at = d.next_attempt_at
    assert delivery.deliver_due(now=at) == {"failed": 1}
    assert delivery.deliver_due(now=at + timedelta(minutes=1)) == {"failed": 1}
    assert delivery.deliver_due(now=at + timedelta(minutes=6)) == {"dead": 1}
    d.refresh_from_db()
    assert (d.status, d.attempts) == (DeliveryStatus.DEAD, 3)
    assert d.last_error.startswith("The mail server refused it")

    client.force_login(admin)
    page = client.get("/inbox/sent").content.decode()
    assert "Nobody will read this by email" in page and "Gave up" in page
    assert "The mail server refused it" in page


def test_a_person_sees_and_changes_only_their_own_settings_and_emails(client, cast):
    admin, viewer = cast.people[Role.ORG_ADMIN], cast.people[Role.VIEWER]
    actions.notify(by=f.SYSTEM, recipients=[admin], text="For the admin")
    actions.notify(by=f.SYSTEM, recipients=[viewer], text="For the viewer")
    delivery.deliver_due()

    client.force_login(admin)
    assert "Notification settings" in client.get("/inbox").content.decode()
    page = client.get("/inbox/sent").content.decode()
    assert "For the admin" in page and "For the viewer" not in page
    page = client.get("/inbox/settings").content.decode()
    assert admin.email in page and viewer.email not in page

    response = client.post(
        "/inbox/settings",
        {
            "email": "yes",
            "quiet": "yes",
            "quiet_from": "21",
            "quiet_until": "6",
            "digest": "yes",
            "digest_hour": "9",
        },
    )
    assert response.status_code == 302
    p = Preference.objects.get(user=admin)
    assert (p.email, p.quiet_from, p.quiet_until, p.digest, p.digest_hour) == (
        True,
        21,
        6,
        True,
        9,
    )
    assert not Preference.objects.filter(user=viewer).exists()
    event = AuditEvent.objects.get(action="notifications.preferences_changed")
    assert event.actor_label == admin.username
    assert event.before["digest"] is False and event.after["digest"] is True

    # The same again changes nothing and is not audited again.
    client.post(
        "/inbox/settings",
        {
            "email": "yes",
            "quiet": "yes",
            "quiet_from": "21",
            "quiet_until": "6",
            "digest": "yes",
            "digest_hour": "9",
        },
    )
    assert AuditEvent.objects.filter(action="notifications.preferences_changed").count() == 1


def test_the_settings_form_refuses_quiet_hours_that_end_when_they_start(client, cast):
    client.force_login(cast.people[Role.VIEWER])
    page = client.post(
        "/inbox/settings",
        {"email": "yes", "quiet": "yes", "quiet_from": "7", "quiet_until": "7", "digest_hour": "8"},
    ).content.decode()
    assert "There is a problem" in page and "different hour" in page
    assert not Preference.objects.exists()


def test_nobody_changes_another_persons_preferences(cast):
    with pytest.raises(PermissionDenied):
        actions.set_preferences(
            by=cast.people[Role.ORG_ADMIN], person=cast.people[Role.VIEWER], email=False
        )
    with pytest.raises(actions.NotificationError, match="both"):
        f.preferences(cast.people[Role.VIEWER], quiet_from=22)
    with pytest.raises(actions.NotificationError, match="0 to 23"):
        f.preferences(cast.people[Role.VIEWER], digest=True, digest_hour=24)
