"""Planning core: occupancy forecasts and the load-balancing optimiser.

Plain Python (no Django). Units used throughout the package:

* counts of patients and beds are in *patients* (beds are counted by the patient they hold);
* distances are great-circle kilometres (*km*), travel times are *minutes*;
* dates are calendar days (``numpy.datetime64[D]``), horizons are whole *days*;
* occupancy fractions (``safe_occupancy``) are dimensionless in ``[0, 1]``;
* surge costs are in the user's own *cost units per surge bed opened*.

Inputs are immutable: frozen dataclasses holding read-only numpy arrays.
"""

from flotilla.planning.core.errors import InputError

__all__ = ["InputError"]
