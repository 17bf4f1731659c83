"""Reporting: the metric catalogue and append-only reports from forms, the API and imports."""
