"""Scale: a synthetic national multi-day instance (sites x 28 days, 50 km), timed.

Two geometries. ``metro``: metro clusters (sizes Zipf-like, as US hospitals crowd into metro
areas) over the contiguous-US box plus 20% rural sites scattered uniformly. ``national``: 45%
of the sites in the same kind of clusters and 55% as towns spread over the eastern US
(30-45 N, 95-72 W), so that, as with the ~5,000 real US hospitals, the 50 km graph has one
component of about two thirds of the sites (3,373 of 5,000). Bed counts resampled from the New
Jersey 2020 hospitals' bed totals. Sites start 50-80% full near steady state; one region in
five has a growing epidemic wave, so some regions overflow while neighbours have room. The
full model (no pruning), solved by column generation and proven optimal (phase 1), then
smoothed (phase 2) in whatever is left of the time limit.

    nice .venv/bin/python bench/planning/scale_multiday.py [--geometry metro|national]
        [--time-limit 30] [n_sites ...]
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import data_dir, load_seconds, machine

from flotilla.planning.core.geo import pairs_within_km
from flotilla.planning.core.multiday import (
    MultiDayInstance,
    check_multiday_plan,
    geometric_survival,
    residual_discharges,
    solve_multiday,
)

DAYS = 28
LOS_MEAN = 6.0


def nj_bed_sizes() -> np.ndarray:
    raw = pd.read_csv(data_dir() / "us-optimisation-benchmarks" / "nj_hosp_2020_06_19.csv")
    cols = [c for c in raw.columns if c.startswith("bed_")]
    beds = raw.assign(t=raw[cols].fillna(0).sum(axis=1)).groupby("hosp_name")["t"].max()
    return beds[beds > 0].to_numpy(float)


def synthetic(n: int, seed: int = 7, geometry: str = "metro") -> MultiDayInstance:
    rng = np.random.default_rng(seed)
    n_rural = n // 5 if geometry == "metro" else int(0.55 * n)
    n_metro = n - n_rural
    box = (26.0, 48.0, -122.0, -70.0) if geometry == "metro" else (30.0, 45.0, -95.0, -72.0)
    n_clusters = max(1, n // 17)
    weight = 1.0 / np.arange(1, n_clusters + 1) ** 0.9
    cluster = rng.choice(n_clusters, size=n_metro, p=weight / weight.sum())
    c_lat = rng.uniform(26, 48, n_clusters)
    c_lon = rng.uniform(-122, -70, n_clusters)
    spread_km = 8 + 25 * (weight / weight.max()) ** 0.5  # big metros sprawl further
    lat = np.concatenate(
        [
            c_lat[cluster] + rng.normal(0, 1, n_metro) * spread_km[cluster] / 111,
            rng.uniform(box[0], box[1], n_rural),
        ]
    )
    lon = np.concatenate(
        [
            c_lon[cluster] + rng.normal(0, 1, n_metro) * spread_km[cluster] / 85,
            rng.uniform(box[2], box[3], n_rural),
        ]
    )
    region = np.concatenate([cluster, n_clusters + np.arange(n_rural) % 50])
    beds = rng.choice(nj_bed_sizes(), size=n) * rng.uniform(0.3, 0.6, n)  # COVID share
    cap = np.floor(beds)
    # Regional waves: most regions flat, one in five surging (3-6% more admissions a day).
    n_regions = region.max() + 1
    surging = rng.random(n_regions) < 0.2
    growth = np.where(
        surging, rng.uniform(0.03, 0.06, n_regions), rng.normal(0.0, 0.005, n_regions)
    )
    t = np.arange(DAYS)
    initial = np.floor(cap * rng.uniform(0.5, 0.8, n))
    base = initial / LOS_MEAN * rng.uniform(0.9, 1.1, n)  # about steady state at the start
    adm = rng.poisson(base[:, None] * np.exp(growth[region][:, None] * t[None, :])).astype(float)
    surv = geometric_survival(LOS_MEAN, 400)
    src, dst, dist = pairs_within_km(lat, lon, 50.0)
    return MultiDayInstance(
        site_id=tuple(f"H{i}" for i in range(n)),
        capacity=cap,
        initial=initial,
        initial_discharges=residual_discharges(initial, surv, DAYS),
        admissions=adm,
        los_survival=surv[:DAYS],
        src=src,
        dst=dst,
        distance_km=dist,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sizes", nargs="*", type=int, default=[1000, 2500, 5000])
    parser.add_argument("--geometry", choices=["metro", "national"], default="metro")
    parser.add_argument("--time-limit", type=float, default=None)
    args = parser.parse_args()
    print(f"Measured {dt.date.today()} on {machine()}, geometry {args.geometry}\n")
    print(
        "| sites | edges (50 km) | largest component | components solved | pricing rounds |"
        " columns / all arc-days | smallest reduced cost | phase-1 objective |"
        " overflow before | after | reduction | full-LP gap at most | phase 1 s | total s |"
        " peak RSS MB |"
        " load s | status |"
    )
    print("|" + "---|" * 17)
    for n in args.sizes:
        load = load_seconds()
        t0 = time.perf_counter()
        inst = synthetic(n, geometry=args.geometry)
        graph = sp.coo_array((np.ones(inst.src.size), (inst.src, inst.dst)), shape=(n, n))
        largest = int(np.bincount(connected_components(graph, directed=False)[1]).max())
        plan = solve_multiday(inst, time_limit=args.time_limit)
        total = time.perf_counter() - t0
        assert check_multiday_plan(inst, plan) == [], "plan breaks a rule"
        s = plan.summary()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"| {n} | {inst.src.size} | {largest} | {s['components_solved']} | "
            f"{s['pricing_rounds']} | {s['columns_generated']} / {s['arc_days']} | "
            f"{s['min_reduced_cost']:.1e} | {plan.phase1_objective:.1f} | "
            f"{s['overflow_before']:.0f} | {s['overflow_after']:.0f} | "
            f"{100 * s['overflow_reduction']:.1f}% | "
            f"{plan.full_lp_gap:.1f} ({100 * plan.full_lp_gap / plan.objective:.3f}%) | "
            f"{plan.phase1_seconds:.1f} | {total:.1f} | "
            f"{peak:.0f} | {load:.1f} | {s['status']} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
