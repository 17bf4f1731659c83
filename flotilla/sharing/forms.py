"""The sharing grant form: reads what an admin typed; `actions` decides whether it may be granted.

The form turns text into values (a code into an organisation, "24" into 24, a local date and
time into an aware one) and says what is missing or malformed. Everything else (membership,
sharing with yourself, ranges) is for `actions`, whose `GrantInvalid` errors are put on the
same fields by `add_grant_errors`.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

from flotilla.catalogue import current as current_catalogue
from flotilla.collaboratives.models import Collaborative
from flotilla.organisations.models import Organisation
from flotilla.sharing.actions import MAX_DELAY_HOURS, Terms
from flotilla.sharing.models import AudienceKind, Detail, Grant
from flotilla.sharing.policy.rules import GROUPS

#: What each detail means for the people who see it, in words.
DETAIL_EXPLAINED = {
    Detail.EXACT: "Values as reported.",
    Detail.BANDED: "Counts rounded to the nearest 5, occupancy in 5-point bands.",
    Detail.STATUS: "Red, amber or green (RAG) and the OPEL level: no figures.",
}

#: How an expiry is typed (and sent by a browser's date-time input), in local time.
EXPIRY_FORMAT = "%Y-%m-%dT%H:%M"


def group_hints() -> dict[str, str]:
    """Measure group → the measures it contains, in words (bed types once, not per state)."""
    names: dict[str, dict[str, None]] = {g: {} for g in GROUPS}
    for m in current_catalogue().measures:
        names.setdefault(m.group, {})[m.label.split(":")[0]] = None
    return {g: "; ".join(names[g]) for g in GROUPS}


def active_collaboratives(organisation: Organisation) -> list[Collaborative]:
    """The collaboratives `organisation` is an active member of, by name."""
    return list(
        Collaborative.objects.filter(
            memberships__organisation=organisation, memberships__left_at__isnull=True
        ).order_by("name")
    )


def initial_for(grant: Grant) -> dict[str, Any]:
    """The form's starting values for a change to `grant`."""
    expires = (
        timezone.localtime(grant.expires_at).strftime(EXPIRY_FORMAT) if grant.expires_at else ""
    )
    return {
        "audience": grant.audience,
        "collaborative": grant.collaborative_id or "",
        "audience_organisation": grant.audience_organisation.code
        if grant.audience_organisation_id
        else "",
        "groups": list(grant.groups),
        "detail": grant.detail,
        "delay_hours": grant.delay_hours,
        "purpose": grant.purpose,
        "expires_at": expires,
    }


class GrantForm(forms.Form):
    audience = forms.ChoiceField(
        choices=AudienceKind.choices,
        error_messages={
            "required": "Choose who to share with",
            "invalid_choice": "Choose who to share with from the list",
        },
    )
    collaborative = forms.CharField(required=False)
    audience_organisation = forms.CharField(
        required=False,
        max_length=10,
        error_messages={"max_length": "An ODS code has at most 10 characters, like RX1"},
    )
    groups = forms.MultipleChoiceField(
        choices=[(g.code, g.label) for g in current_catalogue().groups],
        error_messages={
            "required": "Choose at least one group of measures to share",
            "invalid_choice": "Choose the groups of measures to share from the list",
        },
    )
    detail = forms.ChoiceField(
        choices=Detail.choices,
        error_messages={
            "required": "Choose how finely to share",
            "invalid_choice": "Choose how finely to share from the list",
        },
    )
    delay_hours = forms.IntegerField(
        min_value=0,
        max_value=MAX_DELAY_HOURS,
        error_messages={
            "required": "Enter the delay in hours (0 for real time)",
            "invalid": "Enter the delay as a whole number of hours, like 24 (0 for real time)",
            "min_value": f"Enter a delay from 0 (real time) to {MAX_DELAY_HOURS} hours",
            "max_value": f"Enter a delay from 0 (real time) to {MAX_DELAY_HOURS} hours",
        },
    )
    purpose = forms.CharField(
        max_length=300,
        error_messages={
            "required": "Say in a sentence why this is shared",
            "max_length": "Keep the purpose to 300 characters or fewer",
        },
    )
    expires_at = forms.DateTimeField(
        required=False,
        input_formats=[EXPIRY_FORMAT],
        error_messages={
            "invalid": "Enter the expiry as a date and time, like 2026-03-31T17:00",
        },
    )

    def __init__(self, *args: Any, organisation: Organisation, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.organisation = organisation
        self.collaboratives = active_collaboratives(organisation)

    def _audience_is(self, kind: str) -> bool:
        return self.cleaned_data.get("audience") == kind

    def clean_collaborative(self) -> Collaborative | None:
        chosen = self.cleaned_data["collaborative"]
        if not self._audience_is(AudienceKind.COLLABORATIVE) or not chosen:
            return None  # no collaborative chosen: actions say so
        found = next((c for c in self.collaboratives if str(c.pk) == chosen), None)
        if found is None:
            raise forms.ValidationError(
                f"Choose one of the collaboratives {self.organisation.name} belongs to"
            )
        return found

    def clean_audience_organisation(self) -> Organisation | None:
        code = self.cleaned_data["audience_organisation"].strip().upper()
        if not self._audience_is(AudienceKind.ORGANISATION) or not code:
            return None  # no organisation named: actions say so
        found = Organisation.objects.filter(code=code).first()
        if found is None:
            raise forms.ValidationError(f"No organisation on Flotilla has the ODS code {code}")
        return found

    def clean_expires_at(self) -> Any:
        expires = self.cleaned_data["expires_at"]
        if expires is not None and expires <= timezone.now():
            raise forms.ValidationError("The expiry must be in the future")
        return expires

    def terms(self) -> Terms:
        d = self.cleaned_data
        return Terms(
            audience=d["audience"],
            groups=tuple(d["groups"]),
            detail=d["detail"],
            delay_hours=d["delay_hours"],
            purpose=d["purpose"],
            expires_at=d["expires_at"],
            collaborative=d["collaborative"],
            audience_organisation=d["audience_organisation"],
        )

    def add_grant_errors(self, errors: dict[str, str]) -> None:
        """Put `GrantInvalid` errors on their fields (about the grant itself: on the form)."""
        for name, message in errors.items():
            self.add_error(name if name in self.fields else None, message)

    def error_list(self) -> list[dict[str, str]]:
        """Every error, about the grant first then in the order of the page, each linking to
        its field."""
        order = ["__all__", *self.fields]
        return [
            {"text": str(message), "anchor": "" if name == "__all__" else f"id_{name}"}
            for name in sorted(self.errors, key=order.index)
            for message in self.errors[name]
        ]
