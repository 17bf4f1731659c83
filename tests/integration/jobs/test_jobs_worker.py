"""The worker as a real process: killed with SIGKILL part-way through the queue and started
again, it loses no job, and every job's effect happens once.

The jobs are idempotent the way DEVELOPERS.md asks: each checks whether its effect is already
there before making it, and makes it atomically (O_EXCL), so running one again after a kill
changes nothing twice. The files they write stand in for any effect outside the queue; they
work the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from flotilla.jobs.models import WorkerHeartbeat
from flotilla.jobs.retry import job
from tests.integration.servers import environment

JOBS = 12
#: Seconds of silence after which the restarted worker takes the killed one for lost.
LOST_AFTER = 2


@job(max_attempts=3, backoff=timedelta(0))
def deliver(key: str, outbox: str) -> str:
    box = Path(outbox)
    with open(box / "started.log", "a") as log:  # every start, to see what ran twice
        log.write(key + "\n")
    done = box / f"{key}.delivered"
    if done.exists():
        return "already delivered"
    time.sleep(0.3)  # the slow part, where a kill lands
    fd = os.open(done, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    os.close(fd)
    with open(box / "effects.log", "a") as log:
        log.write(key + "\n")
    return "delivered"


def start_worker(log: Path) -> subprocess.Popen:
    env = environment(FLOTILLA_WORKER_LOST_AFTER=str(LOST_AFTER))
    cmd = [sys.executable, "-m", "flotilla.cli", "worker", "--no-schedule", "--interval", "0.1"]
    return subprocess.Popen(
        cmd, env=env, cwd=settings.PROJECT_DIR, stdout=log.open("a"), stderr=subprocess.STDOUT
    )


def wait_for(condition, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; worker output:\n{log.read_text()}")
        time.sleep(0.05)


def delivered(box: Path) -> int:
    return len(list(box.glob("*.delivered")))


def mid_job(box: Path) -> bool:
    """A job is running, has started its work and not yet made its effect."""
    started = set((box / "started.log").read_text().split())
    for running in DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING):
        key = running.args_kwargs["args"][0]
        if key in started and not (box / f"{key}.delivered").exists():
            return True
    return False


@pytest.mark.django_db(transaction=True)
def test_killing_the_worker_and_starting_it_again_loses_no_queued_job(tmp_path):
    box = tmp_path / "outbox"
    box.mkdir()
    log = tmp_path / "worker.log"
    results = [deliver.enqueue(f"job{n:02d}", str(box)) for n in range(JOBS)]

    first = start_worker(log)
    try:
        # Kill it part-way: some jobs done, one started and in its slow part, the rest queued.
        wait_for(lambda: delivered(box) >= 3 and mid_job(box), 60, "a job in the middle", log)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    in_hand = list(DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING))
    assert len(in_hand) == 1, "the killed worker held one job"
    assert DBTaskResult.objects.filter(status=TaskResultStatus.READY).exists()
    assert delivered(box) < JOBS

    second = start_worker(log)
    try:
        wait_for(
            lambda: DBTaskResult.objects.filter(status=TaskResultStatus.SUCCESSFUL).count() == JOBS,
            90,
            "every job to succeed after the restart",
            log,
        )
        # Stopped politely, the worker leaves at once and takes its heartbeat with it.
        second.send_signal(signal.SIGTERM)
        assert second.wait(15) == 0
    finally:
        if second.poll() is None:
            second.kill()

    keys = [f"job{n:02d}" for n in range(JOBS)]
    effects = Counter((box / "effects.log").read_text().split())
    assert effects == Counter(keys), "every job's effect happened exactly once"
    starts = Counter((box / "started.log").read_text().split())
    assert set(starts) == set(keys)
    # The job in hand at the kill was started again by the second worker, on its second attempt.
    lost = DBTaskResult.objects.get(pk=in_hand[0].pk)
    assert starts[lost.args_kwargs["args"][0]] == 2
    assert len(lost.worker_ids) == 2 and lost.worker_ids[0] != lost.worker_ids[1]
    assert sum(starts.values()) == JOBS + 1
    assert not WorkerHeartbeat.objects.filter(worker_id=lost.worker_ids[1]).exists()
    assert all(DBTaskResult.objects.get(pk=r.id).return_value for r in results)
    # Each worker kept what it loaded at start out of the collector's passes (ADR 0044).
    assert log.read_text().count("objects loaded at start out of collections") == 2
