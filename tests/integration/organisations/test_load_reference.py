"""`load_reference` / `flotilla load-reference` on the published England reference files."""

from __future__ import annotations

import csv
import io
import shutil

import pytest
from django.core.management import CommandError, call_command

from flotilla.audit.models import AuditEvent
from flotilla.organisations.models import IntegratedCareSystem, Organisation, Region, Site
from flotilla.organisations.reference import ReferenceDataError, load_reference, title_case
from tests import factories as f
from tests.conftest import data_dir

pytestmark = pytest.mark.django_db


def unload_reference() -> None:
    """Remove what a module-level load committed (tests' own changes roll back anyway)."""
    Site.objects.all().delete()
    Organisation.objects.update(successor=None)
    Organisation.objects.all().delete()
    IntegratedCareSystem.objects.all().delete()
    Region.objects.all().delete()


@pytest.fixture(scope="module")
def first_load(django_db_setup, django_db_blocker):
    """Load the reference files once for this module (a load takes seconds); undo at the end."""
    if not (data_dir() / "reference" / "england").is_dir():
        pytest.skip(f"published data not found at {data_dir()} (set FLOTILLA_DATA_DIR)")
    with django_db_blocker.unblock():
        first_event = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
        summary = load_reference(by=f.SYSTEM, data_dir=data_dir())
    yield summary
    with django_db_blocker.unblock():
        unload_reference()
        f.rewind_audit(first_event)


@pytest.fixture
def loaded(first_load, db):
    return first_load


def test_the_seven_regions_are_loaded_with_their_names_and_wales_is_not_one(loaded):
    assert dict(Region.objects.values_list("code", "name")) == {
        "Y56": "London",
        "Y58": "South West",
        "Y59": "South East",
        "Y60": "Midlands",
        "Y61": "East of England",
        "Y62": "North West",
        "Y63": "North East and Yorkshire",
    }
    velindre = Organisation.objects.get(code="RQF")
    assert (velindre.region, velindre.ics) == (None, None)


def test_an_integrated_care_system_is_named_by_its_code_and_placed_in_its_region(loaded):
    ics = IntegratedCareSystem.objects.get(code="QOP")
    assert ics.name == "QOP"
    assert ics.region.code == "Y62"
    assert Organisation.objects.get(code="R0A").ics == ics


def test_trusts_get_readable_names_their_details_and_a_kind(loaded):
    guys = Organisation.objects.get(code="RJ1")
    assert guys.name == "Guy's and St Thomas' NHS Foundation Trust"
    assert (guys.kind, guys.region.code, guys.postcode) == ("acute", "Y56", "SE1 7EH")
    assert guys.latitude is not None and guys.longitude is not None
    kinds = dict(
        Organisation.objects.filter(code__in=["RX7", "RW4", "RY3", "RRP"]).values_list(
            "code", "kind"
        )
    )
    assert kinds == {
        "RX7": "ambulance",
        "RW4": "mental_health",
        "RY3": "community",
        "RRP": "mental_health",
    }
    poole = Organisation.objects.get(code="RD3")
    assert poole.closed_on.isoformat() == "2020-09-30"


def test_sites_are_attached_to_their_trust_and_unknown_parents_are_registered(loaded):
    assert Site.objects.count() == loaded["sites"] == 1165
    virgin = Site.objects.get(code="NDA07")
    assert virgin.organisation.code == "NDA"
    assert virgin.organisation.kind == "independent"
    assert virgin.latitude == pytest.approx(51.38, abs=0.01)


def test_a_retired_code_maps_to_its_successor(loaded):
    assert Organisation.objects.get(code="RQ8").current().code == "RAJ"
    assert Organisation.objects.get(code="RDD").current().code == "RAJ"
    old = Organisation.objects.get(code="RA3")
    assert old.successor.code == "RA7"
    assert old.is_retired
    assert Organisation.objects.get(code="RA7").current().code == "RA7"


def test_current_follows_a_chain_of_mergers_to_its_end(db):
    newest = f.OrganisationFactory(code="N03")
    middle = f.OrganisationFactory(code="N02", successor=newest)
    oldest = f.OrganisationFactory(code="N01", successor=middle)
    assert oldest.current() == newest


def test_loading_twice_changes_nothing_and_writes_no_audit_event(shared_data, loaded):
    assert loaded["changes"]["organisations.organisation_registered"] > 200
    events = AuditEvent.objects.count()
    again = load_reference(by=f.SYSTEM, data_dir=shared_data)
    assert again["changes"] == {}
    assert AuditEvent.objects.count() == events


def test_every_change_is_audited(loaded):
    assert AuditEvent.objects.filter(action="organisations.site_registered").count() == 1165
    assert AuditEvent.objects.filter(action="organisations.region_registered").count() == 7


def test_a_load_that_fails_leaves_the_database_as_it_was(loaded, shared_data, tmp_path):
    folder = tmp_path / "reference" / "england"
    shutil.copytree(shared_data / "reference" / "england", folder)
    with (folder / "trust_mergers.csv").open("a", encoding="utf-8") as fh:
        fh.write("\nRJ1,ZZZ,2030-01-01\n")
    Site.objects.filter(code="NDA07").update(name="Renamed")  # the load would rename it back
    before = (Organisation.objects.count(), AuditEvent.objects.count())
    with pytest.raises(ReferenceDataError, match="ZZZ"):
        load_reference(by=f.SYSTEM, data_dir=tmp_path)
    assert (Organisation.objects.count(), AuditEvent.objects.count()) == before
    assert Site.objects.get(code="NDA07").name == "Renamed"


def test_the_command_prints_a_summary_and_fails_clearly_without_the_files(
    loaded, shared_data, tmp_path
):
    out = io.StringIO()
    call_command("load-reference", "--data-dir", str(shared_data), stdout=out)
    assert '"sites": 1165' in out.getvalue()
    assert '"changes": {}' in out.getvalue()
    with pytest.raises(CommandError, match="reference files not found"):
        call_command("load-reference", "--data-dir", str(tmp_path))


def test_names_in_capitals_are_title_cased_sensibly():
    assert title_case("THE QUEEN ELIZABETH HOSPITAL, KING'S LYNN, NHS FOUNDATION TRUST") == (
        "The Queen Elizabeth Hospital, King's Lynn, NHS Foundation Trust"
    )
    assert title_case("University Hospitals Dorset NHS Foundation Trust") == (
        "University Hospitals Dorset NHS Foundation Trust"
    )


def test_mental_health_and_community_trusts_with_plain_names_are_not_taken_for_acute(loaded):
    kinds = dict(Organisation.objects.values_list("code", "kind"))
    # Names that do not say what the trust is: reference.KNOWN_KINDS does.
    for code in ("RNU", "RPG", "RV5", "RX3", "RX4", "RWK", "RHA", "RTQ", "R1A"):
        assert kinds[code] == "mental_health", code
    # "Partnership" and "Health and Care" names, and a mental-health hospital site.
    assert kinds["R1L"] == kinds["RXA"] == "mental_health"
    assert kinds["RY3"] == kinds["R1C"] == "community"
    assert kinds["RRU"] == kinds["RT4"] == "ambulance"


#: Acute trusts missing from the 2022 acute-trust list: specialist trusts (children's,
#: cancer, heart and chest, orthopaedic, eye, neurology, women's, burns) and acute trusts
#: merged or closed before 2022.
SPECIALIST_OR_PAST_ACUTE = {
    "R0C", "RA3", "RAN", "RBA", "RBQ", "RBS", "RBV", "RBZ", "RC1", "RCU", "RD3", "RDD", "RDZ",
    "REN", "REP", "RET", "RGM", "RJD", "RL1", "RNL", "RP4", "RP6", "RPC", "RPY", "RQ3", "RQ6",
    "RQ8", "RQF", "RRJ", "RT3", "RW6", "RXH",
}  # fmt: skip


def test_every_trust_classed_acute_outside_the_acute_list_is_a_specialist_or_past_one(loaded):
    folder = data_dir() / "reference" / "england"
    with (folder / "nhs_trusts22_points.csv").open(encoding="utf-8-sig") as fh:
        listed = {r["nhs_trust22_code"].strip() for r in csv.DictReader(fh)}
    with (folder / "ods_etr_trust_list_noheader.csv").open(encoding="utf-8-sig") as fh:
        in_ods = {row[0].strip() for row in csv.reader(fh) if row}
    acute = set(
        Organisation.objects.filter(code__in=in_ods - listed, kind="acute").values_list(
            "code", flat=True
        )
    )
    assert acute == SPECIALIST_OR_PAST_ACUTE
