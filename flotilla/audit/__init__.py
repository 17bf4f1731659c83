"""Audit: the attributable record of every change of state (who, when, what, before/after)."""
