from typing import Any

from django import forms

from flotilla.collaboratives.models import SURGE_LEVELS, AidReach, InvitePolicy
from flotilla.collaboratives.thresholds import STANDARD_THRESHOLDS


class CollaborativeForm(forms.Form):
    name = forms.CharField(
        max_length=200,
        error_messages={
            "required": "Enter a name for the collaborative",
            "max_length": "Keep the name to 200 characters or fewer",
        },
    )
    purpose = forms.CharField(
        widget=forms.Textarea,
        error_messages={"required": "Enter the shared purpose, in a sentence"},
    )
    reporting_interval_hours = forms.IntegerField(
        min_value=1,
        max_value=168,
        initial=4,
        error_messages={
            "required": "Enter how often members should report, in hours",
            "min_value": "The interval must be at least 1 hour",
            "max_value": "The interval must be at most 168 hours (a week)",
            "invalid": "Enter a whole number of hours",
        },
    )


class InviteForm(forms.Form):
    code = forms.CharField(
        max_length=10,
        error_messages={
            "required": "Enter the organisation's ODS code",
            "max_length": "An ODS code has at most 10 characters, like RJ1 or R0A",
        },
    )


class SettingsForm(forms.Form):
    """A collaborative's settings. `labels` names each indicator in error messages;
    `with_invite_policy` False leaves out who may invite (for those who may not change it)."""

    reporting_interval_hours = forms.IntegerField(
        min_value=1,
        max_value=168,
        error_messages={
            "required": "Enter how often members should report, in hours",
            "min_value": "The interval must be at least 1 hour",
            "max_value": "The interval must be at most 168 hours (a week)",
            "invalid": "Enter the interval as a whole number of hours, like 4",
        },
    )
    #: Left empty, it stays as it is (the action checks the range too).
    aid_widen_after_minutes = forms.IntegerField(
        min_value=15,
        max_value=1440,
        required=False,
        error_messages={
            "min_value": "An unmet request must wait at least 15 minutes before it is shown wider",
            "max_value": "An unmet request must wait at most 1440 minutes (a day) before it is "
            "shown wider",
            "invalid": "Enter the wait as a whole number of minutes, like 60",
        },
    )
    #: Left out of a post, it stays as it is.
    invite_policy = forms.ChoiceField(
        choices=InvitePolicy.choices,
        required=False,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": "Choose who may invite organisations"},
    )

    def __init__(
        self,
        *args: Any,
        labels: dict[str, str] | None = None,
        with_invite_policy: bool = True,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        if not with_invite_policy:
            del self.fields["invite_policy"]
        self.labels = labels or {}
        for indicator in STANDARD_THRESHOLDS:
            label = self.labels.get(indicator, indicator)
            for band in ("amber", "red"):
                self.fields[f"{indicator}_{band}"] = forms.FloatField(
                    min_value=0,
                    error_messages={
                        "required": f"Enter the {band} threshold for {label}",
                        "invalid": f"Enter the {band} threshold for {label} as a number, "
                        "like 0.95 or 10",
                        "min_value": f"The {band} threshold for {label} cannot be below 0",
                    },
                )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for indicator in STANDARD_THRESHOLDS:
            a, r = data.get(f"{indicator}_amber"), data.get(f"{indicator}_red")
            if a is not None and r is not None and r < a:
                label = self.labels.get(indicator, indicator)
                self.add_error(f"{indicator}_red", f"Red must be at or above amber for {label}")
        return data

    def thresholds(self) -> dict[str, tuple[float, float]]:
        d = self.cleaned_data
        return {i: (d[f"{i}_amber"], d[f"{i}_red"]) for i in STANDARD_THRESHOLDS}


class SurgeSettingsForm(forms.Form):
    """How a collaborative works in surge. The field names are the actions' error keys
    (`SurgeInvalid.errors`), so the action's sentences land against the right field;
    `people` are the choices for who is told (people of member organisations)."""

    surge_level = forms.TypedChoiceField(
        choices=[(level, f"Level {level}") for level in SURGE_LEVELS],
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose the system level at which surge applies",
            "invalid_choice": "Choose the system level at which surge applies: 2, 3 or 4",
        },
    )
    surge_automatic = forms.TypedChoiceField(
        choices=[("yes", "Yes"), ("no", "No")],
        coerce=lambda v: v == "yes",
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose whether surge switches on and off by itself",
            "invalid_choice": "Choose whether surge switches on and off by itself",
        },
    )
    surge_reporting_interval_hours = forms.IntegerField(
        min_value=1,
        max_value=168,
        error_messages={
            "required": "Enter how often members report in surge, in hours",
            "min_value": "The surge reporting interval must be at least 1 hour",
            "max_value": "The surge reporting interval must be at most 168 hours (a week)",
            "invalid": "Enter the surge interval as a whole number of hours, like 1",
        },
    )
    surge_aid_reach = forms.TypedChoiceField(
        choices=AidReach.choices,
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose who new requests for aid are shown to first in surge",
            "invalid_choice": "Choose who new requests for aid are shown to first in surge",
        },
    )
    surge_notify = forms.TypedMultipleChoiceField(
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "invalid_choice": "Choose people of the member organisations only",
        },
    )

    def __init__(self, *args: Any, people: list[tuple[int, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["surge_notify"].choices = people


class SurgeSwitchForm(forms.Form):
    """Switching surge on or off by hand, with the reason."""

    on = forms.TypedChoiceField(
        choices=[("1", "On"), ("0", "Off")],
        coerce=lambda v: v == "1",
        widget=forms.HiddenInput,
        error_messages={
            "required": "Choose whether to switch surge on or off",
            "invalid_choice": "Choose whether to switch surge on or off",
        },
    )
    reason = forms.CharField(
        max_length=500,
        error_messages={
            "required": "Say why you are switching surge on or off",
            "max_length": "Keep the reason to 500 characters or fewer",
        },
    )
