"""Planning the next days in the app: today's figures and each place's forecast of occupied
beds, as the planner may see them, become a multi-day plan that redirects admissions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from flotilla.authz.models import Role
from flotilla.planning import actions, balancing
from flotilla.planning.models import AidDraft
from flotilla.sharing import policy
from tests import factories as f
from tests.integration.planning.test_balancing import BRADFORD, LEEDS, at, hours_ago

pytestmark = pytest.mark.django_db


def days_ago(n: int):
    moment = timezone.localtime() - timedelta(days=n)
    return moment.replace(hour=8, minute=0, second=0, microsecond=0)


def history(org, level: float, days: int = 21) -> None:
    """A report a day up to yesterday: occupied beds around `level`, wobbling over a week."""
    for n in range(days, 0, -1):
        f.report(org, days_ago(n), ga_open=100, ga_occupied=level + (n % 7) - 3)


@pytest.fixture
def river(cast):
    """North runs about 98 in 100 beds (safe capacity 92); South, 22 km away, about 60."""
    at(cast.north, LEEDS)
    at(cast.south, BRADFORD)
    history(cast.north, 98)
    history(cast.south, 60)
    f.report(cast.north, hours_ago(1), ga_open=100, ga_occupied=99)
    f.report(cast.south, hours_ago(1), ga_open=100, ga_occupied=61)
    for org in (cast.north, cast.south):
        actions.recompute(organisation=org)
    cast.planner = policy.viewer_of(cast.people[Role.COORDINATOR])
    return cast


def outlook(cast, days=7, **kw):
    asked = {"bed": "ga", "safe_occupancy": 0.92, "radius_km": 50.0, "los_days": 6.0} | kw
    return balancing.outlook(cast.planner, cast.collab, days=days, **asked)


def test_the_next_days_redirect_admissions_from_the_place_expected_to_overflow(river):
    o = outlook(river)
    assert [p.key for p in o.places] == ["RN1", "RS1"]
    assert o.overflow_before > 7 * 3  # North is expected over its 92 every day
    assert o.overflow_after < o.overflow_before / 2
    assert o.lower_bound == 0  # 160 patients in 184 safe beds each day
    assert {(r.source.key, r.target.key) for r in o.redirects} == {("RN1", "RS1")}
    (move,) = o.moves
    assert move.patients == round(o.redirects[0].patients) >= 1
    assert len(o.day_labels) == 7


def test_the_census_without_a_plan_is_the_forecast_median(river):
    """Admissions are implied from the forecast and the length of stay (A_t = F_t - q F_t-1),
    so that the model's census without redirection is the forecast itself."""
    o = outlook(river, los_days=5.0)
    from flotilla.planning.queries import forecast_of

    seen = forecast_of(river.planner, river.north, None, "ga_occupied")
    assert seen is not None
    # The forecast's origin is yesterday when the last figure was reported before midnight.
    medians = [seen.day(h).median for h in range(1, 15) if seen.day(h)]
    first = timezone.localdate() + timedelta(days=1) - seen.origin
    expected = medians[first.days - 1 : first.days - 1 + 7]
    assert o.before["RN1"] == pytest.approx(expected, abs=1e-6)


def test_a_place_with_no_forecast_the_planner_may_use_is_left_out_and_named(river):
    east = f.OrganisationFactory(code="RE1", name="East Hospitals NHS Trust")
    at(east, BRADFORD)
    f.join(river.collab, east)
    f.report(east, hours_ago(1), ga_open=100, ga_occupied=20)  # today only: no history
    o = outlook(river)
    assert "RE1" not in {p.key for p in o.places}
    assert [(x.name, x.why) for x in o.left_out] == [
        ("East Hospitals NHS Trust", "has no forecast of occupied beds you may see")
    ]


def test_the_days_and_the_length_of_stay_are_checked(river):
    with pytest.raises(balancing.PlanInvalid) as refused:
        balancing.check_outlook_request("5", "0.5")
    assert refused.value.errors == {
        "days": "choose 3, 7, 14 days",
        "los_days": "give a number from 1 to 30 days",
    }


def test_the_page_plans_the_next_days_and_the_coordinator_drafts_them(river, client):
    client.force_login(river.people[Role.COORDINATOR])
    query = {"bed": "ga", "safe_occupancy": "92", "radius_km": "50", "days": "7", "los_days": "6"}
    page = client.get(f"/c/{river.collab.slug}/planning", query).content.decode()
    assert "the next 7 days</h2>" in page
    assert 'id="lower-bound">0.0 patient-days' in page
    assert 'name="move" value="RN1&gt;RS1"' in page
    response = client.post(f"/c/{river.collab.slug}/planning/draft", {**query, "move": "RN1>RS1"})
    assert response.status_code == 302
    request, offer = AidDraft.objects.order_by("pk")
    assert (request.side, offer.side) == ("request", "offer")
    assert request.patients == offer.patients >= 1
