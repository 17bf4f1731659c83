"""What happens to escalation levels that apps above this one react to (ADR 0013's pattern).

`levels_computed` is sent by the recompute job after it stored organisations' levels and
their collaboratives' system levels, with `sender=ComputedLevel` and the keyword arguments
`organisation_ids` (whose figures arrived), `computed` (the new `ComputedLevel` rows),
`system_levels` (the new `SystemLevel` rows) and `collaborative_ids` (every collaborative
those organisations belong to). Alerts listen, to evaluate their rules.
"""

from django.dispatch import Signal

levels_computed = Signal()
