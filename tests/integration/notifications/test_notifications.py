"""The inbox: members' admins hear who joins and leaves; everyone reads and clears their own."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from flotilla.audit.models import AuditEvent
from flotilla.authz.models import Role
from flotilla.collaboratives import actions as collaboratives_actions
from flotilla.notifications import actions
from flotilla.notifications.models import Notification
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_when_an_organisation_joins_the_other_members_admins_are_told_with_a_link(cast):
    south_admin = f.UserFactory(username="south_admin")
    f.member(south_admin, cast.south, Role.ORG_ADMIN)
    outside_admin = cast.people["outsider"]
    inv = collaboratives_actions.invite(
        by=cast.people[Role.COORDINATOR], collaborative=cast.collab, organisation=cast.outside
    )
    collaboratives_actions.respond(by=outside_admin, invitation=inv, accept=True)

    north_note = Notification.objects.get(recipient=cast.people[Role.ORG_ADMIN])
    assert north_note.text == (
        "Outside Hospitals NHS Trust joined River System. It will see your data under your "
        "grant to River System."
    )
    assert north_note.link == "/o/RN1/sharing"
    assert Notification.objects.get(recipient=south_admin).link == "/o/RS1/sharing"
    # Only admins are told, and not the joining organisation's own people.
    assert not Notification.objects.filter(recipient=cast.people[Role.COORDINATOR]).exists()
    assert not Notification.objects.filter(recipient=outside_admin).exists()
    event = AuditEvent.objects.filter(action="notifications.sent").latest("id")
    assert event.actor_label == "outsider"


def test_declining_an_invitation_tells_nobody(cast):
    inv = collaboratives_actions.invite(
        by=cast.people[Role.COORDINATOR], collaborative=cast.collab, organisation=cast.outside
    )
    collaboratives_actions.respond(by=cast.people["outsider"], invitation=inv, accept=False)
    assert not Notification.objects.exists()


def test_when_an_organisation_leaves_the_remaining_members_admins_are_told(cast):
    south_admin = f.UserFactory(username="south_admin")
    f.member(south_admin, cast.south, Role.ORG_ADMIN)
    collaboratives_actions.leave(by=south_admin, collaborative=cast.collab, organisation=cast.south)
    note = Notification.objects.get()
    assert note.recipient == cast.people[Role.ORG_ADMIN]
    assert note.text.startswith("South Hospitals NHS Trust left River System.")
    assert note.link == "/o/RN1/sharing"


def test_a_notification_rolls_back_with_the_change_it_describes(cast):
    inv = collaboratives_actions.invite(
        by=cast.people[Role.COORDINATOR], collaborative=cast.collab, organisation=cast.outside
    )

    def join_then_fail() -> None:
        with transaction.atomic():
            collaboratives_actions.respond(by=cast.people["outsider"], invitation=inv, accept=True)
            assert Notification.objects.exists()
            raise RuntimeError("the joining fails after the notification was written")

    with pytest.raises(RuntimeError):
        join_then_fail()
    assert not Notification.objects.exists()
    assert not AuditEvent.objects.filter(action="notifications.sent").exists()


def test_notify_refuses_an_empty_sentence_and_a_link_to_another_site(cast):
    admin = cast.people[Role.ORG_ADMIN]
    with pytest.raises(actions.NotificationError, match="sentence"):
        actions.notify(by=f.SYSTEM, recipients=[admin], text="  ")
    for link in ("https://example.com/", "//example.com/x", "javascript:alert(1)"):
        with pytest.raises(actions.NotificationError, match="inside Flotilla"):
            actions.notify(by=f.SYSTEM, recipients=[admin], text="Hello", link=link)
    with pytest.raises(actions.NotificationError, match="500 characters"):
        actions.notify(by=f.SYSTEM, recipients=[admin], text="x" * 501)
    assert actions.notify(by=f.SYSTEM, recipients=[], text="Nobody hears this") == []
    assert not Notification.objects.exists()


def test_the_database_refuses_a_link_to_another_site_even_past_the_action(cast):
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.bulk_create(
            [Notification(recipient=cast.people[Role.VIEWER], text="x", link="//evil.example")]
        )


def test_a_person_named_twice_gets_one_notification(cast):
    admin = cast.people[Role.ORG_ADMIN]
    actions.notify(by=f.SYSTEM, recipients=[admin, admin], text="Once", link="/")
    assert Notification.objects.filter(recipient=admin).count() == 1


def test_the_header_counts_unread_notifications_with_one_query(client, cast):
    admin = cast.people[Role.ORG_ADMIN]
    actions.notify(by=f.SYSTEM, recipients=[admin], text="First")
    actions.notify(by=f.SYSTEM, recipients=[admin], text="Second")
    client.force_login(admin)
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/about/").content.decode()
    assert "Inbox (2 unread)" in page
    counts = [
        q["sql"] for q in queries.captured_queries if "notifications_notification" in q["sql"]
    ]
    assert len(counts) == 1
    client.force_login(cast.people[Role.VIEWER])
    page = client.get("/about/").content.decode()
    assert "Inbox (" not in page and ">Inbox<" in page.replace("\n", "").replace(" ", "")
    client.logout()
    assert "Inbox" not in client.get("/about/").content.decode()


def test_the_inbox_lists_marks_read_and_clears_only_your_own(client, cast):
    admin, viewer = cast.people[Role.ORG_ADMIN], cast.people[Role.VIEWER]
    (mine,) = actions.notify(by=f.SYSTEM, recipients=[admin], text="For the admin", link="/")
    (theirs,) = actions.notify(by=f.SYSTEM, recipients=[viewer], text="For the viewer")
    client.force_login(admin)
    page = client.get("/inbox").content.decode()
    assert "For the admin" in page and "For the viewer" not in page
    assert "1 unread notification." in page

    # Someone else's notification is out of reach: nothing happens to it.
    client.post("/inbox/read", {"notification": theirs.pk})
    client.post("/inbox/clear", {"notification": theirs.pk})
    theirs.refresh_from_db()
    assert theirs.read_at is None

    assert client.post("/inbox/read", {"notification": mine.pk}).status_code == 302
    mine.refresh_from_db()
    assert mine.read_at is not None
    assert "Nothing unread." in client.get("/inbox").content.decode()
    read = AuditEvent.objects.get(action="notifications.read")
    assert read.before == {"unread": [mine.pk]}

    client.post("/inbox/clear")
    assert not Notification.objects.filter(recipient=admin).exists()
    assert Notification.objects.filter(recipient=viewer).exists()
    cleared = AuditEvent.objects.get(action="notifications.cleared")
    assert cleared.before["notifications"][0]["text"] == "For the admin"
    assert "Your inbox is empty." in client.get("/inbox").content.decode()


def test_mark_all_read_touches_only_unread_and_writes_nothing_when_nothing_is_unread(cast):
    admin = cast.people[Role.ORG_ADMIN]
    actions.notify(by=f.SYSTEM, recipients=[admin], text="One")
    actions.notify(by=f.SYSTEM, recipients=[admin], text="Two")
    assert actions.mark_read(by=admin, recipient=admin) == 2
    events = AuditEvent.objects.count()
    assert actions.mark_read(by=admin, recipient=admin) == 0
    assert actions.clear(by=admin, recipient=cast.people[Role.VIEWER]) == 0
    assert AuditEvent.objects.count() == events


def test_a_malformed_notification_id_is_not_found(client, cast):
    client.force_login(cast.people[Role.VIEWER])
    assert client.post("/inbox/read", {"notification": "x1"}).status_code == 404


def test_joining_and_leaving_reach_the_other_members_webhooks_even_without_an_admin(cast, settings):
    from flotilla.notifications.models import Channel, Delivery

    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    hook, _ = f.webhook(
        cast.south, kinds=("collaborative.member_joined", "collaborative.member_left")
    )
    inv = collaboratives_actions.invite(
        by=cast.people[Role.COORDINATOR], collaborative=cast.collab, organisation=cast.outside
    )
    collaboratives_actions.respond(by=cast.people["outsider"], invitation=inv, accept=True)
    collaboratives_actions.leave(
        by=cast.people["outsider"], collaborative=cast.collab, organisation=cast.outside
    )
    sent = Delivery.objects.filter(channel=Channel.WEBHOOK, webhook=hook).order_by("pk")
    assert [d.kind for d in sent] == [
        "collaborative.member_joined",
        "collaborative.member_left",
    ]
    assert all(d.organisation == cast.south for d in sent)
    assert sent[0].payload["data"] == {"collaborative": cast.collab.slug, "organisation": "RX1"}
