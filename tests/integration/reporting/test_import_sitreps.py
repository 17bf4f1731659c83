"""Importing the published NHS England sitreps (and our long-format template).

By default every winter file is imported whole (about a minute for all seven). Set
FLOTILLA_QUICK_IMPORT_TESTS=1 to import a sample of each file's days instead (the first three,
plus days with duplicate trust rows that complement or contradict each other).
"""

from __future__ import annotations

import csv
import io
import os
from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from flotilla.audit.models import AuditEvent
from flotilla.organisations.models import Organisation, Site
from flotilla.organisations.reference import load_reference
from flotilla.reporting.importers.sitrep import as_of
from flotilla.reporting.imports import ImportRejected, import_file
from flotilla.reporting.models import Observation, Submission
from tests import factories as f
from tests.conftest import data_dir
from tests.integration.organisations.test_load_reference import unload_reference

pytestmark = pytest.mark.django_db

WINTERS = ["1516", "1617", "1718", "1819", "1920", "2021", "2122"]
FULL = os.environ.get("FLOTILLA_QUICK_IMPORT_TESTS") != "1"

#: The published columns the importer stores, written out here on purpose (not imported
#: from the importer) so that the count below is independent of it.
STORED_COLUMNS = [
    "G&A Beds Open",
    "G&A beds occ'd",
    "CC Adult Open",
    "CC Adult Occ",
    "A&E Attendances",
    "Delays30",
    "Delays60",
    "Diverts",
    "Closures",
    "No. beds closed due to norovirus etc.",
    "No. unoccupied beds closed due to norovirus etc.",
    "No. beds occupied by long-stay patients (> 7 days)",
    "No. beds occupied by long-stay patients (> 21 days)",
    "No. beds occupied by flu patients (G&A)",
    "No. beds occupied by flu patients (Critical Care)",
]


@pytest.fixture(scope="module")
def reference_loaded(django_db_setup, django_db_blocker):
    """England's reference data, loaded once for the module and removed afterwards."""
    if not (data_dir() / "nhse-winter-sitreps").is_dir():
        pytest.skip(f"published data not found at {data_dir()} (set FLOTILLA_DATA_DIR)")
    with django_db_blocker.unblock():
        first_event = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
        load_reference(by=f.SYSTEM, data_dir=data_dir())
    yield
    with django_db_blocker.unblock():
        unload_reference()
        f.rewind_audit(first_event)


@pytest.fixture
def reference(reference_loaded, shared_data, db):
    return shared_data


def sitrep_path(winter: str) -> Path:
    return data_dir() / "nhse-winter-sitreps" / f"sitrep{winter}.csv"


def read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def write_rows(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def sample(winter: str, tmp_path: Path) -> Path:
    """The file itself (FULL), or its rows for a few telling days, in file order."""
    path = sitrep_path(winter)
    if FULL:
        return path
    header, rows = read_rows(path)
    code_at, date_at = header.index("Code"), header.index("Date")
    dates = list(dict.fromkeys(r[date_at] for r in rows))
    seen: dict[tuple[str, str], list[list[str]]] = defaultdict(list)
    for r in rows:
        if r[code_at] != "-":
            seen[(r[code_at], r[date_at])].append(r)
    complementing, conflicting = [], []
    for (_code, day), group in seen.items():
        if len(group) < 2:
            continue
        disagree = any(
            len({g[i] for g in group if g[i] not in ("", "-")}) > 1
            for i in range(len(header))
            if i not in (code_at, date_at)
        )
        (conflicting if disagree else complementing).append(day)
    keep = set(dates[:3]) | set(complementing[:2]) | set(conflicting[:1])
    return write_rows(tmp_path / path.name, header, [r for r in rows if r[date_at] in keep])


def successors() -> dict[str, str]:
    """Old code → the code holding its history now, from trust_mergers.csv (chains followed)."""
    path = data_dir() / "reference" / "england" / "trust_mergers.csv"
    with path.open(encoding="utf-8-sig", newline="") as fh:
        step = {r["trust_code_old"]: r["trust_code_new"] for r in csv.DictReader(fh)}

    def follow(code: str) -> str:
        seen = {code}
        while code in step and step[code] not in seen:
            code = step[code]
            seen.add(code)
        return code

    return {old: follow(old) for old in step}


def expected_counts(path: Path) -> tuple[int, int]:
    """(values, missing values) the file holds: distinct (trust, day, measure) cells.

    A trust-day-column with a number in any row is a number; with only `-`/inf/nan it is
    missing; empty cells carry nothing. Retired codes count under their successor, and a
    successor cell is missing if any of its parts is.
    """
    succ = successors()
    part: dict[tuple[str, str, str], str] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["Code"].strip() == "-":
                continue
            for column in STORED_COLUMNS:
                raw = (row.get(column) or "").strip()
                if not raw:
                    continue
                state = "missing" if raw == "-" or raw.lower() in ("inf", "nan") else "number"
                key = (row["Code"].strip(), row["Date"], column)
                if part.get(key) != "number":
                    part[key] = state
    cells: dict[tuple[str, str, str], str] = {}
    for (code, day, column), state in part.items():
        key = (succ.get(code, code), day, column)
        cells[key] = "missing" if "missing" in (cells.get(key), state) else "number"
    states = list(cells.values())
    return states.count("number"), states.count("missing")


def counts() -> tuple[int, ...]:
    return (
        Observation.objects.count(),
        Submission.objects.count(),
        AuditEvent.objects.count(),
        Organisation.objects.count(),
    )


def current_counts() -> tuple[int, int]:
    current = Observation.objects.filter(is_current=True)
    return (
        current.filter(value__isnull=False).count(),
        current.exclude(missing_reason="").count(),
    )


@pytest.mark.parametrize("winter", WINTERS)
def test_every_winter_file_imports_with_one_current_value_per_distinct_cell(
    reference, winter, tmp_path
):
    path = sample(winter, tmp_path)
    before = counts()
    rejected = None
    try:
        outcome = import_file(by=f.SYSTEM, path_or_stream=path, name=path.name)
    except ImportRejected as exc:
        rejected = exc
    if rejected is not None:
        # Without the option a file with conflicting rows is rejected whole, unchanged DB.
        assert all("duplicate rows disagree" in p.message for p in rejected.problems)
        assert rejected.outcome.conflicts
        assert counts() == before
        outcome = import_file(by=f.SYSTEM, path_or_stream=path, name=path.name, on_conflict="last")
        assert outcome.conflicts and all(c.kept for c in outcome.conflicts)
    assert current_counts() == expected_counts(path)
    assert outcome.england_rows_skipped > 0
    assert "Occupancy rate" in outcome.ignored_columns
    if winter in ("1516", "1617", "2021"):
        assert outcome.predecessor_rows_combined > 0


def test_the_2021_conflicts_need_the_option_and_keep_the_superseded_value(reference, tmp_path):
    path = sample("2122", tmp_path)
    before = counts()
    with pytest.raises(ImportRejected) as rejected:
        import_file(by=f.SYSTEM, path_or_stream=path, name=path.name)
    assert counts() == before
    problem = rejected.value.problems[0]
    assert problem.row and problem.field
    outcome = import_file(by=f.SYSTEM, path_or_stream=path, name=path.name, on_conflict="last")
    conflict = outcome.conflicts[0]
    org = Organisation.objects.get(code=conflict.code).current()
    stored = Observation.objects.filter(
        series__organisation=org, series__measure__code=conflict.measure, as_of=conflict.as_of
    ).order_by("revision")
    assert [(o.value, o.is_current) for o in stored] == [
        (conflict.readings[-2].value, False),
        (conflict.readings[-1].value, True),
    ]
    assert outcome.earlier_revisions_stored == len(outcome.conflicts)


def test_a_dash_is_stored_as_missing_not_zero(reference, tmp_path):
    header, rows = read_rows(sitrep_path("2021"))
    column = "Delays30"
    i = header.index(column)
    row = next(
        r for r in rows if r[0] not in ("-", *successors()) and r[i] == "-" and r[i + 1] == "-"
    )
    path = write_rows(tmp_path / "dash.csv", header, [row])
    import_file(by=f.SYSTEM, path_or_stream=path, name="dash.csv")
    obs = Observation.objects.get(
        series__organisation__code=row[0], series__measure__code="handover_30_60"
    )
    assert (obs.value, obs.missing_reason) == (None, "not_reported")
    assert obs.as_of == as_of(date.fromisoformat(row[2]))


def test_importing_the_same_file_again_changes_nothing(reference, tmp_path):
    path = sample("2122", tmp_path)
    import_file(by=f.SYSTEM, path_or_stream=path, name=path.name, on_conflict="last")
    before = counts()
    again = import_file(by=f.SYSTEM, path_or_stream=path, name=path.name, on_conflict="last")
    assert counts() == before
    assert (again.created, again.revised, again.submission_ids) == (0, 0, [])
    assert again.unchanged == again.cells
    assert not again.changed_anything


def corrupted(tmp_path: Path, column: str, value: str) -> tuple[Path, int]:
    """A few real 2020-21 rows (one from a trust unknown to the registry), one cell replaced."""
    header, rows = read_rows(sitrep_path("2021"))
    trusts = [r for r in rows if r[0] != "-"][:6]
    stranger = [*trusts[0]]
    stranger[0], stranger[1] = "ZZ9", "Stranger Hospitals NHS Trust"
    rows = [*trusts, stranger]
    rows[3][header.index(column)] = value
    return write_rows(tmp_path / "bad.csv", header, rows), 5  # header is line 1


def test_a_file_with_one_bad_cell_is_rejected_naming_its_row_and_column(reference, tmp_path):
    path, line = corrupted(tmp_path, "G&A beds occ'd", "abc")
    before = counts()
    with pytest.raises(ImportRejected) as rejected:
        import_file(by=f.SYSTEM, path_or_stream=path, name="bad.csv")
    (problem,) = rejected.value.problems
    assert (problem.row, problem.field) == (line, "G&A beds occ'd")
    assert "'abc' is not a number" in problem.message
    assert counts() == before


def test_a_value_out_of_the_catalogue_range_is_rejected_at_its_row_and_column(reference, tmp_path):
    path, line = corrupted(tmp_path, "Diverts", "500")
    before = counts()
    with pytest.raises(ImportRejected) as rejected:
        import_file(by=f.SYSTEM, path_or_stream=path, name="bad.csv")
    (problem,) = rejected.value.problems
    assert (problem.row, problem.field) == (line, "Diverts")
    assert "above the maximum" in problem.message
    assert counts() == before  # not even the unknown trust ZZ9 stays registered


def test_an_unknown_trust_is_registered_from_the_name_column(reference, tmp_path):
    path, _ = corrupted(tmp_path, "Diverts", "1")
    outcome = import_file(by=f.SYSTEM, path_or_stream=path, name="ok.csv")
    assert outcome.registered_organisations == [("ZZ9", "Stranger Hospitals NHS Trust")]
    assert Organisation.objects.get(code="ZZ9").kind == "acute"


def test_the_long_format_template_imports_organisation_and_site_values(reference):
    site = Site.objects.filter(organisation__code="RJ1").first()
    text = (
        "org_code,site_code,measure,as_of,value,comment\n"
        "RJ1,,ga_open,2026-01-05T08:00:00+00:00,1200,\n"
        "RJ1,,ga_occupied,2026-01-05T08:00:00+00:00,-,awaiting figures\n"
        f"RJ1,{site.code},ga_open,2026-01-05 08:00,300,\n"
        "RT3,,cc_adult_open,2026-01-05T08:00:00Z,40,\n"
        "RJ1,,situation,2026-01-05T08:00:00Z,Busy but flowing,\n"
    )
    stream = io.BytesIO(text.encode("utf-8"))  # as the web upload hands it over
    outcome = import_file(by=f.SYSTEM, path_or_stream=stream, name="ours.csv")
    assert (outcome.format, outcome.created) == ("longform", 5)
    assert outcome.unknown_columns == ["comment"]
    assert outcome.retired_codes_mapped == {"RT3": "RJ1"}
    got = {
        (o.series.site_id, o.series.measure.code): (o.value, o.text, o.missing_reason)
        for o in Observation.objects.select_related("series__measure")
    }
    assert got == {
        (None, "ga_open"): (1200.0, None, ""),
        (None, "ga_occupied"): (None, None, "not_reported"),
        (site.pk, "ga_open"): (300.0, None, ""),
        (None, "cc_adult_open"): (40.0, None, ""),
        (None, "situation"): (None, "Busy but flowing", ""),
    }


def test_a_long_format_file_with_a_bad_row_is_rejected_whole(reference):
    text = (
        "org_code,site_code,measure,as_of,value\n"
        "RJ1,,ga_open,2026-01-05T08:00:00+00:00,1200\n"
        "RJ1,,ga_occupied,2026-01-05T08:00:00+00:00,lots\n"
        "XX1,,ga_open,2026-01-05T08:00:00+00:00,5\n"
    )
    before = counts()
    with pytest.raises(ImportRejected) as rejected:
        import_file(by=f.SYSTEM, path_or_stream=io.StringIO(text), name="ours.csv")
    assert [(p.row, p.field) for p in rejected.value.problems] == [(3, "value")]
    assert counts() == before
    fixed = text.replace("lots", "1100")
    with pytest.raises(ImportRejected) as rejected:
        import_file(by=f.SYSTEM, path_or_stream=io.StringIO(fixed), name="ours.csv")
    assert [(p.row, p.field) for p in rejected.value.problems] == [(4, "org_code")]
    assert counts() == before


def test_the_command_lists_every_conflict_and_imports_with_the_option(reference, tmp_path):
    path = sample("2122", tmp_path)
    before = counts()
    with pytest.raises(CommandError) as failed:
        call_command("import-sitreps", str(path))
    message = str(failed.value)
    assert "rejected, nothing stored" in message
    assert "row " in message and "column " in message and "duplicate rows disagree" in message
    assert counts() == before
    out = io.StringIO()
    call_command("import-sitreps", str(path), "--on-conflict=last", "--dry-run", stdout=out)
    assert "would store" in out.getvalue()
    assert counts() == before
    out = io.StringIO()
    call_command("import-sitreps", str(path), "--on-conflict=last", stdout=out)
    assert "Resolved" in out.getvalue()
    assert "Skipped" in out.getvalue() and "England total rows" in out.getvalue()
    assert Observation.objects.count() > 0


def test_an_unknown_trust_whose_name_the_registry_cannot_hold_is_refused_and_nothing_stays(
    reference, tmp_path
):
    """On PostgreSQL an oversized name would otherwise be a database error; on SQLite it would
    be stored whole. Either way the file is refused at the row and column instead."""
    path = tmp_path / "long.csv"
    path.write_text(
        f"Code,Name,Date,G&A beds open\nZZ9,{'Stranger Hospitals ' * 16}NHS Trust,2021-12-01,100\n"
    )
    before = counts()
    with pytest.raises(ImportRejected) as rejected:
        import_file(by=f.SYSTEM, path_or_stream=path, name="long.csv")
    (problem,) = rejected.value.problems
    assert (problem.row, problem.field) == (2, "Name")
    assert counts() == before
    assert not Organisation.objects.filter(code="ZZ9").exists()
