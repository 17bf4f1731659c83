"""Pages that belong to no single context: home, sign in and out, about."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from flotilla.accounts import oidc
from flotilla.accounts.queries import waiting_for
from flotilla.accounts.signin import ThrottledSignIn
from flotilla.authz.checks import organisations_where
from flotilla.authz.models import Membership
from flotilla.authz.permissions import Perm
from flotilla.collaboratives.models import Invitation, InvitationStatus
from flotilla.collaboratives.queries import collaboratives_of
from flotilla.notifications import queries as inbox
from flotilla.picture.queries import recent_changes, reporting_due
from flotilla.sharing import policy


class SignInView(ThrottledSignIn, LoginView):
    """Sign in; repeated failures pause signing in for that name or address (ADR 0010)."""

    template_name = "signin.jinja"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        # Signing in with OpenID Connect, when configured (ADR 0029): the button's words.
        return super().get_context_data(**kwargs, oidc_name=oidc.enabled() and settings.OIDC_NAME)


@require_http_methods(["GET", "POST"])
def sign_out(request: HttpRequest) -> HttpResponse:
    """GET asks for confirmation; POST (with the CSRF token) signs out."""
    if request.method == "POST":
        logout(request)
        return redirect("login")
    return render(request, "signout.jinja")


#: How far back the home page looks for changes in the person's collaboratives.
CHANGES_SINCE = timedelta(hours=24)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """What needs the person now: requests and invitations to answer, unread notifications,
    reports due, what just changed."""
    viewer = policy.viewer_of(request.user)
    admin_orgs = organisations_where(request.user, Perm.RESPOND_TO_INVITATION)
    invitations = Invitation.objects.filter(
        organisation_id__in=admin_orgs, status=InvitationStatus.PENDING
    ).select_related("collaborative", "organisation")
    memberships = Membership.objects.filter(user=request.user).select_related("organisation")
    reporters = organisations_where(request.user, Perm.SUBMIT_REPORT)
    now = timezone.now()
    return render(
        request,
        "home.jinja",
        {
            "collaboratives": collaboratives_of(viewer.organisation_ids),
            "memberships": memberships,
            "invitations": invitations,
            "reporting": reporting_due(
                viewer, [m.organisation for m in memberships if m.organisation_id in reporters], now
            ),
            "changes": recent_changes(viewer, now - CHANGES_SINCE, now),
            "changes_hours": int(CHANGES_SINCE.total_seconds() // 3600),
            "access_requests": waiting_for(request.user),
            "unread": inbox.unread(request.user),
            "unread_count": inbox.unread_count(request.user),
        },
    )


def about(request: HttpRequest) -> HttpResponse:
    return render(request, "about.jinja")
