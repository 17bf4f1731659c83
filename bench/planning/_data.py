"""Shared loaders for the planning benchmarks (data from $FLOTILLA_DATA_DIR, never copied)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
MEASURES = {"G&A beds occ'd": "ga_occupied", "CC Adult Occ": "cc_adult_occupied"}


def data_dir() -> Path:
    """$FLOTILLA_DATA_DIR, defaulting to ../shared/data next to the project; exit if absent."""
    path = Path(os.environ.get("FLOTILLA_DATA_DIR", ROOT.parent / "shared" / "data"))
    if not path.is_dir():
        sys.exit(f"shared data not found at {path}; set FLOTILLA_DATA_DIR")
    return path


def sitrep(winter: str) -> pd.DataFrame:
    """One winter's sitrep, trusts only (England total rows dropped), '-' as missing."""
    df = pd.read_csv(
        data_dir() / "nhse-winter-sitreps" / f"sitrep{winter}.csv", na_values=["-", "inf"]
    )
    # "-" is read as missing, so the England-total rows have no code.
    df = df[df["Code"].notna() & (df["Code"] != "-")]
    # A few (trust, day) pairs appear twice (renamed trusts, re-submissions): keep the last.
    return df.drop_duplicates(["Code", "Date"], keep="last")


def sitrep_long(winter: str) -> pd.DataFrame:
    """Long table site, measure, date, value for G&A occupied and adult CC occupied."""
    df = sitrep(winter)
    long = df.melt(
        id_vars=["Code", "Date"], value_vars=list(MEASURES), var_name="measure", value_name="value"
    )
    long["measure"] = long["measure"].map(MEASURES)
    return long.rename(columns={"Code": "site", "Date": "date"})


def sitrep_matrix(winter: str) -> tuple[np.ndarray, np.ndarray, list[tuple[str, str]]]:
    """(series x days) values on a consecutive daily grid, group labels, and series keys."""
    long = sitrep_long(winter)
    p = long.pivot_table(index=["site", "measure"], columns="date", values="value", dropna=False)
    grid = pd.date_range(p.columns.min(), p.columns.max()).strftime("%Y-%m-%d")
    p = p.reindex(columns=grid)
    groups = np.array([0 if m == "ga_occupied" else 1 for m in p.index.get_level_values(1)])
    return p.to_numpy(float), groups, list(p.index)


def machine() -> str:
    """`uname -m` and CPU model, for the benchmark record."""
    import platform

    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.machine()}, {model}, {os.cpu_count()} cores"


def load_seconds() -> float:
    """Wall seconds of a fixed pure-Python loop in a fresh interpreter (about 1.9 s on this
    machine when quiet): how busy the shared cores were around a figure."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "s = 0\nfor i in range(20_000_000): s += i"], check=True)
    return time.perf_counter() - t0
