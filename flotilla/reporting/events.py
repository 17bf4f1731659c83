"""What happens in the observation store that apps above this one react to.

Escalation recomputes an organisation's level and alerts are evaluated when new figures
arrive, but this app sits below both and must not import them (ADR 0013's pattern). So
`record_report` sends `report_recorded` inside its own transaction; each receiver answers
with the jobs the report calls for (`flotilla.jobs.retry.Wanted`, a list, empty for none), and
the report queues them all at once in the same transaction (ADR 0042), so a report rolled
back queues nothing.

Sent with `sender=Submission` and the keyword arguments `by` (the actor), `submission`, and
`newest`: organisation id → the newest report time the submission filed for it.
"""

from django.dispatch import Signal

#: A report stored at least one new or revised value (or confirmed "no change").
report_recorded = Signal()
