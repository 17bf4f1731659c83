"""Every shipped mapping loads its published file whole, with figures read off the file.

By default each file is imported whole (about half a minute for all of them); set
FLOTILLA_QUICK_IMPORT_TESTS=1 to import a sample of each (the first two dates, and the dates
the checks below look at). The Welsh hospitals come from a registry file built here from
`reference/wales/nhs_wales_sites.geojson`, as a person would build one for
`flotilla load-registry`.
"""

from __future__ import annotations

import csv
import json
import os
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from flotilla.audit.models import AuditEvent
from flotilla.organisations.models import Site
from flotilla.organisations.reference import load_reference
from flotilla.organisations.registry_file import load_registry_file
from flotilla.reporting.importers.mapped import load_mapping
from flotilla.reporting.imports import import_file
from flotilla.reporting.models import Observation
from tests import factories as f
from tests.conftest import data_dir
from tests.integration.organisations.test_load_reference import unload_reference

pytestmark = pytest.mark.django_db

FULL = os.environ.get("FLOTILLA_QUICK_IMPORT_TESTS") != "1"
MAPPINGS = Path(__file__).resolve().parents[3] / "flotilla" / "reporting" / "mappings"
LONDON, NEW_YORK = ZoneInfo("Europe/London"), ZoneInfo("America/New_York")

#: The health boards of Wales, which the site list names only by code.
WELSH_BOARDS = {
    "7A1": "Betsi Cadwaladr University Health Board",
    "7A2": "Hywel Dda University Health Board",
    "7A3": "Swansea Bay University Health Board",
    "7A4": "Cardiff and Vale University Health Board",
    "7A5": "Cwm Taf Morgannwg University Health Board",
    "7A6": "Aneurin Bevan University Health Board",
    "7A7": "Powys Teaching Health Board",
    "RQF": "Velindre University NHS Trust",
}


@dataclass(frozen=True)
class Shipped:
    mapping: str
    file: str
    date_column: str
    #: Dates (as the file writes them) a quick run keeps besides the first two.
    dates: tuple[str, ...]
    #: (organisation code, site code, measure, as of, value or missing reason), read off
    #: the file by hand.
    checks: tuple[tuple[str, str, str, datetime, float | str], ...]


def at(y: int, m: int, d: int, zone: ZoneInfo = LONDON) -> datetime:
    return datetime(y, m, d, 8, 0, tzinfo=zone)


SHIPPED = [
    Shipped(
        "england_critical_general_acute_beds",
        "nhse-monthly-and-flow/england_critical_general_acute_beds.csv",
        "date",
        (),
        (
            # "R0A","April 2022",2286,2031,0.889,1982,1794,0.905,304,237,0.781,125,92,…
            ("R0A", "", "ga_open", at(2022, 4, 1), 2286),
            ("R0A", "", "ga_occupied", at(2022, 4, 1), 2031),
            ("R0A", "", "ga_paed_occupied", at(2022, 4, 1), 237),
            ("R0A", "", "cc_adult_open", at(2022, 4, 1), 125),
            ("R0B", "", "nicu_open", at(2022, 5, 1), 6),
        ),
    ),
    Shipped(
        "england_trust_criteria_to_reside",
        "nhse-monthly-and-flow/england_trust_criteria_to_reside.csv",
        "date",
        ("2023-06-12",),
        (
            ("RAJ", "", "nctr", at(2022, 4, 1), 111),
            ("RAJ", "", "nctr", at(2022, 4, 2), 67),
            ("RRV", "", "nctr", at(2023, 6, 12), "not_reported"),  # "RRV",2023-06-12,NA
        ),
    ),
    Shipped(
        "england_trust_discharged_patients",
        "nhse-monthly-and-flow/england_trust_discharged_patients.csv",
        "date",
        ("2022-04-03", "2023-06-12"),
        (
            ("RAJ", "", "discharges", at(2022, 4, 1), 0),
            ("RAJ", "", "discharges", at(2022, 4, 3), 24),
            ("RRV", "", "discharges", at(2023, 6, 12), "not_reported"),
        ),
    ),
    Shipped(
        "england_trust_accidents_emergency",
        "nhse-monthly-and-flow/england_trust_accidents_emergency.csv",
        "date",
        (),
        (
            # 13,470 attendances in April 2021 (30 days): 449 a day.
            ("RWH", "", "ed_attendances", at(2021, 4, 1), 449),
            # 17,570 in April 2021: 585.67 a day, rounded to 586.
            ("RC9", "", "ed_attendances", at(2021, 4, 1), 586),
        ),
    ),
    Shipped(
        "wales_hospitals_critical_general_acute_beds",
        "nhse-monthly-and-flow/wales_hospitals_critical_general_acute_beds.csv",
        "date",
        (),
        (
            # "Jan-21","7A1A4","Wrexham Maelor Hospital","all_specialties",513.750001,428.549997
            ("7A1", "7A1A4", "ga_open", at(2021, 1, 1), 514),
            ("7A1", "7A1A4", "ga_occupied", at(2021, 1, 1), 429),
            # "Jan-21","7A1A2","Abergele Hospital","all_specialties",34.799999,6.1
            ("7A1", "7A1A2", "ga_open", at(2021, 1, 1), 35),
            ("7A1", "7A1A2", "ga_occupied", at(2021, 1, 1), 6),
        ),
    ),
    Shipped(
        "england_covid_hospital_activity",
        "nhse-covid-hospital-activity-2020/covid_admissions_and_beds_by_trust_daily.csv",
        "date",
        ("2020-10-01", "2020-11-15"),
        (
            # R0A,2020-10-01,9,9,9,9,0,68,7
            ("R0A", "", "covid_occupied", at(2020, 10, 1), 68),
            ("R0A", "", "covid_mv_occupied", at(2020, 10, 1), 7),
            ("R0A", "", "covid_admissions", at(2020, 10, 1), 9),
            # R0A,2020-11-15,22,14,12,21,2,283,29
            ("R0A", "", "covid_occupied", at(2020, 11, 15), 283),
            ("R0A", "", "covid_mv_occupied", at(2020, 11, 15), 29),
            # 8A580 (an independent hospital, registered from the file): 2020-08-01 all 0
            ("8A580", "", "covid_occupied", at(2020, 8, 1), 0),
        ),
    ),
    Shipped(
        "nj_hospital_daily",
        "us-optimisation-benchmarks/nj_hosp_2020_06_19.csv",
        "date",
        ("2020-05-01",),
        (
            # 3100642,AtlantiCare Regional Medical Center City Division,2020-05-01,14,…
            ("NJ3100642", "", "covid_occupied", at(2020, 5, 1, NEW_YORK), 14),
        ),
    ),
    Shipped(
        "ny_hospital_weekly",
        "us-optimisation-benchmarks/ny-facility-weekly/raw_hospitalData_Hospital_NY.csv",
        "date",
        ("2020-07-31", "2020-08-02"),
        (
            # 2020-08-02,…,Allegany,331301: adult inpatient 6.7 beds, 6.6 used.
            ("NY331301", "", "ga_adult_open", at(2020, 8, 2, NEW_YORK), 7),
            ("NY331301", "", "ga_adult_occupied", at(2020, 8, 2, NEW_YORK), 7),
            # 2020-07-31,…,Allegany,330096: used_staffed_adult_icu_avg -999999.0 (suppressed)
            ("NY330096", "", "cc_adult_occupied", at(2020, 7, 31, NEW_YORK), "withheld_at_source"),
        ),
    ),
]


@pytest.fixture(scope="module")
def registry(django_db_setup, django_db_blocker, tmp_path_factory):
    """England's reference data and Wales's health boards and hospitals, loaded once."""
    if not (data_dir() / "nhse-monthly-and-flow").is_dir():
        pytest.skip(f"published data not found at {data_dir()} (set FLOTILLA_DATA_DIR)")
    wales = welsh_registry_file(tmp_path_factory.mktemp("registry") / "wales.csv")
    with django_db_blocker.unblock():
        first_event = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
        load_reference(by=f.SYSTEM, data_dir=data_dir())
        load_registry_file(by=f.SYSTEM, path=wales)
    yield
    with django_db_blocker.unblock():
        unload_reference()
        f.rewind_audit(first_event)


def welsh_registry_file(path: Path) -> Path:
    """A registry CSV of the Welsh health boards and their hospitals, from the GeoJSON."""
    source = data_dir() / "reference" / "wales" / "nhs_wales_sites.geojson"
    features = json.loads(source.read_text(encoding="utf-8"))["features"]
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(
            [
                "code",
                "name",
                "kind",
                "region",
                "region_name",
                "latitude",
                "longitude",
                "parent_code",
            ]
        )
        for code, name in WELSH_BOARDS.items():
            out.writerow([code, name, "acute", "W", "Wales", "", "", ""])
        for feature in features:
            p = feature["properties"]
            board = p["OrgCodeOverride"] or p["OrgCode"]
            if board not in WELSH_BOARDS:
                continue  # English hospitals Welsh patients go to: in England's lists already
            lon, lat = feature["geometry"]["coordinates"]
            out.writerow([p["Code"], p["FullName"], "", "", "", f"{lat:.6f}", f"{lon:.6f}", board])
    return path


def sample(spec: Shipped, tmp_path: Path) -> Path:
    """The file itself (FULL), or its rows for the first two dates and the checked ones."""
    path = data_dir() / spec.file
    if FULL:
        return path
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    i = rows[0].index(spec.date_column)
    dates = list(dict.fromkeys(r[i] for r in rows[1:]))
    keep = set(dates[:2]) | set(spec.dates)
    out = tmp_path / path.name
    with out.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([rows[0], *(r for r in rows[1:] if r[i] in keep)])
    return out


def stored(code: str, site: str, measure: str, as_of: datetime) -> float | str:
    obs = Observation.objects.get(
        series__organisation__code=code,
        series__site__code=site or None,
        series__measure__code=measure,
        as_of=as_of,
        is_current=True,
    )
    return obs.missing_reason or obs.value


def test_every_mapping_shipped_has_a_test_here():
    assert sorted(p.stem for p in MAPPINGS.glob("*.toml")) == sorted(s.mapping for s in SHIPPED)


@pytest.mark.parametrize("spec", SHIPPED, ids=lambda s: s.mapping)
def test_each_shipped_mapping_loads_its_published_file_whole(registry, spec, tmp_path):
    path = sample(spec, tmp_path)
    mapping = load_mapping(MAPPINGS / f"{spec.mapping}.toml")
    started = time.monotonic()
    outcome = import_file(by=f.SYSTEM, path_or_stream=path, name=path.name, mapping=mapping)
    took = time.monotonic() - started
    print(f"{spec.mapping}: {outcome.rows} rows, {outcome.cells} values in {took:.1f}s")
    assert outcome.rows > 0 and outcome.cells > 0
    assert outcome.created == outcome.cells == Observation.objects.count()
    assert not outcome.unknown_columns
    for code, site, measure, as_of, expected in spec.checks:
        assert stored(code, site, measure, as_of) == expected, (code, site, measure, as_of)
    again = import_file(by=f.SYSTEM, path_or_stream=path, name=path.name, mapping=mapping)
    assert (again.created, again.revised, again.submission_ids) == (0, 0, [])


def test_welsh_hospitals_the_registry_file_lacks_are_registered_under_their_board(
    registry, tmp_path
):
    spec = next(s for s in SHIPPED if s.mapping.startswith("wales"))
    path = sample(spec, tmp_path)
    mapping = load_mapping(MAPPINGS / f"{spec.mapping}.toml")
    outcome = import_file(by=f.SYSTEM, path_or_stream=path, name=path.name, mapping=mapping)
    assert outcome.rows_skipped > 0  # the all-Wales rows
    registered = dict(outcome.registered_sites)
    assert "W" not in registered
    if FULL:  # 109 codes in the file: the all-Wales row, 67 in the site list, 41 more
        assert len(registered) == 41
    if "7A1F9" in registered:  # Ablett Unit: not in the site list
        assert Site.objects.get(code="7A1F9").organisation.code == "7A1"
    # Princess of Wales Hospital keeps its 7A3 code but belongs to Cwm Taf Morgannwg (7A5).
    if Observation.objects.filter(series__site__code="7A3B7").exists():
        assert not Observation.objects.filter(
            series__site__code="7A3B7", series__organisation__code="7A3"
        ).exists()


def test_a_blank_covid_cell_stores_nothing_and_is_never_zero(registry, tmp_path):
    spec = next(s for s in SHIPPED if s.mapping.startswith("england_covid"))
    mapping = load_mapping(MAPPINGS / f"{spec.mapping}.toml")
    path = tmp_path / "covid.csv"
    # 8A580,2020-08-02,0,0,0,0,0,, (beds blank that day)
    path.write_text(
        "org_code,date,hosp_ads_and_diag,hosp_ads_from_comm,hosp_ads_from_comm_with_lag,"
        "new_hosp_cases,care_home_ads_and_diags,all_beds_covid,mv_beds_covid\n"
        "8A580,2020-08-02,0,0,0,0,0,,\n"
    )
    outcome = import_file(by=f.SYSTEM, path_or_stream=path, name=path.name, mapping=mapping)
    assert outcome.cells == 1
    assert stored("8A580", "", "covid_admissions", at(2020, 8, 2)) == 0
    assert not Observation.objects.filter(series__measure__code="covid_occupied").exists()


def test_new_jersey_facilities_are_registered_under_the_files_own_names(registry, tmp_path):
    spec = next(s for s in SHIPPED if s.mapping.startswith("nj_"))
    mapping = load_mapping(MAPPINGS / f"{spec.mapping}.toml")
    path = sample(spec, tmp_path)
    outcome = import_file(by=f.SYSTEM, path_or_stream=path, name=path.name, mapping=mapping)
    registered = dict(outcome.registered_organisations)
    assert registered["NJ3100642"] == "AtlantiCare Regional Medical Center City Division"
