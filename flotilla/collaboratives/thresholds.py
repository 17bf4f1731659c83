"""Flotilla's standard RAG thresholds, as the metric catalogue declares them."""

from __future__ import annotations

from flotilla import catalogue

#: Indicator → (amber, red). A new collaborative starts with them and its coordinators may
#: change its own; figures shared as status only are always judged against these, which no
#: viewer can move. The indicators and their thresholds are data: `flotilla/catalogue/v1.toml`.
STANDARD_THRESHOLDS: dict[str, tuple[float, float]] = catalogue.current().standard_thresholds

#: Indicator → its label, for the settings form and its error messages.
INDICATOR_LABELS: dict[str, str] = catalogue.current().indicator_labels
