"""Running the same work in several threads at once, as several workers would."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connection

T = TypeVar("T")


def at_once(work: Callable[[int], T], threads: int = 2) -> list[T]:
    """Call `work(i)` for i in 0..threads-1, each in its own thread (so each has its own
    database connection, closed after), released together by a barrier. Returns what each
    returned, in thread order; an exception in any thread is raised here once all are done."""
    start = threading.Barrier(threads)
    results: list[T | None] = [None] * threads
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            start.wait()
            results[i] = work(i)
        except BaseException as e:  # raised again by the calling thread
            errors.append(e)
        finally:
            connection.close()

    running = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in running:
        t.start()
    for t in running:
        t.join()
    if errors:
        raise errors[0]
    return results  # type: ignore[return-value]
