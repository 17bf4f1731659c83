"""Demo: a collaborative of real trusts (or a synthetic one) and its demo users."""
