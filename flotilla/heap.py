"""Keeping the garbage collector's full passes off what a long-running process loaded at start
(ADR 0044).

A gunicorn worker or a task worker holds some 200,000 objects once Django, the apps, their
models, the URLs and the API schemas are loaded, and nearly all of them live as long as the
process. CPython's cyclic collector still walks every one of them in each full (oldest
generation) pass, which under load came every 40–50 s and held the interpreter lock for up
to half a second, longer as the process grew: every thread of the process stopped while it
ran (measured in benchmarks.md). `freeze_what_is_loaded` collects once and then moves
everything alive into the collector's permanent generation (`gc.freeze`), so later passes
walk only what the process made since. Reference counting still frees everything as before;
frozen objects that become garbage in a cycle are not freed, which is why it is called once,
after start-up and before the first request or job, when what is alive is what stays.
"""

from __future__ import annotations

import gc


def freeze_what_is_loaded() -> int:
    """Collect once, then keep everything now alive out of later collections. Returns how many
    objects were frozen (for the log and the tests)."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
