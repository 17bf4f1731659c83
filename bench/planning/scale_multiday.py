"""Scale: a synthetic national multi-day instance (sites x 28 days, 50 km), timed.

Positions: metro clusters (sizes Zipf-like, as US hospitals crowd into metro areas) over the
contiguous-US box plus 20% rural sites scattered uniformly; bed counts resampled from the New
Jersey 2020 hospitals' bed totals. Sites start 50-80% full near steady state; one region in
five has a growing epidemic wave, so some regions overflow while neighbours have room. Solved
with edge pruning (see ``candidate_edges``), one connected component at a time, each with a
60 s HiGHS time limit.

    nice .venv/bin/python bench/planning/scale_multiday.py [n_sites ...]
"""

from __future__ import annotations

import datetime as dt
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import data_dir, machine

from flotilla.planning.core.geo import pairs_within_km
from flotilla.planning.core.multiday import (
    MultiDayInstance,
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


def synthetic(n: int, seed: int = 7) -> MultiDayInstance:
    rng = np.random.default_rng(seed)
    n_rural = n // 5
    n_metro = n - n_rural
    n_clusters = max(1, n // 17)
    weight = 1.0 / np.arange(1, n_clusters + 1) ** 0.9
    cluster = rng.choice(n_clusters, size=n_metro, p=weight / weight.sum())
    c_lat = rng.uniform(26, 48, n_clusters)
    c_lon = rng.uniform(-122, -70, n_clusters)
    spread_km = 8 + 25 * (weight / weight.max()) ** 0.5  # big metros sprawl further
    lat = np.concatenate(
        [
            c_lat[cluster] + rng.normal(0, 1, n_metro) * spread_km[cluster] / 111,
            rng.uniform(26, 48, n_rural),
        ]
    )
    lon = np.concatenate(
        [
            c_lon[cluster] + rng.normal(0, 1, n_metro) * spread_km[cluster] / 85,
            rng.uniform(-122, -70, n_rural),
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
        prune=True,
    )


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 2500, 5000]
    print(f"Measured {dt.date.today()} on {machine()}\n")
    print(
        "| sites | days | edges (50 km) | components solved | LP columns | overflow before |"
        " after | reduction | build+solve s | peak RSS MB | status |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n in sizes:
        t0 = time.perf_counter()
        inst = synthetic(n)
        build = time.perf_counter() - t0
        plan = solve_multiday(replace(inst), time_limit=60.0)
        total = time.perf_counter() - t0
        s = plan.summary()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"| {n} | {DAYS} | {inst.src.size} | {s['components_solved']} | "
            f"{s['variables']} | {s['overflow_before']:.0f} | {s['overflow_after']:.0f} | "
            f"{100 * s['overflow_reduction']:.1f}% | {total:.1f} (build {build:.1f}) | "
            f"{peak:.0f} | {s['status']} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
