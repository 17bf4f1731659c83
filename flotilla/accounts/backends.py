"""Signing in with a username and password: Django's model backend, with the person each
request's session names loaded in one statement (`queries.signed_in_person`)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend

from flotilla.accounts.queries import signed_in_person


class PasswordBackend(ModelBackend):
    """Django's `ModelBackend`; `get_user` answers only an active person, as Django's does."""

    def get_user(self, user_id: Any) -> Any | None:
        return signed_in_person(user_id)
