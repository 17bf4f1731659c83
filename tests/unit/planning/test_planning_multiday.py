"""Multi-day redistribution model: small cases and property tests against the dense LP."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flotilla.planning.core import multiday
from flotilla.planning.core.multiday import (
    MultiDayInstance,
    check_multiday_plan,
    geometric_survival,
    residual_discharges,
    solve_multiday,
    survival_from_pmf,
)
from flotilla.planning.core.multiday_lp import PRICING_TOL, SMOOTHING_SLACK, geometric_ratio
from tests.unit.planning.reference import reference_multiday


def instance(
    capacity: list[float],
    initial: list[float],
    admissions: list[list[float]],
    edges: list[tuple[int, int]],
    *,
    los_mean: float = 3.0,
    los_pmf: list[float] | None = None,
    **kwargs: object,
) -> MultiDayInstance:
    adm = np.array(admissions, dtype=float)
    n, t_len = adm.shape
    src = np.array([a for a, _ in edges], dtype=np.int64)
    dst = np.array([b for _, b in edges], dtype=np.int64)
    if los_pmf is None:
        surv = geometric_survival(los_mean, 200)
    else:
        surv = np.concatenate([survival_from_pmf(los_pmf), np.zeros(200)])
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


def test_a_geometric_stay_is_recognised_and_a_fixed_one_is_not() -> None:
    assert geometric_ratio(geometric_survival(4.0, 10)) == pytest.approx(0.75)
    fixed = np.concatenate([survival_from_pmf([0, 0, 1.0]), np.zeros(2)])  # 3 days, 5 shown
    assert geometric_ratio(fixed) is None


@st.composite
def instances(draw: st.DrawFn) -> MultiDayInstance:
    n = draw(st.integers(2, 5))
    t_len = draw(st.integers(1, 5))
    cap = draw(st.lists(st.integers(1, 20), min_size=n, max_size=n))
    init = draw(st.lists(st.integers(0, 25), min_size=n, max_size=n))
    adm = [draw(st.lists(st.integers(0, 8), min_size=t_len, max_size=t_len)) for _ in range(n)]
    pairs = [(a, b) for a in range(n) for b in range(n) if a != b]
    edges = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=len(pairs)))
    pmf = draw(st.sampled_from([None, [0.2, 0.5, 0.3], [0.0, 0.0, 0.0, 1.0]]))
    return instance(
        [float(c) for c in cap],
        [float(i) for i in init],
        [[float(v) for v in row] for row in adm],
        edges,
        los_mean=draw(st.sampled_from([1.5, 3.0, 8.0])),
        los_pmf=pmf,
        no_worse_overflow=draw(st.booleans()),
        no_artificial_overflow=draw(st.booleans()),
        change_penalty=draw(st.sampled_from([0.0, 1e-3])),
    )


def full_lp_optimum(inst: MultiDayInstance) -> float:
    """Phase 1's optimum from the dense LP with every arc and day written out at once."""
    return reference_multiday(replace(inst, change_penalty=0.0)).objective


@settings(max_examples=60)
@given(inst=instances())
def test_column_generation_reaches_the_optimum_of_the_full_lp_on_random_instances(
    inst: MultiDayInstance,
) -> None:
    plan = solve_multiday(inst)
    best = full_lp_optimum(inst)
    assert plan.status == "optimal"
    assert plan.min_reduced_cost >= -PRICING_TOL
    assert plan.phase1_objective == pytest.approx(best, rel=1e-6, abs=1e-6)
    # Phase 2 (smoothing) holds phase 1's objective within its slack.
    kept = plan.overflow_after + inst.transfer_penalty * float(plan.patients.sum())
    assert kept <= best + SMOOTHING_SLACK * max(1.0, best) + 1e-5
    assert check_multiday_plan(inst, plan) == []
    assert plan.overflow_after <= plan.overflow_before + 1e-6


@settings(max_examples=40)
@given(inst=instances())
def test_the_full_lp_optimum_with_the_change_penalty_lies_within_the_plans_stated_gap(
    inst: MultiDayInstance,
) -> None:
    plan = solve_multiday(inst)
    one_step = reference_multiday(inst).objective  # the change penalty in the same LP
    assert plan.phase1_objective <= one_step + 1e-5
    assert one_step <= plan.objective + 1e-5
    assert plan.full_lp_gap == pytest.approx(plan.objective - plan.phase1_objective, abs=1e-9)


def two_parts(**kwargs: object) -> MultiDayInstance:
    """One component (0-1-2-3 joined) whose plan uses two parts: 0 sends to 1, 2 to 3."""
    return instance(
        [10, 40, 10, 40],
        [10, 5, 10, 5],
        [[5, 0, 6, 1, 5, 3], [0] * 6, [4, 2, 5, 0, 6, 1], [0] * 6],
        [(0, 1), (1, 2), (2, 3)],
        change_penalty=0.05,
        **kwargs,
    )


def test_smoothing_part_by_part_gives_the_plan_smoothing_all_at_once_gives_on_two_parts() -> None:
    seen: list[int] = []
    real = multiday.parts_of

    def spy(d: object, arcs: np.ndarray) -> np.ndarray:
        label = real(d, arcs)  # type: ignore[arg-type]
        seen.append(len(np.unique(label)))
        return label

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(multiday, "parts_of", spy)
        by_part = solve_multiday(two_parts())
    assert seen == [2]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(multiday, "parts_of", lambda d, arcs: np.zeros(arcs.size, dtype=np.int64))
        at_once = solve_multiday(two_parts())
    assert by_part.status == at_once.status == "optimal"
    assert by_part.objective == pytest.approx(at_once.objective, rel=1e-6, abs=1e-6)
    # Together the parts keep phase 1's objective within the slack one LP would have.
    inst = two_parts()
    kept = by_part.overflow_after + inst.transfer_penalty * float(by_part.patients.sum())
    slack = SMOOTHING_SLACK * max(1.0, by_part.phase1_objective)
    assert kept <= by_part.phase1_objective + slack + 1e-9
    assert check_multiday_plan(two_parts(), by_part) == []


@settings(max_examples=30)
@given(inst=instances())
def test_the_length_of_stay_recursion_gives_the_optimum_of_the_convolution(
    inst: MultiDayInstance,
) -> None:
    recursion = solve_multiday(inst)
    convolution = solve_multiday(inst, los_recursion=False)
    assert recursion.phase1_objective == pytest.approx(
        convolution.phase1_objective, rel=1e-6, abs=1e-6
    )


@settings(max_examples=25)
@given(inst=instances())
def test_pruned_model_respects_the_rules_and_is_never_better_than_the_full_one(
    inst: MultiDayInstance,
) -> None:
    full = solve_multiday(inst)
    pruned_inst = replace(inst, prune=True)
    pruned = solve_multiday(pruned_inst)
    assert check_multiday_plan(pruned_inst, pruned) == []
    assert pruned.phase1_objective >= full.phase1_objective - 1e-6


def regional(n: int, days: int, seed: int) -> MultiDayInstance:
    """Sites on a line 10 km apart (arcs up to 35 km), every fourth one overflowing."""
    rng = np.random.default_rng(seed)
    cap = rng.integers(20, 60, n).astype(float)
    initial = np.floor(cap * rng.uniform(0.6, 0.95, n))
    hot = np.arange(n) % 4 == 0
    growth = np.where(hot, 0.08, 0.0)
    adm = initial[:, None] / 4 * np.exp(growth[:, None] * np.arange(days)[None, :])
    pos = np.arange(n) * 10.0
    gap = np.abs(pos[:, None] - pos[None, :])
    src, dst = np.nonzero((gap > 0) & (gap <= 35))
    surv = geometric_survival(4.0, 300)
    return MultiDayInstance(
        site_id=tuple(f"S{i}" for i in range(n)),
        capacity=cap,
        initial=initial,
        initial_discharges=residual_discharges(initial, surv, days),
        admissions=adm,
        los_survival=surv[:days],
        src=src,
        dst=dst,
        distance_km=gap[src, dst],
    )


def test_a_time_limit_returns_a_plan_that_keeps_the_rules() -> None:
    inst = regional(400, 21, seed=3)
    for limit in (0.0, 0.05, 0.3):
        plan = solve_multiday(inst, time_limit=limit)
        assert check_multiday_plan(inst, plan) == []
        assert plan.overflow_after <= plan.overflow_before + 1e-6
    assert solve_multiday(inst, time_limit=0.0).patients.size == 0


def test_pricing_adds_columns_beyond_the_nearest_receivers_until_none_prices_out() -> None:
    inst = regional(60, 14, seed=1)
    plan = solve_multiday(inst)
    assert plan.status == "optimal"
    assert plan.pricing_rounds >= 2
    assert plan.columns_generated < plan.arc_days
    assert plan.min_reduced_cost >= -PRICING_TOL
