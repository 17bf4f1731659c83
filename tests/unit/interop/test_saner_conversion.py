"""The SANER conversions on their own, without a database: a figure as a population (a count
only when exact; otherwise why not, never a zero), a banded count's range, a report valid in
FHIR R4B, and MeasureReports read back into cells, or refused naming the path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from fhir.resources.R4B.measurereport import MeasureReport

from flotilla.interop import saner
from flotilla.organisations.models import Organisation, Site
from flotilla.reporting.models import MissingReason
from flotilla.reporting.validation import ReportRejected
from flotilla.sharing import policy
from flotilla.sharing.policy.rules import round_count

WHEN = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
MASKED = {"url": saner.DATA_ABSENT, "valueCode": "masked"}
NORTH = SimpleNamespace(pk=1, code="RN1")


def shared(value=None, detail="exact", missing_reason="", measure="ga_open") -> policy.Shared:
    return policy.Shared(
        1, 1, None, measure, WHEN, value, None, missing_reason, WHEN, "api", detail, 0
    )


def test_a_banded_count_is_given_as_the_whole_numbers_that_round_to_it():
    assert saner._count_range(0) == (0, 2)
    assert saner._count_range(5) == (3, 7)
    assert saner._count_range(205) == (203, 207)
    for n in range(0, 10_001):
        low, high = saner._count_range(round_count(n))
        assert low <= n <= high
        assert all(round_count(m) == round_count(n) for m in range(low, high + 1))


def test_an_exact_figure_is_a_count_and_a_zero_stays_a_zero():
    assert saner._population("open", "open", shared(412.0))["count"] == 412
    zero = saner._population("open", "open", shared(0.0))
    assert zero["count"] == 0 and "extension" not in zero


def test_a_banded_figure_is_masked_with_its_range_and_has_no_count():
    population = saner._population("open", "open", shared(205.0, "banded"))
    assert "count" not in population
    assert population["extension"] == [
        MASKED,
        {"url": saner.COUNT_RANGE, "valueRange": {"low": {"value": 203}, "high": {"value": 207}}},
    ]


def test_status_only_withheld_and_late_figures_are_masked_and_have_no_count():
    assert saner._population("open", "open", shared(None, "status"))["extension"] == [MASKED]
    assert saner._population("open", "open", None)["extension"] == [MASKED]
    late = saner._population("open", "open", None, late=24)
    assert late["extension"] == [MASKED, {"url": saner.HOURS_LATE, "valueInteger": 24}]
    for population in (late, saner._population("open", "open", shared(None, "status"))):
        assert "count" not in population


@pytest.mark.parametrize("reason", list(MissingReason))
def test_each_reason_a_figure_is_missing_has_its_own_data_absent_reason_both_ways(reason):
    population = saner._population("open", "open", shared(None, missing_reason=reason.value))
    [extension] = population["extension"]
    assert "count" not in population
    assert extension["valueCode"] != "masked"
    assert saner.MISSING_REASON[extension["valueCode"]] == reason.value


def test_a_report_built_is_a_valid_fhir_r4b_measure_report_in_catalogue_order():
    organisation = Organisation(code="RS1", name="South Hospitals NHS Trust")
    site = Site(code="RS101", name="South General", organisation=organisation)
    populations = {
        "cc_adult": {"open": saner._population("open", "open", shared(20.0))},
        "ga": {
            "occupied": saner._population("occupied", "occupied", shared(1.0)),
            "open": saner._population("open", "open", shared(2.0)),
        },
    }
    report = saner._report(organisation, site, WHEN, populations, WHEN + timedelta(hours=1))
    assert isinstance(report, MeasureReport)
    body = report.model_dump(mode="json", exclude_none=True)
    assert body["subject"]["identifier"] == {"system": saner.ODS_SITE, "value": "RS101"}
    assert body["reporter"]["identifier"] == {"system": saner.ODS_ORGANISATION, "value": "RS1"}
    assert [g["code"]["coding"][0]["code"] for g in body["group"]] == ["ga", "cc_adult"]
    assert [p["code"]["coding"][0]["code"] for p in body["group"][0]["population"]] == [
        "open",
        "occupied",
    ]
    assert body["period"]["start"] == body["period"]["end"]


# --- reading back -----------------------------------------------------------------------------


def report(**changes) -> dict:
    base = {
        "resourceType": "MeasureReport",
        "status": "complete",
        "type": "summary",
        "measure": saner.MEASURE,
        "subject": {"identifier": {"system": saner.ODS_ORGANISATION, "value": "RN1"}},
        "period": {"end": WHEN.isoformat()},
        "group": [
            {
                "code": {"coding": [{"system": saner.BED_TYPES, "code": "ga"}]},
                "population": [
                    {
                        "code": {"coding": [{"system": saner.BED_STATES, "code": "open"}]},
                        "count": 9,
                    },
                    {
                        "code": {"coding": [{"system": saner.BED_STATES, "code": "void"}]},
                        "extension": [{"url": saner.DATA_ABSENT, "valueCode": "unknown"}],
                    },
                ],
            }
        ],
    }
    return {**base, **changes}


def cells(document: dict, sites: dict[str, int] | None = None):
    [(i, r)] = saner.reports_in(document)
    return saner._cells_of(r, i, NORTH, sites or {})


def test_each_population_becomes_one_value_of_its_bed_type_and_state_at_the_periods_end():
    found, problems = cells(report())
    assert not problems
    assert [(c.measure, c.value, c.missing_reason, c.as_of, c.site_id) for c in found] == [
        ("ga_open", 9.0, "", WHEN, None),
        ("ga_void", None, "unknown", WHEN, None),
    ]
    assert found[0].field == "MeasureReport.group[0].population[0].count"


def test_a_report_about_a_site_is_filed_under_that_site():
    subject = {"type": "Location", "identifier": {"system": saner.ODS_SITE, "value": "rn101"}}
    found, problems = cells(report(subject=subject), {"RN101": 7})
    assert not problems and {c.site_id for c in found} == {7}


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"status": "pending"}, "MeasureReport.status", "complete"),
        ({"measure": "urn:other"}, "MeasureReport.measure", saner.MEASURE),
        (
            {"subject": {"identifier": {"system": saner.ODS_ORGANISATION, "value": "RS1"}}},
            "MeasureReport.subject.identifier.value",
            "is not RN1",
        ),
        (
            {"subject": {"identifier": {"system": saner.ODS_SITE, "value": "RS101"}}},
            "MeasureReport.subject.identifier.value",
            "not a site of RN1",
        ),
        (
            {
                "subject": {
                    "type": "Location",
                    "identifier": {"system": saner.ODS_ORGANISATION, "value": "RN1"},
                }
            },
            "MeasureReport.subject.type",
            "Organization",
        ),
        (
            {"period": {"start": (WHEN + timedelta(hours=1)).isoformat(), "end": WHEN.isoformat()}},
            "MeasureReport.period.start",
            "not be after",
        ),
    ],
)
def test_a_report_that_cannot_be_read_is_refused_naming_where(changes, field, words):
    _, problems = cells(report(**changes))
    assert [(p.field, words in p.message) for p in problems] == [(field, True)]


def test_a_masked_figure_or_one_with_both_a_count_and_a_reason_is_refused():
    document = report()
    populations = document["group"][0]["population"]
    populations[1]["extension"][0]["valueCode"] = "masked"
    populations[0]["extension"] = [{"url": saner.DATA_ABSENT, "valueCode": "unknown"}]
    _, problems = cells(document)
    assert [p.field for p in problems] == [
        "MeasureReport.group[0].population[0].count",
        "MeasureReport.group[0].population[1].extension",
    ]
    assert "not both" in problems[0].message
    assert "not yours to report" in problems[1].message


def test_a_bundle_holding_anything_but_valid_measure_reports_is_refused_naming_the_entry():
    bad_time = report(period={"end": "yesterday"})
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": report()},
            {"resource": {"resourceType": "Patient"}},
            {"resource": bad_time},
        ],
    }
    with pytest.raises(ReportRejected) as refused:
        saner.reports_in(bundle)
    assert [(p.row, p.field) for p in refused.value.problems] == [
        (1, "Bundle.entry[1].resource.resourceType"),
        (2, "Bundle.entry[2].resource.period.end"),
    ]
    with pytest.raises(ReportRejected):
        saner.reports_in({"resourceType": "Observation"})
