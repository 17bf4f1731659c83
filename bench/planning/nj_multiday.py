"""New Jersey 2020 (Parker et al. data set): multi-day redistribution with a 50 km radius.

Set-up as in the paper's code: capacity = the largest daily total of the bed columns
(available + in use, all four types) times a share of beds available to COVID patients;
initial patients = active confirmed + suspected the day before the start; admissions = the
`admitted` column; a fixed length of stay; initial patients discharged evenly over it.

    nice .venv/bin/python bench/planning/nj_multiday.py
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import data_dir, load_seconds, machine

from flotilla.planning.core.geo import pairs_within_km
from flotilla.planning.core.multiday import (
    MultiDayInstance,
    check_multiday_plan,
    solve_multiday,
    survival_from_pmf,
)

BED_COLS = [
    f"bed_{k}_{t}"
    for k in ("avail", "inuse")
    for t in ("criticalcare", "intensivecare", "surgical", "other")
]


def build(start: str, end: str, los: int, share: float, radius_km: float) -> MultiDayInstance:
    base = data_dir() / "us-optimisation-benchmarks"
    raw = pd.read_csv(base / "nj_hosp_2020_06_19.csv")
    locs = json.loads((base / "nj_hosp_locs.json").read_text())
    raw["total_beds"] = raw[BED_COLS].fillna(0).sum(axis=1)
    raw["active"] = raw["active_confirmed"].fillna(0) + raw["active_suspected"].fillna(0)
    beds = raw.groupby("hosp_name")["total_beds"].max()
    names = sorted(n for n in beds.index if beds[n] > 0 and n in locs)
    days = pd.date_range(start, end).strftime("%Y-%m-%d")
    window = raw[raw["date"].isin(days)]
    adm = (
        window.pivot_table(index="hosp_name", columns="date", values="admitted", aggfunc="sum")
        .reindex(index=names, columns=days)
        .fillna(0)
    )
    day0 = (pd.Timestamp(start) - pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    initial = raw[raw["date"] == day0].set_index("hosp_name")["active"].reindex(names).fillna(0)
    init = initial.to_numpy(float)
    t_len = len(days)
    # Even discharge of the initial patients over the length of stay (the paper's choice).
    per_day = np.maximum(1.0, np.round(init / los))
    cum = np.minimum(np.cumsum(np.tile(per_day[:, None], (1, t_len)), axis=1), init[:, None])
    discharges = np.diff(np.concatenate([np.zeros((len(names), 1)), cum], axis=1), axis=1)
    lat = np.array([locs[n]["lat"] for n in names])
    lon = np.array([locs[n]["long"] for n in names])
    src, dst, dist = pairs_within_km(lat, lon, radius_km)
    pmf = np.zeros(los)
    pmf[-1] = 1.0
    return MultiDayInstance(
        site_id=tuple(names),
        capacity=beds.reindex(names).to_numpy(float) * share,
        initial=init,
        initial_discharges=discharges,
        admissions=adm.to_numpy(float),
        los_survival=survival_from_pmf(pmf)[:t_len],
        src=src,
        dst=dst,
        distance_km=dist,
    )


def main() -> None:
    print(f"Measured {dt.date.today()} on {machine()}; load loop {load_seconds():.1f} s\n")
    print(
        "| beds share | radius km | overflow before (patient-days) | after | reduction |"
        " patients moved | patient-km | max km | pricing rounds | columns / all arc-days |"
        " smallest reduced cost | phase 1 s | total s | status | floor | best possible |"
    )
    print("|" + "---|" * 16)
    for share in (0.5, 0.4, 0.3):
        # 50 km is the published set-up; 10,000 km lets any hospital help any other, the most
        # any redirection could achieve.
        for radius in (50.0, 10_000.0):
            inst = build("2020-04-05", "2020-06-19", 8, share, radius)
            plan = solve_multiday(inst)
            assert check_multiday_plan(inst, plan) == [], "plan breaks a rule"
            s = plan.summary()
            # Only admissions are redirected, so the patients in hospital at the start stay
            # where they are: their own overflow is a floor no plan, at any radius, goes below.
            census = inst.initial[:, None] - np.cumsum(inst.initial_discharges, axis=1)
            floor = float(np.maximum(census - inst.capacity[:, None], 0).sum())
            best = 1 - floor / s["overflow_before"]
            print(
                f"| {share} | {radius:.0f} | {s['overflow_before']:.0f} | "
                f"{s['overflow_after']:.1f} | {100 * s['overflow_reduction']:.1f}% | "
                f"{s['patients_moved']:.0f} | {s['total_distance_km']:.0f} | "
                f"{s['max_distance_km']:.1f} | {s['pricing_rounds']} | "
                f"{s['columns_generated']} / {s['arc_days']} | {s['min_reduced_cost']:.1e} | "
                f"{plan.phase1_seconds:.1f} | {s['solve_seconds']:.1f} | {s['status']} | "
                f"{floor:.1f} | {100 * best:.1f}% |",
                flush=True,
            )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\npeak memory (whole run): {peak:.0f} MB; load loop after the run: {load_seconds():.1f} s"
    )


if __name__ == "__main__":
    main()
