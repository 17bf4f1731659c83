"""Balancing the load in the app: a static plan from the live picture, made only of what
the planner may see, with what it left out and why."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from flotilla.planning import balancing, maps
from flotilla.sharing import policy
from tests import factories as f
from tests.access import recorded

pytestmark = pytest.mark.django_db

# Two places about 22 km apart (Leeds and Bradford), and one about 300 km away (London).
LEEDS, BRADFORD, LONDON = (53.80, -1.55), (53.79, -1.75), (51.51, -0.13)


def hours_ago(n: float):
    return (timezone.now() - timedelta(hours=n)).replace(second=0, microsecond=0)


def at(org, where):
    """Put an organisation on the map."""
    from flotilla.organisations import actions

    return actions.register_organisation(
        by=f.SYSTEM,
        code=org.code,
        name=org.name,
        kind=org.kind,
        latitude=where[0],
        longitude=where[1],
    )


def member_trust(collab, code, where, *, open_beds=None, occupied=None, hours=1):
    org = at(f.OrganisationFactory(code=code, name=f"{code} Hospitals NHS Trust"), where)
    f.join(collab, org)
    if open_beds is not None:
        f.report(org, hours_ago(hours), ga_open=open_beds, ga_occupied=occupied)
    return org


@pytest.fixture
def river(cast):
    """North overflows (99 in 100 beds, safe capacity 92), South 22 km away has room."""
    at(cast.north, LEEDS)
    at(cast.south, BRADFORD)
    f.report(cast.north, hours_ago(1), ga_open=100, ga_occupied=99)
    f.report(cast.south, hours_ago(1), ga_open=100, ga_occupied=70)
    cast.planner = policy.viewer_of(cast.people["coordinator"])
    return cast


def plan(cast, **kw):
    asked = {"bed": "ga", "safe_occupancy": 0.92, "radius_km": 50.0} | kw
    return balancing.static_plan(cast.planner, cast.collab, **asked)


def test_a_plan_moves_the_overflow_to_a_trust_with_room_within_the_radius(river):
    p = plan(river)
    assert (p.overflow_before, p.overflow_after, p.lower_bound) == (7, 0, 0)
    (move,) = p.moves
    assert (move.source.organisation, move.target.organisation, move.patients) == (
        river.north,
        river.south,
        7,
    )
    assert 10 < move.distance_km < 20
    assert p.after == {"RN1": 92, "RS1": 77}
    assert p.left_out == []


def test_no_patient_is_moved_further_than_the_radius(river):
    p = plan(river, radius_km=5.0)
    assert p.moves == []
    assert (p.overflow_before, p.overflow_after, p.lower_bound) == (7, 7, 0)


def test_the_lower_bound_is_the_overflow_of_all_places_together(river):
    f.report(river.south, hours_ago(0.5), ga_open=100, ga_occupied=95)
    p = plan(river)
    # 194 patients in 184 safe beds: 10 over whatever moves; South has no room to give.
    assert (p.overflow_before, p.overflow_after, p.lower_bound) == (10, 10, 10)


def test_a_plan_never_uses_a_figure_the_planner_may_not_see_and_says_which_places_it_left_out(
    river,
):
    # Each of these has room that a careless plan would send patients to.
    banded = member_trust(river.collab, "RB1", BRADFORD, open_beds=100, occupied=10)
    f.reshare(f.collaborative_grant(banded, river.collab), detail="banded")
    status = member_trust(river.collab, "RT1", BRADFORD, open_beds=100, occupied=10)
    f.reshare(f.collaborative_grant(status, river.collab), detail="status")
    late = member_trust(river.collab, "RL1", BRADFORD, open_beds=100, occupied=10)
    f.reshare(f.collaborative_grant(late, river.collab), delay_hours=24)
    withheld = member_trust(river.collab, "RW1", BRADFORD, open_beds=100, occupied=10)
    f.reshare(f.collaborative_grant(withheld, river.collab), groups=("flow",))
    old = member_trust(river.collab, "RO1", BRADFORD, open_beds=100, occupied=10, hours=72)
    silent = member_trust(river.collab, "RQ1", BRADFORD)
    nowhere = member_trust(river.collab, "RZ1", BRADFORD, open_beds=100, occupied=10)
    from flotilla.organisations.models import Organisation

    Organisation.objects.filter(pk=nowhere.pk).update(latitude=None, longitude=None)

    p = plan(river)

    assert {pl.organisation for pl in p.places} == {river.north, river.south}
    assert (p.overflow_before, p.overflow_after) == (7, 0)
    why = {x.name.split()[0]: x.why for x in p.left_out}
    assert why == {
        "RB1": "shares its bed figures with you only as a band: a plan needs counts",
        "RT1": "shares its bed figures with you only as a status: a plan needs counts",
        "RL1": "shares its bed figures 24 hours late, and none old enough yet",
        "RW1": "does not share its bed figures with you",
        "RO1": why["RO1"],
        "RZ1": "has no map position in the registry, so no distance can be measured",
    }
    assert why["RO1"].startswith("its newest figures are from ")
    assert "too old to plan on" in why["RO1"]
    assert silent.name in p.none_reported
    assert old.name not in p.none_reported


def test_a_late_grant_is_planned_with_its_figures_as_they_were_when_they_are_recent_enough(river):
    late = member_trust(river.collab, "RL1", BRADFORD, open_beds=100, occupied=10, hours=3)
    f.reshare(f.collaborative_grant(late, river.collab), delay_hours=2)
    p = plan(river)
    (place,) = [pl for pl in p.places if pl.organisation == late]
    assert (place.occupied, place.delay_hours) == (10, 2)


def test_a_trust_reporting_by_site_is_planned_site_by_site(river):
    east = f.SiteFactory(code="RS102", name="East Hospital", organisation=river.south)
    from flotilla.organisations.models import Site

    Site.objects.filter(pk=east.pk).update(latitude=53.79, longitude=-1.70)
    f.report(river.south, hours_ago(0.5), site=east, ga_open=50, ga_occupied=20)
    p = plan(river)
    assert {pl.key for pl in p.places} == {"RN1", "RS1/RS102"}


def test_the_plans_reads_go_on_the_owners_access_records(river):
    before = recorded().filter(owner=river.south).count()
    plan(river)
    assert recorded().filter(owner=river.south).count() == before + 1


def test_the_map_draws_every_place_and_every_move(river):
    p = plan(river)
    m = maps.plan_map(p)
    assert m is not None
    assert [d.state for d in m.dots] == ["over", "receives"]
    (arrow,) = m.arrows
    assert "7 from North Hospitals NHS Trust to South Hospitals NHS Trust" in arrow.title
    assert m.scale_label.endswith(" km")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("bed", "beds", "choose a bed type from the list"),
        ("safe_occupancy", "lots", "“lots” is not a number"),
        ("safe_occupancy", "120", "give a number from 50 to 100%"),
        ("radius_km", "0", "give a number from 1 to 300 km"),
        ("radius_km", "nan", "give a number from 1 to 300 km"),
    ],
)
def test_a_wrong_request_is_refused_naming_the_field(river, client, field, value, message):
    client.force_login(river.people["coordinator"])
    query = {"bed": "ga", "safe_occupancy": "92", "radius_km": "50"} | {field: value}
    response = client.get(f"/c/{river.collab.slug}/planning", query)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert 'id="result"' not in response.content.decode()


def test_the_planning_page_shows_the_overflow_the_lower_bound_the_moves_and_the_map(river, client):
    client.force_login(river.people["viewer"])
    page = client.get(
        f"/c/{river.collab.slug}/planning", {"bed": "ga", "safe_occupancy": "", "radius_km": ""}
    ).content.decode()
    assert 'id="overflow-before">7 patients above safe capacity' in page
    assert 'id="overflow-after">0 patients' in page
    assert 'id="lower-bound">0 patients' in page
    assert "<td>North Hospitals NHS Trust</td><td>South Hospitals NHS Trust</td>" in page
    assert 'id="plan-map"' in page
    # The default safe occupancy is where the collaborative's G&A occupancy turns amber.
    assert "safe occupancy 92.0%" in page


def test_the_form_alone_is_shown_until_a_plan_is_asked_for(river, client):
    client.force_login(river.people["viewer"])
    page = client.get(f"/c/{river.collab.slug}/planning").content.decode()
    assert 'id="plan-form"' in page
    assert 'id="result"' not in page
    assert 'value="92"' in page
