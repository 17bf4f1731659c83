"""The morning summary: a job that reads other organisations' data as a named viewer, obeys
their grants, and lands on their access record."""

from datetime import timedelta

from django.utils import timezone

from flotilla.authz.models import Role
from flotilla.notifications.models import Notification
from flotilla.picture import summaries
from flotilla.picture.models import Summary
from tests import factories as f
from tests.access import recorded


def _over_the_red_line(cast, now):
    f.report(cast.north, now - timedelta(minutes=30), ga_occupied=80, ga_open=100)
    f.report(cast.south, now - timedelta(minutes=30), ga_occupied=96, ga_open=100)


def _summary_for(user):
    return Notification.objects.filter(recipient=user).latest("created_at").text


def test_coordinators_get_the_picture_in_a_sentence_with_exact_figures_where_shared(cast):
    now = timezone.now()
    _over_the_red_line(cast, now)
    sent = summaries.send(now=now)
    assert {s.organisation for s in sent} == {cast.north}  # South has no coordinator
    text = _summary_for(cast.people[Role.COORDINATOR])
    assert text.startswith("River System at ")
    assert "1 organisation at or over 95% G&A occupancy" in text
    assert f"Over the G&A red line: {cast.south.name} 96%." in text
    assert _summary_for(cast.people[Role.ORG_ADMIN]) == text
    assert not Notification.objects.filter(recipient=cast.people[Role.REPORTER]).exists()


def test_a_member_sharing_status_only_appears_by_its_colour_never_its_figure(cast):
    now = timezone.now()
    _over_the_red_line(cast, now)
    f.reshare(f.collaborative_grant(cast.south, cast.collab), detail="status")
    summaries.send(now=now)
    text = _summary_for(cast.people[Role.COORDINATOR])
    assert f"{cast.south.name} (red)" in text
    assert "96" not in text


def test_the_jobs_reads_land_on_the_owners_access_record_under_its_own_name(cast):
    now = timezone.now()
    _over_the_red_line(cast, now)
    before = recorded().count()
    summaries.send(now=now)
    [event] = recorded().all()[before:]
    assert event.owner_id == cast.south.pk
    assert event.reader_label == f"job:morning summary for {cast.north.code}"
    assert event.reader_organisations == [cast.north.pk]
    assert event.what == f"job morning summary of {cast.collab.slug}"
    assert "capacity" in event.groups


def test_a_member_that_shares_nothing_is_not_read_and_not_on_its_record(cast):
    now = timezone.now()
    _over_the_red_line(cast, now)
    f.unshare(f.collaborative_grant(cast.south, cast.collab))
    before = recorded().count()
    summaries.send(now=now)
    assert recorded().count() == before
    assert cast.south.name not in _summary_for(cast.people[Role.COORDINATOR])


def test_the_summary_goes_once_a_day_however_often_the_job_runs(cast):
    now = timezone.now()
    _over_the_red_line(cast, now)
    assert len(summaries.send(now=now)) == 1
    # Later the same day (the day is the platform's local day; near midnight, the same moment).
    later = now + timedelta(minutes=5)
    if timezone.localdate(later) != timezone.localdate(now):
        later = now
    assert summaries.send(now=later) == []
    assert Summary.objects.count() == 1
    assert Notification.objects.filter(recipient=cast.people[Role.COORDINATOR]).count() == 1


def test_a_quiet_day_is_said_plainly(cast):
    now = timezone.now()
    f.report(cast.north, now - timedelta(minutes=30), ga_occupied=50, ga_open=100)
    f.report(cast.south, now - timedelta(minutes=30), ga_occupied=50, ga_open=100)
    summaries.send(now=now)
    text = _summary_for(cast.people[Role.COORDINATOR])
    assert text.endswith("no member at OPEL 4, over the red line or overdue.")


def test_the_summary_never_leaves_by_webhook_because_it_carries_other_members_figures(
    cast, settings
):
    from flotilla.notifications.kinds import EVENT_KINDS
    from flotilla.notifications.models import Channel, Delivery

    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    f.webhook(cast.north, kinds=tuple(EVENT_KINDS))
    _over_the_red_line(cast, timezone.now())
    summaries.send()
    assert not Delivery.objects.filter(channel=Channel.WEBHOOK).exists()
