"""The load test's count of the garbage collector's passes (bench/load/collector, ADR 0044)."""

from __future__ import annotations

import gc
import json
import os

from bench.load.collector.sitecustomize import Watch


def test_the_watch_counts_each_pass_by_generation_and_times_each_full_pass(tmp_path, monkeypatch):
    watch = Watch()
    gc.disable()  # only the two passes asked for below
    gc.callbacks.append(watch)
    try:
        gc.collect(0)
        gc.collect()
    finally:
        gc.callbacks.remove(watch)
        gc.enable()
    assert watch.passes[0][0] == 1
    assert watch.passes[2][0] == 1
    assert watch.passes[2][1] > 0
    [(at, ms)] = watch.full
    assert ms > 0

    monkeypatch.setattr("bench.load.collector.sitecustomize.OUT", str(tmp_path))
    watch.dump()
    written = json.loads((tmp_path / f"{os.getpid()}.json").read_text())
    assert written["passes"]["2"][0] == 1
    assert written["full"] == [[at, ms]]
    assert written["cpu_s"] > 0
    assert written["frozen"] == gc.get_freeze_count()
    assert written["forked"] is False


def test_starting_again_forgets_the_counts_so_a_forked_worker_counts_only_its_own():
    watch = Watch()
    watch(phase="start", info={"generation": 2})
    watch(phase="stop", info={"generation": 2})
    assert watch.passes[2][0] == 1 and len(watch.full) == 1
    watch.reset()
    assert watch.passes == {0: [0, 0.0], 1: [0, 0.0], 2: [0, 0.0]} and watch.full == []
