"""Who may use the accounts app's routes: its part of the route matrix."""

from flotilla.authz.models import Role
from tests.integration.matrix import Api, Page, everyone, members_only

PAGES: dict[str, Page] = {
    # People: only an organisation's admins manage its people and decide its access requests.
    "accounts:people": Page("GET", "/o/RN1/people", members_only(200, (Role.ORG_ADMIN,))),
    "accounts:change_role": Page(
        "POST",
        "/o/RN1/people/{viewer_membership}/role",
        members_only(302, (Role.ORG_ADMIN,)),
        {"role": "reporter"},
    ),
    "accounts:remove": Page(
        "POST", "/o/RN1/people/{viewer_membership}/remove", members_only(302, (Role.ORG_ADMIN,))
    ),
    "accounts:withdraw": Page(
        "POST",
        "/o/RN1/people/invitations/{person_invitation}/withdraw",
        members_only(302, (Role.ORG_ADMIN,)),
    ),
    "accounts:decide": Page(
        "GET", "/access-requests/{access_request}", members_only(200, (Role.ORG_ADMIN,))
    ),
    # The link is the key: anyone may open it (the signed-in are told it is for someone else).
    "accounts:accept": Page("GET", "/join/{person_secret}", everyone(200, anon=200)),
    "accounts:find_organisation": Page("GET", "/request-access/", everyone(200, anon=200)),
    "accounts:request_access": Page("GET", "/request-access/RN1", everyone(200, anon=200)),
    "accounts:password_reset": Page("GET", "/password-reset/", everyone(200, anon=200)),
    "accounts:password_reset_done": Page("GET", "/password-reset/sent", everyone(200, anon=200)),
    "accounts:password_reset_confirm": Page(
        "GET", "/password-reset/MQ/not-a-token/", everyone(200, anon=200)
    ),
    "accounts:password_reset_complete": Page(
        "GET", "/password-reset/done", everyone(200, anon=200)
    ),
    # One's own account: every signed-in person has one. Without an authenticator app the
    # code page sends them to set one up, and changing its codes or removing it goes back to
    # the account page with the reason; a linked account not theirs is not found.
    "accounts:account": Page("GET", "/account/", everyone(200)),
    "accounts:second_factor": Page("GET", "/account/second-factor/", everyone(302)),
    "accounts:set_up_authenticator": Page("GET", "/account/second-factor/set-up", everyone(200)),
    "accounts:new_recovery_codes": Page(
        "POST", "/account/second-factor/recovery-codes", everyone(302)
    ),
    "accounts:remove_second_factor": Page("POST", "/account/second-factor/remove", everyone(302)),
    "accounts:unlink": Page("POST", "/account/linked/999999/remove", everyone(404)),
}

APIS: dict[str, Api] = {}
