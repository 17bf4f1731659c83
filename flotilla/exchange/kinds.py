"""The kinds of mutual aid and the structured details each carries: plain data and one
validator, no Django, so pages, the API and the demo refuse the same things in the same words.

A request and an offer of one kind carry the same details. Nothing here may identify a
patient: transfers say what care is needed, never who needs it (`looks_like_patient_identity`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

LEVELS_OF_CARE: dict[str, str] = {
    "ga": "General and acute",
    "enhanced": "Enhanced care",
    "cc2": "Critical care level 2",
    "cc3": "Critical care level 3",
    "paediatric": "Paediatric",
    "mental_health": "Mental health",
}

#: The catalogue's bed type whose "admissible now" says whether an organisation has room
#: for a patient at this level of care (used by matching, read through the sharing policy).
BED_TYPE_FOR_LEVEL: dict[str, str] = {
    "ga": "ga",
    "enhanced": "ga",
    "cc2": "cc_adult",
    "cc3": "cc_adult",
    "paediatric": "ga_paed",
    "mental_health": "mh_adult",
}

CLINICAL_NEEDS: dict[str, str] = {
    "isolation": "Isolation",
    "ventilation": "Ventilation",
    "bariatric": "Bariatric",
    "specialist_team": "Specialist team",
}

BED_TYPES: dict[str, str] = {
    "ga": "General & acute",
    "ga_paed": "General & acute, paediatric",
    "cc_adult": "Adult critical care",
    "picu": "Paediatric critical care",
    "nicu": "Neonatal critical care",
    "mh_adult": "Mental health, adult acute",
    "mh_picu": "Psychiatric intensive care",
    "escalation": "Escalation and surge",
}

STAFF_ROLES: dict[str, str] = {
    "registered_nurse": "Registered nurse",
    "healthcare_assistant": "Healthcare assistant",
    "doctor": "Doctor",
    "allied_health": "Allied health professional",
    "paramedic": "Paramedic",
    "porter": "Porter or support worker",
}

ELECTIVE_UNITS: dict[str, str] = {"sessions": "Theatre or clinic sessions", "patients": "Patients"}


@dataclass(frozen=True)
class Field:
    """One detail of a kind of aid. `type`: choice, choices (several), text, int, bool, date."""

    name: str
    label: str
    type: str
    required: bool = True
    choices: dict[str, str] | None = None
    max_length: int = 120
    minimum: int = 1
    maximum: int = 52


@dataclass(frozen=True)
class Kind:
    code: str
    label: str
    #: What the quantity counts ("patients", "beds", "people", "items", "sessions or patients").
    unit: str
    fields: tuple[Field, ...]


KINDS: dict[str, Kind] = {
    k.code: k
    for k in (
        Kind(
            "transfer",
            "Patient transfer",
            "patients",
            (
                Field("level_of_care", "Level of care", "choice", choices=LEVELS_OF_CARE),
                # Left out, the usual beds for the level of care (BED_TYPE_FOR_LEVEL).
                Field("bed_type", "Bed type", "choice", required=False, choices=BED_TYPES),
                Field(
                    "clinical_needs",
                    "Clinical needs",
                    "choices",
                    required=False,
                    choices=CLINICAL_NEEDS,
                ),
            ),
        ),
        Kind(
            "beds",
            "Beds or unit capacity",
            "beds",
            (
                Field("bed_type", "Bed type", "choice", choices=BED_TYPES),
                Field("from_date", "From", "date"),
                Field("until_date", "Until", "date"),
            ),
        ),
        Kind(
            "staff",
            "Staff",
            "people",
            (
                Field("role", "Role", "choice", choices=STAFF_ROLES),
                Field("grade", "Grade or band", "text", max_length=40),
                Field("skills", "Skills", "text", required=False, max_length=300),
                Field("shifts", "Shifts", "text", max_length=300),
            ),
        ),
        Kind(
            "equipment",
            "Equipment",
            "items",
            (
                Field("equipment_type", "Type of equipment", "text"),
                Field("consumable", "Consumable (not to be returned)", "bool"),
                Field("return_by", "To be returned by", "date", required=False),
            ),
        ),
        Kind(
            "elective",
            "Elective capacity",
            "sessions or patients",
            (
                Field("specialty", "Specialty", "text", max_length=80),
                Field("procedure_group", "Procedure group", "text", max_length=120),
                Field("unit", "Counted in", "choice", choices=ELECTIVE_UNITS),
                Field("weeks", "Over how many weeks", "int", minimum=1, maximum=52),
            ),
        ),
    )
}

#: Ten digits, alone or spaced 3-3-4, reads as an NHS number: refused in any free text.
_NHS_NUMBER = re.compile(r"(?<!\d)\d{3}[ -]?\d{3}[ -]?\d{4}(?!\d)")
#: A date of birth written out ("DOB", "d.o.b.", "date of birth", "born 1/2/1950", "born on
#: 3 March 1961"); "born at 28 weeks" says nothing about who the patient is.
_BIRTH = re.compile(
    r"\b(d\.?o\.?b\b\.?|date of birth|born\s+(on\s+)?\d{1,2}(st|nd|rd|th)?[\s/.-]+"
    r"(\d{1,2}|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec))",
    re.IGNORECASE,
)


def looks_like_patient_identity(text: str) -> bool:
    """Whether free text seems to carry a patient's NHS number or date of birth. Aid is
    arranged without identities; the clinical handover happens elsewhere."""
    return bool(_NHS_NUMBER.search(text) or _BIRTH.search(text))


IDENTITY_MESSAGE = (
    "remove what looks like a patient's NHS number or date of birth: aid is arranged "
    "without identities"
)


class DetailsInvalid(ValueError):
    """Details that do not fit their kind, with one message per field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _clean(f: Field, raw: Any) -> Any:
    """One detail, cleaned; raises ValueError with the sentence to show."""
    if f.type == "bool":
        if isinstance(raw, bool):
            return raw
        if raw in ("true", "on", "yes", "1"):
            return True
        if raw in ("false", "no", "0", ""):
            return False
        raise ValueError("answer yes or no")
    if f.type == "choices":
        values = raw if isinstance(raw, list | tuple) else [raw]
        # JSON may carry anything in the list: only a choice's code is one of its choices.
        unknown = [v for v in values if not isinstance(v, str) or v not in (f.choices or {})]
        if unknown:
            raise ValueError(f"choose from {', '.join(f.choices or {})}")
        return sorted(set(values))
    if not isinstance(raw, str | int) or isinstance(raw, bool):
        raise ValueError("give a single value")
    text = str(raw).strip()
    if f.type == "choice":
        if text not in (f.choices or {}):
            raise ValueError(f"choose one of {', '.join(f.choices or {})}")
        return text
    if f.type == "int":
        if not re.fullmatch(r"\d+", text) or not f.minimum <= int(text) <= f.maximum:
            raise ValueError(f"give a whole number from {f.minimum} to {f.maximum}")
        return int(text)
    if f.type == "date":
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise ValueError("give a date as YYYY-MM-DD") from None
    if len(text) > f.max_length:
        raise ValueError(f"use {f.max_length} characters or fewer")
    if looks_like_patient_identity(text):
        raise ValueError(IDENTITY_MESSAGE)
    return text


def _missing(raw: Any) -> bool:
    # Only spaces is nothing: a required detail is not given by a blank.
    return raw is None or (isinstance(raw, str) and not raw.strip()) or raw == []


def validate(kind: str, details: dict[str, Any]) -> dict[str, Any]:
    """The details of `kind`, cleaned, or DetailsInvalid naming every field that is wrong.

    Unknown fields are refused rather than dropped, so that a typo is not silently lost.
    """
    spec = KINDS.get(kind)
    if spec is None:
        raise DetailsInvalid({"kind": f"choose one of {', '.join(KINDS)}"})
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    known = {f.name for f in spec.fields}
    for name in sorted(set(details) - known):
        errors[name] = f"{spec.label.lower()} has no detail called {name!r}"
    for f in spec.fields:
        raw = details.get(f.name)
        if _missing(raw) and f.type != "bool":
            if f.required:
                errors[f.name] = f"{f.label.lower()} is needed"
            continue
        try:
            clean[f.name] = _clean(f, raw)
        except ValueError as exc:
            errors[f.name] = str(exc)
    window = (clean.get("from_date"), clean.get("until_date"))
    if kind == "beds" and None not in window and window[1] < window[0]:
        errors["until_date"] = "must be on or after the from date"
    if kind == "transfer" and "bed_type" not in clean and "level_of_care" in clean:
        clean["bed_type"] = BED_TYPE_FOR_LEVEL[clean["level_of_care"]]
    if kind == "equipment" and clean.get("consumable") is False and "return_by" not in clean:
        errors.setdefault("return_by", "say when equipment that is not consumable comes back")
    if errors:
        raise DetailsInvalid(errors)
    return clean


#: A unit's word for one of it.
SINGULAR = {
    "patients": "patient",
    "beds": "bed",
    "people": "person",
    "items": "item",
    "sessions": "session",
}


def describe(kind: str, quantity: int, details: dict[str, Any]) -> str:
    """A short phrase for lists and notifications: "2 patients, critical care level 3"."""
    spec = KINDS[kind]
    unit = spec.unit if kind != "elective" else details.get("unit", "sessions")
    words = [f"{quantity} {SINGULAR.get(unit, unit) if quantity == 1 else unit}"]
    for f in spec.fields:
        value = details.get(f.name)
        if f.type == "choice" and value:
            words.append((f.choices or {}).get(value, value).lower())
        elif f.type == "choices" and value:
            words.append(" and ".join((f.choices or {})[v].lower() for v in value))
        elif f.name in ("equipment_type", "specialty", "role") and value:
            words.append(str(value))
    return ", ".join(words)
