"""Multi-day redistribution model: small cases and property tests against the dense LP."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flotilla.planning.core.multiday import (
    MultiDayInstance,
    check_multiday_plan,
    geometric_survival,
    residual_discharges,
    solve_multiday,
    survival_from_pmf,
)
from tests.unit.planning.reference import reference_multiday


def instance(
    capacity: list[float],
    initial: list[float],
    admissions: list[list[float]],
    edges: list[tuple[int, int]],
    *,
    los_mean: float = 3.0,
    **kwargs: object,
) -> MultiDayInstance:
    adm = np.array(admissions, dtype=float)
    n, t_len = adm.shape
    src = np.array([a for a, _ in edges], dtype=np.int64)
    dst = np.array([b for _, b in edges], dtype=np.int64)
    surv = geometric_survival(los_mean, 200)
    return MultiDayInstance(
        site_id=tuple(f"S{i}" for i in range(n)),
        capacity=np.array(capacity, dtype=float),
        initial=np.array(initial, dtype=float),
        initial_discharges=residual_discharges(np.array(initial, dtype=float), surv, t_len),
        admissions=adm,
        los_survival=surv[:t_len],
        src=src,
        dst=dst,
        distance_km=np.full(src.size, 10.0),
        **kwargs,  # type: ignore[arg-type]
    )


def test_survival_from_pmf_counts_the_admission_day() -> None:
    assert survival_from_pmf([0.5, 0.5]).tolist() == [1.0, 0.5]


def test_residual_discharges_empty_a_geometric_census_at_the_geometric_rate() -> None:
    d = residual_discharges(np.array([100.0]), geometric_survival(2.0, 400), 3)
    assert d[0].tolist() == pytest.approx([50.0, 25.0, 12.5])


def test_redirection_removes_overflow_when_a_neighbour_has_room() -> None:
    inst = instance([10, 50], [10, 0], [[4, 4, 4], [0, 0, 0]], [(0, 1), (1, 0)])
    plan = solve_multiday(inst)
    assert plan.overflow_before > 0
    assert plan.overflow_after == pytest.approx(0.0, abs=1e-6)
    assert check_multiday_plan(inst, plan) == []


def test_only_new_admissions_are_redirected() -> None:
    # Site 0 starts 20 over capacity with no admissions: nothing can be redirected.
    inst = instance([10, 50], [30, 0], [[0, 0, 0], [0, 0, 0]], [(0, 1)])
    plan = solve_multiday(inst)
    assert plan.patients.sum() == pytest.approx(0.0)


def test_no_artificial_overflow_caps_receivers_at_capacity() -> None:
    # Site 1 has only 1 free bed per day; redirects must not push it over.
    inst = instance([5, 10], [5, 9], [[5, 5, 5], [3, 3, 3]], [(0, 1)])
    plan = solve_multiday(inst)
    assert check_multiday_plan(inst, plan) == []
    within = plan.active_before[1] <= inst.capacity[1]
    assert np.all(plan.active_after[1][within] <= inst.capacity[1] + 1e-6)


def test_components_without_overflow_are_not_solved() -> None:
    inst = instance(
        [10, 10, 50, 50],
        [1, 1, 60, 0],
        [[0] * 3, [0] * 3, [30] * 3, [0] * 3],
        [(0, 1), (1, 0), (2, 3), (3, 2)],
    )
    plan = solve_multiday(inst)
    assert plan.components_solved == 1


def test_robust_plan_redirects_no_more_than_the_low_admissions() -> None:
    inst = instance(
        [10, 50],
        [10, 0],
        [[6, 6, 6], [0, 0, 0]],
        [(0, 1)],
        admissions_low=np.array([[2.0, 2, 2], [0, 0, 0]]),
    )
    plan = solve_multiday(inst)
    per_day = np.bincount(plan.day, weights=plan.patients, minlength=3)
    assert np.all(per_day <= 2.0 + 1e-9)
    assert check_multiday_plan(inst, plan) == []


@st.composite
def instances(draw: st.DrawFn) -> MultiDayInstance:
    n = draw(st.integers(2, 4))
    t_len = draw(st.integers(1, 4))
    cap = draw(st.lists(st.integers(1, 20), min_size=n, max_size=n))
    init = draw(st.lists(st.integers(0, 25), min_size=n, max_size=n))
    adm = [draw(st.lists(st.integers(0, 8), min_size=t_len, max_size=t_len)) for _ in range(n)]
    pairs = [(a, b) for a in range(n) for b in range(n) if a != b]
    edges = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=len(pairs)))
    return instance(
        [float(c) for c in cap],
        [float(i) for i in init],
        [[float(v) for v in row] for row in adm],
        edges,
        los_mean=draw(st.sampled_from([1.5, 3.0, 8.0])),
        no_worse_overflow=draw(st.booleans()),
        no_artificial_overflow=draw(st.booleans()),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=instances())
def test_fast_multiday_matches_dense_reference_on_random_instances(
    inst: MultiDayInstance,
) -> None:
    plan = solve_multiday(inst)
    ref = reference_multiday(inst)
    assert check_multiday_plan(inst, plan) == []
    assert plan.overflow_after <= plan.overflow_before + 1e-6
    # Skipped components contribute zero to both objectives, so totals must agree.
    assert plan.objective == pytest.approx(ref.objective, rel=1e-6, abs=1e-6)
    assert plan.overflow_after == pytest.approx(ref.overflow, rel=1e-5, abs=1e-4)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=instances())
def test_pruned_model_respects_the_rules_and_is_never_better_than_the_full_one(
    inst: MultiDayInstance,
) -> None:
    from dataclasses import replace

    full = solve_multiday(inst)
    pruned_inst = replace(inst, prune=True)
    pruned = solve_multiday(pruned_inst)
    assert check_multiday_plan(pruned_inst, pruned) == []
    assert pruned.objective >= full.objective - 1e-6
