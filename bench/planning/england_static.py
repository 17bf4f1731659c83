"""England, 2021-22 winter: every day as a static G&A instance over all trusts.

Safe occupancy 0.92, 60 km haversine radius, trust coordinates from
reference/england/nhs_trusts22_points.csv (trusts without coordinates are left out and counted).

    nice .venv/bin/python bench/planning/england_static.py
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import data_dir, machine, sitrep

from flotilla.planning.core.static import (
    Sites,
    check_static_plan,
    graph_by_radius,
    lp_overflow_optimum,
    solve_static,
)


def main() -> None:
    df = sitrep("2122")
    pts = pd.read_csv(data_dir() / "reference" / "england" / "nhs_trusts22_points.csv")
    pts = pts.set_index("nhs_trust22_code")
    df = df.dropna(subset=["G&A beds occ'd", "G&A Beds Open"])
    located = df["Code"].isin(pts.index)
    missing = sorted(set(df.loc[~located, "Code"]))
    df = df[located]
    rows = []
    worst_time = 0.0
    for date, day in df.groupby("Date"):
        codes = day["Code"].tolist()
        sites = Sites(
            site_id=tuple(codes),
            bed_type=("ga",) * len(codes),
            lat=pts.loc[codes, "latitude"].to_numpy(float),
            lon=pts.loc[codes, "longitude"].to_numpy(float),
            open_beds=day["G&A Beds Open"].to_numpy(np.int64),
            occupied=np.minimum(day["G&A beds occ'd"], day["G&A Beds Open"] * 2).to_numpy(np.int64),
            safe_occupancy=np.full(len(codes), 0.92),
        )
        t0 = time.perf_counter()
        graph = graph_by_radius(sites, 60.0)
        plan = solve_static(sites, graph)
        elapsed = time.perf_counter() - t0
        worst_time = max(worst_time, elapsed)
        assert check_static_plan(sites, graph, plan) == [], date
        lp = lp_overflow_optimum(sites, graph)
        rows.append(
            (
                date,
                len(codes),
                plan.overflow_before,
                plan.overflow_after,
                plan.lower_bound,
                lp,
                plan.patients_moved,
                plan.total_distance_km,
                plan.max_distance_km,
                elapsed,
            )
        )
    r = pd.DataFrame(
        rows,
        columns=[
            "date",
            "trusts",
            "before",
            "after",
            "lb",
            "lp",
            "moved",
            "km",
            "max_km",
            "seconds",
        ],
    )
    gap = (r["after"] - r["lp"]) / np.maximum(r["lp"], 1)
    print(f"Measured {dt.date.today()} on {machine()}\n")
    print(
        f"days: {len(r)}; trusts per day: {r.trusts.min()}-{r.trusts.max()} "
        f"(left out for want of coordinates: {len(missing)} codes: {', '.join(missing)})\n"
    )
    print("| figure | value |\n|---|---|")
    print(f"| overflow before, patients (sum over days) | {r.before.sum()} |")
    print(f"| overflow after | {r.after.sum()} |")
    print(f"| lower bound (no transfer can remove) | {r.lb.sum()} |")
    print(f"| LP-relaxation optimum | {r.lp.sum():.1f} |")
    red = 1 - r.after.sum() / max(r.before.sum(), 1)
    possible = 1 - r.lb.sum() / max(r.before.sum(), 1)
    print(
        f"| reduction achieved / reduction the lower bound allows | {100 * red:.1f}% / "
        f"{100 * possible:.1f}% |"
    )
    print(f"| worst day: after vs LP optimum | {100 * gap.max():.2f}% |")
    print(f"| patients moved (sum) / mean per day | {r.moved.sum()} / {r.moved.mean():.0f} |")
    print(f"| patient-km (sum) / longest transfer km | {r.km.sum():.0f} / {r.max_km.max():.1f} |")
    print(
        f"| solve seconds per day: median / worst | {r.seconds.median():.3f} / {worst_time:.3f} |"
    )


if __name__ == "__main__":
    main()
