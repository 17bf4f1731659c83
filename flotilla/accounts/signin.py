"""Sign-in throttling: repeated failures lock an account name, or a client address, for a while.

See ADR 0010. The lock is checked before the password, and the answer is the same whether
or not the account exists, so the lock tells a guesser nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.forms.forms import NON_FIELD_ERRORS
from django.http import HttpRequest, HttpResponse

from flotilla.accounts import actions
from flotilla.accounts.queries import signin_locked_until


def client_address(request: HttpRequest) -> str:
    """The client's IP address: the connection's, or the one the trusted proxies recorded.

    With `TRUSTED_PROXIES` = n, the n-th address from the end of X-Forwarded-For is the one
    the outermost trusted proxy saw; anything before it could have been written by the client.
    """
    hops = settings.TRUSTED_PROXIES
    if hops > 0:
        forwarded = [
            a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()
        ]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR", "")


class ThrottledSignIn:
    """For a LoginView: refuse while locked, count failures, forget them on success."""

    request: HttpRequest

    def _keys(self) -> list[tuple[str, str]]:
        return actions.throttle_keys(
            self.request.POST.get("username", ""), client_address(self.request)
        )

    def _locked(self, until: datetime) -> HttpResponse:
        form = AuthenticationForm(
            self.request, initial={"username": self.request.POST.get("username", "")}
        )
        context = self.get_context_data(form=form, locked_until=until)  # type: ignore[attr-defined]
        response = self.render_to_response(context)  # type: ignore[attr-defined]
        response.status_code = 429
        return response

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        until = signin_locked_until(self._keys())
        if until is not None:
            return self._locked(until)
        return super().post(request, *args, **kwargs)  # type: ignore[misc]

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        # Only a wrong username or password counts; an empty box is not a guess.
        if form.has_error(NON_FIELD_ERRORS):
            until = actions.note_signin_failure(
                username=self.request.POST.get("username", ""),
                address=client_address(self.request),
            )
            if until is not None:
                return self._locked(until)
        return super().form_invalid(form)  # type: ignore[misc]

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        actions.clear_signin_failures(username=self.request.POST.get("username", ""))
        return super().form_valid(form)  # type: ignore[misc]
