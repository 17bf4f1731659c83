from django import forms

from flotilla.registry.thresholds import STANDARD_THRESHOLDS


class CollaborativeForm(forms.Form):
    name = forms.CharField(max_length=200, error_messages={"required": "Enter a name"})
    purpose = forms.CharField(
        widget=forms.Textarea, error_messages={"required": "Enter the shared purpose"}
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
        max_length=10, error_messages={"required": "Enter the organisation's ODS code"}
    )


class SettingsForm(forms.Form):
    reporting_interval_hours = forms.IntegerField(min_value=1, max_value=168)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for indicator in STANDARD_THRESHOLDS:
            self.fields[f"{indicator}_amber"] = forms.FloatField(min_value=0)
            self.fields[f"{indicator}_red"] = forms.FloatField(min_value=0)

    def clean(self):
        data = super().clean()
        for indicator in STANDARD_THRESHOLDS:
            a, r = data.get(f"{indicator}_amber"), data.get(f"{indicator}_red")
            if a is not None and r is not None and r < a:
                self.add_error(f"{indicator}_red", "Red must be at or above amber")
        return data

    def thresholds(self) -> dict[str, tuple[float, float]]:
        d = self.cleaned_data
        return {i: (d[f"{i}_amber"], d[f"{i}_red"]) for i in STANDARD_THRESHOLDS}
