"""Collaboratives: start one, invite, accept in one step, leave, set thresholds, run surge."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from flotilla.accounts import actions as accounts
from flotilla.authz.checks import can, organisations_where, require
from flotilla.authz.permissions import Perm
from flotilla.collaboratives import actions as collaboratives_actions
from flotilla.collaboratives.forms import (
    CollaborativeForm,
    InviteForm,
    SettingsForm,
    SurgeSettingsForm,
    SurgeSwitchForm,
)
from flotilla.collaboratives.models import (
    SURGE_LEVELS,
    AidReach,
    Collaborative,
    Invitation,
    InvitationStatus,
    InvitePolicy,
)
from flotilla.collaboratives.queries import (
    collaboratives_of,
    find_collaborative,
    members_of,
    people_of_members,
    surge_switches,
)
from flotilla.collaboratives.thresholds import INDICATOR_LABELS
from flotilla.formatting import error_summary
from flotilla.organisations.models import Organisation
from flotilla.sharing import policy


@login_required
def collaboratives(request: HttpRequest) -> HttpResponse:
    viewer = policy.viewer_of(request.user)
    return render(
        request,
        "collaboratives/collaboratives.jinja",
        {
            "collaboratives": collaboratives_of(viewer.organisation_ids),
            "can_create": bool(organisations_where(request.user, Perm.CREATE_COLLABORATIVE)),
        },
    )


@login_required
def collaborative_new(request: HttpRequest) -> HttpResponse:
    org_ids = organisations_where(request.user, Perm.CREATE_COLLABORATIVE)
    orgs = list(Organisation.objects.filter(id__in=org_ids))
    if not orgs:
        raise Http404("Not found")
    form = CollaborativeForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        org = next((o for o in orgs if str(o.pk) == request.POST.get("organisation")), orgs[0])
        try:
            collab = collaboratives_actions.create_collaborative(
                by=request.user,
                organisation=org,
                name=form.cleaned_data["name"],
                purpose=form.cleaned_data["purpose"],
                reporting_interval_hours=form.cleaned_data["reporting_interval_hours"],
            )
        except collaboratives_actions.CollaborativeError as exc:
            error = str(exc)
        else:
            messages.success(
                request, f"{collab.name} is ready. Invite the organisations you work with."
            )
            return redirect("collaboratives:collaborative_members", collab.slug)
    errors = error_summary(form) if request.method == "POST" else []
    if error:
        errors.append({"text": error, "anchor": ""})
    return render(
        request,
        "collaboratives/collaborative_new.jinja",
        {"form": form, "orgs": orgs, "errors": errors},
    )


@login_required
def collaborative_members(request: HttpRequest, slug: str) -> HttpResponse:
    viewer = policy.viewer_of(request.user)
    collab = find_collaborative(viewer.organisation_ids, slug)
    form = InviteForm()
    return render(
        request,
        "collaboratives/members.jinja",
        {
            "collab": collab,
            "members": members_of(collab),
            "pending": collab.invitations.filter(status=InvitationStatus.PENDING).select_related(
                "organisation"
            ),
            "can_invite": can(request.user, Perm.MANAGE_COLLABORATIVE, collab)
            and not collaboratives_actions.why_cannot_invite(by=request.user, collaborative=collab),
            "leavable": [
                o
                for o in members_of(collab)
                if o.pk in organisations_where(request.user, Perm.LEAVE_COLLABORATIVE)
            ],
            "form": form,
            "errors": [],
        },
    )


@login_required
@require_POST
def invite(request: HttpRequest, slug: str) -> HttpResponse:
    viewer = policy.viewer_of(request.user)
    collab = find_collaborative(viewer.organisation_ids, slug)
    require(request.user, Perm.MANAGE_COLLABORATIVE, collab)
    form = InviteForm(request.POST)
    if form.is_valid():
        code = form.cleaned_data["code"].strip().upper()
        org = Organisation.objects.filter(code=code).first()
        if org is None:
            messages.error(request, f"No organisation has the code {code}")
        else:
            try:
                inv = collaboratives_actions.invite(
                    by=request.user, collaborative=collab, organisation=org
                )
            except collaboratives_actions.CollaborativeError as exc:
                messages.error(request, str(exc))
            else:
                if not org.memberships.exists():
                    # Nobody there could see the invitation: give the coordinator a link that
                    # makes its first person the organisation's admin.
                    link, secret = accounts.make_first_admin_link(by=request.user, invitation=inv)
                    return show_first_admin_link(request, collab, link, secret, invited_now=True)
                messages.success(
                    request, f"Invited {org.name}. Their admin can accept in one step."
                )
    else:
        messages.error(request, "Enter the organisation's ODS code")
    return redirect("collaboratives:collaborative_members", collab.slug)


@login_required
def leave_confirm(request: HttpRequest, slug: str, code: str) -> HttpResponse:
    """Ask before leaving: what leaving does, or why the organisation cannot leave yet."""
    viewer = policy.viewer_of(request.user)
    collab = find_collaborative(viewer.organisation_ids, slug)
    org = get_object_or_404(Organisation, code=code.upper())
    require(request.user, Perm.LEAVE_COLLABORATIVE, org)
    if org not in members_of(collab):
        raise Http404("Not found")
    return render(
        request,
        "collaboratives/leave_confirm.jinja",
        {
            "collab": collab,
            "org": org,
            "refusal": collaboratives_actions.why_cannot_leave(
                collaborative=collab, organisation=org
            ),
        },
    )


@login_required
@require_POST
def leave(request: HttpRequest, slug: str) -> HttpResponse:
    viewer = policy.viewer_of(request.user)
    collab = find_collaborative(viewer.organisation_ids, slug)
    org = get_object_or_404(Organisation, pk=request.POST.get("organisation"))
    require(request.user, Perm.LEAVE_COLLABORATIVE, org)
    try:
        collaboratives_actions.leave(by=request.user, collaborative=collab, organisation=org)
    except collaboratives_actions.CollaborativeError as exc:
        messages.error(request, str(exc))
        return redirect("collaboratives:collaborative_members", collab.slug)
    messages.success(
        request, f"{org.name} has left {collab.name}. Its data is no longer shared there."
    )
    return redirect("home")


@login_required
@require_POST
def respond(request: HttpRequest, pk: int) -> HttpResponse:
    inv = get_object_or_404(Invitation, pk=pk)
    require(request.user, Perm.RESPOND_TO_INVITATION, inv.organisation)
    accept = request.POST.get("answer") == "accept"
    try:
        collaboratives_actions.respond(by=request.user, invitation=inv, accept=accept)
    except collaboratives_actions.CollaborativeError as exc:
        messages.error(request, str(exc))
        return redirect("home")
    if accept:
        messages.success(request, f"{inv.organisation.name} has joined {inv.collaborative.name}.")
        return redirect("picture:dashboard", inv.collaborative.slug)
    messages.success(request, "Invitation declined.")
    return redirect("home")


@login_required
def collaborative_settings(request: HttpRequest, slug: str) -> HttpResponse:
    viewer = policy.viewer_of(request.user)
    collab = find_collaborative(viewer.organisation_ids, slug)
    require(request.user, Perm.MANAGE_COLLABORATIVE, collab)
    current = {t.indicator: t for t in collab.thresholds.all()}
    initial = {
        "reporting_interval_hours": collab.reporting_interval_hours,
        "aid_widen_after_minutes": collab.aid_widen_after_minutes,
    }
    for indicator, t in current.items():
        initial[f"{indicator}_amber"] = t.amber
        initial[f"{indicator}_red"] = t.red
    initial["invite_policy"] = collab.invite_policy
    may_set_policy = collaboratives_actions.may_set_invite_policy(
        by=request.user, collaborative=collab
    )
    form = SettingsForm(
        request.POST or None,
        initial=initial,
        labels=INDICATOR_LABELS,
        with_invite_policy=may_set_policy,
    )
    error = ""
    if request.method == "POST" and form.is_valid():
        try:
            collaboratives_actions.update_collaborative(
                by=request.user,
                collaborative=collab,
                thresholds=form.thresholds(),
                reporting_interval_hours=form.cleaned_data["reporting_interval_hours"],
                invite_policy=form.cleaned_data.get("invite_policy") or None,
                aid_widen_after_minutes=form.cleaned_data.get("aid_widen_after_minutes"),
            )
        except collaboratives_actions.CollaborativeError as exc:
            error = str(exc)
        else:
            messages.success(request, "Settings saved.")
            return redirect("picture:dashboard", collab.slug)
    errors = error_summary(form) if request.method == "POST" else []
    if error:
        errors.append({"text": error, "anchor": ""})
    return render(
        request,
        "collaboratives/settings.jinja",
        {
            "collab": collab,
            "form": form,
            "indicators": INDICATOR_LABELS,
            "invite_policies": InvitePolicy.choices,
            "may_set_policy": may_set_policy,
            "errors": errors,
        },
    )


@login_required
@require_POST
def first_admin_link(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """A coordinator replaces an invited organisation's first-admin link; the old one stops."""
    collab = find_collaborative(policy.viewer_of(request.user).organisation_ids, slug)
    require(request.user, Perm.MANAGE_COLLABORATIVE, collab)
    invitation = get_object_or_404(Invitation, pk=pk, collaborative=collab)
    try:
        link, secret = accounts.make_first_admin_link(by=request.user, invitation=invitation)
    except accounts.AccountsError as exc:
        messages.error(request, str(exc))
        return redirect("collaboratives:collaborative_members", collab.slug)
    return show_first_admin_link(request, collab, link, secret, invited_now=False)


def show_first_admin_link(
    request: HttpRequest,
    collab: Collaborative,
    link: Any,
    secret: str,
    *,
    invited_now: bool,
) -> HttpResponse:
    """The page that shows a first-admin link, once, to the coordinator who made it."""
    return render(
        request,
        "collaboratives/first_admin_link.jinja",
        {
            "collab": collab,
            "invitation": link,
            "org": link.organisation,
            "link": accounts.invitation_link(request.build_absolute_uri("/"), secret),
            "invited_now": invited_now,
        },
    )


# ------------------------------------------------------------------ surge


def _surge_people(collab: Collaborative) -> list[tuple[int, str]]:
    """Who may be listed to hear of surge: each person of a member organisation once, with
    their organisations and roles."""
    people: dict[int, tuple[Any, list[str]]] = {}
    for m in people_of_members(collab):
        _user, where = people.setdefault(m.user_id, (m.user, []))
        where.append(f"{m.get_role_display().lower()} at {m.organisation.name}")
    out = []
    for user, where in people.values():
        name = user.get_username()
        if user.get_full_name():
            name = f"{user.get_full_name()} ({name})"
        out.append((user.pk, f"{name}, {'; '.join(where)}"))
    return sorted(out, key=lambda choice: choice[1].lower())


def _surge_page(
    request: HttpRequest,
    collab: Collaborative,
    *,
    settings_form: SurgeSettingsForm | None = None,
    switch_form: SurgeSwitchForm | None = None,
) -> HttpResponse:
    people = _surge_people(collab)
    if settings_form is None:
        settings_form = SurgeSettingsForm(
            initial={
                "surge_level": collab.surge_level,
                "surge_automatic": "yes" if collab.surge_automatic else "no",
                "surge_reporting_interval_hours": collab.surge_reporting_interval_hours,
                "surge_aid_reach": collab.surge_aid_reach,
                "surge_notify": list(collab.surge_notify.values_list("pk", flat=True)),
            },
            people=people,
        )
    switch_form = switch_form or SurgeSwitchForm()
    errors = []
    for form in (settings_form, switch_form):
        if form.is_bound:
            errors += error_summary(form)
    history = surge_switches(collab)
    listed = {pk for pk, _label in people} & set(collab.surge_notify.values_list("pk", flat=True))
    return render(
        request,
        "collaboratives/surge.jinja",
        {
            "collab": collab,
            "settings_form": settings_form,
            "switch_form": switch_form,
            "errors": errors,
            "history": history,
            "current": history[0] if collab.in_surge and history else None,
            "may_manage": can(request.user, Perm.MANAGE_COLLABORATIVE, collab),
            "levels": [(level, f"Level {level}") for level in SURGE_LEVELS],
            "reaches": AidReach.choices,
            "people": people,
            "listed": [label for pk, label in people if pk in listed],
        },
    )


@login_required
def surge(request: HttpRequest, slug: str) -> HttpResponse:
    """Surge mode: whether the collaborative is in surge, its settings and its history, for
    every member; the settings form and the switch for those who run the collaborative."""
    collab = find_collaborative(policy.viewer_of(request.user).organisation_ids, slug)
    return _surge_page(request, collab)


@login_required
@require_POST
def surge_settings(request: HttpRequest, slug: str) -> HttpResponse:
    collab = find_collaborative(policy.viewer_of(request.user).organisation_ids, slug)
    require(request.user, Perm.MANAGE_COLLABORATIVE, collab)
    form = SurgeSettingsForm(request.POST, people=_surge_people(collab))
    if form.is_valid():
        d = form.cleaned_data
        User = get_user_model()
        try:
            collaboratives_actions.update_surge_settings(
                by=request.user,
                collaborative=collab,
                level=d["surge_level"],
                automatic=d["surge_automatic"],
                reporting_interval_hours=d["surge_reporting_interval_hours"],
                aid_reach=d["surge_aid_reach"],
                notify=User.objects.filter(pk__in=d["surge_notify"]),
            )
        except collaboratives_actions.SurgeInvalid as exc:
            for field, sentence in exc.errors.items():
                form.add_error(field if field in form.fields else None, sentence)
        else:
            messages.success(request, "Surge settings saved.")
            return redirect("collaboratives:surge", collab.slug)
    return _surge_page(request, collab, settings_form=form)


@login_required
@require_POST
def surge_switch(request: HttpRequest, slug: str) -> HttpResponse:
    collab = find_collaborative(policy.viewer_of(request.user).organisation_ids, slug)
    require(request.user, Perm.MANAGE_COLLABORATIVE, collab)
    form = SurgeSwitchForm(request.POST)
    if form.is_valid():
        on = form.cleaned_data["on"]
        try:
            switch = collaboratives_actions.switch_surge(
                by=request.user, collaborative=collab, on=on, reason=form.cleaned_data["reason"]
            )
        except collaboratives_actions.SurgeInvalid as exc:
            for sentence in exc.errors.values():
                form.add_error("reason", sentence)
        else:
            if switch is None:
                state = "already in surge" if on else "not in surge"
                messages.info(request, f"{collab.name} is {state}: nothing was changed.")
            elif on:
                messages.success(
                    request,
                    f"{collab.name} is in surge. Coordinators and the listed people "
                    "have been told.",
                )
            else:
                messages.success(
                    request,
                    f"{collab.name} is out of surge. Coordinators and the listed "
                    "people have been told.",
                )
            return redirect("collaboratives:surge", collab.slug)
    return _surge_page(request, collab, switch_form=form)
