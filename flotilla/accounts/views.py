"""People pages: an organisation's people and invitations, joining by link, asking for access,
deciding requests, resetting a password by email, signing in with OpenID Connect, and the
person's own account (their second factor and linked sign-ins)."""

from __future__ import annotations

from typing import Any

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import SuspiciousOperation
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from markupsafe import Markup
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from flotilla.accounts import actions, oidc
from flotilla.accounts.actions import AccountsError, invitation_link
from flotilla.accounts.forms import (
    AccessRequestForm,
    ChangeRoleForm,
    DecideForm,
    InvitePersonForm,
    NewAccountForm,
    OrganisationSearchForm,
    ResetPasswordForm,
    ResetRequestForm,
)
from flotilla.accounts.models import (
    AccessRequest,
    AccessRequestStatus,
    OidcIdentity,
    PersonInvitation,
    PersonInvitationStatus,
)
from flotilla.accounts.queries import (
    authenticator_of,
    decides_as_coordinator,
    identities_of,
    may_decide,
    needs_second_factor,
    recovery_codes_left,
    signin_locked_until,
)
from flotilla.accounts.signin import client_address
from flotilla.audit.principals import Principal
from flotilla.authz import actions as authz_actions
from flotilla.authz.checks import can, require
from flotilla.authz.models import Membership, Role
from flotilla.authz.permissions import ROLE_SENTENCES, Perm
from flotilla.formatting import error_summary
from flotilla.organisations.models import Organisation


def _posted(request: HttpRequest) -> Any:
    # An empty POST is still a submission, to be answered with errors, not a blank form.
    return request.POST if request.method == "POST" else None


def _mail_paused(request: HttpRequest) -> HttpResponse | None:
    """429 when forms that send an email are paused for the client's address; otherwise count
    this one (it may start the pause for the next) and return None."""
    keys = actions.mail_form_keys(client_address(request))
    until = signin_locked_until(keys)
    if until is None:
        actions.note_mail_form(address=client_address(request))
        return None
    response = render(request, "accounts/mail_paused.jinja", {"until": until})
    response.status_code = 429
    return response


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/")


def _roles() -> list[dict[str, str]]:
    return [{"value": v, "label": label, "hint": ROLE_SENTENCES[v]} for v, label in Role.choices]


def _org(request: HttpRequest, code: str) -> Organisation:
    org = get_object_or_404(Organisation, code=code.upper())
    require(request.user, Perm.MANAGE_MEMBERS, org)
    return org


# An organisation's people


@login_required
def people(request: HttpRequest, code: str) -> HttpResponse:
    """Who has which role, pending invitations, waiting requests; POST invites someone."""
    org = _org(request, code)
    form = InvitePersonForm(_posted(request), initial={"role": Role.VIEWER})
    new = None
    if request.method == "POST" and form.is_valid():
        try:
            inv, secret = actions.invite_person(
                by=request.user,
                organisation=org,
                who=form.cleaned_data["who"],
                role=form.cleaned_data["role"],
                base_url=_base_url(request),
            )
        except AccountsError as exc:
            form.add_error(exc.field or None, str(exc))
        else:
            new = {"invitation": inv, "link": invitation_link(_base_url(request), secret)}
            form = InvitePersonForm(initial={"role": Role.VIEWER})
    return render(
        request,
        "accounts/people.jinja",
        {
            "org": org,
            "memberships": Membership.objects.filter(organisation=org)
            .select_related("user")
            .order_by("user__username"),
            "invitations": PersonInvitation.objects.filter(
                organisation=org, status=PersonInvitationStatus.PENDING
            ).select_related("created_by"),
            "requests": AccessRequest.objects.filter(
                organisation=org, status=AccessRequestStatus.PENDING
            ),
            "roles": _roles(),
            "form": form,
            "errors": error_summary(form) if form.is_bound else [],
            "new": new,
        },
    )


def _back_from_people(request: HttpRequest, org: Organisation) -> HttpResponse:
    # Someone who has just removed or demoted themselves no longer sees the page.
    if can(request.user, Perm.MANAGE_MEMBERS, org):
        return redirect("accounts:people", org.code)
    return redirect("home")


@login_required
@require_POST
def change_role(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    org = _org(request, code)
    membership = get_object_or_404(Membership, pk=pk, organisation=org)
    form = ChangeRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.errors["role"][0])
        return redirect("accounts:people", org.code)
    try:
        m = authz_actions.change_role(
            by=request.user, membership=membership, role=form.cleaned_data["role"]
        )
    except authz_actions.RoleError as exc:
        messages.error(request, str(exc))
        return redirect("accounts:people", org.code)
    messages.success(
        request, f"{m.user.get_username()} is now {m.get_role_display().lower()} at {org.name}."
    )
    return _back_from_people(request, org)


@login_required
@require_POST
def remove(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    org = _org(request, code)
    membership = get_object_or_404(Membership, pk=pk, organisation=org)
    try:
        authz_actions.remove_membership(by=request.user, membership=membership)
    except authz_actions.RoleError as exc:
        messages.error(request, str(exc))
        return redirect("accounts:people", org.code)
    messages.success(
        request,
        f"{membership.user.get_username()} no longer has a role at {org.name}. "
        "It takes effect at once.",
    )
    return _back_from_people(request, org)


@login_required
@require_POST
def withdraw(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    org = _org(request, code)
    inv = get_object_or_404(PersonInvitation, pk=pk, organisation=org)
    try:
        actions.withdraw_invitation(by=request.user, invitation=inv)
    except AccountsError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"Invitation for {inv.for_whom} withdrawn. Its link no longer works."
        )
    return redirect("accounts:people", org.code)


# Joining by link


def _suggested_username(inv: PersonInvitation) -> str:
    from django.contrib.auth import get_user_model

    User = get_user_model()
    for candidate in (inv.username, inv.email.partition("@")[0].lower()):
        if candidate and not User.objects.filter(username__iexact=candidate).exists():
            return candidate
    return ""


def _closed(request: HttpRequest, reason: str, status: int) -> HttpResponse:
    return render(request, "accounts/link_closed.jinja", {"reason": reason}, status=status)


def accept(request: HttpRequest, secret: str) -> HttpResponse:
    """An invitation link: a new person sets up an account; a signed-in one accepts in a click."""
    inv = actions.find_invitation(secret)
    if inv is None:
        return _closed(
            request,
            "This is not a working invitation link. Check that you copied all of it, or ask "
            "whoever sent it for a new one.",
            404,
        )
    reason = actions.why_closed(inv)
    if reason:
        return _closed(request, reason, 410)
    context: dict[str, Any] = {"inv": inv, "errors": []}
    if request.user.is_authenticated:
        mine = actions.is_for(inv, request.user)
        if request.method == "POST" and mine:
            try:
                actions.accept_invitation(by=request.user, invitation=inv)
            except AccountsError as exc:
                context["errors"] = [{"text": str(exc), "anchor": ""}]
            else:
                messages.success(request, _welcome(inv))
                return redirect("home")
        return render(request, "accounts/accept.jinja", {**context, "mine": mine})
    existing = bool(inv.username)
    form = NewAccountForm(
        _posted(request),
        email=inv.email,
        initial={"username": _suggested_username(inv)},
    )
    if request.method == "POST" and not existing and form.is_valid():
        try:
            user = actions.accept_invitation_as_new_user(
                invitation=inv,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
                full_name=form.cleaned_data["full_name"],
                email=form.cleaned_data["email"],
            )
        except AccountsError as exc:
            form.add_error(exc.field or None, str(exc))
        else:
            login(request, user, backend="flotilla.accounts.backends.PasswordBackend")
            messages.success(request, _welcome(inv))
            return redirect("home")
    return render(
        request,
        "accounts/join.jinja",
        {
            **context,
            "form": form,
            "existing": existing,
            "errors": error_summary(form) if form.is_bound else [],
        },
    )


def _welcome(inv: PersonInvitation) -> str:
    text = f"Welcome. You are now {inv.get_role_display().lower()} at {inv.organisation.name}."
    if inv.first_admin:
        text += " Answer your organisation's invitations below, then report your position."
    return text


# Asking for access


def find_organisation(request: HttpRequest) -> HttpResponse:
    """Search the registry by name or ODS code, to ask one organisation for access."""
    form = OrganisationSearchForm(request.GET if "q" in request.GET else None)
    results = None
    if form.is_bound and form.is_valid():
        q = form.cleaned_data["q"].strip()
        results = list(
            Organisation.objects.filter(Q(name__icontains=q) | Q(code__iexact=q))
            .filter(successor__isnull=True, closed_on__isnull=True)
            .order_by("name")[:25]
        )
    return render(
        request,
        "accounts/find_organisation.jinja",
        {"form": form, "results": results, "errors": error_summary(form) if form.is_bound else []},
    )


def request_access(request: HttpRequest, code: str) -> HttpResponse:
    org = get_object_or_404(Organisation, code=code.upper())
    user = request.user
    initial = {}
    if user.is_authenticated:
        initial = {"name": user.get_full_name(), "email": user.email}
    form = AccessRequestForm(_posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        by = (
            user if user.is_authenticated else Principal(label=f"anonymous:{data['email'].lower()}")
        )
        paused = _mail_paused(request)
        if paused is not None:
            return paused
        try:
            actions.request_access(
                by=by,
                organisation=org,
                name=data["name"],
                email=data["email"],
                reason=data["reason"],
            )
        except AccountsError as exc:
            form.add_error(exc.field or None, str(exc))
        else:
            return render(
                request, "accounts/request_sent.jinja", {"org": org, "email": data["email"]}
            )
    return render(
        request,
        "accounts/request_access.jinja",
        {"org": org, "form": form, "errors": error_summary(form) if form.is_bound else []},
    )


@login_required
def decide(request: HttpRequest, pk: int) -> HttpResponse:
    """Approve (choosing a role) or decline (with a reason) a request for access."""
    req = get_object_or_404(AccessRequest.objects.select_related("organisation"), pk=pk)
    if not may_decide(request.user, req):
        raise Http404("Not found")
    org = req.organisation
    as_coordinator = decides_as_coordinator(request.user, org)
    form = DecideForm(_posted(request), role_fixed=as_coordinator)
    if request.method == "POST" and req.status == AccessRequestStatus.PENDING and form.is_valid():
        data = form.cleaned_data
        try:
            if data["decision"] == "approve":
                inv, secret = actions.approve_access_request(
                    by=request.user,
                    access_request=req,
                    role=data["role"],
                    base_url=_base_url(request),
                )
                return render(
                    request,
                    "accounts/approved.jinja",
                    {
                        "req": req,
                        "org": org,
                        "invitation": inv,
                        "link": invitation_link(_base_url(request), secret),
                    },
                )
            actions.decline_access_request(
                by=request.user, access_request=req, reason=data["decline_reason"]
            )
        except AccountsError as exc:
            form.add_error(exc.field or None, str(exc))
        else:
            messages.success(
                request, f"Request from {req.name} declined. We have emailed them why."
            )
            if can(request.user, Perm.MANAGE_MEMBERS, org):
                return redirect("accounts:people", org.code)
            return redirect("home")
    return render(
        request,
        "accounts/decide.jinja",
        {
            "req": req,
            "org": org,
            "form": form,
            "as_coordinator": as_coordinator,
            "roles": _roles(),
            "errors": error_summary(form) if form.is_bound else [],
        },
    )


# Password reset by email (Django's views, our templates and forms)


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset.jinja"
    form_class = ResetRequestForm
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form):
        # Counted whether or not the address has an account: the answer must not tell.
        return _mail_paused(self.request) or super().form_valid(form)

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form, errors=error_summary(form)))


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.jinja"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.jinja"
    form_class = ResetPasswordForm
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form, errors=error_summary(form)))


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.jinja"


# Signing in with OpenID Connect (ADR 0029): mozilla-django-oidc's views, answering 404 unless
# it is configured, and bringing every failure back to the sign-in page with its reason.


class OidcSignInView(OIDCAuthenticationRequestView):
    """Sends the browser to the provider, with a fresh state and nonce kept in the session."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not oidc.enabled():
            raise Http404
        return super().get(request)


class OidcCallbackView(OIDCAuthenticationCallbackView):
    """The provider sends the browser back here with a code; signs in whom it names."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not oidc.enabled():
            raise Http404
        try:
            return super().get(request)
        except SuspiciousOperation:
            # A state this browser never started: an old tab, or an answer meant for someone
            # else. Nothing is exchanged for it.
            return self.login_failure()

    def login_failure(self) -> HttpResponse:
        # The provider's own error text is not shown: anyone can put it in a link.
        messages.error(self.request, oidc.refusal(self.request) or oidc.FAILED)
        return redirect("login")


# ------------------------------------------------------------------ your account (ADR 0031)

#: The session's key for an authenticator app being set up (nothing is stored before its code).
PENDING_KEY = "_flotilla_authenticator_key"


def _next(request: HttpRequest) -> str:
    """Where to go after a second-factor step: the page asked for, if it is one of ours."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("home")


def _code_errors(exc: AccountsError) -> list[dict[str, str]]:
    return [{"text": str(exc), "anchor": "id_code"}]


def _unproven(user: Any) -> bool:
    """A session that has an authenticator to pass and has not passed it: it may not change
    the second factor (the middleware sends it to the code first; this holds without it)."""
    return authenticator_of(user) is not None and not user.is_verified()


@login_required
def account(request: HttpRequest) -> HttpResponse:
    """The person's own account: their second factor, recovery codes and linked sign-ins."""
    user = request.user
    return render(
        request,
        "accounts/account.jinja",
        {
            "authenticator": authenticator_of(user),
            "codes_left": recovery_codes_left(user),
            "required": needs_second_factor(user),
            "identities": identities_of(user),
            "oidc_name": oidc.enabled() and settings.OIDC_NAME,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def set_up_authenticator(request: HttpRequest) -> HttpResponse:
    """Show a new key (as a QR code and as text); the app's first code adds it, and the
    recovery codes are shown once. Replacing an app needs a session that passed the old one."""
    user = request.user
    if _unproven(user):
        return redirect(
            f"{reverse('accounts:second_factor')}?{urlencode({'next': _next(request)})}"
        )
    key = request.session.get(PENDING_KEY)
    if not key:
        key = actions.new_authenticator_key()
        request.session[PENDING_KEY] = key
    errors: list[dict[str, str]] = []
    if request.method == "POST":
        try:
            device, codes = actions.add_authenticator(
                by=user, key=key, code=request.POST.get("code", "")
            )
        except AccountsError as exc:
            errors = _code_errors(exc)
        else:
            del request.session[PENDING_KEY]
            otp_login(request, device)
            return render(
                request,
                "accounts/recovery_codes.jinja",
                {"codes": codes, "next": _next(request), "added": True},
            )
    uri = actions.authenticator_uri(user=user, key=key)
    secret = actions.authenticator_secret(key)
    return render(
        request,
        "accounts/set_up_authenticator.jinja",
        {
            "qr": Markup(segno.make(uri, error="m").svg_inline(scale=5, border=4)),
            "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            "errors": errors,
            "next": _next(request),
            "required": needs_second_factor(user),
            "replacing": authenticator_of(user) is not None,
        },
        status=200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def second_factor(request: HttpRequest) -> HttpResponse:
    """Enter the code the authenticator app shows now, or a recovery code."""
    user = request.user
    if authenticator_of(user) is None:
        return redirect(
            f"{reverse('accounts:set_up_authenticator')}?{urlencode({'next': _next(request)})}"
        )
    if user.is_verified():  # type: ignore[union-attr]
        return redirect(_next(request))
    errors: list[dict[str, str]] = []
    if request.method == "POST":
        try:
            device = actions.pass_second_factor(by=user, code=request.POST.get("code", ""))
        except AccountsError as exc:
            errors = _code_errors(exc)
        else:
            otp_login(request, device)
            if device.name == actions.RECOVERY:
                left = recovery_codes_left(user)
                messages.warning(
                    request,
                    f"You used a recovery code: {left} left. Make new ones from your account "
                    "page if you are running short, and set up your app again if it is lost.",
                )
            return redirect(_next(request))
    return render(
        request, "accounts/second_factor.jinja", {"errors": errors, "next": _next(request)}
    )


@login_required
@require_POST
def new_recovery_codes(request: HttpRequest) -> HttpResponse:
    """New recovery codes, shown once; the old ones stop working."""
    if _unproven(request.user):
        return redirect("accounts:second_factor")
    try:
        codes = actions.new_recovery_codes(by=request.user)
    except AccountsError as exc:
        messages.error(request, str(exc))
        return redirect("accounts:account")
    return render(
        request,
        "accounts/recovery_codes.jinja",
        {"codes": codes, "next": reverse("accounts:account"), "added": False},
    )


@login_required
@require_POST
def remove_second_factor(request: HttpRequest) -> HttpResponse:
    """Stop asking for a code (for those not required to pass one)."""
    user = request.user
    if _unproven(user):
        return redirect("accounts:second_factor")
    if needs_second_factor(user):
        messages.error(
            request,
            "As an admin you must keep a second factor. To use a new phone, set up your "
            "authenticator app again: the new one replaces the old.",
        )
    else:
        actions.remove_second_factor(by=user, user=user)
        messages.success(request, "Your authenticator app and recovery codes are removed.")
    return redirect("accounts:account")


@login_required
@require_POST
def unlink(request: HttpRequest, pk: int) -> HttpResponse:
    """Remove one of the person's own linked sign-in accounts."""
    identity = get_object_or_404(OidcIdentity, pk=pk, user=request.user)
    try:
        actions.unlink_identity(by=request.user, identity=identity)
    except AccountsError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            "That account is no longer linked. It can sign you in again only once it is linked "
            "again through your verified email.",
        )
    return redirect("accounts:account")
