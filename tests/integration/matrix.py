"""The route matrix's vocabulary: who visits (people and API callers) and what each route
expects of them. Each app's part of the matrix is in its `routes.py`; the matrix test puts
them together and visits every route as every visitor under every grant setting."""

from __future__ import annotations

from dataclasses import dataclass

from flotilla.authz.models import Role

ANON, OUTSIDER = "anonymous", "outsider"
ROLES = [Role.VIEWER, Role.REPORTER, Role.COORDINATOR, Role.ORG_ADMIN]
PEOPLE = [ANON, OUTSIDER, *ROLES]
LOGIN = "login"  # a redirect to the sign-in page


@dataclass(frozen=True)
class Page:
    method: str
    path: str
    expect: dict[str, object]
    data: dict[str, str] | None = None


def everyone(status: object, anon: object = LOGIN) -> dict[str, object]:
    return {ANON: anon, OUTSIDER: status, **{r: status for r in ROLES}}


def members_only(status: object = 200, roles: tuple[str, ...] = tuple(ROLES)) -> dict[str, object]:
    return {ANON: LOGIN, OUTSIDER: 404, **{r: status if r in roles else 404 for r in ROLES}}


#: API callers: no token, an outside organisation's tokens, a member's tokens of each scope,
#: and a signed-in member with no token (the API does not accept sessions).
API_CALLERS = [
    "none",
    "outsider_read",
    "outsider_sharing",
    "outsider_aid",
    "member_submit",
    "member_read",
    "member_sharing",
    "member_aid",
    "session",
]


@dataclass(frozen=True)
class Api:
    method: str
    path: str
    expect: dict[str, int]
    body: dict | None = None


def api_read(member_read: int = 200, outsider: int = 404) -> dict[str, int]:
    return {
        "none": 401,
        "outsider_read": outsider,
        "outsider_sharing": 403,
        "outsider_aid": 403,
        "member_submit": 403,
        "member_read": member_read,
        "member_sharing": 403,
        "member_aid": 403,
        "session": 401,
    }


def api_sharing(member: int = 200, outsider: int = 404) -> dict[str, int]:
    """Grants are managed with a sharing token of the organisation that owns them."""
    return {
        "none": 401,
        "outsider_read": 403,
        "outsider_sharing": outsider,
        "outsider_aid": 403,
        "member_submit": 403,
        "member_read": 403,
        "member_sharing": member,
        "member_aid": 403,
        "session": 401,
    }


def api_aid_read(member: int = 200, outsider: int = 404) -> dict[str, int]:
    """The exchange is read with a read or an aid token: what the organisation sees."""
    return {
        "none": 401,
        "outsider_read": outsider,
        "outsider_sharing": 403,
        "outsider_aid": outsider,
        "member_submit": 403,
        "member_read": member,
        "member_sharing": 403,
        "member_aid": member,
        "session": 401,
    }


def api_aid(member: int = 200, outsider: int = 404) -> dict[str, int]:
    """The exchange is changed with an aid token only, acting for its organisation."""
    return {
        "none": 401,
        "outsider_read": 403,
        "outsider_sharing": 403,
        "outsider_aid": outsider,
        "member_submit": 403,
        "member_read": 403,
        "member_sharing": 403,
        "member_aid": member,
        "session": 401,
    }


GRANT = {
    "audience": "everyone",
    "groups": ["escalation"],
    "detail": "status",
    "purpose": "Our OPEL level, for every organisation",
}
REPORT = {"values": [{"measure": "ga_open", "as_of": "2026-01-05T08:00:00+00:00", "value": 10}]}
