"""Who may use the shell's routes (home, sign-in, the API's own pages)."""

from tests.integration.matrix import ANON, API_CALLERS, OUTSIDER, ROLES, Api, Page, everyone

PAGES: dict[str, Page] = {
    "home": Page("GET", "/", everyone(200)),
    "login": Page("GET", "/signin/", {ANON: 200, OUTSIDER: 302, **{r: 302 for r in ROLES}}),
    "logout": Page("GET", "/signout/", everyone(200, anon=200)),
    "about": Page("GET", "/about/", everyone(200, anon=200)),
    # Signing in with OpenID Connect: not configured here, so not there for anyone (its
    # working is tested in tests/integration/accounts/test_oidc.py).
    "oidc_authentication_init": Page("GET", "/oidc/authenticate/", everyone(404, anon=404)),
    "oidc_authentication_callback": Page(
        "GET", "/oidc/callback/?code=c&state=s", everyone(404, anon=404)
    ),
}

APIS: dict[str, Api] = {
    "api:openapi-json": Api("GET", "/api/openapi.json", {c: 200 for c in API_CALLERS}),
    "api:openapi-view": Api("GET", "/api/docs", {c: 200 for c in API_CALLERS}),
    "api:api-root": Api("GET", "/api/", {c: 404 for c in API_CALLERS}),
}
