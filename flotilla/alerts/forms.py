"""The form for an alert rule. Its numbers are checked by `logic.check` in the action, whose
errors name the same fields, so a page shows each beside its box."""

from __future__ import annotations

from typing import Any

from django import forms

from flotilla.alerts import logic


def _blank_none(value: Any) -> Any:
    return None if value in ("", None) else value


class RuleForm(forms.Form):
    kind = forms.ChoiceField(
        choices=list(logic.KINDS.items()),
        error_messages={
            "required": "Choose what the rule watches",
            "invalid_choice": "Choose what the rule watches",
        },
    )
    measure = forms.ChoiceField(required=False)
    organisation = forms.ChoiceField(required=False)
    threshold = forms.FloatField(
        required=False, error_messages={"invalid": "Enter the threshold as a number"}
    )
    clear_at = forms.FloatField(
        required=False,
        error_messages={"invalid": "Enter the value an alert clears at as a number"},
    )
    within_days = forms.IntegerField(
        required=False,
        error_messages={"invalid": "Enter how many days ahead to look in whole days"},
    )
    quantile = forms.TypedChoiceField(
        required=False,
        coerce=float,
        empty_value=None,
        choices=[("", "Expected (the median forecast)")]
        + [(str(q), words) for q, words in logic.QUANTILE_CHOICES.items() if q != 0.5],
        error_messages={"invalid_choice": "Choose how likely the forecast must say it is"},
    )
    min_interval_minutes = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=24 * 60,
        error_messages={
            "invalid": "Enter the minimum interval in whole minutes",
            "min_value": "Enter a minimum interval from 0 to 1,440 minutes",
            "max_value": "Enter a minimum interval from 0 to 1,440 minutes",
        },
    )

    def __init__(self, *args: Any, members: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.members = {str(m.pk): m for m in members}
        self.fields["measure"].choices = [("", "Not a figure rule"), *logic.measures_offered()]
        self.fields["organisation"].choices = [("", "Every member")] + [
            (str(m.pk), m.name) for m in members
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("kind") in logic.FIGURE_KINDS and not data.get("measure"):
            self.add_error("measure", "Choose the figure to watch")
        return data

    def values(self) -> dict[str, Any]:
        """The action's keyword arguments."""
        d = self.cleaned_data
        kind = d["kind"]
        return {
            "kind": kind,
            "measure": d.get("measure") or "" if kind in logic.FIGURE_KINDS else "",
            "organisation": self.members.get(d.get("organisation") or ""),
            "threshold": _blank_none(d.get("threshold")),
            "clear_at": _blank_none(d.get("clear_at")),
            # Days ahead and how likely: a forecast rule's (blank: its defaults).
            "within_days": _blank_none(d.get("within_days")) if kind == logic.FORECAST else None,
            "quantile": _blank_none(d.get("quantile")) if kind == logic.FORECAST else None,
            "min_interval_minutes": 60
            if d.get("min_interval_minutes") is None
            else d["min_interval_minutes"],
        }
