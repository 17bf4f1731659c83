"""Escalation scoring: OPEL profiles as versioned data, and the engine that scores them."""
