"""Who is acting: a person, a machine token, or the platform itself (commands, jobs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Principal:
    """The actor of an action, as recorded in the audit log."""

    label: str
    user: Any = None
    token_id: int | None = None
    #: For a token: the organisation it acts for.
    organisation_id: int | None = None

    @classmethod
    def of_user(cls, user: Any) -> Principal:
        return cls(label=user.get_username(), user=user)

    @classmethod
    def system(cls, what: str) -> Principal:
        return cls(label=f"system:{what}")


def as_principal(by: Any) -> Principal:
    """Accept a Principal, a user, or anything with an `as_principal()` (API tokens)."""
    if isinstance(by, Principal):
        return by
    if hasattr(by, "as_principal"):
        return by.as_principal()
    if hasattr(by, "get_username"):
        return Principal.of_user(by)
    raise TypeError(f"cannot act as {by!r}")
