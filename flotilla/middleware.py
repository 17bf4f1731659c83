"""Refuse, at the door, request input that holds a NUL character.

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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from django.http import HttpRequest, HttpResponse, JsonResponse, UnreadablePostError
from django.template import loader

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


def refuse(request: HttpRequest, refusal: Refusal) -> HttpResponse:
    """400: a JSON error body under the API, else a page that needs no session or database."""
    if request.path.startswith(API_PREFIX):
        field = "path" if refusal.part == "address" else refusal.field()
        return JsonResponse(
            {
                "detail": f"The request is not valid: {refusal.sentence()}",
                "errors": [{"index": None, "field": field, "message": API_MESSAGE}],
            },
            status=400,
        )
    # Rendered without the request: a NUL in the session cookie must not reach the database.
    page = loader.render_to_string(
        "bad_input.jinja", {"sentence": refusal.sentence(), "part": refusal.part}
    )
    return HttpResponse(page, status=400)


class RefuseNulMiddleware:
    """Answers 400 to any request whose address, parameters, cookies or headers hold a NUL."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal = find_nul(request)
        if refusal is not None:
            return refuse(request, refusal)
        return self.get_response(request)
