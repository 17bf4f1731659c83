"""Background jobs: django-tasks with its database backend, a worker that survives being
killed, retries with backoff, a schedule, and a page for platform staff (ADR 0015).

Writing a job
-------------
Define it in your app's ``tasks.py`` with ``@job`` (from ``flotilla.jobs.retry``), and enqueue
it with ``.enqueue(...)`` (JSON-serialisable arguments only: ids, not model instances)::

    from flotilla.jobs.retry import job

    @job(max_attempts=5, backoff=timedelta(seconds=30))
    def deliver_notification(notification_id: int) -> None: ...

    deliver_notification.enqueue(notification.pk)

A failed attempt is tried again after 30 s, 1 min, 2 min… (exponential, capped at an hour),
up to ``max_attempts``; the final failure stays on the jobs page (/platform/jobs) with its
error and traceback. Enqueue inside the transaction of the change that needs the job: the
queue lives in the same database, so the job exists exactly when the change committed.

Jobs must be idempotent
-----------------------
Every job can run more than once for the same arguments: after a failed attempt (which may
have done part of its work), after its worker was killed part-way (its job is put back once
the worker's heartbeat stops, ``FLOTILLA_WORKER_LOST_AFTER``), or when enqueued twice. Running
it again must change nothing that the first run already changed. Ways to get there:

- **Check "already done" first**, in the same transaction as the work: a notification with
  ``delivered_at`` set is skipped; a reminder row for (invitation, day) that exists is not
  sent again. Lock the row (``select_for_update``) so that two runs cannot both see "not done".
- **Key the effect** with a unique constraint on what makes it the same effect (an
  idempotency key such as ``f"reminder:{invitation.pk}:{slot}"``; scheduled jobs get their
  ``slot``), and treat an ``IntegrityError`` on it as "done already".
- **Write state, not increments**: set ``status = "sent"``, never ``count += 1``.
- **Side effects outside the database last**, after the "done" mark is committed, and
  through something that tolerates repeats (an email provider's idempotency key). What
  cannot be made idempotent is at-least-once: say so in the job's docstring.
- **Do the work through an action** (``actions.py``), which audits it, as for any write.

A job that reads the newest state of what its arguments name (an organisation's newest
figures), not what was true when it was queued, can be made with ``@job(takes_over=True)``:
when a worker starts it, the identical jobs waiting behind it are marked done by it
(``actions.take_over_waiting``, ADR 0036), so a queue that fell behind is not worked through
one report at a time. Such a job also settles (ADR 0037): it is queued due
``JOBS_SETTLE_SECONDS`` after it was queued (or the seconds of the setting its
``settles_for=`` names, ADR 0043), the first one due takes over the identical ones
queued in the meantime, and it runs after the queue's other due jobs.

Scheduled jobs are listed in ``flotilla.jobs.schedule`` (see its docstring). Workers are
started with ``flotilla worker``; see docs/deployment.md.
"""
