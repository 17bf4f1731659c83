"""`make bench`: run every benchmark in turn and print what each measured.

Benchmarks are not tests: they print figures (and exit non-zero when a target is missed)
for docs/benchmarks.md, where results are recorded with the date and the machine.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SCRIPTS = [
    ["import_sitrep.py"],
    ["api_ingest.py"],
    ["dashboard.py"],
    ["escalation.py"],
    ["alerts.py"],
    ["jobs_backlog.py"],
    ["plan_static.py"],
    ["crash.py"],
    ["planning/forecast_backtest.py"],
    ["planning/forecast_gbm_backtest.py"],
    ["planning/england_static.py"],
    ["planning/nj_multiday.py"],
    ["planning/scale_multiday.py", "250", "500", "1000", "5000", "--time-limit", "30"],
    ["planning/scale_multiday.py", "5000", "--geometry", "national", "--time-limit", "30"],
]


def main() -> int:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    print(f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {cpu}")
    failed = []
    for script in SCRIPTS:
        path = BENCH / script[0]
        if not path.exists():
            continue
        print(f"\n## {script[0]}", flush=True)
        result = subprocess.run([sys.executable, str(path), *script[1:]])
        if result.returncode:
            failed.append(script[0])
    if failed:
        print(f"\nmissed a target or failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
