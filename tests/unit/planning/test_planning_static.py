"""Static optimiser: hand-made cases and property tests against the dense reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from flotilla.planning.core.errors import InputError
from flotilla.planning.core.static import (
    SURGE_TIE_BREAK,
    Sites,
    TravelTimes,
    check_static_plan,
    graph_by_radius,
    graph_by_travel,
    lp_overflow_optimum,
    patients_after,
    safe_capacity,
    solve_static,
)
from tests.unit.planning.reference import reference_lp_overflow, reference_static


def make_sites(
    occupied: list[int],
    open_beds: list[int],
    *,
    lon: list[float] | None = None,
    bed_type: list[str] | None = None,
    surge: list[int] | None = None,
    cost: list[float] | None = None,
    safe: float = 1.0,
) -> Sites:
    n = len(occupied)
    return Sites(
        site_id=tuple(f"S{i}" for i in range(n)),
        bed_type=tuple(bed_type or ["ga"] * n),
        lat=np.full(n, 52.0),
        lon=np.array(lon if lon is not None else [0.1 * i for i in range(n)]),
        open_beds=np.array(open_beds),
        occupied=np.array(occupied),
        safe_occupancy=np.full(n, safe),
        surge_beds=np.array(surge or [0] * n),
        surge_cost=np.array(cost or [0.0] * n),
    )


def test_safe_capacity_rounds_down_without_binary_surprises() -> None:
    assert safe_capacity([0.29, 0.92, 0.5], [100, 100, 3]).tolist() == [29, 92, 1]


def test_overflow_moves_to_the_nearest_site_with_room() -> None:
    # S0 is 5 over; S1 (7 km) and S2 (14 km) both have room: the nearer one takes them.
    sites = make_sites([15, 0, 0], [10, 10, 10])
    plan = solve_static(sites, graph_by_radius(sites, 60))
    assert plan.overflow_before == 5
    assert plan.overflow_after == 0
    assert list(zip(plan.src.tolist(), plan.dst.tolist(), plan.patients.tolist(), strict=True)) == [
        (0, 1, 5)
    ]


def test_transfer_never_takes_receiver_above_safe_capacity() -> None:
    # Only 3 beds free nearby; the other 7 overflow patients must stay put.
    sites = make_sites([20, 7], [10, 10])
    plan = solve_static(sites, graph_by_radius(sites, 60))
    after = patients_after(sites, plan.src, plan.dst, plan.patients)
    assert after.tolist() == [17, 10]
    assert plan.overflow_after == 7


def test_sites_beyond_the_radius_do_not_exchange_patients() -> None:
    sites = make_sites([20, 0], [10, 10], lon=[0.0, 2.0])  # about 137 km apart
    plan = solve_static(sites, graph_by_radius(sites, 60))
    assert plan.patients_moved == 0
    assert plan.overflow_after == plan.overflow_before == 10


def test_bed_types_never_mix() -> None:
    sites = make_sites([20, 0], [10, 10], bed_type=["ga", "cc"])
    plan = solve_static(sites, graph_by_radius(sites, 60))
    assert plan.patients_moved == 0


def test_surge_beds_are_opened_only_when_transfers_cannot_clear_overflow() -> None:
    sites = make_sites([14, 10, 10], [10, 10, 10], surge=[0, 0, 5], cost=[0, 0, 2.0])
    plan = solve_static(sites, graph_by_radius(sites, 60))
    assert plan.overflow_after == 0
    assert plan.surge.tolist() == [0, 0, 4]
    assert plan.lower_bound == 0


def test_cheaper_surge_is_preferred_to_dearer_surge() -> None:
    sites = make_sites([13, 10, 10], [10, 10, 10], surge=[0, 5, 5], cost=[0, 3.0, 1.0])
    plan = solve_static(sites, graph_by_radius(sites, 60))
    assert plan.surge.tolist() == [0, 0, 3]


def test_lower_bound_counts_overflow_no_transfer_can_remove() -> None:
    sites = make_sites([30, 12, 5], [10, 10, 10], surge=[2, 0, 0])
    assert sites.lower_bound() == 30 + 12 + 5 - 30 - 2


def test_travel_time_limit_replaces_the_radius() -> None:
    sites = make_sites([15, 0, 0], [10, 10, 10])
    travel = TravelTimes(from_site=("S0", "S0"), to_site=("S1", "S2"), minutes=np.array([90, 20]))
    graph = graph_by_travel(sites, travel, max_minutes=45)
    plan = solve_static(sites, graph)
    assert list(zip(plan.src.tolist(), plan.dst.tolist(), strict=True)) == [(0, 2)]


def test_duplicate_site_and_bed_type_is_rejected() -> None:
    with pytest.raises(InputError, match="appears twice"):
        Sites(
            site_id=("A", "A"),
            bed_type=("ga", "ga"),
            lat=[0, 0],
            lon=[0, 0],
            open_beds=[1, 1],
            occupied=[0, 0],
            safe_occupancy=[1, 1],
        )


def test_inputs_are_read_only() -> None:
    sites = make_sites([1], [1])
    with pytest.raises(ValueError, match="read-only"):
        sites.occupied[0] = 5


@st.composite
def instances(draw: st.DrawFn) -> Sites:
    n = draw(st.integers(2, 7))
    beds = draw(st.lists(st.integers(0, 30), min_size=n, max_size=n))
    occ = draw(st.lists(st.integers(0, 40), min_size=n, max_size=n))
    surge = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
    cost = draw(st.lists(st.sampled_from([0.0, 1.0, 2.5]), min_size=n, max_size=n))
    lon = draw(st.lists(st.floats(0, 1.2), min_size=n, max_size=n))
    types = draw(st.lists(st.sampled_from(["ga", "cc"]), min_size=n, max_size=n))
    safe = draw(st.sampled_from([0.85, 0.92, 1.0]))
    return make_sites(occ, beds, lon=lon, bed_type=types, surge=surge, cost=cost, safe=safe)


#: HiGHS's default absolute MIP gap (patient-km): with no relative gap, how far above the optimum
#: either solver's answer may be, and so how far apart two optimal answers' distances may be.
SOLVER_GAP = 1e-6


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sites=instances(), radius=st.sampled_from([20.0, 50.0, 200.0]))
# The reference moved 0.999999 patients 34.229196 km (HiGHS takes that for a whole patient) and
# reported 34.229162 patient-km, just under the plan's 34.229196.
@example(
    sites=make_sites(
        [3, 2, 2, 6],
        [3, 4, 1, 3],
        lon=[1.0, 0.5, 0.5, 1.0],
        surge=[2, 2, 0, 1],
        cost=[2.5, 0.0, 1.0, 2.5],
        safe=0.92,
    ),
    radius=50.0,
)
# The reference stopped at scipy's default 0.01% MIP gap, 0.0021 patient-km above the optimum.
@example(
    sites=make_sites(
        [22, 11, 39, 6, 29, 6],
        [18, 1, 20, 13, 30, 16],
        lon=[1.0899776568073734, 0.3576447578835287, 0.9331531511578732,
             0.01741676945596313, 0.6978955732607, 0.31825486021521554],
        bed_type=["ga", "cc", "cc", "cc", "ga", "cc"],
        surge=[2, 2, 0, 3, 4, 3],
        cost=[2.5, 1.0, 0.0, 2.5, 0.0, 2.5],
        safe=1.0,
    ),
    radius=200.0,
)  # fmt: skip
def test_fast_model_matches_dense_reference_on_random_instances(
    sites: Sites, radius: float
) -> None:
    """The plan has the reference's overflow and surge cost, and its distance as far as the
    solvers' stated tolerances and the core's surge tie-break allow.

    Both models are solved with no relative MIP gap and both report a plan in whole patients,
    so the distances can differ only by HiGHS's absolute gap (SOLVER_GAP) and by the core's
    tie-break: its third stage charges SURGE_TIE_BREAK per surge bed opened, so it may travel up
    to that much further for each free bed the reference opens and it leaves shut.
    """
    graph = graph_by_radius(sites, radius)
    plan = solve_static(sites, graph)
    ref = reference_static(sites, graph)
    assert check_static_plan(sites, graph, plan) == []
    assert plan.overflow_after == pytest.approx(ref.overflow, abs=1e-6)
    assert plan.surge_cost == pytest.approx(ref.surge_cost, abs=1e-6)
    beds_left_shut = float(ref.surge.sum() - plan.surge.sum())
    longer = plan.total_distance_km - ref.distance
    assert -SOLVER_GAP <= longer <= SURGE_TIE_BREAK * beds_left_shut + SOLVER_GAP
    assert plan.lower_bound <= plan.overflow_after <= plan.overflow_before


@settings(max_examples=30, deadline=None)
@given(sites=instances(), radius=st.sampled_from([20.0, 50.0, 200.0]))
def test_lp_relaxation_optimum_matches_dense_linprog(sites: Sites, radius: float) -> None:
    graph = graph_by_radius(sites, radius)
    assert lp_overflow_optimum(sites, graph) == pytest.approx(
        reference_lp_overflow(sites, graph), abs=1e-6
    )


def test_plan_checker_reports_a_transfer_that_overfills_the_receiver() -> None:
    # Guards the guard: the property test relies on check_static_plan catching violations.
    from dataclasses import replace

    sites = make_sites([15, 8], [10, 10])
    graph = graph_by_radius(sites, 60)
    plan = solve_static(sites, graph)
    bad = replace(plan, patients=np.array([5]), overflow_after=3)
    assert any("above safe capacity" in p for p in check_static_plan(sites, graph, bad))
