"""docs/mutual-aid.md names every kind of aid with its details, every aid event a webhook can
subscribe to, and the exchange's scheduled jobs, as the code has them."""

from __future__ import annotations

from pathlib import Path

from flotilla.exchange import kinds
from flotilla.notifications.kinds import EVENT_KINDS

DOC = (Path(__file__).resolve().parents[3] / "docs" / "mutual-aid.md").read_text()


def _kinds_table() -> dict[str, str]:
    """The kinds table's rows: code → the row."""
    rows = {}
    for line in DOC.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 4 and cells[1].startswith("`") and cells[1].strip("`") in kinds.KINDS:
            rows[cells[1].strip("`")] = line
    return rows


def test_every_kind_of_aid_is_listed_with_its_label_unit_and_details():
    rows = _kinds_table()
    assert set(rows) == set(kinds.KINDS)
    for code, kind in kinds.KINDS.items():
        row = rows[code]
        assert f"| {kind.label} |" in row and f"| {kind.unit} |" in row
        for field in kind.fields:
            assert field.label in row, (code, field.name)


def test_every_choice_of_a_kinds_details_is_named():
    text = " ".join(DOC.split()).lower()
    for choices in (
        kinds.LEVELS_OF_CARE,
        kinds.CLINICAL_NEEDS,
        kinds.BED_TYPES,
        kinds.STAFF_ROLES,
        kinds.ELECTIVE_UNITS,
    ):
        for label in choices.values():
            assert label.lower() in text, label


def test_every_aid_event_kind_is_in_the_notifications_table():
    aid = {k for k in EVENT_KINDS if k.startswith("aid.")}
    assert aid
    for kind in aid:
        assert f"| `{kind}` |" in DOC, kind


def test_the_scheduled_jobs_are_named_as_the_schedule_names_them():
    from flotilla.jobs.schedule import SCHEDULE

    for entry in SCHEDULE:
        if entry.task.startswith("flotilla.exchange."):
            assert f"`{entry.name}`" in DOC, entry.name
