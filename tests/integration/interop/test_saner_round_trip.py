"""The round trip: an organisation's picture → a SANER Bundle → imported into a fresh store →
the same picture.

How the store is made fresh: the registry (the trusts, South's site, the catalogue the
migrations load) is made first; then, inside a transaction that is rolled back, South's
figures and grants (exact to its own people, banded to an outside trust, withheld from North,
some reported missing, one revised, some older than others), the Bundle exported as South's
own people read it (exact), and the picture as they read it then, kept as plain JSON-able
values keyed by codes. After the rollback nothing of it remains but the JSON (checked: South
has no figure at all), the registry is as it was, and the Bundle is posted to `/api/saner`
with a submit token of South's. A second database would prove no more: all an import may use
is the registry and the catalogue, and both are the same.

The picture compared is every figure of every bed measure South and its site report: which
site, which measure, the time it was true, the value or the reason it is missing.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from flotilla.authz import actions as authz_actions
from flotilla.authz.models import Role
from flotilla.interop import saner
from flotilla.organisations.models import Site
from flotilla.reporting.models import Observation
from flotilla.sharing import policy
from tests import factories as f

pytestmark = pytest.mark.django_db


def _token(cast, scope: str) -> dict[str, str]:
    admin = f.UserFactory()
    f.member(admin, cast.south, Role.ORG_ADMIN)
    _, secret = authz_actions.issue_token(
        by=admin, organisation=cast.south, name=scope, scope=scope
    )
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def picture(cast) -> set[tuple]:
    """South's bed figures as its own people see them: (site, measure, as of, value, why
    missing), by codes."""
    viewer = policy.acting_for(cast.south, "round trip")
    codes = [b.code for b in saner.bed_measures()]
    reading = policy.read_latest(viewer, None, {cast.south.pk}, codes)
    sites = {s.pk: s.code for s in Site.objects.filter(organisation=cast.south)}
    return {
        (sites.get(v.site_id), v.measure, v.as_of.isoformat(), v.value, v.missing_reason)
        for v in reading.values
    }


def test_a_picture_exported_as_saner_and_imported_into_a_fresh_store_is_the_same_picture(
    client, cast
):
    site = f.SiteFactory(code="RS101", name="South General", organisation=cast.south)
    now = timezone.now().replace(second=0, microsecond=0)
    with transaction.atomic():
        f.grant(
            cast.south,
            audience="organisation",
            audience_organisation=cast.outside,
            detail="banded",
            delay_hours=3,
        )
        f.unshare(f.collaborative_grant(cast.south, cast.collab))  # withheld from North
        f.report(
            cast.south, now - timedelta(hours=30), ga_open=400, cc_adult_open=24, mh_adult_void=2
        )
        f.report(
            cast.south,
            now - timedelta(hours=2),
            ga_open=412,
            ga_occupied=405,
            ga_admissible=7,
            cc_adult_occupied=None,
            escalation_open=0,
        )
        f.report(cast.south, now - timedelta(hours=2), ga_occupied=406)  # a revision
        f.report(cast.south, now - timedelta(hours=1), site=site, ga_open=210, picu_open=None)
        exported = client.get("/api/organisations/RS1/saner", **_token(cast, "read"))
        assert exported.status_code == 200
        document = exported.content.decode()
        before = picture(cast)
        transaction.set_rollback(True)
    assert not Observation.objects.filter(series__organisation=cast.south).exists()
    assert Site.objects.filter(code="RS101").exists()  # the registry stays

    response = client.post(
        "/api/saner", document, content_type="application/fhir+json", **_token(cast, "submit")
    )
    assert response.status_code == 201, response.content
    assert response.json()["created"] == len(before)
    assert picture(cast) == before
    # Every kind of figure made the trip: exact counts (a zero among them, as a zero), counts
    # reported missing at the organisation and at the site, and figures of several times.
    assert (None, "escalation_open", (now - timedelta(hours=2)).isoformat(), 0.0, "") in before
    assert (None, "ga_occupied", (now - timedelta(hours=2)).isoformat(), 406.0, "") in before
    assert {why for *_, why in before} == {"", "not_reported"}
    assert {site for site, *_ in before} == {None, "RS101"}
    assert len({when for _, _, when, _, _ in before}) == 3
    bundle = json.loads(document)
    assert len(bundle["entry"]) == 3  # one MeasureReport per place and time
