"""Pages that belong to no single context: home, sign in and out, about."""

from __future__ import annotations

from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from flotilla.authz.checks import organisations_where
from flotilla.authz.permissions import Perm
from flotilla.registry.models import Invitation, InvitationStatus, Membership
from flotilla.sharing import policy


class SignInView(LoginView):
    template_name = "signin.jinja"
    redirect_authenticated_user = True


@require_http_methods(["GET", "POST"])
def sign_out(request: HttpRequest) -> HttpResponse:
    """GET asks for confirmation; POST (with the CSRF token) signs out."""
    if request.method == "POST":
        logout(request)
        return redirect("login")
    return render(request, "signout.jinja")


@login_required
def home(request: HttpRequest) -> HttpResponse:
    viewer = policy.viewer_of(request.user)
    admin_orgs = organisations_where(request.user, Perm.RESPOND_TO_INVITATION)
    invitations = Invitation.objects.filter(
        organisation_id__in=admin_orgs, status=InvitationStatus.PENDING
    ).select_related("collaborative", "organisation")
    memberships = Membership.objects.filter(user=request.user).select_related("organisation")
    return render(
        request,
        "home.jinja",
        {
            "collaboratives": policy.collaboratives(viewer),
            "memberships": memberships,
            "invitations": invitations,
        },
    )


def about(request: HttpRequest) -> HttpResponse:
    return render(request, "about.jinja")
