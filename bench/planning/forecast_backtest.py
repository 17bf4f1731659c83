"""Forecast backtest on the 2020-21 and 2021-22 winter sitreps (horizons 1-14 days).

Every trust, G&A occupied and adult critical-care occupied; rolling origins from day 21 of each
winter. Prints a markdown table; run from the project root:

    nice .venv/bin/python bench/planning/forecast_backtest.py
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import machine, sitrep_matrix

from flotilla.planning.core.backtest import rolling_backtest
from flotilla.planning.core.forecast import ForecastConfig, forecast_array

WINTERS = ("2021", "2122")


def main() -> None:
    config = ForecastConfig()
    total = None
    timings = []
    for winter in WINTERS:
        values, groups, keys = sitrep_matrix(winter)
        t0 = time.perf_counter()
        forecast_array(values, groups, 14, config)
        timings.append((winter, len(keys), time.perf_counter() - t0))
        sums = rolling_backtest(values, groups, 14, config=config)
        total = sums if total is None else total + sums
    assert total is not None
    scores = total.scores()
    print(f"Measured {dt.date.today()} on {machine()}\n")
    print("| h | n | WIS | WIS last value | relative WIS | MAE | WAPE | cover 50% | cover 95% |")
    print("|---|---|---|---|---|---|---|---|---|")
    for s in scores:
        print(
            f"| {s.horizon} | {s.n} | {s.wis:.2f} | {s.wis_baseline:.2f} | "
            f"{s.relative_wis:.3f} | {s.mae:.2f} | {s.wape:.4f} | {s.coverage_50:.3f} | "
            f"{s.coverage_95:.3f} |"
        )
    rel = [s.relative_wis for s in scores]
    print(
        f"\nmean relative WIS over horizons: {np.mean(rel):.3f}; worst horizon: "
        f"{max(rel):.3f}; 95% coverage range: "
        f"{min(s.coverage_95 for s in scores):.3f}-{max(s.coverage_95 for s in scores):.3f}"
    )
    for winter, n, sec in timings:
        print(f"forecast of all {n} series of {winter} (14 days, one origin): {sec:.2f} s")


if __name__ == "__main__":
    main()
