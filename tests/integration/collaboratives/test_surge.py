"""Surge mode: its settings, switching it on and off by hand or by the platform, who is told,
and the record of every switch."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction

from flotilla.audit.models import AuditEvent
from flotilla.authz.models import Role
from flotilla.collaboratives import actions as collaboratives_actions
from flotilla.collaboratives.models import Collaborative, SurgeSwitch
from flotilla.notifications.models import Delivery, Notification
from tests import factories as f

pytestmark = pytest.mark.django_db


def _settings(**changes) -> dict:
    return {
        "surge_level": "3",
        "surge_automatic": "yes",
        "surge_reporting_interval_hours": "2",
        "surge_aid_reach": "3",
        **changes,
    }


def _told(person) -> list[Notification]:
    return list(Notification.objects.filter(recipient=person))


def test_a_coordinator_sets_the_surge_settings_with_an_audit_trail(client, cast):
    client.force_login(cast.people[Role.COORDINATOR])
    listed = cast.people["south_reporter"]
    data = _settings(surge_notify=[str(listed.pk)])
    response = client.post(f"/c/{cast.collab.slug}/surge/settings", data)
    assert response.status_code == 302
    cast.collab.refresh_from_db()
    assert (cast.collab.surge_level, cast.collab.surge_automatic) == (3, True)
    assert cast.collab.surge_reporting_interval_hours == 2
    assert cast.collab.surge_aid_reach == 3
    assert list(cast.collab.surge_notify.all()) == [listed]
    event = AuditEvent.objects.get(action="collaboratives.surge_settings_updated")
    assert event.before["surge_level"] == 4 and event.after["surge_level"] == 3
    assert event.before["surge_notify"] == [] and event.after["surge_notify"] == [listed.pk]
    page = client.get(f"/c/{cast.collab.slug}/surge").content.decode()
    assert "south_reporter" in page
    # The same settings again change nothing and record nothing.
    client.post(f"/c/{cast.collab.slug}/surge/settings", data)
    assert AuditEvent.objects.filter(action="collaboratives.surge_settings_updated").count() == 1


@pytest.mark.parametrize(
    ("changes", "field", "sentence"),
    [
        ({"surge_reporting_interval_hours": "0"}, "surge_reporting_interval_hours", "at least 1"),
        ({"surge_reporting_interval_hours": "x"}, "surge_reporting_interval_hours", "whole number"),
        (
            {"surge_reporting_interval_hours": "6"},
            "surge_reporting_interval_hours",
            "at least as often as usual (every 4 hours)",
        ),
        ({"surge_level": "1"}, "surge_level", "Choose the system level"),
        ({"surge_aid_reach": ""}, "surge_aid_reach", "Choose who new requests"),
        ({"surge_automatic": "perhaps"}, "surge_automatic", "switches on and off by itself"),
    ],
)
def test_surge_settings_errors_are_shown_against_their_field(
    client, cast, changes, field, sentence
):
    client.force_login(cast.people[Role.COORDINATOR])
    response = client.post(f"/c/{cast.collab.slug}/surge/settings", _settings(**changes))
    page = response.content.decode()
    assert response.status_code == 200
    assert "There is a problem" in page
    assert f'href="#id_{field}"' in page
    assert f'id="{field}-error"' in page
    assert sentence in page
    assert not AuditEvent.objects.filter(action="collaboratives.surge_settings_updated").exists()


def test_only_people_of_member_organisations_can_be_listed_to_hear_of_surge(client, cast):
    outsider = cast.people["outsider"]
    with pytest.raises(collaboratives_actions.SurgeInvalid) as refused:
        f.surge_settings(cast.collab, notify=(outsider,))
    assert "not outsider" in refused.value.errors["surge_notify"]
    client.force_login(cast.people[Role.COORDINATOR])
    page = client.post(
        f"/c/{cast.collab.slug}/surge/settings", _settings(surge_notify=[str(outsider.pk)])
    ).content.decode()
    assert 'id="surge_notify-error"' in page
    assert "Choose people of the member organisations only" in page
    assert not cast.collab.surge_notify.exists()


def test_the_usual_interval_cannot_be_made_shorter_than_the_surge_interval(cast):
    f.surge_settings(cast.collab, reporting_interval_hours=3)
    with pytest.raises(collaboratives_actions.CollaborativeError, match="shorten the surge"):
        collaboratives_actions.update_collaborative(
            by=cast.people[Role.COORDINATOR],
            collaborative=cast.collab,
            thresholds={},
            reporting_interval_hours=2,
        )


@pytest.mark.parametrize("who", [Role.VIEWER, Role.REPORTER, "south_reporter", "outsider"])
def test_only_those_who_run_the_collaborative_may_switch_surge_or_change_its_settings(
    client, cast, who
):
    client.force_login(cast.people[who])
    slug = cast.collab.slug
    switch = client.post(f"/c/{slug}/surge/switch", {"on": "1", "reason": "Full"})
    settings = client.post(f"/c/{slug}/surge/settings", _settings())
    assert (switch.status_code, settings.status_code) == (404, 404)
    page = client.get(f"/c/{slug}/surge")
    assert page.status_code == (404 if who == "outsider" else 200)
    if who != "outsider":
        assert "Switch surge on" not in page.content.decode()
    with pytest.raises(PermissionDenied):
        collaboratives_actions.switch_surge(
            by=cast.people[who], collaborative=cast.collab, on=True, reason="Full"
        )
    assert not SurgeSwitch.objects.exists()
    cast.collab.refresh_from_db()
    assert not cast.collab.in_surge


def test_an_api_token_cannot_switch_surge(cast):
    token = f.aid_token(cast.north, cast.people[Role.ORG_ADMIN])
    with pytest.raises(PermissionDenied):
        collaboratives_actions.switch_surge(
            by=token, collaborative=cast.collab, on=True, reason="Full"
        )


def test_a_coordinator_switches_surge_on_and_off_by_hand_and_each_switch_is_on_the_record(
    client, cast
):
    coordinator = cast.people[Role.COORDINATOR]
    client.force_login(coordinator)
    slug = cast.collab.slug
    response = client.post(
        f"/c/{slug}/surge/switch", {"on": "1", "reason": "Three trusts at OPEL 4"}
    )
    assert response.status_code == 302
    cast.collab.refresh_from_db()
    assert cast.collab.in_surge and not cast.collab.surge_switched_automatically
    on = AuditEvent.objects.get(action="collaboratives.surge_on")
    assert on.before == {"surge_since": None, "surge_switched_automatically": False}
    assert on.after["surge_since"] == cast.collab.surge_since.isoformat()
    assert on.after["reason"] == "Three trusts at OPEL 4"
    assert on.after["automatic"] is False and on.actor_user == coordinator
    page = client.get(f"/c/{slug}/surge").content.decode()
    assert "In surge since" in page
    assert "switched on by hand by north_coordinator" in page
    assert "Three trusts at OPEL 4" in page
    assert "Switch surge off" in page

    response = client.post(f"/c/{slug}/surge/switch", {"on": "0", "reason": "Flow restored"})
    assert response.status_code == 302
    cast.collab.refresh_from_db()
    assert not cast.collab.in_surge
    off = AuditEvent.objects.get(action="collaboratives.surge_off")
    assert off.before["surge_since"] == on.after["surge_since"]
    assert off.after["surge_since"] is None and off.after["reason"] == "Flow restored"
    history = list(SurgeSwitch.objects.all())
    assert [(s.on, s.reason, s.by) for s in history] == [
        (False, "Flow restored", coordinator),
        (True, "Three trusts at OPEL 4", coordinator),
    ]
    page = client.get(f"/c/{slug}/surge").content.decode()
    assert "Not in surge" in page and "Flow restored" in page


def test_switching_surge_needs_a_reason(client, cast):
    client.force_login(cast.people[Role.COORDINATOR])
    page = client.post(f"/c/{cast.collab.slug}/surge/switch", {"on": "1", "reason": "  "})
    assert page.status_code == 200
    assert 'id="reason-error"' in page.content.decode()
    with pytest.raises(collaboratives_actions.SurgeInvalid, match="Say why"):
        f.surge(cast.collab, reason="   ")
    assert not SurgeSwitch.objects.exists()


def test_switching_on_a_collaborative_already_in_surge_changes_nothing(client, cast):
    first = f.surge(cast.collab, by=cast.people[Role.COORDINATOR], reason="Full")
    assert first is not None
    since = cast.collab.surge_since
    events, notes = AuditEvent.objects.count(), Notification.objects.count()
    assert f.surge(cast.collab, by=cast.people[Role.ORG_ADMIN], reason="Again") is None
    cast.collab.refresh_from_db()
    assert cast.collab.surge_since == since
    assert (AuditEvent.objects.count(), Notification.objects.count()) == (events, notes)
    assert f.surge(cast.collab, on=False, reason="Done") is not None
    assert f.surge(cast.collab, on=False, reason="Done again") is None
    assert SurgeSwitch.objects.count() == 2
    assert AuditEvent.objects.filter(action__startswith="collaboratives.surge_o").count() == 2
    client.force_login(cast.people[Role.COORDINATOR])
    response = client.post(
        f"/c/{cast.collab.slug}/surge/switch", {"on": "0", "reason": "Stale page"}, follow=True
    )
    assert "is not in surge: nothing was changed" in response.content.decode()


def test_the_members_coordinators_and_the_listed_people_are_told_once_each(cast, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    south_coordinator = f.UserFactory(username="south_coordinator")
    f.member(south_coordinator, cast.south, Role.COORDINATOR)
    admin, viewer = cast.people[Role.ORG_ADMIN], cast.people[Role.VIEWER]
    listed = cast.people["south_reporter"]
    f.surge_settings(cast.collab, notify=(listed, viewer, south_coordinator))
    hook, _secret = f.webhook(cast.south, kinds=("collaborative.surge_on",))
    f.surge(cast.collab, by=cast.people[Role.COORDINATOR], reason="Ambulances queuing")
    for person in (admin, south_coordinator, listed, viewer):
        [note] = _told(person)
        assert "River System is in surge, switched on by north_coordinator" in note.text
        assert "report every 1 hour," in note.text
        assert "Reason: Ambulances queuing" in note.text
        assert note.link == f"/c/{cast.collab.slug}/surge"
    assert _told(cast.people[Role.COORDINATOR]) == []  # who switched it
    assert _told(cast.people[Role.REPORTER]) == []  # neither coordinator nor listed
    assert _told(cast.people["outsider"]) == []
    delivery = Delivery.objects.get(webhook=hook)
    assert delivery.kind == "collaborative.surge_on"
    f.surge(cast.collab, on=False, reason="Calmer")
    assert "out of surge" in _told(listed)[0].text
    assert Delivery.objects.filter(webhook=hook).count() == 1  # not subscribed to surge_off


def test_a_listed_person_whose_organisation_left_is_no_longer_told(cast):
    listed = cast.people["south_reporter"]
    f.surge_settings(cast.collab, notify=(listed,))
    collaboratives_actions.leave(by=f.SYSTEM, collaborative=cast.collab, organisation=cast.south)
    f.surge(cast.collab, reason="Full")
    assert _told(listed) == []


def test_the_platform_switches_surge_automatically_at_the_system_level(client, cast):
    f.surge_settings(cast.collab, level=3, automatic=True)
    assert collaboratives_actions.surge_due(collaborative=cast.collab, system_level=3) is True
    f.surge(cast.collab, reason="System level 3 reached", level=3, automatic=True)
    assert cast.collab.in_surge and cast.collab.surge_switched_automatically
    event = AuditEvent.objects.get(action="collaboratives.surge_on")
    assert event.actor_label == "system:tests" and event.after["level"] == 3
    assert collaboratives_actions.surge_due(collaborative=cast.collab, system_level=3) is None
    assert collaboratives_actions.surge_due(collaborative=cast.collab, system_level=2) is False
    client.force_login(cast.people[Role.VIEWER])
    page = client.get(f"/c/{cast.collab.slug}/surge").content.decode()
    assert "switched on automatically at system level 3" in page
    assert "Automatically (system level 3)" in page


def test_a_collaborative_in_surge_says_so_at_the_top_of_its_pages(client, cast):
    client.force_login(cast.people[Role.COORDINATOR])
    slug = cast.collab.slug
    assert "surge-banner" not in client.get(f"/c/{slug}/members").content.decode()
    f.surge(cast.collab, reason="Full")
    for path in (f"/c/{slug}/members", f"/c/{slug}/settings"):
        page = client.get(path).content.decode()
        assert 'id="surge-banner"' in page
        assert re.search(r'nhsuk-tag--red"\s*>\s*Surge\s*</strong>', page)
        assert "in surge since" in page
    assert "(surge)" in client.get("/collaboratives/").content.decode()


@pytest.mark.parametrize(
    "values",
    [
        {"surge_reporting_interval_hours": 5},  # longer than the usual 4
        {"surge_reporting_interval_hours": 0},
        {"surge_level": 1},
        {"surge_aid_reach": 5},
        {"surge_switched_automatically": True},  # while not in surge
    ],
)
def test_the_database_refuses_surge_settings_out_of_range(cast, values):
    with pytest.raises(IntegrityError), transaction.atomic():
        Collaborative.objects.filter(pk=cast.collab.pk).update(**values)
