"""Who sees which draft: the organisation it is put to and the person who made it."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from flotilla.authz.checks import organisations_where
from flotilla.authz.permissions import Perm
from flotilla.planning.models import AidDraft, DraftState


def _seen_by(user: Any) -> Q:
    own = organisations_where(user, Perm.VIEW_PICTURE)
    return Q(organisation_id__in=own) | Q(made_by=user)


def drafts_waiting_for(user: Any) -> QuerySet[AidDraft]:
    """Drafts waiting for a decision at the organisations where `user` arranges aid."""
    orgs = organisations_where(user, Perm.ARRANGE_AID)
    return (
        AidDraft.objects.filter(organisation_id__in=orgs, state=DraftState.WAITING)
        .select_related("organisation", "counterpart", "site", "collaborative")
        .order_by("-made_at", "pk")
    )


def drafts_made_by(user: Any, collaborative: Any) -> QuerySet[AidDraft]:
    """The drafts `user` made for this collaborative, newest plan first."""
    return (
        AidDraft.objects.filter(made_by=user, collaborative=collaborative)
        .select_related("organisation", "counterpart", "request", "offer")
        .order_by("-made_at", "move", "-side")
    )


def get_draft(user: Any, pk: int) -> AidDraft:
    """A draft its organisation's people or its maker may see; 404 for anyone else."""
    found = (
        AidDraft.objects.filter(_seen_by(user), pk=pk)
        .select_related("organisation", "counterpart", "site", "counterpart_site", "collaborative")
        .first()
    )
    if found is None:
        raise Http404("Not found")
    return found
