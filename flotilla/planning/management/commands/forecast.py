"""``flotilla forecast``: quantile occupancy forecasts from a long history CSV."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from flotilla.csvsafe import Numeral
from flotilla.planning.core.errors import InputError
from flotilla.planning.core.forecast import forecast
from flotilla.planning.core.io import read_history, write_csv


class Command(BaseCommand):
    help = "Forecast each site and measure: quantiles 0.025-0.975 for days 1..N."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--history",
            required=True,
            type=Path,
            help="CSV with columns site, measure, date, value",
        )
        parser.add_argument("--horizon", required=True, type=int, help="days ahead")
        parser.add_argument("--out", required=True, type=Path, help="output CSV")
        parser.add_argument("--model", default="ensemble", choices=["ensemble", "last_value"])

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["horizon"] < 1 or opts["horizon"] > 365:
            raise CommandError("--horizon must be between 1 and 365 days")
        try:
            history = read_history(opts["history"])
            result = forecast(history, opts["horizon"], model=opts["model"])
        except InputError as exc:
            raise CommandError(str(exc)) from None
        rows = (
            (
                site,
                measure,
                str(result.dates[h]),
                Numeral(q),
                Numeral(result.values[s, h, k], ".3f"),
            )
            for s, (site, measure) in enumerate(result.keys)
            for h in range(result.dates.size)
            for k, q in enumerate(result.quantiles)
        )
        write_csv(opts["out"], ("site", "measure", "date", "quantile", "value"), rows)
        fallbacks = [
            (k, m) for k, m in zip(result.keys, result.method, strict=True) if m != opts["model"]
        ]
        for (site, measure), method in fallbacks:
            self.stderr.write(f"{site} {measure}: {method}")
        self.stdout.write(
            f"wrote {len(result.keys)} series x {result.dates.size} days to {opts['out']}"
            f" ({len(fallbacks)} fell back, listed above)"
        )
