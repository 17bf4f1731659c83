"""The pages shown when something is not found, not allowed, or goes wrong.

They say nothing about what was asked for beyond "not here": an outsider must not learn
whether something exists (that is why outsiders get 404, not 403). The 500 page is
rendered from a template that needs no database, no session and no request context, since
it may be the database that failed.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import loader


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.jinja", status=404)


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "403.jinja", status=403)


def server_error(request: HttpRequest) -> HttpResponse:
    # No request: the template must not touch request.user (a session and database read).
    return HttpResponse(loader.render_to_string("500.jinja"), status=500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    # The reason is for developers; the page says what a person can do about it.
    return forbidden(request)
