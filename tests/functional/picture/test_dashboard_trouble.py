"""A coordinator finds the trouble: sorts by a column, filters, and the live table keeps both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flotilla.authz.models import Role
from tests import factories as f
from tests.functional.conftest import axe_violations, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def system(db):
    now = datetime.now(UTC)
    north = f.OrganisationFactory(code="RN1", name="North Hospitals NHS Trust")
    south = f.OrganisationFactory(code="RS1", name="South Hospitals NHS Trust")
    east = f.OrganisationFactory(code="RE1", name="East Hospitals NHS Trust")
    collab = f.CollaborativeFactory(name="River System", organisation=north)
    f.join(collab, south)
    f.join(collab, east)
    f.report(north, now, ga_open=100, ga_occupied=80, nctr=60, opel_declared=2)
    f.report(south, now, ga_open=100, ga_occupied=97, nctr=12, opel_declared=4)
    f.report(east, now - timedelta(hours=12), ga_open=100, ga_occupied=93, nctr=70)
    coordinator = f.UserFactory(username="coordinator")
    f.member(coordinator, north, Role.COORDINATOR)
    return collab


def rows(page) -> list[str]:
    return page.eval_on_selector_all(
        "#picture-table tbody tr[data-org]", "rows => rows.map(r => r.dataset.org)"
    )


def test_a_coordinator_sorts_and_filters_and_the_live_table_keeps_them(page, system):
    sign_in(page, "coordinator")
    page.goto(f"/c/{system.slug}/")
    assert rows(page) == ["RS1", "RE1", "RN1"]  # red, then amber, then green
    assert "1 organisation at OPEL 4" in page.inner_text("#trouble")

    page.click("th[data-sort='nctr'] a")
    page.wait_for_url("**sort=nctr**")
    assert rows(page) == ["RE1", "RN1", "RS1"]
    assert page.get_attribute("th[data-sort='nctr']", "aria-sort") == "descending"
    page.click("th[data-sort='nctr'] a")
    page.wait_for_url("**order=asc**")
    assert rows(page) == ["RS1", "RN1", "RE1"]

    page.select_option("#rag", "amber")
    page.click("text=Apply filters")
    page.wait_for_url("**rag=amber**")
    assert "sort=nctr" in page.url  # the sort is kept
    assert rows(page) == ["RN1", "RE1"]  # RN1 amber on NCTR, RE1 on G&A occupancy
    violations = axe_violations(page)
    assert not violations, [(v["id"], [n["target"] for n in v["nodes"]]) for v in violations]

    # The live refresh asks for the same sort and filter.
    page.evaluate(
        "document.getElementById('picture').setAttribute('hx-trigger', 'every 1s');"
        "htmx.process(document.getElementById('picture'));"
    )
    with page.expect_response(lambda r: "/table?" in r.url) as refreshed:
        pass
    assert "sort=nctr" in refreshed.value.url and "rag=amber" in refreshed.value.url
    page.wait_for_timeout(300)
    assert rows(page) == ["RN1", "RE1"]

    page.click("#trouble a")
    page.wait_for_url("**opel=4**")
    assert rows(page) == ["RS1"]


def test_an_unknown_filter_is_explained_in_an_error_summary(page, system):
    sign_in(page, "coordinator")
    page.goto(f"/c/{system.slug}/?rag=purple")
    assert "“purple” is not a RAG rating" in page.inner_text(".nhsuk-error-summary")
    assert rows(page) == ["RS1", "RE1", "RN1"]
    violations = axe_violations(page)
    assert not violations, [(v["id"], [n["target"] for n in v["nodes"]]) for v in violations]


def test_the_home_page_has_no_serious_accessibility_violations(page, system):
    sign_in(page, "coordinator")
    page.goto("/")
    assert "Reports due" in page.inner_text("main")
    violations = axe_violations(page)
    assert not violations, [(v["id"], [n["target"] for n in v["nodes"]]) for v in violations]
