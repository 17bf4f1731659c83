"""Flotilla's standard RAG thresholds: plain data, readable without Django."""

from __future__ import annotations

#: Flotilla's standard RAG bands (amber, red) per indicator. A new collaborative starts with
#: them and its coordinators may change its own; figures shared as status only are always
#: judged against these, which no viewer can move.
STANDARD_THRESHOLDS: dict[str, tuple[float, float]] = {
    "ga_occupancy": (0.92, 0.95),
    "cc_adult_occupancy": (0.80, 0.90),
    "handover_over_60": (1, 10),
    "nctr": (50, 100),
    "opel_declared": (3, 4),
}
