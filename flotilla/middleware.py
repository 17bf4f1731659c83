"""The project's own middleware: request input holding a NUL refused at the door, the
Content-Security-Policy every response carries, the rate limits, and the second factor.

Refusing NUL
------------

PostgreSQL cannot store or compare text holding NUL (``\\x00``, ``%00`` in an address): a query
with one fails, which would be a server error, while SQLite would store it. No person means
to send one, so rather than teach every form and lookup about it, `RefuseNulMiddleware` looks
at the address, the query string, form fields (names and values), uploaded files' field names,
cookies and headers of every request, and answers 400 naming the first place that holds one:
a short page for people, the API's error body for API clients. Nothing runs and nothing is
stored.

Two kinds of input are checked where they are understood instead: JSON bodies by the API's
schemas (`flotilla.authz.api_auth.SafeStr`, a 422 naming each field) and the contents of
uploaded files by the importers (`flotilla.reporting.importers.CsvRows`, naming row and
column).

The Content-Security-Policy
---------------------------
`ContentSecurityPolicyMiddleware` gives every response the policy in `CONTENT_SECURITY_POLICY`
(settings). Pages load scripts, styles, images and fonts from the server itself only: no
inline script, no inline style, no `eval`, nothing from another origin, and no framing (see
docs/deployment.md). A response that already carries its own policy keeps it.

Rate limits
-----------
`RateLimitMiddleware` counts every request that reaches Django (static files are served
before it) against its client address, and every request with a bearer token against that
token, per minute, in the database (`accounts.actions.count_requests`, one statement a
request), so all workers count together. Over the limit (`RATE_LIMIT_PER_TOKEN`,
`RATE_LIMIT_PER_ADDRESS` requests a minute) the answer is 429 with `Retry-After` (the
seconds left in the minute): the API's error body for API clients, a short page for people.
Nothing behind it runs.

The second factor
-----------------
`SecondFactorMiddleware` sends a signed-in person whose session has not passed a second factor,
and who must (`accounts.queries.must_pass_second_factor`: admins, and anyone who set up an
authenticator app), to pass one before any page: to enter a code if they have an app, else to
set one up (ADR 0031). Only signing out and those two pages are open to them meanwhile; the API
is not concerned (its tokens are not sessions). An htmx request is told to go there
(`HX-Redirect`) rather than have the page swapped into a table.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from django.conf import settings
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    UnreadablePostError,
)
from django.template import loader
from django.urls import reverse
from django.utils.http import urlencode

from flotilla.accounts.actions import count_requests
from flotilla.accounts.queries import authenticator_of, must_pass_second_factor
from flotilla.accounts.signin import client_address
from flotilla.authz.models import ApiToken
from flotilla.sharing import policy

NUL = "\x00"
#: Where the API is mounted (flotilla/urls.py): its clients get JSON, not a page.
API_PREFIX = "/api/"
#: Form bodies are parsed for these content types only; anything else (JSON) is left alone.
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
#: What the API says about the field, the same words as its schemas' check.
API_MESSAGE = "must not contain NUL characters"


class Refusal(NamedTuple):
    """Where the NUL is: `part` of the request (address, query, form, file, cookie, header)
    and the `name` of the field within it ('' for the address)."""

    part: str
    name: str

    def field(self) -> str:
        """The field as messages name it, without the NUL and not too long to read."""
        name = self.name.replace(NUL, "")[:80]
        return name or "(a field with no name)"

    def sentence(self) -> str:
        """What is wrong, in a sentence."""
        if self.part == "address":
            return "The web address contains a NUL character (%00)."
        return f"{PARTS[self.part]} “{self.field()}” contains a NUL character (a zero byte)."


#: How a sentence names each part of a request.
PARTS = {
    "query": "The field",
    "form": "The form field",
    "file": "The upload field",
    "cookie": "The cookie",
    "header": "The header",
}


def _in_pairs(part: str, pairs: Iterable[tuple[str, Any]]) -> Refusal | None:
    for name, values in pairs:
        if NUL in name or any(NUL in v for v in values if isinstance(v, str)):
            return Refusal(part, name)
    return None


def _has_form(request: HttpRequest) -> bool:
    # The API takes JSON only; its form-shaped bodies are left to it (and to its 413).
    return (
        request.method == "POST"
        and request.content_type in FORM_TYPES
        and not request.path.startswith(API_PREFIX)
    )


def find_nul(request: HttpRequest) -> Refusal | None:
    """The first place in the request that holds a NUL, or None."""
    if NUL in request.path:
        return Refusal("address", "")
    found = _in_pairs("query", request.GET.lists())
    if found is None and _has_form(request):
        try:
            found = _in_pairs("form", request.POST.lists()) or _in_pairs(
                "file", ((name, ()) for name in request.FILES)
            )
        except UnreadablePostError:
            # The client went away mid-body; the view's own reading fails the same way.
            return None
    if found is None:
        found = _in_pairs("cookie", ((k, (v,)) for k, v in request.COOKIES.items()))
    if found is None:
        headers = (
            (key[5:].replace("_", "-").title(), (value,))
            for key, value in request.META.items()
            if key.startswith("HTTP_")
        )
        found = _in_pairs("header", headers)
    return found


def answer_refusal(
    request: HttpRequest, status: int, body: dict[str, Any], template: str, context: dict[str, Any]
) -> HttpResponse:
    """A refusal made before any view runs: the API's error `body` under the API, else the
    page `template`, rendered without the request (so that nothing reads the session or the
    database)."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse(body, status=status)
    return HttpResponse(loader.render_to_string(template, context), status=status)


def refuse(request: HttpRequest, refusal: Refusal) -> HttpResponse:
    """400 naming where the NUL is."""
    field = "path" if refusal.part == "address" else refusal.field()
    body = {
        "detail": f"The request is not valid: {refusal.sentence()}",
        "errors": [{"index": None, "field": field, "message": API_MESSAGE}],
    }
    context = {"sentence": refusal.sentence(), "part": refusal.part}
    return answer_refusal(request, 400, body, "bad_input.jinja", context)


class RefuseNulMiddleware:
    """Answers 400 to any request whose address, parameters, cookies or headers hold a NUL."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal = find_nul(request)
        if refusal is not None:
            return refuse(request, refusal)
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """Sets the `Content-Security-Policy` header from settings on every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.policy = "; ".join(
            f"{directive} {' '.join(sources)}"
            for directive, sources in settings.CONTENT_SECURITY_POLICY.items()
        )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.policy)
        return response


def rate_subjects(request: HttpRequest) -> list[tuple[str, int]]:
    """What this request counts against, each with its limit a minute (0: no limit)."""
    subjects = [(f"address:{client_address(request)}", settings.RATE_LIMIT_PER_ADDRESS)]
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and secret.strip():
        digest = ApiToken.hash_secret(secret.strip())[:32]
        subjects.append((f"token:{digest}", settings.RATE_LIMIT_PER_TOKEN))
    return [(subject, limit) for subject, limit in subjects if limit > 0]


def too_many(request: HttpRequest, subject: str, limit: int, retry_after: int) -> HttpResponse:
    """429 with Retry-After: the API's error body under the API, else a short page."""
    who = "This token" if subject.startswith("token:") else "Your address"
    sentence = f"{who} may make {limit} requests a minute. Try again in {retry_after} seconds."
    body = {"detail": f"Too many requests. {sentence}", "errors": []}
    response = answer_refusal(request, 429, body, "too_many_requests.jinja", {"sentence": sentence})
    response.headers["Retry-After"] = str(retry_after)
    return response


class RateLimitMiddleware:
    """Answers 429 to a client address or API token over its requests a minute."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        now = time.time()
        subjects = rate_subjects(request)
        # Every subject counted in one statement; the first over its limit is named.
        counts = count_requests([subject for subject, _ in subjects], int(now // 60))
        for subject, limit in subjects:
            if counts[subject] > limit:
                return too_many(request, subject, limit, retry_after=60 - int(now % 60))
        return self.get_response(request)


#: RFC 9110's safe methods: no page or API operation changes who may see what on one.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class RememberAccessMiddleware:
    """A safe request (GET, HEAD, OPTIONS: no page or API operation changes a grant, a
    membership or a collaborative on one) asks the sharing policy what reaches its reader
    once per set of organisations, however many of its reads ask (`policy.remembering`).
    Any other request asks afresh each time, so that what it changed is seen by its own
    reads after the change."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method not in SAFE_METHODS:
            return self.get_response(request)
        with policy.remembering():
            return self.get_response(request)


class SecondFactorMiddleware:
    """Before anything else, a session that must pass a second factor passes it (ADR 0031)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and not user.is_verified()  # type: ignore[union-attr]
            and request.path not in _open_steps()
            and not request.path.startswith((API_PREFIX, settings.STATIC_URL))
            and must_pass_second_factor(user)
        ):
            return _to_second_factor(request, user)
        return self.get_response(request)


def _open_steps() -> tuple[str, ...]:
    """The pages a session may reach before its second factor, exactly (not what lies below
    them): the two steps and signing out. The API (tokens, not sessions) and static files are
    not concerned."""
    return (
        reverse("accounts:second_factor"),
        reverse("accounts:set_up_authenticator"),
        reverse("logout"),
    )


def _to_second_factor(request: HttpRequest, user: Any) -> HttpResponse:
    step = "accounts:second_factor" if authenticator_of(user) else "accounts:set_up_authenticator"
    # After the step, back to the page asked for; a form's POST is not repeated.
    # (htmx's middleware runs later: its header is read here.)
    htmx = request.headers.get("HX-Request") == "true"
    if htmx:
        back = request.headers.get("HX-Current-URL", "")
    else:
        back = request.get_full_path() if request.method == "GET" else ""
    back = back or reverse("home")
    target = f"{reverse(step)}?{urlencode({'next': back})}"
    if htmx:
        response = HttpResponse(status=204)
        response.headers["HX-Redirect"] = target
        return response
    return HttpResponseRedirect(target)
