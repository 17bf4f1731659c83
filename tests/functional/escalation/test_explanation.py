"""A coordinator sees a partner's computed level beside its declared one on the dashboard,
opens it, and reads why: the figures that drove it and what would bring it down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flotilla.authz.models import Role
from tests import factories as f
from tests.functional.conftest import axe_violations, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def system(db):
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    north = f.OrganisationFactory(code="RN1", name="North Hospitals NHS Trust")
    south = f.OrganisationFactory(code="RS1", name="South Hospitals NHS Trust")
    collab = f.CollaborativeFactory(name="River System", organisation=north)
    f.join(collab, south)
    # South is busier than it says: it declares OPEL 2, its figures give OPEL 3. Scores
    # (weight): G&A 96% 3 (2), critical care 50% 1 (1), NCTR 18 of 96 = 18.75% 3 (2),
    # handovers 6 3 (2), DTA 30 3 (1), escalation beds 12 2 (1), long stays 15% 2 (1):
    # 27 / 10 = 2.7, OPEL 3 (from 2.5).
    busy = {
        **f.CALM,
        "ga_occupied": 96,
        "handover_over_60": 6,
        "nctr": 18,
        "dta_waiting": 30,
        "escalation_open": 12,
        "long_stay_21": 15,
    }
    f.report(south, now - timedelta(hours=1), **busy, opel_declared=2)
    f.report(north, now - timedelta(hours=1), **f.CALM, opel_declared=1)
    f.levels(north, south)
    coordinator = f.UserFactory(username="coordinator")
    f.member(coordinator, north, Role.COORDINATOR)
    return collab


def test_a_coordinator_reads_why_a_partner_is_at_its_computed_level(page, system):
    sign_in(page, "coordinator")
    page.goto(f"/c/{system.slug}/")
    south = page.locator("#picture-table tr[data-org='RS1'] td[data-measure='opel_computed']")
    assert "OPEL 3" in south.inner_text()
    assert "≠ declared" in south.inner_text()
    assert "System OPEL" in page.inner_text("#system-level")

    south.locator("a").click()
    page.wait_for_url("**/o/RS1/escalation**")
    assert "Declared and computed levels differ" in page.inner_text("#disagreement")
    table = page.locator("#parameters-acute")
    occupancy = table.locator("tr[data-parameter='ga_occupancy']").inner_text()
    assert "96.0%" in occupancy and "98%" in occupancy  # its value and the next threshold
    handovers = table.locator("tr[data-parameter='handover_over_60']").inner_text()
    assert "6 handovers" in handovers
    bring_down = page.inner_text("#to-lower-acute")
    assert "below" in bring_down
    violations = axe_violations(page)
    assert not violations, [(v["id"], [n["target"] for n in v["nodes"]]) for v in violations]

    page.click("text=Acute trusts profile, version")
    assert "Parameters" in page.inner_text("#profile-parameters")
