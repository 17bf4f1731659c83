"""Adding organisations and sites outside England from a registry file, and aliases."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from flotilla.audit.models import AuditEvent
from flotilla.organisations import actions
from flotilla.organisations.models import (
    Organisation,
    OrganisationAlias,
    Region,
    Site,
    name_key,
)
from flotilla.organisations.registry_file import RegistryFileError, load_registry_file
from tests import factories as f

pytestmark = pytest.mark.django_db

WALES = """\
code,name,kind,region,region_name,latitude,longitude,parent_code,aliases
7A1,Betsi Cadwaladr University Health Board,acute,W,Wales,,,,BCUHB|Bwrdd Iechyd Betsi Cadwaladr
7A1A4,Wrexham Maelor Hospital,,,,53.047573,-3.011344,7A1,
7A1B2,Ysbyty Tywyn,,,,52.585,-4.087,7A1,
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "registry.csv"
    path.write_text(text, encoding="utf-8")
    return path


def state() -> tuple[int, int, int, int, int]:
    return (
        Organisation.objects.count(),
        Site.objects.count(),
        Region.objects.count(),
        OrganisationAlias.objects.count(),
        AuditEvent.objects.count(),
    )


def test_a_welsh_health_board_its_hospitals_region_and_aliases_are_registered_audited(tmp_path):
    summary = load_registry_file(by=f.SYSTEM, path=write(tmp_path, WALES))
    board = Organisation.objects.get(code="7A1")
    assert (board.kind, board.region.code, board.region.name) == ("acute", "W", "Wales")
    site = Site.objects.get(code="7A1A4")
    assert (site.organisation, site.latitude, site.longitude) == (board, 53.047573, -3.011344)
    assert sorted(board.aliases.values_list("name", flat=True)) == [
        "BCUHB",
        "Bwrdd Iechyd Betsi Cadwaladr",
    ]
    assert summary["changes"] == {
        "organisations.alias_added": 2,
        "organisations.organisation_registered": 1,
        "organisations.region_registered": 1,
        "organisations.site_registered": 2,
    }


def test_loading_the_same_file_again_changes_nothing(tmp_path):
    path = write(tmp_path, WALES)
    load_registry_file(by=f.SYSTEM, path=path)
    before = state()
    assert load_registry_file(by=f.SYSTEM, path=path)["changes"] == {}
    assert state() == before


def test_a_file_with_any_problem_writes_nothing_and_names_every_row_and_column(tmp_path):
    bad = WALES.replace(",acute,W,", ",hospital,W,").replace("53.047573", "153.0")
    bad += "7A9Z1,Nowhere Hospital,,,,,,7A9,\n"
    before = state()
    with pytest.raises(RegistryFileError) as rejected:
        load_registry_file(by=f.SYSTEM, path=write(tmp_path, bad))
    assert {(p.row, p.column) for p in rejected.value.problems} == {
        (2, "kind"),
        (3, "latitude"),
        (5, "parent_code"),
    }
    assert state() == before


def test_a_site_may_belong_to_an_organisation_already_registered(tmp_path):
    trust = f.OrganisationFactory(code="RQF", name="Velindre University NHS Trust")
    text = "code,name,parent_code\nRQFH5,Velindre Cancer Centre,RQF\n"
    load_registry_file(by=f.SYSTEM, path=write(tmp_path, text))
    assert Site.objects.get(code="RQFH5").organisation == trust


def test_the_command_loads_a_file_and_refuses_a_bad_one_with_its_problems(tmp_path, capsys):
    call_command("load-registry", str(write(tmp_path, WALES)))
    assert '"sites": 2' in capsys.readouterr().out
    with pytest.raises(CommandError, match=r"row 2, column kind: no kind"):
        call_command("load-registry", str(write(tmp_path, "code,name\nX1,Somewhere\n")))


def test_an_alias_is_added_once_audited_and_one_equal_to_the_name_is_not_kept():
    trust = f.OrganisationFactory(code="RX9", name="St Elsewhere NHS Trust")
    alias = actions.add_organisation_alias(by=f.SYSTEM, organisation=trust, name="St. Elsewhere")
    event = AuditEvent.objects.get(action="organisations.alias_added")
    assert event.after == {"organisation": trust.pk, "name": "St. Elsewhere", "key": "st elsewhere"}
    before = state()
    actions.add_organisation_alias(by=f.SYSTEM, organisation=trust, name="ST ELSEWHERE")
    actions.add_organisation_alias(by=f.SYSTEM, organisation=trust, name="St Elsewhere NHS Trust")
    assert state() == before and alias.pk


def test_names_compare_without_case_punctuation_or_repeated_spaces_and_and_is_ampersand():
    assert name_key("St. Mary's  Hospital & Clinic") == "st marys hospital and clinic"
    assert name_key("ST MARYS HOSPITAL AND CLINIC") == "st marys hospital and clinic"
    assert name_key("Ysbyty Bryn-y-Neuadd") == "ysbyty bryn y neuadd"
