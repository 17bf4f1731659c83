"""FHIR SANER over the API: a read token gets the picture's bed counts as a Bundle of
MeasureReports, as its organisation may see them and never finer (a figure not seen exactly
has no count, only why); a submit token sends MeasureReports for its own organisation, which
are stored as any report is, or refused with every problem named by its path."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle

from flotilla.authz import actions as authz_actions
from flotilla.authz.models import Role
from flotilla.interop import saner
from flotilla.sharing import policy
from tests import factories as f
from tests.access import recorded

pytestmark = pytest.mark.django_db

MASKED = {"url": saner.DATA_ABSENT, "valueCode": "masked"}


def bearer(cast, organisation=None, scope="read") -> dict[str, str]:
    org = organisation or cast.north
    admin = cast.people["outsider"] if org == cast.outside else cast.people[Role.ORG_ADMIN]
    _, secret = authz_actions.issue_token(by=admin, organisation=org, name="t", scope=scope)
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def _now():
    return timezone.now().replace(second=0, microsecond=0)


@pytest.fixture
def south(aid):
    """South reports beds at the organisation and at its site an hour ago."""
    cast = aid
    an_hour_ago = _now() - timedelta(hours=1)
    f.report(cast.south, an_hour_ago, ga_open=123, ga_occupied=118, cc_adult_open=None)
    f.report(cast.south, an_hour_ago, site=cast.south_site, ga_open=60)
    cast.an_hour_ago = an_hour_ago
    return cast


def _bundle(client, cast, path: str, **headers) -> dict:
    response = client.get(path, **(headers or bearer(cast)))
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/fhir+json"
    body = response.json()
    Bundle.model_validate(body)  # valid FHIR R4B
    return body


def _reports(body: dict, code: str) -> list[dict]:
    return [
        e["resource"]
        for e in body.get("entry", [])
        if e["resource"]["subject"]["identifier"]["value"] == code
    ]


def _populations(report: dict) -> dict[str, dict]:
    """measure code → population"""
    out = {}
    for group in report.get("group", []):
        bed = group["code"]["coding"][0]["code"]
        for p in group["population"]:
            out[f"{bed}_{p['code']['coding'][0]['code']}"] = p
    return out


def test_a_member_reads_the_picture_as_a_bundle_of_measure_reports_valid_in_fhir_r4b(client, south):
    response = client.get(f"/api/collaboratives/{south.collab.slug}/saner", **bearer(south))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    body = response.json()
    Bundle.model_validate(body)
    assert (body["resourceType"], body["type"]) == ("Bundle", "collection")
    [org_report] = _reports(body, "RS1")
    [site_report] = _reports(body, "RS101")
    assert org_report["subject"]["identifier"]["system"] == saner.ODS_ORGANISATION
    assert site_report["subject"]["identifier"]["system"] == saner.ODS_SITE
    assert site_report["reporter"]["identifier"]["value"] == "RS1"
    assert org_report["measure"] == saner.MEASURE
    assert org_report["period"]["start"] == org_report["period"]["end"]
    assert org_report["status"] == "complete" and org_report["type"] == "summary"
    figures = _populations(org_report)
    assert figures["ga_open"]["count"] == 123
    assert figures["ga_occupied"]["count"] == 118
    group = org_report["group"][0]["code"]["coding"][0]
    assert (group["system"], group["code"], group["display"]) == (
        saner.BED_TYPES,
        "ga",
        "General & acute (all ages)",
    )
    assert _populations(site_report) == {
        "ga_open": {
            "code": {"coding": [{"system": saner.BED_STATES, "code": "open", "display": "open"}]},
            "count": 60,
        }
    }


def test_a_figure_reported_missing_has_its_reason_and_never_a_zero(client, south):
    body = _bundle(client, south, "/api/organisations/RS1/saner")
    [report] = _reports(body, "RS1")
    missing = _populations(report)["cc_adult_open"]
    assert "count" not in missing
    assert missing["extension"] == [{"url": saner.DATA_ABSENT, "valueCode": "not-asked"}]


def test_a_banded_figure_has_no_count_but_is_masked_with_the_counts_it_was_rounded_from(
    client, south
):
    f.reshare(f.collaborative_grant(south.south, south.collab), detail="banded")
    body = _bundle(client, south, "/api/organisations/RS1/saner")
    figures = _populations(_reports(body, "RS1")[0])
    assert "count" not in figures["ga_open"]
    assert figures["ga_open"]["extension"] == [
        MASKED,
        {
            "url": saner.COUNT_RANGE,
            "valueRange": {"low": {"value": 123}, "high": {"value": 127}},
        },
    ]
    assert "123" not in json.dumps(figures["ga_occupied"])  # 118 → 115: 113 to 117


def test_status_only_and_withheld_figures_are_masked_with_no_count_anywhere(client, south):
    f.reshare(f.collaborative_grant(south.south, south.collab), detail="status")
    body = _bundle(client, south, "/api/organisations/RS1/saner")
    for report in _reports(body, "RS1") + _reports(body, "RS101"):
        for population in _populations(report).values():
            assert "count" not in population
    f.reshare(f.collaborative_grant(south.south, south.collab), groups=("flow",))
    body = _bundle(client, south, "/api/organisations/RS1/saner")
    [report] = _reports(body, "RS1")
    figures = _populations(report)
    assert len(figures) == len(saner.bed_measures())  # every bed measure: not shared with you
    assert all(p["extension"] == [MASKED] for p in figures.values())
    assert not _reports(body, "RS101")  # no site figures are shown: no site report


def test_a_delayed_figure_is_given_at_its_own_time_and_a_newer_one_not_yet_visible_is_masked(
    client, south
):
    two_days_ago = _now() - timedelta(hours=48)
    f.report(south.south, two_days_ago, ga_open=90, cc_adult_open=9)
    f.reshare(f.collaborative_grant(south.south, south.collab), delay_hours=24)
    body = _bundle(client, south, "/api/organisations/RS1/saner")
    reports = _reports(body, "RS1")
    by_time = {datetime.fromisoformat(r["period"]["end"]): _populations(r) for r in reports}
    old = by_time[two_days_ago]
    assert old["ga_open"]["count"] == 90
    assert old["cc_adult_open"]["count"] == 9
    late = [p for r in reports for m, p in _populations(r).items() if m == "ga_occupied"]
    assert late == [
        {
            "code": {
                "coding": [{"system": saner.BED_STATES, "code": "occupied", "display": "occupied"}]
            },
            "extension": [MASKED, {"url": saner.HOURS_LATE, "valueInteger": 24}],
        }
    ]
    cutoff = timezone.now() - timedelta(hours=24)
    shown = [
        datetime.fromisoformat(r["period"]["end"])
        for r in reports
        if any("count" in p for p in _populations(r).values())
    ]
    assert shown and all(t <= cutoff for t in shown)


def test_the_export_goes_on_the_owners_access_record(client, south):
    _bundle(client, south, f"/api/collaboratives/{south.collab.slug}/saner")
    event = recorded().get(owner=south.south)
    assert event.groups == ["capacity"]
    assert event.what == f"GET /api/collaboratives/{south.collab.slug}/saner"


def test_an_organisation_that_shares_nothing_with_the_reader_is_not_found(client, south):
    f.unshare(f.collaborative_grant(south.south, south.collab))
    response = client.get("/api/organisations/RS1/saner", **bearer(south))
    assert response.status_code == 404
    response = client.get("/api/organisations/RS1/saner", **bearer(south, south.outside))
    assert response.status_code == 404
    assert not recorded().filter(owner=south.south).exists()


def test_a_collaborative_the_reader_is_not_a_member_of_is_not_found(client, south):
    response = client.get(
        f"/api/collaboratives/{south.collab.slug}/saner", **bearer(south, south.outside)
    )
    assert response.status_code == 404


def test_the_picture_as_at_a_past_moment_shows_the_figures_true_then(client, south):
    f.report(south.south, _now() - timedelta(hours=5), ga_open=100)
    at = (_now() - timedelta(hours=3)).isoformat()
    response = client.get("/api/organisations/RS1/saner", {"at": at}, **bearer(south))
    [report] = _reports(response.json(), "RS1")
    assert _populations(report)["ga_open"]["count"] == 100


# --- import -----------------------------------------------------------------------------------


def _population(state: str, count: int | None = None, absent: str | None = None) -> dict:
    p: dict = {"code": {"coding": [{"system": saner.BED_STATES, "code": state}]}}
    if count is not None:
        p["count"] = count
    if absent is not None:
        p["extension"] = [{"url": saner.DATA_ABSENT, "valueCode": absent}]
    return p


def _report(code: str, when, *groups: tuple[str, list[dict]], site: bool = False) -> dict:
    system = saner.ODS_SITE if site else saner.ODS_ORGANISATION
    return {
        "resourceType": "MeasureReport",
        "status": "complete",
        "type": "summary",
        "measure": saner.MEASURE,
        "subject": {"identifier": {"system": system, "value": code}},
        "period": {"start": when.isoformat(), "end": when.isoformat()},
        "group": [
            {"code": {"coding": [{"system": saner.BED_TYPES, "code": bed}]}, "population": ps}
            for bed, ps in groups
        ],
    }


def _bundle_of(*reports: dict) -> dict:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{i}", "resource": r} for i, r in enumerate(reports)],
    }


def _post(client, cast, document: dict, **headers):
    if not hasattr(cast, "submit"):
        cast.submit = bearer(cast, cast.north, "submit")
    return client.post(
        "/api/saner",
        json.dumps(document),
        content_type="application/fhir+json",
        **cast.submit,
        **headers,
    )


def _own(cast, measures=("ga_open", "ga_occupied", "cc_adult_open")) -> dict:
    viewer = policy.acting_for(cast.north, "test")
    reading = policy.read_latest(viewer, None, {cast.north.pk}, list(measures))
    return {(v.site_id, v.measure): (v.value, v.missing_reason) for v in reading.values}


def test_a_bundle_of_measure_reports_is_stored_as_a_report_of_the_tokens_organisation(client, aid):
    when = _now() - timedelta(hours=2)
    document = _bundle_of(
        _report("RN1", when, ("ga", [_population("open", 200), _population("occupied", 190)])),
        _report("RN101", when, ("cc_adult", [_population("open", absent="unknown")]), site=True),
    )
    response = _post(client, aid, document)
    assert response.status_code == 201, response.content
    assert response.json()["created"] == 3
    assert _own(aid) == {
        (None, "ga_open"): (200.0, ""),
        (None, "ga_occupied"): (190.0, ""),
        (aid.north_site.pk, "cc_adult_open"): (None, "unknown"),
    }
    again = _post(client, aid, document)
    assert again.json()["unchanged"] == 3  # the same figures again change nothing


def test_one_measure_report_alone_is_read_too(client, aid):
    report = _report("RN1", _now(), ("ga", [_population("open", 12)]))
    report["measure"] = f"{saner.MEASURE}|2026.1"
    response = _post(client, aid, report)
    assert response.status_code == 201, response.content
    assert _own(aid)[(None, "ga_open")] == (12.0, "")


def test_every_problem_is_named_by_its_path_and_nothing_is_stored(client, aid):
    when = _now()
    document = _bundle_of(
        _report("RN1", when, ("ga", [_population("open", 10)])),
        _report("RS1", when, ("ga", [_population("open", 10)])),
        _report("RS101", when, ("ga", [_population("open", 10)]), site=True),
        _report("RN1", when + timedelta(hours=3), ("ga", [_population("open", 10)])),
        _report("RN1", when, ("cc_adult", [_population("open", 5), _population("admissible", 9)])),
    )
    response = _post(client, aid, document)
    assert response.status_code == 422
    errors = {(e["index"], e["field"]): e["message"] for e in response.json()["errors"]}
    entry = "Bundle.entry[{}].resource.{}".format
    assert "is not RN1" in errors[(1, entry(1, "subject.identifier.value"))]
    assert "not a site of RN1" in errors[(2, entry(2, "subject.identifier.value"))]
    assert "ahead of now" in errors[(3, entry(3, "period.end"))]
    assert "cannot exceed beds open" in errors[(4, entry(4, "group[0].population[1].count"))]
    assert len(errors) == 4
    assert not _own(aid)


def test_a_masked_figure_is_refused_as_not_the_senders_to_report(client, aid):
    document = _report("RN1", _now(), ("ga", [_population("open", absent="masked")]))
    response = _post(client, aid, document)
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "MeasureReport.group[0].population[0].extension[0].valueCode"
    assert not _own(aid)


def test_a_body_that_is_not_the_documented_shape_is_refused_naming_the_field(client, aid):
    report = _report("RN1", _now(), ("ga", [_population("open", 10)]))
    report["status"] = "pending"
    response = _post(client, aid, report)
    assert response.status_code == 422
    assert any("status" in e["field"] for e in response.json()["errors"])
    report = _report("RN1", _now(), ("ga", [_population("open", -1)]))
    assert _post(client, aid, report).status_code == 422
    report = _report("RN1", _now(), ("ga", [_population("open", 1, absent="unknown")]))
    assert _post(client, aid, report).status_code == 422


def test_a_retry_with_the_same_idempotency_key_stores_once(client, aid):
    report = _report("RN1", _now(), ("ga", [_population("open", 44)]))
    first = _post(client, aid, report, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201
    second = _post(client, aid, report, HTTP_IDEMPOTENCY_KEY="k-1")
    assert second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    report["group"][0]["population"][0]["count"] = 45
    assert _post(client, aid, report, HTTP_IDEMPOTENCY_KEY="k-1").status_code == 409


def test_only_a_submit_token_may_send_measure_reports(client, aid):
    report = _report("RN1", _now(), ("ga", [_population("open", 44)]))
    response = client.post(
        "/api/saner", json.dumps(report), content_type="application/json", **bearer(aid)
    )
    assert response.status_code == 403
