"""The SANER commands: an export written as an organisation may see it, on the access record;
a document stored as that organisation's report, or refused naming every problem."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle

from flotilla.sharing import policy
from tests import factories as f
from tests.access import recorded

pytestmark = pytest.mark.django_db


def test_the_export_command_writes_what_the_reader_may_see_and_records_the_reads(cast, tmp_path):
    f.reshare(f.collaborative_grant(cast.south, cast.collab), detail="banded")
    f.report(cast.south, timezone.now() - timedelta(hours=1), ga_open=121)
    out = tmp_path / "bundle.json"
    call_command("export-saner", "--collaborative", cast.collab.slug, "--as", "RN1", "--out", out)
    body = json.loads(out.read_text())
    Bundle.model_validate(body)
    [south] = [
        e["resource"]
        for e in body["entry"]
        if e["resource"]["subject"]["identifier"]["value"] == "RS1"
    ]
    [population] = south["group"][0]["population"]
    assert "count" not in population
    assert population["extension"][1]["valueRange"] == {
        "low": {"value": 118},
        "high": {"value": 122},
    }
    event = recorded().get(owner=cast.south)
    assert event.what == "command export-saner"
    with pytest.raises(CommandError, match="shares nothing"):
        call_command("export-saner", "--organisation", "RS1", "--as", "RX1")


def test_the_import_command_stores_a_document_as_the_organisations_report(cast, tmp_path):
    when = (timezone.now() - timedelta(hours=1)).replace(second=0, microsecond=0)
    report = {
        "resourceType": "MeasureReport",
        "status": "complete",
        "type": "summary",
        "measure": "urn:flotilla:measure:beds",
        "subject": {
            "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "RN1"}
        },
        "period": {"end": when.isoformat()},
        "group": [
            {
                "code": {"coding": [{"system": "urn:flotilla:code-system:bed-type", "code": "ga"}]},
                "population": [
                    {
                        "code": {
                            "coding": [
                                {"system": "urn:flotilla:code-system:bed-state", "code": "open"}
                            ]
                        },
                        "count": 77,
                    }
                ],
            }
        ],
    }
    given = tmp_path / "report.json"
    given.write_text(json.dumps(report))
    call_command("import-saner", str(given), "--as", "RN1")
    viewer = policy.acting_for(cast.north, "test")
    [value] = policy.read_latest(viewer, None, {cast.north.pk}, ["ga_open"]).values
    assert (value.value, value.as_of) == (77.0, when)
    with pytest.raises(CommandError, match="is not RS1"):
        call_command("import-saner", str(given), "--as", "RS1")
