"""Importing files through a mapping into a real database, through the actions."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from flotilla.audit.models import AuditEvent
from flotilla.organisations.models import Organisation, Site
from flotilla.reporting.importers.mapped import read_mapping
from flotilla.reporting.imports import ImportRejected, import_file
from flotilla.reporting.models import Observation, Submission
from tests import factories as f

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")

MAPPING = """\
description = "Hospital beds by month, by name"

[file]
encoding = "cp1252"
separator = ";"

[date]
column = "Mois"
formats = ["%Y-%m"]

[organisation]
column = "Établissement"
match = "name"

[markers]
"*" = "unknown"
"n/a" = "not_reported"

[[measures]]
column = "Lits"
measure = "ga_open"
unit = "beds"

[[measures]]
column = "Occupés"
measure = "ga_occupied"
unit = "beds"
"""

CODED = """\
description = "Hospital beds by code, with sites"

[date]
column = "date"

[organisation]
column = "org"
register = true
name_column = "org_name"
kind = "other"

[site]
column = "site"
name_column = "site_name"
register = true

[[measures]]
column = "beds"
measure = "ga_open"
unit = "beds"
"""


def write(tmp_path: Path, text: str, name: str = "beds.csv", encoding: str = "cp1252") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def counts() -> tuple[int, int, int, int, int]:
    return (
        Observation.objects.count(),
        Submission.objects.count(),
        AuditEvent.objects.count(),
        Organisation.objects.count(),
        Site.objects.count(),
    )


@pytest.fixture
def hospitals(db):
    """Two trusts: one known by an alias with accents, one by its own name."""
    cote = f.OrganisationFactory(code="RX1", name="Cote d'Azur Hospitals NHS Trust")
    f.alias(cote, "Hôpital Côte d'Azur")
    other = f.OrganisationFactory(code="RX2", name="St. Mary's & St. Luke's Hospitals")
    return cote, other


FILE = (
    "Établissement;Mois;Lits;Occupés\n"
    "Hôpital Côte d'Azur;2024-01;120;*\n"
    "st marys and st lukes hospitals;2024-01;80;75\n"
)


def test_a_cp1252_file_is_stored_by_alias_and_by_name_with_markers_missing_not_zero(
    hospitals, tmp_path
):
    outcome = import_file(
        by=f.SYSTEM,
        path_or_stream=write(tmp_path, FILE),
        name="beds.csv",
        mapping=read_mapping(MAPPING, source="beds.toml"),
    )
    assert (outcome.format, outcome.created, outcome.mapping) == ("mapped", 4, "beds.toml")
    as_of = datetime(2024, 1, 1, 8, 0, tzinfo=LONDON)
    stored = {
        (o.series.organisation.code, o.series.measure.code): (o.value, o.missing_reason)
        for o in Observation.objects.filter(as_of=as_of).select_related(
            "series__organisation", "series__measure"
        )
    }
    assert stored == {
        ("RX1", "ga_open"): (120.0, ""),
        ("RX1", "ga_occupied"): (None, "unknown"),
        ("RX2", "ga_open"): (80.0, ""),
        ("RX2", "ga_occupied"): (75.0, ""),
    }
    event = AuditEvent.objects.filter(action="reporting.report_submitted").latest("id")
    assert event.after and Submission.objects.get().reference == "beds.csv"


def test_importing_the_same_file_twice_changes_nothing(hospitals, tmp_path):
    path, mapping = write(tmp_path, FILE), read_mapping(MAPPING)
    import_file(by=f.SYSTEM, path_or_stream=path, name="beds.csv", mapping=mapping)
    before = counts()
    again = import_file(by=f.SYSTEM, path_or_stream=path, name="beds.csv", mapping=mapping)
    assert counts() == before
    assert not again.changed_anything and again.unchanged == again.cells == 4


def test_a_dry_run_reports_what_it_would_store_and_stores_nothing(hospitals, tmp_path):
    before = counts()
    outcome = import_file(
        by=f.SYSTEM,
        path_or_stream=write(tmp_path, FILE),
        name="beds.csv",
        mapping=read_mapping(MAPPING),
        dry_run=True,
    )
    assert outcome.created == 4 and "would store 4 new" in outcome.summary_lines()[0]
    assert counts() == before


def test_one_bad_cell_rejects_the_whole_file_naming_row_and_column(hospitals, tmp_path):
    bad = FILE + "Hôpital Côte d'Azur;2024-02;plenty;3\n"
    before = counts()
    with pytest.raises(ImportRejected) as rejected:
        import_file(
            by=f.SYSTEM,
            path_or_stream=write(tmp_path, bad),
            name="beds.csv",
            mapping=read_mapping(MAPPING),
        )
    [problem] = rejected.value.problems
    assert (problem.row, problem.field) == (4, "Lits")
    assert counts() == before


def test_a_figure_out_of_the_catalogues_range_is_refused_naming_row_and_column(hospitals, tmp_path):
    with pytest.raises(ImportRejected) as rejected:
        import_file(
            by=f.SYSTEM,
            path_or_stream=write(tmp_path, FILE.replace(";80;", ";-80;")),
            name="beds.csv",
            mapping=read_mapping(MAPPING),
        )
    assert [(p.row, p.field) for p in rejected.value.problems] == [(3, "Lits")]


def test_a_name_nobody_has_and_a_name_two_organisations_have_are_errors_naming_the_row(
    hospitals, tmp_path
):
    cote, other = hospitals
    f.alias(other, "Hopital Cote d'Azur")
    f.alias(cote, "Hopital Cote d'Azur")
    text = FILE + "Hopital Cote d'Azur;2024-01;1;1\nNowhere General;2024-01;1;1\n"
    with pytest.raises(ImportRejected) as rejected:
        import_file(
            by=f.SYSTEM,
            path_or_stream=write(tmp_path, text),
            name="beds.csv",
            mapping=read_mapping(MAPPING),
        )
    problems = {p.row: (p.field, p.message) for p in rejected.value.problems}
    assert problems[4][0] == "Établissement" and "names RX1 and RX2" in problems[4][1]
    assert problems[5][0] == "Établissement" and "no organisation is named" in problems[5][1]


def test_a_mapping_that_names_a_column_the_file_lacks_is_refused_with_its_line(hospitals, tmp_path):
    mapping = read_mapping(MAPPING.replace('"Occupés"', '"Occupied"'), source="beds.toml")
    with pytest.raises(ImportRejected) as rejected:
        import_file(
            by=f.SYSTEM, path_or_stream=write(tmp_path, FILE), name="beds.csv", mapping=mapping
        )
    [problem] = rejected.value.problems
    line = MAPPING.splitlines().index('column = "Occupés"') + 1
    assert f"beds.toml, line {line}: the file has no column 'Occupied'" in problem.message


def test_the_command_line_registers_what_the_mapping_says_and_an_upload_never_does(
    tmp_path, capsys
):
    owner = f.OrganisationFactory(code="RX3")
    text = (
        "date,org,org_name,site,site_name,beds\n"
        "2024-01-05,ZZ1,Faraway Hospitals,ZZ1A,Faraway General,40\n"
        "2024-01-05,RX3,,RX3B,Nearby Cottage,10\n"
    )
    path = write(tmp_path, text, "coded.csv", "utf-8")
    mapping = read_mapping(CODED)
    before = counts()
    with pytest.raises(ImportRejected) as rejected:
        import_file(
            by=f.SYSTEM,
            path_or_stream=path,
            name="coded.csv",
            mapping=mapping,
            allowed_organisation_ids={owner.pk},
        )
    assert {(p.row, p.field) for p in rejected.value.problems} >= {(2, "org")}
    assert counts() == before
    toml = tmp_path / "coded.toml"
    toml.write_text(CODED, encoding="utf-8")
    call_command("import-sitreps", str(path), "--mapping", str(toml))
    assert "Registered organisations new to Flotilla: ZZ1 (Faraway Hospitals)" in (
        capsys.readouterr().out
    )
    assert Organisation.objects.get(code="ZZ1").kind == "other"
    assert Site.objects.get(code="RX3B").organisation == owner
    assert Observation.objects.get(series__site__code="ZZ1A").value == 40


def test_the_command_refuses_a_mapping_naming_its_line(tmp_path):
    toml = tmp_path / "broken.toml"
    toml.write_text(CODED.replace('unit = "beds"', 'unit = "bedz"'), encoding="utf-8")
    path = write(tmp_path, "date,org\n", "x.csv", "utf-8")
    line = CODED.splitlines().index('unit = "beds"') + 1
    with pytest.raises(CommandError, match=rf"broken\.toml, line {line}: unknown unit 'bedz'"):
        call_command("import-sitreps", str(path), "--mapping", str(toml))
