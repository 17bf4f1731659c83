"""``flotilla forecast-backtest``: rolling-origin backtest of a history CSV, per horizon."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

import numpy as np
from django.core.management.base import BaseCommand, CommandError

from flotilla.planning.core.backtest import rolling_backtest
from flotilla.planning.core.errors import InputError
from flotilla.planning.core.io import read_history


class Command(BaseCommand):
    help = (
        "Backtest the ensemble against the last-value baseline: WIS, relative WIS, MAE, "
        "WAPE and 50%/95% interval coverage per horizon."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--history",
            required=True,
            type=Path,
            help="CSV with columns site, measure, date, value",
        )
        parser.add_argument("--horizon", type=int, default=14, help="days ahead (default 14)")
        parser.add_argument(
            "--min-train",
            type=int,
            default=21,
            help="days of history before the first origin (default 21)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["horizon"] < 1 or opts["min_train"] < 2:
            raise CommandError("--horizon must be >= 1 and --min-train >= 2")
        try:
            history = read_history(opts["history"])
        except InputError as exc:
            raise CommandError(str(exc)) from None
        if history.dates.size <= opts["min_train"]:
            raise CommandError(
                f"{opts['history']}: {history.dates.size} days of history, need more than "
                f"--min-train {opts['min_train']}"
            )
        sums = rolling_backtest(
            history.values, history.measure_groups, opts["horizon"], min_train=opts["min_train"]
        )
        out = self.stdout
        out.write("horizon     n      WIS  WIS_last  rel_WIS      MAE    WAPE  cov50  cov95")
        scores = sums.scores()
        for s in scores:
            out.write(
                f"{s.horizon:7d} {s.n:5d} {s.wis:8.3f} {s.wis_baseline:9.3f} "
                f"{s.relative_wis:8.3f} {s.mae:8.3f} {s.wape:7.4f} {s.coverage_50:6.3f} "
                f"{s.coverage_95:6.3f}"
            )
        rel = [s.relative_wis for s in scores if np.isfinite(s.relative_wis)]
        if rel:
            out.write(f"mean relative WIS over horizons: {np.mean(rel):.3f}")
