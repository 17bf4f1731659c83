"""Exported SANER documents never carry a value the viewer may not see.

For random grants and random figures (the world of the sharing property test: North reads a
collaborative of two or three owners, each with its collaborative grant changed or revoked and
extra grants exact, banded or status only, real time, 3 or 24 hours late, reaching North or
not; figures reported over two days, some missing; the picture now or as at a past moment),
North's read token exports the collaborative as a SANER Bundle, and every population in it is
checked twice: against `policy.read_latest` for North (the policy the export reads through),
and against the sharing property test's model of what North may see, worked out from the raw
figures and grants without the policy.

A population has a count only where North may see that figure exactly, the count is the
figure, and the report's period is the figure's own time, no newer than North's grants allow;
a banded figure has no count, only `masked` and the whole numbers it was rounded from; a
status-only, withheld or not yet visible one only `masked`; one reported missing its reason.
Every figure North may see is in the Bundle. Examples are derandomised (ADR 0014).
"""

from __future__ import annotations

from datetime import datetime

import pytest
from django.db import transaction
from fhir.resources.R4B.bundle import Bundle
from hypothesis import HealthCheck, event, given, settings

from flotilla.authz import actions as authz_actions
from flotilla.authz.models import Role
from flotilla.interop import saner
from flotilla.organisations.models import Organisation, Site
from flotilla.sharing import policy
from flotilla.sharing.policy.rules import BANDED, EXACT, STATUS
from tests.integration.sharing.test_sharing_properties import Model, api_get, build, plans

pytestmark = pytest.mark.django_db

BEDS = {b.code: b for b in saner.bed_measures()}
MEASURE_OF = {(b.bed_type, b.state): b.code for b in BEDS.values()}


@pytest.fixture
def north_token(cast):
    return authz_actions.issue_token(
        by=cast.people[Role.ORG_ADMIN], organisation=cast.north, name="saner", scope="read"
    )


def _places(body: dict) -> list[tuple[str, str | None, datetime, dict[str, dict]]]:
    """(organisation, site or None, period end, measure → population) of each report."""
    out = []
    for entry in body.get("entry", []):
        report = entry["resource"]
        subject = report["subject"]["identifier"]
        site = subject["value"] if subject["system"] == saner.ODS_SITE else None
        organisation = report["reporter"]["identifier"]["value"]
        assert site is not None or subject["value"] == organisation
        end = datetime.fromisoformat(report["period"]["end"])
        assert datetime.fromisoformat(report["period"]["start"]) == end
        populations = {}
        for group in report.get("group", []):
            bed = group["code"]["coding"][0]["code"]
            for p in group["population"]:
                code = MEASURE_OF[(bed, p["code"]["coding"][0]["code"])]
                assert code not in populations
                populations[code] = p
        out.append((organisation, site, end, populations))
    return out


def check(
    model: Model, body: dict, reading: policy.Reading, codes: dict[int, str], sites: dict[int, str]
) -> None:
    """Every population of the Bundle against the policy's reading and the model."""
    shown = {(codes[v.organisation_id], sites.get(v.site_id), v.measure): v for v in reading.values}
    withheld = {(codes[o], m) for o, m in reading.withheld}
    found: set[tuple[str, str | None, str]] = set()
    for org, site, end, populations in _places(body):
        for code, p in populations.items():
            key = (org, site, code)
            assert key not in found, key  # each figure once
            found.add(key)
            seen = model.seen(org, site, code)
            policy_value = shown.get(key)
            extensions = {e["url"]: e for e in p.get("extension", [])}
            if "count" in p:
                assert not extensions, key
                # Exact, as the figure was, at its own time: no finer, no newer than allowed.
                assert seen is not None and seen.detail == EXACT and not seen.missing, key
                assert (float(p["count"]), end) == (seen.value, seen.as_of), key
                assert end <= model.cutoff(org, code), key
                assert policy_value is not None and policy_value.detail == EXACT, key
                assert (policy_value.value, policy_value.as_of) == (float(p["count"]), end), key
                assert (org, code) not in withheld, key
                if org != "RN1":
                    event("an exact count of another organisation is exported")
                continue
            reason = extensions[saner.DATA_ABSENT]["valueCode"]
            if reason != "masked":
                assert seen is not None and seen.missing and reason == "not-asked", key
                assert end == seen.as_of, key
                event("a figure reported missing is exported with its reason")
                continue
            assert seen is None or not seen.missing, key
            if saner.COUNT_RANGE in extensions:
                assert seen is not None and seen.detail == BANDED, key
                band = extensions[saner.COUNT_RANGE]["valueRange"]
                low, high = band["low"]["value"], band["high"]["value"]
                assert saner._count_range(seen.value) == (low, high), key
                assert high - low <= 4 and end == seen.as_of, key
                event("a banded count is exported as a range")
            elif seen is not None:
                assert seen.detail == STATUS and end == seen.as_of, key
                event("a status-only count is exported masked")
            else:
                assert (org, code) in withheld or model.delayed(org, site, code), key
                # Said as at the moment read: the one asked for, or now.
                assert end == model.at if model.at else end >= model.now, key
                late = extensions.get(saner.HOURS_LATE)
                assert (late["valueInteger"] if late else 0) == model.delayed(org, site, code)
                event("a withheld or late count is exported masked")
    # Every figure North may see of these measures is there, and every one withheld.
    expected = set(model.figures(tuple(BEDS)))
    assert expected <= found
    assert {(o, None, m) for o, m in model.withheld(tuple(BEDS))} <= found


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=plans)
def test_exported_saner_documents_never_carry_a_value_the_viewer_may_not_see(
    cast, client, north_token, plan
):
    token, secret = north_token
    # Each example's organisations, grants and figures are rolled back after it.
    with transaction.atomic():
        model = build(cast, plan)
        params = {"at": model.at.isoformat()} if model.at else {}
        response = api_get(
            client, secret, f"/api/collaboratives/{cast.collab.slug}/saner", **params
        )
        assert response.status_code == 200, response.content
        body = response.json()
        Bundle.model_validate(body)
        members = Organisation.objects.filter(code__in=model.members)
        codes = {o.pk: o.code for o in members}
        sites = dict(Site.objects.filter(organisation__in=members).values_list("id", "code"))
        reading = policy.read_latest(policy.viewer_of(token), model.at, set(codes), list(BEDS))
        check(model, body, reading, codes, sites)
        transaction.set_rollback(True)
