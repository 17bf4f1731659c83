"""`bench/load/run.py --collector`: how long CPython's garbage collector ran in each process of
the server and the task workers (ADR 0044).

`run.py` puts this folder first on `PYTHONPATH` of gunicorn and the task workers only, so
Python imports this module at start in each of them (and in each gunicorn worker by fork).
It counts every pass of the collector by generation (`gc.callbacks`: the wall time between a
pass's start and stop, during which the interpreter lock is held), keeps the start time and
length of each full pass, and writes it all, with the process's CPU time, how many objects
it froze (ADR 0044) and whether it is a forked gunicorn worker, to
`$FLOTILLA_BENCH_COLLECTOR/<pid>.json` every two seconds and at exit. Nothing of Flotilla is
imported or changed.
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import sys
import threading
import time

OUT = os.environ.get("FLOTILLA_BENCH_COLLECTOR", "")


class Watch:
    def __init__(self) -> None:
        self.forked = False
        self.reset()

    def reset(self) -> None:
        self.passes = {0: [0, 0.0], 1: [0, 0.0], 2: [0, 0.0]}
        self.full: list[tuple[float, float]] = []
        self.started = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self.started = time.perf_counter()
            return
        took = time.perf_counter() - self.started
        kept = self.passes[info["generation"]]
        kept[0] += 1
        kept[1] += took
        if info["generation"] == 2:
            self.full.append((round(time.time(), 3), round(took * 1000, 2)))

    def dump(self) -> None:
        record = {
            "pid": os.getpid(),
            "argv": sys.argv[:2],
            "forked": self.forked,
            "cpu_s": time.process_time(),
            "passes": self.passes,
            "full": self.full,
            "frozen": gc.get_freeze_count(),
        }
        path = os.path.join(OUT, f"{os.getpid()}.json")
        with open(path + ".tmp", "w") as out:
            json.dump(record, out)
        os.replace(path + ".tmp", path)


def keep_writing(watch: Watch) -> None:
    def loop() -> None:
        while True:
            time.sleep(2)
            try:
                watch.dump()
            except OSError:
                return

    threading.Thread(target=loop, name="collector-watch", daemon=True).start()


if OUT:
    os.makedirs(OUT, exist_ok=True)
    watch = Watch()
    gc.callbacks.append(watch)
    keep_writing(watch)
    atexit.register(watch.dump)

    def forked() -> None:
        # A forked gunicorn worker counts its own passes, and needs its own writer thread.
        watch.forked = True
        watch.reset()
        keep_writing(watch)

    os.register_at_fork(after_in_child=forked)
