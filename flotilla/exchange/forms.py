"""The exchange's forms. They only read what was typed (numbers, dates, choices from the
page's own lists); whether a request or an offer makes sense is the actions' decision, and
their sentences are shown against the fields they name (`field_for`)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from django import forms
from django.utils import timezone

from flotilla.exchange import kinds
from flotilla.exchange.models import CostRecovery, Reach, Transport, Urgency
from flotilla.organisations.models import Organisation, Site

#: Fields named by the actions' errors that the forms call something else.
_RENAMED = {
    "needed_by": "needed_by_date",
    "available_from": "available_from_date",
    "available_until": "available_until_date",
}


def detail_field(name: str) -> str:
    """The form field holding one detail of a kind (`details.level_of_care` →
    `detail_level_of_care`: no dot, so that it can be an element's id)."""
    return f"detail_{name}"


def field_for(form: forms.Form, key: str) -> str | None:
    """The form field an action's error key is about, or None for the form as a whole."""
    if key.startswith("details."):
        key = detail_field(key.removeprefix("details."))
    key = _RENAMED.get(key, key)
    return key if key in form.fields else None


def sentence(text: str) -> str:
    """An action's message as a sentence on the page: capital first, full stop last (the
    actions and kinds never give an empty one)."""
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."


def when(day: date | None, at: time | None) -> datetime | None:
    """A date and a time typed on a page, in local time."""
    if day is None or at is None:
        return None
    return timezone.make_aware(datetime.combine(day, at))


class _Several(forms.MultipleChoiceField):
    """Several of a kind's choices; which are allowed is the kind's own validator's call."""

    def valid_value(self, value: Any) -> bool:
        return True


def _date(label: str, required: bool = True) -> forms.DateField:
    return forms.DateField(
        required=required,
        input_formats=["%Y-%m-%d"],
        error_messages={
            "required": f"Enter the {label}",
            "invalid": f"Enter the {label} as a date, like 2026-01-05",
        },
    )


def _time(label: str) -> forms.TimeField:
    return forms.TimeField(
        input_formats=["%H:%M", "%H:%M:%S"],
        error_messages={
            "required": f"Enter the time of the {label}",
            "invalid": f"Enter the time of the {label} on the 24-hour clock, like 14:30",
        },
    )


def _whole(what: str, required: bool = True, example: str = "2") -> forms.IntegerField:
    return forms.IntegerField(
        required=required,
        error_messages={
            "required": f"Enter {what}",
            "invalid": f"Enter {what} as a whole number, like {example}",
        },
    )


class AidForm(forms.Form):
    """What requests and offers share: which organisation and site, and the kind's details."""

    def __init__(
        self,
        *args: Any,
        organisations: list[Organisation],
        kind: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kinds.KINDS[kind]
        self.organisations = organisations
        self.fields["organisation"] = forms.ChoiceField(
            choices=[(str(o.pk), o.name) for o in organisations],
            error_messages={
                "required": "Choose which organisation this is for",
                "invalid_choice": "Choose one of the organisations you arrange aid for",
            },
        )
        sites = Site.objects.filter(organisation__in=organisations).select_related("organisation")
        self.sites = list(sites.order_by("organisation__name", "name"))
        if len(self.sites) == 1:  # nothing to choose: chosen already
            self.initial.setdefault("site", str(self.sites[0].pk))
        self.fields["site"] = forms.ChoiceField(
            choices=[(str(s.pk), s.name) for s in self.sites],
            error_messages={
                "required": "Choose the site",
                "invalid_choice": "Choose one of your organisation's sites",
            },
        )
        for f in self.kind.fields:
            name = detail_field(f.name)
            if f.type == "choices":
                self.fields[name] = _Several(
                    choices=list((f.choices or {}).items()), required=False
                )
            else:
                # Read as typed: the kind's validator decides, in its own words.
                self.fields[name] = forms.CharField(required=False, strip=True)

    def detail_fields(self) -> list[tuple[kinds.Field, str]]:
        """The kind's details, each with the name of its form field."""
        return [(f, detail_field(f.name)) for f in self.kind.fields]

    def details(self) -> dict[str, Any]:
        """The details as typed, for the action to check (what could not be read is left
        out, so that the action says it is needed)."""
        out: dict[str, Any] = {}
        for f, name in self.detail_fields():
            value = self.cleaned_data.get(name)
            if f.type == "bool":
                value = "true" if value in ("true", "on", "yes") else "false"
            if value not in (None, "", []):
                out[f.name] = value
        return out

    def organisation(self) -> Organisation | None:
        chosen = self.cleaned_data.get("organisation")
        return next((o for o in self.organisations if str(o.pk) == chosen), None)

    def site(self) -> Site | None:
        chosen = self.cleaned_data.get("site")
        return next((s for s in self.sites if str(s.pk) == chosen), None)

    def sites_by_organisation(self) -> list[tuple[Organisation, list[Site]]]:
        return [
            (o, [s for s in self.sites if s.organisation_id == o.pk]) for o in self.organisations
        ]


class RequestForm(AidForm):
    """Asking for help."""

    quantity = _whole("how many you need")
    urgency = forms.ChoiceField(
        choices=Urgency.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose how urgent this is",
            "invalid_choice": "Choose how urgent this is from the list",
        },
    )
    needed_by_date = _date("date it is needed by")
    needed_by_time = _time("day it is needed by")
    max_distance_km = _whole("the furthest away help may come from, in km", False, "50")
    note = forms.CharField(required=False, widget=forms.Textarea)
    reach = forms.TypedChoiceField(
        choices=Reach.choices,
        coerce=int,
        initial=Reach.COLLABORATIVE,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose who to ask first",
            "invalid_choice": "Choose who to ask first from the list",
        },
    )

    def needed_by(self) -> datetime | None:
        return when(
            self.cleaned_data.get("needed_by_date"), self.cleaned_data.get("needed_by_time")
        )


class OfferForm(AidForm):
    """Offering help with terms (in answer to a request, or standing: then with a reach)."""

    quantity = _whole("how many you can offer")
    available_from_date = _date("date it is available from")
    available_from_time = _time("day it is available from")
    available_until_date = _date("date it is available until")
    available_until_time = _time("day it is available until")
    duration_hours = _whole("how many hours the help lasts", False, "12")
    transport = forms.ChoiceField(
        choices=Transport.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose who transports",
            "invalid_choice": "Choose who transports from the list",
        },
    )
    cost_recovery = forms.ChoiceField(
        choices=CostRecovery.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose how costs are recovered",
            "invalid_choice": "Choose how costs are recovered from the list",
        },
    )
    conditions = forms.CharField(required=False, widget=forms.Textarea)
    note = forms.CharField(required=False, widget=forms.Textarea)

    def __init__(self, *args: Any, standing: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if standing:
            self.fields["reach"] = forms.TypedChoiceField(
                choices=Reach.choices,
                coerce=int,
                initial=Reach.COLLABORATIVE,
                widget=forms.RadioSelect,
                error_messages={
                    "required": "Choose who to offer to",
                    "invalid_choice": "Choose who to offer to from the list",
                },
            )

    def available_from(self) -> datetime | None:
        d = self.cleaned_data
        return when(d.get("available_from_date"), d.get("available_from_time"))

    def available_until(self) -> datetime | None:
        d = self.cleaned_data
        return when(d.get("available_until_date"), d.get("available_until_time"))
