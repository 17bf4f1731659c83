"""`@job`: a django-tasks task that is tried again, later and later, when it fails.

A failed attempt is put back in the queue (the same row, so one job keeps one id, one
attempt count and its last error) with `run_after` set `backoff × factor^(n-1)` after the
n-th failure, capped at `max_delay`, until `max_attempts` attempts have failed; the last
failure stays failed, with its error and traceback, on the jobs page. Attempts are counted by
django-tasks itself: each time a worker claims the row it adds its id to `worker_ids`, so
`context.attempt` (for a task with `takes_context=True`) is 1 on the first run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks import DEFAULT_TASK_QUEUE_NAME, TaskResult, TaskResultStatus, task
from django_tasks.base import DEFAULT_TASK_PRIORITY, Task

logger = logging.getLogger("flotilla.jobs")


@dataclass(frozen=True)
class Retry:
    """How often and how soon a failed job is tried again."""

    max_attempts: int = 5
    backoff: timedelta = timedelta(seconds=30)
    factor: float = 2.0
    max_delay: timedelta = timedelta(hours=1)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("a job needs at least one attempt")
        if self.backoff < timedelta(0) or self.factor < 1:
            raise ValueError("backoff must not be negative, nor the factor below 1")

    def delay_after(self, failed_attempts: int) -> timedelta:
        """How long to wait before the next attempt, once `failed_attempts` have failed."""
        delay = self.backoff * (self.factor ** max(failed_attempts - 1, 0))
        return min(delay, self.max_delay)


#: A plain `@task` is not retried when it raises; it is only put back after a lost worker.
NO_RETRY = Retry(max_attempts=1)

#: Retry rules by task path (module.function), filled in as `@job` modules are imported.
_RULES: dict[str, Retry] = {}
#: The task paths of jobs made with `takes_over=True`.
_TAKING_OVER: set[str] = set()
#: The priority of a job made with `takes_over=True`, below the default: a worker takes every
#: other due job first (a notice to deliver, the access record to chain, a scheduled slot), so
#: that recomputing organisations' figures, however much of it there is, never holds them up.
TAKING_OVER_PRIORITY = DEFAULT_TASK_PRIORITY - 10
#: The key of the return value of a job another took over (`actions.take_over_waiting`):
#: the id of the job that did its work.
TAKEN_OVER_BY = "taken_over_by"


def job(
    function: Callable[..., Any] | None = None,
    *,
    max_attempts: int = 5,
    backoff: timedelta = timedelta(seconds=30),
    factor: float = 2.0,
    max_delay: timedelta = timedelta(hours=1),
    priority: int | None = None,
    queue_name: str = DEFAULT_TASK_QUEUE_NAME,
    takes_context: bool = False,
    takes_over: bool = False,
    settles_for: str = "JOBS_SETTLE_SECONDS",
) -> Any:
    """Make `function` a django-tasks `Task` that is retried with exponential backoff.

    Use as `@job` or `@job(max_attempts=…, backoff=…)`; enqueue with `.enqueue(...)` as for
    any task. The function must be idempotent: it may run again after a failure or after its
    worker was lost part-way (see `flotilla.jobs`).

    `takes_over=True` is for a job that works from the newest state of what its arguments
    name (an organisation's newest figures), not from what was true when it was queued: when
    a worker starts it, every identical job waiting in the queue is marked done by it
    (`actions.take_over_waiting`), so a queue that has fallen behind does the work once per
    organisation rather than once per report (ADR 0036). Such a job also settles: it is queued
    to run the seconds of the setting named by `settles_for` (`JOBS_SETTLE_SECONDS` unless
    told) after it was queued, so that the reports of the next seconds join it instead of
    each being worked out on its own, and it runs after the queue's other due jobs
    (`TAKING_OVER_PRIORITY`, unless `priority` is given) (ADR 0037, ADR 0043).
    """
    rule = Retry(max_attempts=max_attempts, backoff=backoff, factor=factor, max_delay=max_delay)
    if priority is None:
        priority = TAKING_OVER_PRIORITY if takes_over else DEFAULT_TASK_PRIORITY

    def wrap(f: Callable[..., Any]) -> Task:
        made = task(priority=priority, queue_name=queue_name, takes_context=takes_context)(f)
        _RULES[made.module_path] = rule
        if takes_over:
            _TAKING_OVER.add(made.module_path)
            made = SettlingTask(
                func=made.func,
                priority=made.priority,
                backend=made.backend,
                queue_name=made.queue_name,
                takes_context=made.takes_context,
                settles_for=settles_for,
            )
        return made

    return wrap(function) if function is not None else wrap


@dataclass(frozen=True, slots=True, kw_only=True)
class SettlingTask(Task):  # type: ignore[type-arg]
    """A task queued to run the seconds of its setting `settles_for` after it is queued,
    unless told when.

    The wait lets the work queued within it be done once (ADR 0037): an organisation that
    reports five times in ten seconds gets one recompute, not five. A job queued for the same
    work as one still waiting to start is not queued at all: it joins the waiting one, which
    is held until the queuing transaction commits (`actions.join_waiting`, ADR 0041). A
    setting of 0 queues it due at once, each on its own (the tests, and anyone who wants
    every report worked out at once at any cost).
    """

    #: The name of the setting that says how many seconds it settles for.
    settles_for: str = "JOBS_SETTLE_SECONDS"

    def enqueue(self, *args: Any, **kwargs: Any) -> TaskResult:  # type: ignore[type-arg]
        return queue_all([Wanted(self, args, kwargs)])[0]


@dataclass(frozen=True)
class Wanted:
    """A job some change calls for, `task(*args, **kwargs)`, not yet queued: what a receiver of
    a change's signal answers, so that the change queues all it calls for at once
    (`queue_all`)."""

    task: Task  # type: ignore[type-arg]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


def queue_all(wanted: Sequence[Wanted]) -> list[TaskResult]:  # type: ignore[type-arg]
    """Queue each wanted job; the results in the same order.

    A settling job (`SettlingTask` not told when to run) is queued its settling time ahead
    (`settle_time`), or joins the job like it already waiting to start (ADR 0041): the
    waiting jobs of all of them are found and locked by one statement, inside the caller's
    transaction if there is one, without a savepoint of their own (ADR 0042). Any other job
    is queued as asked.
    """
    now = timezone.now()
    due: dict[int, datetime] = {}
    for i, w in enumerate(wanted):
        if isinstance(w.task, SettlingTask) and w.task.run_after is None:
            settle = settle_time(w.task)
            if settle > timedelta(0):
                due[i] = now + settle
    results: list[TaskResult | None] = [None] * len(wanted)  # type: ignore[type-arg]
    for i, w in enumerate(wanted):
        if i not in due:
            results[i] = Task.enqueue(w.task, *w.args, **w.kwargs)
    if due:
        from flotilla.jobs import actions

        settling = sorted(due)
        # One row per piece of work settling, not one per report (ADR 0041): a job like it,
        # queued and never started, is held until this transaction ends and does it.
        with transaction.atomic(savepoint=False):
            waiting = actions.join_waiting(
                [wanted[i] for i in settling], due_by=[due[i] for i in settling]
            )
            for i, found in zip(settling, waiting, strict=True):
                w = wanted[i]
                results[i] = found or w.task.using(run_after=due[i]).enqueue(*w.args, **w.kwargs)
    return [r for r in results if r is not None]


def settle_time(task: SettlingTask) -> timedelta:
    """How long a job made with `takes_over=True` waits, once queued, before it is due: the
    seconds of its setting `settles_for`."""
    return timedelta(seconds=getattr(settings, task.settles_for))


def rule_for(task_path: str) -> Retry:
    """The retry rule of the task at `task_path` (importing it, so that `@job` has run)."""
    if task_path not in _RULES:
        try:
            import_string(task_path)
        except ImportError:
            return NO_RETRY
    return _RULES.get(task_path, NO_RETRY)


def takes_over(task_path: str) -> bool:
    """Whether the task at `task_path` takes over identical jobs waiting behind it."""
    rule_for(task_path)  # imports it, so that its `@job` has run
    return task_path in _TAKING_OVER


def after_attempt(sender: Any, task_result: Any, **kwargs: Any) -> None:
    """django-tasks' `task_finished` receiver: put a failed attempt back if it may retry.

    The worker sends the signal outside its own error handling, so nothing may escape from
    here: an exception would stop the worker.
    """
    db_result = getattr(task_result, "db_result", None)
    if db_result is None or task_result.status != TaskResultStatus.FAILED:
        return
    try:
        from flotilla.jobs import actions

        actions.retry_failed(result_id=db_result.pk)
    except Exception:
        logger.exception("could not put job %s back in the queue", db_result.pk)
