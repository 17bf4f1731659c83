"""``flotilla plan``: static or multi-day load-balancing plan from CSV files.

Static:     flotilla plan --sites sites.csv --radius-km 60 --out transfers.csv
Multi-day:  flotilla plan --sites sites.csv --admissions admissions.csv --los-mean 7 \
                --radius-km 50 --out redirects.csv
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

import numpy as np
from django.core.management.base import BaseCommand, CommandError

from flotilla.csvsafe import Numeral
from flotilla.planning.core.errors import InputError
from flotilla.planning.core.io import (
    read_admissions,
    read_pmf,
    read_sites,
    read_travel,
    write_csv,
)
from flotilla.planning.core.multiday import (
    MultiDayInstance,
    geometric_survival,
    residual_discharges,
    solve_multiday,
    survival_from_pmf,
)
from flotilla.planning.core.static import (
    Sites,
    TransferGraph,
    graph_by_radius,
    graph_by_travel,
    solve_static,
)


class Command(BaseCommand):
    help = "Plan patient transfers (static) or admission redirects (multi-day, --admissions)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--sites", required=True, type=Path, help="sites.csv")
        parser.add_argument("--out", required=True, type=Path, help="output CSV")
        parser.add_argument("--radius-km", type=float, help="transfer radius (haversine km)")
        parser.add_argument("--travel", type=Path, help="from_site,to_site,minutes CSV")
        parser.add_argument("--max-minutes", type=float, help="travel-time limit (minutes)")
        parser.add_argument("--time-limit", type=float, default=None, help="solver seconds")
        multi = parser.add_argument_group("multi-day mode")
        multi.add_argument(
            "--admissions",
            type=Path,
            help="site_id,date,admissions[,admissions_low] CSV: enables multi-day",
        )
        multi.add_argument(
            "--los-mean", type=float, default=None, help="mean length of stay in days (geometric)"
        )
        multi.add_argument(
            "--los-pmf", type=Path, default=None, help="days,probability CSV of the length of stay"
        )
        multi.add_argument("--bed-type", default=None, help="bed type to plan (multi-day)")
        multi.add_argument("--transfer-penalty", type=float, default=1e-3)
        multi.add_argument("--change-penalty", type=float, default=1e-3)

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            sites = read_sites(opts["sites"])
            graph = self._graph(sites, opts)
            if opts["admissions"] is not None:
                summary = self._multiday(sites, graph, opts)
            else:
                summary = self._static(sites, graph, opts)
        except InputError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(json.dumps(summary, indent=2))

    def _graph(self, sites: Sites, opts: dict[str, Any]) -> TransferGraph:
        if opts["travel"] is not None:
            if opts["max_minutes"] is None:
                raise CommandError("--travel needs --max-minutes")
            travel = read_travel(opts["travel"], set(sites.site_id))
            return graph_by_travel(sites, travel, opts["max_minutes"])
        if opts["radius_km"] is None:
            raise CommandError("give --radius-km, or --travel with --max-minutes")
        if opts["radius_km"] < 0:
            raise CommandError("--radius-km must be non-negative")
        return graph_by_radius(sites, opts["radius_km"])

    def _static(self, sites: Sites, graph: TransferGraph, opts: dict[str, Any]) -> dict[str, Any]:
        plan = solve_static(sites, graph, time_limit=opts["time_limit"])
        rows = (
            (sites.site_id[a], sites.site_id[b], sites.bed_type[a], p, Numeral(d, ".3f"))
            for a, b, p, d in zip(
                plan.src.tolist(),
                plan.dst.tolist(),
                plan.patients.tolist(),
                plan.distance_km.tolist(),
                strict=True,
            )
        )
        write_csv(
            opts["out"], ("from_site", "to_site", "bed_type", "patients", "distance_km"), rows
        )
        return plan.summary()

    def _multiday(self, sites: Sites, graph: TransferGraph, opts: dict[str, Any]) -> dict[str, Any]:
        types = sorted(set(sites.bed_type))
        bed_type = opts["bed_type"] or (types[0] if len(types) == 1 else None)
        if bed_type is None or bed_type not in types:
            raise CommandError(f"choose --bed-type from {', '.join(types)}")
        rows = np.array([b == bed_type for b in sites.bed_type])
        idx = np.flatnonzero(rows)
        ids = [sites.site_id[i] for i in idx]
        table = read_admissions(opts["admissions"], ids)
        days = len(table.dates)
        if opts["los_pmf"] is not None:
            surv_full = survival_from_pmf(read_pmf(opts["los_pmf"]))
        elif opts["los_mean"] is not None:
            if opts["los_mean"] < 1:
                raise CommandError("--los-mean must be at least 1 day")
            surv_full = geometric_survival(opts["los_mean"], days + int(40 * opts["los_mean"]))
        else:
            raise CommandError("multi-day mode needs --los-mean or --los-pmf")
        local = np.full(sites.n, -1)
        local[idx] = np.arange(idx.size)
        keep = rows[graph.src] & rows[graph.dst]
        initial = sites.occupied[idx].astype(np.float64)
        inst = MultiDayInstance(
            site_id=tuple(ids),
            capacity=sites.capacity[idx].astype(np.float64),
            initial=initial,
            initial_discharges=residual_discharges(initial, surv_full, days),
            admissions=np.array([table.admissions[s] for s in ids]),
            admissions_low=None
            if table.admissions_low is None
            else np.array([table.admissions_low[s] for s in ids]),
            los_survival=surv_full[:days],
            src=local[graph.src[keep]],
            dst=local[graph.dst[keep]],
            distance_km=graph.distance_km[keep],
            transfer_penalty=opts["transfer_penalty"],
            change_penalty=opts["change_penalty"],
        )
        plan = solve_multiday(inst, time_limit=opts["time_limit"])
        out = (
            (ids[a], ids[b], table.dates[t], Numeral(p, ".4f"), Numeral(d, ".3f"))
            for a, b, t, p, d in zip(
                plan.src.tolist(),
                plan.dst.tolist(),
                plan.day.tolist(),
                plan.patients.tolist(),
                plan.distance_km.tolist(),
                strict=True,
            )
        )
        write_csv(opts["out"], ("from_site", "to_site", "date", "patients", "distance_km"), out)
        return plan.summary()
