"""The dashboard puts trouble first: pressure order, sortable columns, filters, a summary."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from flotilla.authz import actions as authz_actions
from flotilla.authz.models import Role, TokenScope
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def now():
    return timezone.now().replace(microsecond=0)


@pytest.fixture
def east(cast):
    east = f.OrganisationFactory(code="RE1", name="East Hospitals NHS Trust")
    f.join(cast.collab, east)
    return east


def order(page: str) -> list[str]:
    """The table's rows, as org code or org code/site code, top to bottom."""
    return [
        f"{org}/{site}" if site else org
        for org, site in re.findall(r'<tr class="[^"]*" data-org="(\w+)" data-site="(\w*)"', page)
    ]


def get(client, cast, query: str = "", path: str = "") -> str:
    client.force_login(cast.people[Role.VIEWER])
    response = client.get(f"/c/{cast.collab.slug}/{path}{query}")
    assert response.status_code == 200
    return response.content.decode()


def test_rows_are_in_pressure_order_worst_rating_first_then_ga_occupancy(client, cast, east, now):
    f.report(cast.north, now, ga_open=100, ga_occupied=80)  # green
    f.report(cast.south, now, ga_open=100, ga_occupied=93)  # amber
    f.report(east, now, ga_open=100, ga_occupied=90, handover_over_60=12)  # red on handovers
    assert order(get(client, cast)) == ["RE1", "RS1", "RN1"]


def test_equal_ratings_are_ordered_by_ga_occupancy_highest_first(client, cast, east, now):
    f.report(cast.north, now, ga_open=100, ga_occupied=80)
    f.report(cast.south, now, ga_open=100, ga_occupied=85)
    f.report(east, now, ga_open=100, ga_occupied=None)  # missing: no rating, so last
    assert order(get(client, cast)) == ["RS1", "RN1", "RE1"]


def test_a_site_in_trouble_lifts_its_organisation_and_stays_beneath_it(client, cast, east, now):
    calm = f.SiteFactory(organisation=cast.south, code="RS1AA", name="A Calm Hospital")
    busy = f.SiteFactory(organisation=cast.south, code="RS1BB", name="B Busy Hospital")
    f.report(cast.north, now, ga_open=100, ga_occupied=93)  # amber
    f.report(cast.south, now, site=calm, ga_open=100, ga_occupied=50)
    f.report(cast.south, now, site=busy, ga_open=100, ga_occupied=99)  # red
    assert order(get(client, cast)) == ["RS1", "RS1/RS1BB", "RS1/RS1AA", "RN1", "RE1"]


def test_any_column_sorts_both_ways_with_missing_figures_last(client, cast, east, now):
    f.report(cast.north, now, ga_open=120)
    f.report(cast.south, now, ga_open=300)
    f.report(east, now, ga_open=None)
    page = get(client, cast, "?sort=ga_open")
    assert order(page) == ["RS1", "RN1", "RE1"]
    assert re.search(r'<th scope="col" aria-sort="descending" data-sort="ga_open">', page)
    assert order(get(client, cast, "?sort=ga_open&order=asc")) == ["RN1", "RS1", "RE1"]
    assert order(get(client, cast, "?sort=name")) == ["RE1", "RN1", "RS1"]
    assert order(get(client, cast, "?sort=name&order=desc")) == ["RS1", "RN1", "RE1"]


def test_a_column_heading_links_to_sorting_by_it_and_then_the_other_way(client, cast):
    page = get(client, cast)
    link = re.search(r'data-sort="ga_open"><a class="flotilla-sort" href="([^"]+)"', page)[1]
    assert parse_qs(urlsplit(link.replace("&amp;", "&")).query) == {"sort": ["ga_open"]}
    page = get(client, cast, "?sort=ga_open")
    link = re.search(r'data-sort="ga_open"><a class="flotilla-sort" href="([^"]+)"', page)[1]
    query = parse_qs(urlsplit(link.replace("&amp;", "&")).query)
    assert query == {"sort": ["ga_open"], "order": ["asc"]}
    # Only the sorted column says how it is sorted.
    assert page.count("aria-sort=") == 1


def test_sort_filters_and_moment_are_kept_by_refresh_as_at_form_and_download(client, cast, now):
    at = (now - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    page = get(client, cast, f"?sort=nctr&order=asc&rag=red&at={at}")
    assert (
        f"/export.csv?at={at.replace(':', '%3A')}&amp;sort=nctr&amp;order=asc&amp;rag=red" in page
    )
    assert '<input type="hidden" name="sort" value="nctr">' in page
    assert '<input type="hidden" name="rag" value="red">' in page
    live = get(client, cast, "?sort=nctr&stale=yes")
    assert 'hx-get="/c/river-system/table?sort=nctr&amp;stale=yes"' in live
    table = get(client, cast, "?sort=nctr&order=asc", path="table")
    assert 'aria-sort="ascending" data-sort="nctr"' in table


def test_the_download_is_sorted_and_filtered_like_the_page(client, cast, east, now):
    f.report(cast.north, now, ga_open=100, ga_occupied=80)
    f.report(cast.south, now, ga_open=100, ga_occupied=99)
    f.report(east, now, ga_open=100, ga_occupied=93)
    client.force_login(cast.people[Role.VIEWER])
    body = client.get(f"/c/{cast.collab.slug}/export.csv").content.decode()
    codes = [r[0] for r in csv.reader(io.StringIO(body))][1:]
    assert list(dict.fromkeys(codes)) == ["RS1", "RE1", "RN1"]
    body = client.get(f"/c/{cast.collab.slug}/export.csv?rag=green").content.decode()
    assert {r[0] for r in csv.reader(io.StringIO(body))} == {"org_code", "RN1"}


def test_filters_choose_organisations_by_rating_opel_and_bed_type(client, cast, east, now):
    f.report(cast.north, now, ga_open=100, ga_occupied=97, opel_declared=3)  # red on G&A
    f.report(cast.south, now, cc_adult_open=10, cc_adult_occupied=5, opel_declared=2)  # green
    f.report(east, now, ga_open=100, ga_occupied=50, handover_over_60=20, opel_declared=4)
    assert order(get(client, cast, "?rag=red")) == ["RN1", "RE1"]
    assert order(get(client, cast, "?rag=green")) == ["RS1"]
    assert order(get(client, cast, "?rag=red&rag_on=ga_occupancy")) == ["RN1"]
    assert order(get(client, cast, "?rag=green&rag_on=ga_occupancy")) == ["RE1"]
    assert order(get(client, cast, "?opel=3")) == ["RN1", "RE1"]
    assert order(get(client, cast, "?opel=4")) == ["RE1"]
    page = get(client, cast, "?bed=cc_adult")
    assert order(page) == ["RS1"]
    assert 'data-sort="ga_open"' not in page and 'data-measure="ga_occupancy"' not in page
    assert "Showing 1 of 3 organisations" in page
    assert order(get(client, cast, "?bed=ga&opel=3&sort=name")) == ["RE1", "RN1"]


def test_the_stale_filter_chooses_organisations_not_reported_within_the_limit(
    client, cast, east, now
):
    f.report(cast.north, now - timedelta(hours=1), ga_open=100)
    f.report(cast.south, now - timedelta(hours=9), ga_open=100)  # stale after 8 h
    assert order(get(client, cast, "?stale=yes&sort=name")) == ["RE1", "RS1"]
    assert order(get(client, cast, "?stale=no")) == ["RN1"]


def test_no_organisation_matching_the_filters_is_said_with_a_way_back(client, cast):
    page = get(client, cast, "?opel=4&sort=nctr")
    assert "No organisation matches these filters" in page
    assert re.search(r'id="no-match">[^<]*<a href="/c/river-system/\?sort=nctr">', page)


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("rag=purple", "rag", "“purple” is not a RAG rating: choose red, amber, green or none."),
        ("opel=5", "opel", "“5” is not an OPEL level: choose 1, 2, 3 or 4."),
        ("bed=paeds", "bed", "“paeds” is not a bed type"),
        ("stale=maybe", "stale", "“maybe” is not a choice for stale"),
        ("rag_on=ga_open", "rag_on", "“ga_open” is not a rated measure"),
        ("sort=colour", "sort", "“colour” is not a column to sort by"),
        ("order=up", "order", "“up” is not an order"),
    ],
)
def test_an_unknown_filter_or_sort_is_explained_and_the_rest_still_apply(
    client, cast, east, now, query, field, message
):
    f.report(cast.north, now, ga_open=100, ga_occupied=97)
    client.force_login(cast.people[Role.VIEWER])
    page = client.get(f"/c/{cast.collab.slug}/?sort=name&{query}")
    assert page.status_code == 200
    body = page.content.decode()
    assert "There is a problem" in body
    assert message in body
    assert "<title>Error:" in body
    assert order(body)[0] in ("RE1", "RN1")  # the table is still there
    csv_response = client.get(f"/c/{cast.collab.slug}/export.csv?{query}")
    assert csv_response.status_code == 400
    assert message in csv_response.content.decode()


def test_the_summary_counts_organisations_in_trouble_with_links_to_them(client, cast, east, now):
    f.report(cast.north, now, ga_open=100, ga_occupied=97, opel_declared=4)
    f.report(cast.south, now, ga_open=100, ga_occupied=96, opel_declared=4)
    f.report(east, now - timedelta(hours=30), ga_open=100, ga_occupied=50)
    page = get(client, cast, "?sort=nctr")
    summary = re.search(
        r'<p class="nhsuk-body-l flotilla-trouble" id="trouble">(.*?)</p>', page, re.S
    )[1]
    text = re.sub(r"<[^>]+>", "", summary).strip()
    assert text == (
        "2 organisations at OPEL 4, 2 at or over 95% G&amp;A occupancy, 1 not reported for 8 h."
    )
    links = [a.replace("&amp;", "&") for a in re.findall(r'href="([^"]+)"', summary)]
    assert links == [
        "/c/river-system/?sort=nctr&opel=4",
        "/c/river-system/?sort=nctr&rag=red&rag_on=ga_occupancy",
        "/c/river-system/?sort=nctr&stale=yes",
    ]
    assert order(get(client, cast, "?sort=nctr&stale=yes")) == ["RE1"]


def test_one_organisation_in_trouble_is_said_in_the_singular(client, cast, east, now):
    f.report(cast.north, now, ga_open=100, ga_occupied=50)
    f.report(cast.south, now, ga_open=100, ga_occupied=50)
    f.report(east, now - timedelta(hours=9), ga_open=100, ga_occupied=50)
    page = get(client, cast)
    assert re.search(r">1 organisation not reported for 8 h</a>\.", page)


def test_the_summary_says_when_no_organisation_is_in_trouble(client, cast, now):
    f.report(cast.north, now, ga_open=100, ga_occupied=50, opel_declared=2)
    f.report(cast.south, now, ga_open=100, ga_occupied=60, opel_declared=1)
    assert re.search(r'id="trouble">\s*No organisation is in trouble\.', get(client, cast))


def test_the_summary_never_counts_what_is_not_shared_with_the_viewer(client, cast, now):
    f.report(cast.north, now, ga_open=100, ga_occupied=50)
    f.report(cast.south, now, ga_open=100, ga_occupied=99, opel_declared=4)
    f.unshare(f.collaborative_grant(cast.south, cast.collab))
    page = get(client, cast)
    assert re.search(r'id="trouble">\s*No organisation is in trouble\.', page)
    assert order(get(client, cast, "?opel=4")) == []
    assert order(get(client, cast, "?rag=red")) == []


def test_coverage_and_the_summary_leave_out_members_that_do_not_report(client, cast, now):
    icb = f.OrganisationFactory(code="QXX", name="River Integrated Care Board", kind="commissioner")
    f.join(cast.collab, icb)
    f.report(cast.north, now, ga_open=100, ga_occupied=50)
    f.report(cast.south, now, ga_open=100, ga_occupied=50)
    page = get(client, cast)
    assert "2 of 2 organisations" in page
    assert "No organisation is in trouble" in page
    assert "QXX" not in order(page)
    _, secret = authz_actions.issue_token(
        by=cast.people[Role.ORG_ADMIN], organisation=cast.north, name="wall", scope=TokenScope.READ
    )
    coverage = client.get(
        f"/api/collaboratives/{cast.collab.slug}/picture",
        headers={"Authorization": f"Bearer {secret}"},
    ).json()["coverage"]
    assert coverage == {"reported_recently": 2, "members": 2}


def test_a_future_as_at_time_is_moved_to_now_and_said_so(client, cast, now):
    f.report(cast.north, now, ga_open=123)
    page = get(client, cast, "?at=2099-01-05T08:00")
    assert "You asked for 5 Jan 2099 08:00, which is in the future; showing now." in page
    assert "123" in page
    assert "As at" not in page
    assert 'hx-get="/c/river-system/table"' in page  # live again
    assert "at=2099" not in page.split('id="at-notice"')[1]


def test_an_impossible_date_is_explained_not_a_server_error(client, cast):
    page = get(client, cast, "?at=2026-02-31T08:00")
    assert "“2026-02-31T08:00” is not a date and time" in page


def test_an_organisation_whose_figures_are_not_yet_visible_is_not_called_silent(client, cast, now):
    f.report(cast.north, now, ga_open=100, ga_occupied=50)
    f.reshare(f.collaborative_grant(cast.south, cast.collab), delay_hours=6)
    f.report(cast.south, now - timedelta(hours=1), ga_open=100, ga_occupied=50)
    assert re.search(r'id="trouble">\s*No organisation is in trouble\.', get(client, cast))
    assert order(get(client, cast, "?stale=yes")) == []


def summary_text(page: str) -> str:
    found = re.search(r'id="trouble">(.*?)</p>', page, re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", found[1])).strip()


def test_an_opel_level_declared_days_ago_is_not_counted_as_the_level_now(client, cast, now):
    f.report(cast.north, now, ga_open=100, ga_occupied=50, opel_declared=2)
    f.report(cast.south, now - timedelta(days=3), opel_declared=4)
    assert summary_text(get(client, cast)) == "1 organisation not reported for 8 h."


def test_figures_shared_late_are_not_counted_as_not_reported(client, cast, now):
    f.report(cast.north, now, ga_open=100, ga_occupied=50)
    f.report(cast.south, now - timedelta(hours=25), ga_open=100, ga_occupied=50)
    f.report(cast.south, now, ga_open=100, ga_occupied=50)
    f.reshare(f.collaborative_grant(cast.south, cast.collab), delay_hours=24)
    page = get(client, cast)
    assert "No organisation is in trouble" in page
    # A day-old figure is still marked stale where it is shown.
    assert "flotilla-stale" in page
