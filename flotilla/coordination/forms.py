"""The coordination pages' forms. They read and type what was posted; what the values must
be is checked by the actions, whose errors name the same fields, so a page shows each beside
its box."""

from __future__ import annotations

from typing import Any

from django import forms

from flotilla.coordination.models import (
    Comparison,
    ItemKind,
    ItemStatus,
    RoleKind,
    Scope,
    WorkstreamStatus,
)
from flotilla.coordination.rules import measure_label, objective_measures


def _people_choices(people: list[Any]) -> list[tuple[str, str]]:
    return [("", "No one yet")] + [(str(p.pk), _person(p)) for p in people]


def _person(p: Any) -> str:
    full = p.get_full_name() if hasattr(p, "get_full_name") else ""
    return f"{full} ({p.get_username()})" if full else p.get_username()


def _date_error(what: str) -> dict[str, str]:
    return {"invalid": f"Enter {what} as a real date, like 2026-12-01"}


class PeopleMixin:
    """Fields that name a person are chosen from the people of the members."""

    people: dict[str, Any]

    def person(self, name: str) -> Any:
        return self.people.get(self.cleaned_data.get(name) or "")  # type: ignore[attr-defined]


class ObjectiveForm(PeopleMixin, forms.Form):
    statement = forms.CharField(
        max_length=300, error_messages={"required": "Say what the objective is"}
    )
    measure = forms.ChoiceField(
        error_messages={
            "required": "Choose a figure from the list",
            "invalid_choice": "Choose a figure from the list",
        }
    )
    scope = forms.ChoiceField(
        choices=Scope.choices,
        error_messages={"required": "Choose a scope", "invalid_choice": "Choose a scope"},
    )
    comparison = forms.ChoiceField(
        choices=Comparison.choices,
        error_messages={
            "required": "Choose at most or at least",
            "invalid_choice": "Choose at most or at least",
        },
    )
    target = forms.FloatField(
        error_messages={
            "required": "Give the target as a number",
            "invalid": "Give the target as a number",
        }
    )
    owner = forms.ChoiceField(required=False)

    def __init__(self, *args: Any, people: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.people = {str(p.pk): p for p in people}
        self.fields["measure"].choices = [("", "Choose a figure")] + [
            (code, measure_label(code)) for code in objective_measures()
        ]
        self.fields["owner"].choices = _people_choices(people)

    def values(self) -> dict[str, Any]:
        """The action's arguments: an occupancy's target is typed as a percentage."""
        d = self.cleaned_data
        target = d["target"]
        if objective_measures().get(d["measure"]) == "ratio":
            target = target / 100
        return {
            "statement": d["statement"],
            "measure": d["measure"],
            "scope": d["scope"],
            "comparison": d["comparison"],
            "target": target,
            "owner": self.person("owner"),
        }


class WorkstreamForm(PeopleMixin, forms.Form):
    name = forms.CharField(
        max_length=200, error_messages={"required": "Give the workstream a name"}
    )
    purpose = forms.CharField(required=False, max_length=2000)
    objectives = forms.MultipleChoiceField(required=False)
    sponsor = forms.ChoiceField(required=False)
    leads = forms.MultipleChoiceField(required=False)
    members = forms.MultipleChoiceField(required=False)
    status = forms.ChoiceField(choices=WorkstreamStatus.choices, initial=WorkstreamStatus.ACTIVE)
    closed_reason = forms.CharField(required=False, max_length=500)

    def __init__(self, *args: Any, people: list[Any], objectives: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.people = {str(p.pk): p for p in people}
        self.objective_map = {str(o.pk): o for o in objectives}
        self.fields["objectives"].choices = [(str(o.pk), o.statement) for o in objectives]
        self.fields["sponsor"].choices = _people_choices(people)
        for name in ("leads", "members"):
            self.fields[name].choices = [(str(p.pk), _person(p)) for p in people]

    def values(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {
            "name": d["name"],
            "purpose": d["purpose"],
            "objectives": [self.objective_map[k] for k in d["objectives"]],
            "sponsor": self.person("sponsor"),
            "leads": [self.people[k] for k in d["leads"]],
            "members": [self.people[k] for k in d["members"]],
            "status": d["status"],
        }


class ItemForm(PeopleMixin, forms.Form):
    kind = forms.ChoiceField(
        choices=ItemKind.choices,
        error_messages={
            "required": "Choose a risk, an action, an issue or a decision",
            "invalid_choice": "Choose a risk, an action, an issue or a decision",
        },
    )
    title = forms.CharField(max_length=300, error_messages={"required": "Say what it is in a line"})
    workstream = forms.ChoiceField(required=False)
    detail = forms.CharField(required=False, max_length=5000)
    owner = forms.ChoiceField(required=False)
    due_on = forms.DateField(required=False, error_messages=_date_error("the date"))
    likelihood = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "—")] + [(str(n), str(n)) for n in range(1, 6)],
        error_messages={"invalid_choice": "Give the likelihood from 1 (low) to 5 (high)"},
    )
    impact = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "—")] + [(str(n), str(n)) for n in range(1, 6)],
        error_messages={"invalid_choice": "Give the impact from 1 (low) to 5 (high)"},
    )
    mitigation = forms.CharField(required=False, max_length=5000)
    rationale = forms.CharField(required=False, max_length=5000)
    decided_by = forms.CharField(required=False, max_length=300)
    #: For a decision: taken now (its picture is kept), or still to be taken by the date due.
    decided = forms.TypedChoiceField(
        required=False,
        coerce=lambda v: v == "yes",
        empty_value=True,
        choices=[("yes", "Taken now"), ("no", "To be taken by the date due")],
        initial="yes",
    )

    def __init__(
        self, *args: Any, people: list[Any], workstreams: list[Any], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.people = {str(p.pk): p for p in people}
        self.workstream_map = {str(w.pk): w for w in workstreams}
        self.fields["workstream"].choices = [("", "The collaborative as a whole")] + [
            (str(w.pk), w.name) for w in workstreams
        ]
        self.fields["owner"].choices = _people_choices(people)

    def values(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {
            "kind": d["kind"],
            "title": d["title"],
            "workstream": self.workstream_map.get(d["workstream"] or ""),
            "detail": d["detail"],
            "owner": self.person("owner"),
            "due_on": d["due_on"],
            "likelihood": d["likelihood"],
            "impact": d["impact"],
            "mitigation": d["mitigation"],
            "rationale": d["rationale"],
            "decided_by": d["decided_by"],
            "decided": d["decided"],
        }


class StatusForm(forms.Form):
    status = forms.ChoiceField(
        choices=ItemStatus.choices,
        error_messages={"required": "Choose a status", "invalid_choice": "Choose a status"},
    )
    reason = forms.CharField(required=False, max_length=500)


class EscalateForm(forms.Form):
    note = forms.CharField(
        max_length=500, error_messages={"required": "Say what you need the sponsor to do"}
    )


class DecideForm(forms.Form):
    rationale = forms.CharField(
        max_length=5000, error_messages={"required": "Say why it was decided"}
    )
    decided_by = forms.CharField(max_length=300, error_messages={"required": "Say who decided"})


class CloseForm(forms.Form):
    reason = forms.CharField(max_length=500, error_messages={"required": "Say why it is closed"})


class RoleForm(forms.Form):
    person = forms.ChoiceField(
        error_messages={"required": "Choose a person", "invalid_choice": "Choose a person"}
    )
    kind = forms.ChoiceField(
        choices=RoleKind.choices,
        error_messages={"required": "Choose a role", "invalid_choice": "Choose a role"},
    )

    def __init__(self, *args: Any, memberships: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: "user:organisation" → (user, organisation): a person is chosen for one member.
        self.options = {f"{m.user_id}:{m.organisation_id}": m for m in memberships}
        self.fields["person"].choices = [("", "Choose a person")] + [
            (k, f"{_person(m.user)}, {m.organisation.name}") for k, m in self.options.items()
        ]


class MinutesForm(forms.Form):
    attendees = forms.MultipleChoiceField(required=False)
    notes = forms.CharField(required=False, max_length=20000)

    def __init__(self, *args: Any, members: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.members = {str(m.pk): m for m in members}
        self.fields["attendees"].choices = [(str(m.pk), m.name) for m in members]


# --- the dedicated team


class TeamForm(forms.Form):
    """The team page shows its three forms at once, so their boxes have names (and ids) of
    their own. `ACTION_FIELDS` says which box an action's error names: "user" → "person".
    Hours are read as typed; the actions say what they must be."""

    ACTION_FIELDS: dict[str, str] = {}

    def __init__(
        self, *args: Any, workstreams: list[Any], people: list[Any], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.workstream_map = {str(w.pk): w for w in workstreams}
        self.people = {str(p.pk): p for p in people}
        for name, f in self.fields.items():
            if isinstance(f, forms.ChoiceField) and "workstream" in name:
                f.choices = [("", "Choose a workstream")] + [
                    (str(w.pk), w.name) for w in workstreams
                ]
            elif isinstance(f, forms.ChoiceField) and "person" in name:
                f.choices = [("", "Choose a person")] + [(str(p.pk), _person(p)) for p in people]

    def field_for(self, action_field: str) -> str | None:
        """The box an action's error belongs beside (None: the form as a whole)."""
        name = self.ACTION_FIELDS.get(action_field, action_field)
        return name if name in self.fields else None

    def chosen_workstream(self, name: str) -> Any:
        return self.workstream_map[self.cleaned_data[name]]

    def chosen_person(self, name: str) -> Any:
        return self.people[self.cleaned_data[name]]


def _workstream_field() -> forms.ChoiceField:
    words = "Choose a workstream"
    return forms.ChoiceField(error_messages={"required": words, "invalid_choice": words})


def _team_person_field() -> forms.ChoiceField:
    words = "Choose a person of the dedicated team"
    return forms.ChoiceField(error_messages={"required": words, "invalid_choice": words})


def _week_field() -> forms.DateField:
    return forms.DateField(
        error_messages={
            "required": "Give the week as the date of its Monday, like 2026-03-02",
            "invalid": "Enter the week's Monday as a real date, like 2026-03-02",
        }
    )


def _hours_field(what: str) -> forms.CharField:
    return forms.CharField(max_length=20, error_messages={"required": f"Give the {what}"})


class AskForm(TeamForm):
    ask_workstream = _workstream_field()
    ask_week = _week_field()
    ask_hours = _hours_field("hours asked for")

    ACTION_FIELDS = {"workstream": "ask_workstream", "week": "ask_week", "hours": "ask_hours"}

    def values(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {
            "workstream": self.chosen_workstream("ask_workstream"),
            "week": d["ask_week"],
            "hours": d["ask_hours"],
        }


class AllocateForm(TeamForm):
    person = _team_person_field()
    workstream = _workstream_field()
    week = _week_field()
    hours = _hours_field("hours allocated")

    ACTION_FIELDS = {"user": "person"}

    def values(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {
            "user": self.chosen_person("person"),
            "workstream": self.chosen_workstream("workstream"),
            "week": d["week"],
            "hours": d["hours"],
        }


class MoveForm(TeamForm):
    move_person = _team_person_field()
    move_week = _week_field()
    from_workstream = _workstream_field()
    to_workstream = _workstream_field()
    move_hours = _hours_field("hours to move")

    ACTION_FIELDS = {"user": "move_person", "week": "move_week", "hours": "move_hours"}

    def values(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {
            "user": self.chosen_person("move_person"),
            "week": d["move_week"],
            "hours": d["move_hours"],
            "from_workstream": self.chosen_workstream("from_workstream"),
            "to_workstream": self.chosen_workstream("to_workstream"),
        }
