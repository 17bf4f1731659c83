"""Who may use the shell's routes (home, sign-in, the API's own pages)."""

from tests.integration.matrix import ANON, API_CALLERS, OUTSIDER, ROLES, Api, Page, everyone

PAGES: dict[str, Page] = {
    "home": Page("GET", "/", everyone(200)),
    "login": Page("GET", "/signin/", {ANON: 200, OUTSIDER: 302, **{r: 302 for r in ROLES}}),
    "logout": Page("GET", "/signout/", everyone(200, anon=200)),
    "about": Page("GET", "/about/", everyone(200, anon=200)),
}

APIS: dict[str, Api] = {
    "api:openapi-json": Api("GET", "/api/openapi.json", {c: 200 for c in API_CALLERS}),
    "api:openapi-view": Api("GET", "/api/docs", {c: 200 for c in API_CALLERS}),
    "api:api-root": Api("GET", "/api/", {c: 404 for c in API_CALLERS}),
}
