"""Organisation admins issue and revoke API tokens for their organisation's systems."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from flotilla.authz import actions
from flotilla.authz.checks import require
from flotilla.authz.models import ApiToken, TokenScope
from flotilla.authz.permissions import Perm
from flotilla.organisations.models import Organisation


def _org(request: HttpRequest, code: str) -> Organisation:
    org = get_object_or_404(Organisation, code=code.upper())
    require(request.user, Perm.MANAGE_TOKENS, org)
    return org


@login_required
def tokens(request: HttpRequest, code: str) -> HttpResponse:
    org = _org(request, code)
    secret, error = "", ""
    if request.method == "POST":
        try:
            _token, secret = actions.issue_token(
                by=request.user,
                organisation=org,
                name=request.POST.get("name", ""),
                scope=request.POST.get("scope", ""),
            )
        except ValueError as exc:
            error = str(exc)
    return render(
        request,
        "authz/tokens.jinja",
        {
            "org": org,
            "tokens": org.api_tokens.order_by("-created_at"),
            "scopes": TokenScope.choices,
            "secret": secret,
            "error": error,
        },
    )


@login_required
@require_POST
def revoke(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    org = _org(request, code)
    token = get_object_or_404(ApiToken, pk=pk, organisation=org)
    actions.revoke_token(by=request.user, token=token)
    messages.success(request, f"Token {token.name} revoked. It stops working at once.")
    return redirect("authz:tokens", org.code)
