"""Escalation pages: a collaborative's levels (computed beside declared, and the system level
with who was left out), an organisation's level explained, with the history of both levels,
and the profiles a collaborative scores its members with.

Levels are read through `escalation.queries` (and so the sharing policy): 404 for an
organisation that shares nothing with the viewer, and within a page only what its grants
show. Writes go through `escalation.actions`, which refuse in their own words.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from flotilla import opel
from flotilla.authz.checks import can
from flotilla.authz.permissions import Perm
from flotilla.collaboratives.queries import find_collaborative, members_of
from flotilla.escalation import actions, queries
from flotilla.escalation.models import ComputedLevel, DifferenceNote, ProfileVersion
from flotilla.organisations.models import OrganisationKind
from flotilla.sharing import policy

#: How far back an organisation's page shows the history of its levels.
HISTORY_DAYS = 14


@login_required
def collaborative(request: HttpRequest, slug: str) -> HttpResponse:
    """Every member's computed level beside its declared one, and the system level."""
    viewer = policy.viewer_of(request.user)
    collab = find_collaborative(viewer.organisation_ids, slug)
    levels = queries.collaborative_levels(viewer, collab)
    members = members_of(collab)
    names = {m.pk: m.name for m in members}
    return render(
        request,
        "escalation/collaborative.jinja",
        {
            "collab": collab,
            "members": members,
            "levels": levels,
            "names": names,
            "adopted": queries.profiles_for_members(collab, {m.kind for m in members}),
            "kinds": dict(OrganisationKind.choices),
            "can_manage": can(request.user, Perm.MANAGE_COLLABORATIVE, collab),
            "history": queries.system_history(collab, timezone.now() - timedelta(days=7))[:20],
        },
    )


@login_required
@require_POST
def declare(request: HttpRequest, slug: str) -> HttpResponse:
    """A coordinator declares the system's level, with why."""
    collab, can_manage = _collab_for_manager(request, slug)
    if not can_manage:
        raise Http404("Not found")
    target = reverse("escalation:collaborative", args=[collab.slug])
    try:
        level = int(request.POST.get("level", ""))
        actions.declare_system_level(
            by=request.user,
            collaborative=collab,
            level=level,
            reason=request.POST.get("reason", ""),
        )
    except ValueError:
        messages.error(request, "Choose the level you declare for the system, 1 to 4.")
        return redirect(target + "#declare")
    except actions.EscalationError as e:
        messages.error(request, str(e))
        return redirect(target + "#declare")
    messages.success(request, f"{collab.name} is declared at OPEL {level}.")
    return redirect(target)


def _parameter_rows(level: ComputedLevel) -> list[dict[str, Any]]:
    """The stored explanation's parameters, with their next threshold and its distance
    written as the profile writes its values ("95%", "10 handovers", "1 handover")."""
    profile = queries.loaded(level.profile)
    rows = []
    for p in level.explanation.get("parameters", []):
        param = profile.parameter(p["code"])
        rows.append(
            {
                **p,
                "next_shown": _written(param, p.get("next_threshold"), threshold=True),
                "to_next_shown": _written(param, p.get("to_next")),
            }
        )
    return rows


def _written(param: opel.Parameter, value: float | None, threshold: bool = False) -> str:
    """A value as the profile writes it; a ratio's threshold as written in it ("95%")."""
    if value is None:
        return "–"
    return param.show_threshold(value) if threshold and param.unit == "%" else param.show(value)


def _missing_labels(level: ComputedLevel) -> list[str]:
    labels = {p["code"]: p["label"] for p in level.explanation.get("parameters", [])}
    return [labels.get(code, code) for code in level.explanation.get("missing", [])]


def organisation(request: HttpRequest, code: str) -> HttpResponse:
    """An organisation's computed level explained, beside its declared level, with history.
    Public like the organisation's page: what its grants to the public show, and no more."""
    viewer = policy.viewer_of(request.user)
    try:
        org = policy.get_organisation(viewer, code)
    except Http404:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        raise
    sections = []
    for seen in queries.levels_of(viewer, org):
        version = seen.computed.profile
        notes = list(
            DifferenceNote.objects.filter(computed=seen.computed).select_related("written_by")
        )
        sections.append(
            {
                "version": version,
                "seen": seen,
                "parameters": _parameter_rows(seen.computed),
                "missing": _missing_labels(seen.computed),
                "notes": notes,
            }
        )
    since = timezone.now() - timedelta(days=HISTORY_DAYS)
    history = queries.history_seen_by(viewer, org, since)
    declared = queries.declared_history_seen_by(viewer, org, since)
    # One row per moment: the levels computed from that moment's figures (one per profile)
    # beside the level declared then, newest first.
    moments: dict[Any, dict[str, Any]] = {}
    for c, _access in history:
        moments.setdefault(c.as_of, {"computed": [], "declared": None})["computed"].append(c)
    for t, v in declared:
        moments.setdefault(t, {"computed": [], "declared": None})["declared"] = v
    timeline = [(t, moments[t]) for t in sorted(moments, reverse=True)][:60]
    own = org.pk in viewer.organisation_ids
    return render(
        request,
        "escalation/organisation.jinja",
        {
            "org": org,
            "sections": sections,
            "history": history,
            "timeline": timeline,
            "may_note": own and can(request.user, Perm.SUBMIT_REPORT, org),
            "shares_level": bool(history) or bool(sections),
            "days": HISTORY_DAYS,
            "collab_slug": request.GET.get("c", ""),
        },
    )


@login_required
@require_POST
def note(request: HttpRequest, pk: int) -> HttpResponse:
    """The organisation's own people say why their declared level differs from the computed."""
    level = ComputedLevel.objects.select_related("organisation").filter(pk=pk).first()
    if level is None or not can(request.user, Perm.SUBMIT_REPORT, level.organisation):
        raise Http404("Not found")
    target = reverse("escalation:organisation", args=[level.organisation.code])
    try:
        declared = int(request.POST.get("declared_level", ""))
    except ValueError:
        messages.error(request, "Choose the level your organisation declares, 1 to 4.")
        return redirect(target + "#notes")
    try:
        actions.note_difference(
            by=request.user,
            computed=level,
            declared_level=declared,
            reason=request.POST.get("reason", ""),
        )
    except actions.EscalationError as e:
        messages.error(request, str(e))
        return redirect(target + "#notes")
    messages.success(request, "Your reason is recorded beside the computed level.")
    return redirect(target)


def _collab_for_manager(request: HttpRequest, slug: str) -> Any:
    viewer = policy.viewer_of(request.user)
    collab = find_collaborative(viewer.organisation_ids, slug)
    return collab, can(request.user, Perm.MANAGE_COLLABORATIVE, collab)


@login_required
def profiles(request: HttpRequest, slug: str) -> HttpResponse:
    """The profiles a collaborative scores each kind of member with; coordinators adopt a
    shipped profile or a local variant, and write variants."""
    collab, can_manage = _collab_for_manager(request, slug)
    members = members_of(collab)
    kinds = sorted({m.kind for m in members} | {"acute", "mental_health", "community"})
    error, text = "", ""
    if request.method == "POST":
        if not can_manage:
            raise Http404("Not found")
        text = request.POST.get("text", "")
        try:
            if request.POST.get("do") == "variant":
                v = actions.save_variant(by=request.user, collaborative=collab, text=text)
                messages.success(request, f"Saved {v}. Adopt it below to score members with it.")
            else:
                version = _adoptable(collab, request.POST.get("profile", ""))
                kind = request.POST.get("kind", "")
                actions.adopt(
                    by=request.user, collaborative=collab, organisation_kind=kind, profile=version
                )
                messages.success(
                    request,
                    f"{dict(OrganisationKind.choices).get(kind, kind)} members are now scored "
                    f"with {version}. Levels already computed keep the profile that made them.",
                )
            return redirect("escalation:profiles", collab.slug)
        except (actions.EscalationError, opel.ProfileError) as e:
            error = str(e)
    versions = list(
        ProfileVersion.objects.filter(collaborative__isnull=True)
        | ProfileVersion.objects.filter(collaborative=collab)
    )
    in_use = queries.profiles_for_members(collab, kinds)
    return render(
        request,
        "escalation/profiles.jinja",
        {
            "collab": collab,
            "can_manage": can_manage,
            "kinds": [(k, dict(OrganisationKind.choices).get(k, k)) for k in kinds],
            "in_use": in_use,
            "adopted": queries.adopted(collab),
            "versions": versions,
            "applies": {v.pk: queries.loaded(v).applies_to for v in versions},
            "error": error,
            "text": text,
        },
        status=400 if error else 200,
    )


def _adoptable(collab: Any, raw: str) -> ProfileVersion:
    try:
        pk = int(raw)
    except ValueError:
        raise actions.EscalationError("Choose a profile to adopt") from None
    version = ProfileVersion.objects.filter(pk=pk).first()
    if version is None or version.collaborative_id not in (None, collab.pk):
        raise actions.EscalationError("Choose a profile to adopt")
    return version


@login_required
def profile_text(request: HttpRequest, pk: int) -> HttpResponse:
    """A profile version's text, as stored: what produced the levels that name it. Shipped
    profiles are for anyone signed in; a variant for its collaborative's members."""
    version = ProfileVersion.objects.select_related("collaborative").filter(pk=pk).first()
    if version is None:
        raise Http404("Not found")
    if version.collaborative is not None:
        viewer = policy.viewer_of(request.user)
        find_collaborative(viewer.organisation_ids, version.collaborative.slug)
    return render(
        request,
        "escalation/profile_text.jinja",
        {"version": version, "profile": queries.loaded(version)},
    )
