"""Authorisation: named permissions, roles that grant them, machine tokens, one `can()`."""
