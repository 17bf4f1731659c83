"""The shared picture: figures with their times, staleness, coverage, bands, totals, as-at."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from flotilla.authz.models import Role
from flotilla.collaboratives import actions as collaboratives_actions
from flotilla.picture.queries import collaborative_picture
from flotilla.sharing import policy
from flotilla.sharing.policy.rules import rag_band
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def now():
    return timezone.now().replace(microsecond=0)


def picture(cast, at=None):
    viewer = policy.viewer_of(cast.people[Role.VIEWER])
    return collaborative_picture(viewer, cast.collab, at)


def row(pic, code):
    return next(r for r in pic.rows if r.organisation.code == code and r.site is None)


def test_occupancy_is_derived_from_counts_and_banded_by_the_collaboratives_thresholds(cast, now):
    f.report(cast.north, now - timedelta(hours=1), ga_open=100, ga_occupied=96)
    pic = picture(cast)
    assert row(pic, "RN1").occupancy("ga") == pytest.approx(0.96)
    # The row's own band, as the dashboard shows it (96% is red at the default 92/95)...
    assert row(pic, "RN1").rag("ga_occupancy") == "red"
    # ...and the bands the totals row is judged by.
    assert pic.rag("ga_occupancy", 0.96) == "red"
    assert pic.rag("ga_occupancy", 0.93) == "amber"
    assert pic.rag("ga_occupancy", 0.5) == "green"
    assert rag_band(None, 0.99) == "none"
    assert pic.rag("ga_occupancy", None) == "none"


def test_a_missing_figure_is_shown_as_missing_and_gives_no_occupancy(cast, now):
    f.report(cast.north, now, ga_open=None, ga_occupied=50)
    r = row(picture(cast), "RN1")
    assert r.figures["ga_open"].is_missing
    assert r.occupancy("ga") is None


def test_figures_older_than_twice_the_interval_are_stale(cast, now):
    f.report(cast.north, now - timedelta(hours=9), ga_open=100)  # interval is 4 h
    f.report(cast.south, now - timedelta(hours=7), ga_open=100)
    pic = picture(cast)
    assert row(pic, "RN1").figures["ga_open"].stale
    assert not row(pic, "RS1").figures["ga_open"].stale


def test_coverage_counts_organisations_that_reported_within_the_interval(cast, now):
    f.report(cast.north, now - timedelta(hours=1), ga_open=100)
    f.report(cast.south, now - timedelta(hours=5), ga_open=100)
    pic = picture(cast)
    assert (pic.reported_recently, len(pic.members)) == (1, 2)


def test_totals_are_marked_incomplete_when_a_reporting_member_has_no_figure(cast, now):
    f.report(cast.north, now, ga_open=100, ga_occupied=90)
    f.report(cast.south, now, ga_open=200, ga_occupied=None)
    pic = picture(cast)
    assert pic.totals["ga_open"].value == 300
    assert pic.totals["ga_open"].complete
    assert pic.totals["ga_occupied"].value == 90
    assert not pic.totals["ga_occupied"].complete
    assert pic.total_occupancy("ga") is None


def test_an_organisation_total_falls_back_to_the_sum_of_its_sites(cast, now):
    a = f.SiteFactory(organisation=cast.south)
    b = f.SiteFactory(organisation=cast.south)
    f.report(cast.south, now, site=a, ga_open=40)
    f.report(cast.south, now, site=b, ga_open=60)
    f.report(cast.north, now, ga_open=100)
    pic = picture(cast)
    assert pic.totals["ga_open"].value == 200
    assert pic.total_occupancy("ga") is None


def test_the_picture_as_at_a_past_moment_shows_what_was_true_then(cast, now):
    f.report(cast.north, now - timedelta(days=2), ga_open=100)
    f.report(cast.north, now - timedelta(hours=1), ga_open=120)
    then = picture(cast, now - timedelta(days=1))
    assert row(then, "RN1").figures["ga_open"].value == 100
    assert not then.is_live
    assert row(picture(cast), "RN1").figures["ga_open"].value == 120


def test_the_dashboard_page_shows_figures_and_its_csv_matches(client, cast, now):
    f.report(cast.north, now, ga_open=100, ga_occupied=97)
    client.force_login(cast.people[Role.VIEWER])
    page = client.get(f"/c/{cast.collab.slug}/").content.decode()
    assert "97.0%" in page
    assert "1 of 2 organisations" in page
    exported = client.get(f"/c/{cast.collab.slug}/export.csv").content.decode()
    rows = list(csv.reader(io.StringIO(exported)))
    assert rows[0] == ["org_code", "site_code", "measure", "value", "as_of", "detail"]
    assert ["RN1", "", "ga_occupied", "97"] in [r[:4] for r in rows]


def test_an_unreadable_as_at_time_is_explained_not_ignored(client, cast):
    client.force_login(cast.people[Role.VIEWER])
    page = client.get(f"/c/{cast.collab.slug}/?at=yesterday").content.decode()
    assert "is not a date and time" in page


def test_organisation_charts_show_gaps_where_figures_are_missing(client, cast, now):
    for h in (30, 29, 3):  # a gap of a day between the second and third
        f.report(cast.south, now - timedelta(hours=h), ga_occupied=50 + h)
    f.report(cast.south, now - timedelta(hours=2), ga_occupied=None)
    client.force_login(cast.people[Role.VIEWER])
    page = client.get("/o/RS1/?range=week").content.decode()
    assert "General &amp; acute (all ages): beds occupied: 3 values, 1 missing" in page
    assert page.count('class="gap"') >= 2


def test_export_command_writes_the_picture_as_at_a_moment(cast, now, tmp_path):
    f.report(cast.north, now - timedelta(days=2), ga_open=100, nctr=None)
    f.report(cast.north, now - timedelta(hours=1), ga_open=120)
    out = tmp_path / "picture.csv"
    at = (now - timedelta(days=1)).isoformat()
    call_command("export", "--at", at, "--format", "csv", "--out", str(out))
    rows = list(csv.DictReader(out.open()))
    assert {(r["org_code"], r["measure"], r["value"]) for r in rows} == {
        ("RN1", "ga_open", "100"),
        ("RN1", "nctr", ""),
    }
    assert all(r["site_code"] == "" for r in rows)


def test_export_command_refuses_an_unreadable_time(cast):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="not an ISO 8601"):
        call_command("export", "--at", "soon")


def test_the_organisation_page_downloads_what_its_charts_show(client, cast, now):
    f.report(cast.south, now - timedelta(hours=2), ga_occupied=61, nctr=None)
    client.force_login(cast.people[Role.VIEWER])
    body = client.get("/o/RS1/?range=day&format=csv").content.decode()
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == ["org_code", "site_code", "measure", "value", "as_of", "detail"]
    assert ["RS1", "", "ga_occupied", "61"] in [r[:4] for r in rows]
    assert ["RS1", "", "nctr", ""] in [r[:4] for r in rows]


def test_an_hourly_collaborative_shades_a_gap_of_a_few_hours(client, cast, now):
    collaboratives_actions.update_collaborative(
        by=f.SYSTEM, collaborative=cast.collab, thresholds={}, reporting_interval_hours=1
    )
    for h in (10, 9, 2):
        f.report(cast.south, now - timedelta(hours=h), ga_occupied=50)
    client.force_login(cast.people[Role.VIEWER])
    page = client.get("/o/RS1/?range=day").content.decode()
    assert page.count('class="gap"') >= 1


def test_export_command_can_be_limited_to_one_collaboratives_members(cast, now, tmp_path):
    f.report(cast.north, now, ga_open=100)
    f.report(cast.outside, now, ga_open=7)
    out = tmp_path / "c.csv"
    call_command(
        "export", "--at", now.isoformat(), "--collaborative", cast.collab.slug, "--out", str(out)
    )
    assert {r["org_code"] for r in csv.DictReader(out.open())} == {"RN1"}


def test_a_single_figure_is_drawn_as_a_dot_on_its_chart(client, cast, now):
    f.report(cast.south, now - timedelta(hours=2), ga_occupied=61)
    client.force_login(cast.people[Role.VIEWER])
    page = client.get("/o/RS1/?range=week").content.decode()
    chart = page.split("beds occupied: 1 value, 0 missing")[1].split("</svg>")[0]
    assert chart.count('<circle class="dot"') == 1


def test_a_future_time_on_the_organisation_page_is_moved_to_now(client, cast, now):
    f.report(cast.south, now - timedelta(hours=2), ga_occupied=61)
    client.force_login(cast.people[Role.VIEWER])
    page = client.get("/o/RS1/?range=day&at=2099-03-01T10:00").content.decode()
    assert "You asked for 1 Mar 2099 10:00, which is in the future; showing now." in page
    assert "1 value, 0 missing" in page
    assert "at=2099" not in page


def test_a_moment_in_another_year_is_shown_with_its_year(client, cast):
    client.force_login(cast.people[Role.VIEWER])
    page = client.get(f"/c/{cast.collab.slug}/?at=2024-01-05T08:00").content.decode()
    assert "As at 5 Jan 2024 08:00." in page


def test_in_surge_figures_go_stale_after_twice_the_surge_interval(cast, now):
    f.report(cast.north, now - timedelta(hours=3), ga_open=100)  # stale after 8 h as usual
    assert not row(picture(cast), "RN1").figures["ga_open"].stale
    f.surge_settings(cast.collab, reporting_interval_hours=1)
    f.surge(cast.collab)
    pic = picture(cast)
    assert row(pic, "RN1").figures["ga_open"].stale  # stale after 2 h in surge
    assert pic.coverage_hours == 1
