"""What every coordination page starts from: the collaborative, as the viewer may open it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.http import Http404, HttpRequest

from flotilla.collaboratives.models import Collaborative
from flotilla.collaboratives.queries import find_collaborative, members_of
from flotilla.coordination import rules
from flotilla.coordination.actions import CoordinationError
from flotilla.sharing import policy


@dataclass
class Here:
    viewer: policy.Viewer
    collab: Collaborative
    #: May keep the log, run the call, add objectives and workstreams.
    may: bool
    #: A coordinator of the collaborative (gives roles).
    manages: bool

    def people(self) -> list[Any]:
        return rules.people_of_members(self.collab)

    def members(self) -> list[Any]:
        return members_of(self.collab)

    def require(self) -> None:
        """Changing anything needs `may`: 404 for members who may not, as for outsiders."""
        if not self.may:
            raise Http404("Not found")


def here(request: HttpRequest, slug: str) -> Here:
    viewer = policy.viewer_of(request.user)
    collab = find_collaborative(viewer.organisation_ids, slug)
    return Here(
        viewer,
        collab,
        rules.may_coordinate(request.user, collab),
        rules.manages(request.user, collab),
    )


def attempt(form: forms.Form, change: Callable[[], Any]) -> Any:
    """Run `change` if the form is valid; the action's refusals land on the form's fields
    (or on the form as a whole). Returns what `change` returned, or None."""
    if not form.is_valid():
        return None
    try:
        return change()
    except CoordinationError as exc:
        for name, text in exc.errors.items():
            form.add_error(name if name in form.fields else None, text)
        if not exc.errors:
            form.add_error(None, str(exc))
        return None
