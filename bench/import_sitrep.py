"""Time `flotilla import-sitreps` on the 2021-22 winter file into a fresh SQLite database.

    .venv/bin/python bench/import_sitrep.py [--runs 3]

Each run uses a new database (migrated, reference data loaded, not timed), then times the
import command as a whole process, as a user would run it. Target: ≤ 5 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 5.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    data = Path(os.environ.get("FLOTILLA_DATA_DIR", ROOT.parent / "shared" / "data"))
    sitrep = data / "nhse-winter-sitreps" / "sitrep2122.csv"
    if not sitrep.exists():
        print(f"skipped: {sitrep} not found (set FLOTILLA_DATA_DIR)")
        return 0
    flotilla = [sys.executable, "-m", "flotilla.cli"]
    times = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="flotilla-bench-") as var:
            env = {**os.environ, "FLOTILLA_VAR_DIR": var, "DATABASE_URL": ""}
            env.pop("DATABASE_URL")
            subprocess.run([*flotilla, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
            subprocess.run(
                [*flotilla, "load-reference"], env=env, check=True, cwd=ROOT, capture_output=True
            )
            t0 = time.perf_counter()
            subprocess.run(
                [*flotilla, "import-sitreps", "--on-conflict=last", str(sitrep)],
                env=env, check=True, cwd=ROOT, capture_output=True,
            )  # fmt: skip
            times.append(time.perf_counter() - t0)
    best, worst = min(times), max(times)
    print(
        f"import sitrep2122.csv into SQLite: best {best:.2f} s, worst {worst:.2f} s over "
        f"{len(times)} runs (target <= {TARGET_S:.0f} s)"
    )
    return 0 if best <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
