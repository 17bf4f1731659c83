"""The form for an on-call entry. Its fields are checked by the action (`validation.check`),
whose errors name the same fields, so the page shows each beside its box; the form itself
only turns the posted text into the action's arguments."""

from __future__ import annotations

from typing import Any

from django import forms

from flotilla.directory import validation
from flotilla.directory.models import Route
from flotilla.organisations.models import Organisation, Site

FIELDS = ("role", "name", "route", "contact", "hours", "site", "notes", "position")


class EntryForm(forms.Form):
    role = forms.CharField(required=False, strip=False)
    name = forms.CharField(required=False, strip=False)
    route = forms.ChoiceField(
        choices=Route.choices,
        error_messages={
            "required": validation.MESSAGES["route"],
            "invalid_choice": validation.MESSAGES["route"],
        },
    )
    contact = forms.CharField(required=False, strip=False)
    hours = forms.CharField(required=False, strip=False)
    site = forms.ChoiceField(required=False)
    notes = forms.CharField(required=False, strip=False, widget=forms.Textarea)
    position = forms.IntegerField(
        required=False,
        error_messages={"invalid": validation.MESSAGES["position"]},
    )

    def __init__(self, *args: Any, organisation: Organisation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sites = {str(s.pk): s for s in Site.objects.filter(organisation=organisation)}
        self.fields["site"].choices = [("", "The whole organisation")] + [
            (pk, s.name) for pk, s in sorted(self.sites.items(), key=lambda kv: kv[1].name)
        ]
        self.fields["site"].error_messages["invalid_choice"] = (
            f"Choose one of {organisation.name}'s sites, or the whole organisation"
        )

    def values(self) -> dict[str, Any]:
        """The action's keyword arguments."""
        d = self.cleaned_data
        return {
            "role": d.get("role") or "",
            "name": d.get("name") or "",
            "route": d["route"],
            "contact": d.get("contact") or "",
            "hours": d.get("hours") or "",
            "site": self.sites.get(d.get("site") or ""),
            "notes": d.get("notes") or "",
            "position": d.get("position"),
        }


def initial_for(entry: Any) -> dict[str, Any]:
    """The form's starting values for a change to `entry`."""
    return {
        "role": entry.role,
        "name": entry.name,
        "route": entry.route,
        "contact": entry.contact,
        "hours": entry.hours,
        "site": str(entry.site_id) if entry.site_id else "",
        "notes": entry.notes,
        "position": entry.position,
    }
