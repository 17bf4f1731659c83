"""No EDXL-HAVE document carries a value its reader may not see.

For random grants of South's (its grant to the collaborative narrowed to some groups, at a
detail and a delay, or revoked; sometimes a second grant to every organisation) and random
figures over the past two days, the HAVE document North's read token gets holds no count,
level or traffic status that `policy.read_latest` does not give North exactly, and nothing
newer than what it gives: every available count is open − occupied of two figures North sees
exactly, every baseline an open count North sees exactly, the traffic status is judged only
from exact figures, the declared level is the one North sees, and the last update time is
no later than the newest figure North sees. Examples are derandomised (ADR 0014).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flotilla.authz import actions as authz_actions
from flotilla.authz.models import Role
from flotilla.interop import have
from flotilla.sharing import actions as sharing
from flotilla.sharing import policy
from flotilla.sharing.models import Grant
from flotilla.sharing.policy.rules import BANDED, EXACT, STATUS
from tests import factories as f

pytestmark = pytest.mark.django_db

NS = {"h": have.NS}
GROUPS = ("capacity", "flow", "escalation")


@dataclass(frozen=True)
class Plan:
    #: (groups, detail, delay) of South's grant to the collaborative; None: revoked.
    grant: tuple[frozenset[str], str, int] | None
    #: A second grant, to every organisation: (detail, delay), or None.
    everyone: tuple[str, int] | None
    #: Reports: (hours ago, figures).
    reports: tuple[tuple[int, dict[str, int]], ...]


counts = st.one_of(st.integers(0, 14), st.integers(15, 400))
figures = st.fixed_dictionaries(
    {},
    optional={
        "ga_open": counts,
        "ga_occupied": counts,
        "cc_adult_open": st.integers(0, 30),
        "cc_adult_occupied": st.integers(0, 30),
        "ed_diverts": st.integers(0, 3),
        "ed_closures": st.integers(0, 2),
        "opel_declared": st.integers(1, 4),
    },
).filter(bool)
details = st.sampled_from((EXACT, BANDED, STATUS))
delays = st.sampled_from((0, 3, 24))
plans = st.builds(
    Plan,
    grant=st.one_of(
        st.none(), st.tuples(st.frozensets(st.sampled_from(GROUPS), min_size=1), details, delays)
    ),
    everyone=st.one_of(st.none(), st.tuples(details, delays)),
    reports=st.lists(st.tuples(st.integers(0, 48), figures), min_size=1, max_size=4).map(tuple),
)


def _apply(cast, plan: Plan) -> None:
    grant = Grant.objects.get(owner=cast.south, collaborative=cast.collab, ended_at__isnull=True)
    if plan.grant is None:
        sharing.revoke_grant(by=f.SYSTEM, grant=grant)
    else:
        groups, detail, delay = plan.grant
        terms = sharing.Terms(
            audience="collaborative",
            collaborative=cast.collab,
            groups=tuple(sorted(groups)),
            detail=detail,
            delay_hours=delay,
            purpose="Property test",
        )
        sharing.change_grant(by=f.SYSTEM, grant=grant, terms=terms)
    if plan.everyone is not None:
        detail, delay = plan.everyone
        f.grant(cast.south, audience="everyone", groups=GROUPS, detail=detail, delay_hours=delay)
    now = timezone.now()
    for hours, values in plan.reports:
        f.report(cast.south, now - timedelta(hours=hours, minutes=5), **values)


def _int(element, path):
    text = element.findtext(path, namespaces=NS)
    return None if text is None else int(text)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=plans)
def test_no_have_document_carries_a_value_the_reader_may_not_see(cast, client, plan):
    # Each example's grants and figures are rolled back after it.
    with transaction.atomic():
        _apply(cast, plan)
        token, secret = authz_actions.issue_token(
            by=cast.people[Role.ORG_ADMIN], organisation=cast.north, name="p", scope="read"
        )
        response = client.get(
            f"/api/collaboratives/{cast.collab.slug}/have", HTTP_AUTHORIZATION=f"Bearer {secret}"
        )
        assert response.status_code == 200
        assert have.validate(response.content) == []
        reading = policy.read_latest(
            policy.viewer_of(token), None, {cast.south.pk}, have.measures()
        )
        seen = {v.measure: v for v in reading.values if v.site_id is None}
        doc = have.parsed(response.content)
        (south,) = doc.xpath(
            "//h:Hospital[h:Organization/h:OrganizationInformation/h:OrganizationID/h:Value='RS1']",
            namespaces=NS,
        )

        def exact(code):
            v = seen.get(code)
            ok = v is not None and v.detail == EXACT and v.value is not None
            return v.value if ok and not v.missing_reason else None

        for entry in south.xpath("h:HospitalBedCapacityStatus/h:BedCapacity", namespaces=NS):
            bed = entry.findtext("h:BedType/h:Value", namespaces=NS)
            available = _int(entry, "h:Capacity/h:AvailableCount")
            baseline = _int(entry, "h:Capacity/h:BaselineCount")
            if available is not None:
                opened, occupied = exact(f"{bed}_open"), exact(f"{bed}_occupied")
                assert opened is not None and occupied is not None
                assert available == opened - occupied
            else:
                assert entry.findtext("h:CommentText", namespaces=NS), "a count left out says why"
            if baseline is not None:
                assert baseline == exact(f"{bed}_open")
        traffic = south.findtext(
            "h:EmergencyDepartmentStatus/h:EMSTraffic/h:EMSTrafficStatus", namespaces=NS
        )
        if traffic is not None:
            diverts, closures = exact("ed_diverts"), exact("ed_closures")
            assert diverts is not None and closures is not None
            assert traffic == ("Closed" if closures else "Advisory" if diverts else "Normal")
        for level in south.xpath("h:OrganizationStatus/h:EscalationLevel", namespaces=NS):
            if level.findtext("h:LevelSource", namespaces=NS) == "declared":
                declared = seen.get("opel_declared")
                assert declared is not None
                assert _int(level, "h:LevelCode/h:Value") == declared.value
        last = south.findtext("h:LastUpdateTime", namespaces=NS)
        if last is not None:
            newest = max(v.as_of for v in seen.values())
            assert datetime.fromisoformat(last) <= newest
        transaction.set_rollback(True)
