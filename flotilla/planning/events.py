"""What happens to forecasts that apps above this one react to (ADR 0013's pattern).

`forecasts_computed` is sent inside the transaction that stored them, with
`sender=Forecast` and the keyword argument `organisation_ids` (the organisations whose
forecasts changed). Alerts listen, to judge their forecast rules.
"""

from django.dispatch import Signal

forecasts_computed = Signal()
