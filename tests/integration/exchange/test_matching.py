"""Who could help, best first, and why: open offers ranked on how well they fit, how far away
and how pressed their maker is; and organisations that appear to have room, read through the
sharing policy as the viewer, never finer or newer than the owner's grants allow."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flotilla import catalogue
from flotilla.authz.models import Role
from flotilla.exchange import actions, matching
from flotilla.sharing import policy
from flotilla.sharing.policy.rules import BANDED, EXACT, GROUPS, STATUS
from tests import factories as f

pytestmark = pytest.mark.django_db

SPEC = {m.code: m for m in catalogue.current().measures}
SPARE, PRESSURE = "cc_adult_admissible", "opel_declared"
RANK = {STATUS: 1, BANDED: 2, EXACT: 3}


def viewer(aid):
    return policy.viewer_of(aid.people[Role.COORDINATOR])


def ask(aid, **kw):
    return f.aid_request(
        by=aid.people[Role.COORDINATOR], organisation=aid.north, collaborative=aid.collab,
        site=aid.north_site, **kw,
    )  # fmt: skip


def offer(aid, request=None, org=None, site=None, **kw):
    org = org or aid.south
    by = kw.pop("by", aid.people["south_coordinator"])
    if request is None:
        kw.setdefault("collaborative", aid.collab)
        kw.setdefault("kind", "transfer")
    kw.setdefault("details", {"level_of_care": "cc3", "bed_type": "cc_adult"})
    return f.offer(by=by, organisation=org, site=site or aid.south_site, request=request, **kw)


def reasons(candidate) -> dict[str, float]:
    return {r.text: r.points for r in candidate.reasons}


def _now():
    return timezone.now().replace(second=0, microsecond=0)


def test_an_offer_that_fits_ranks_first_with_every_reason_in_words(aid):
    request = ask(aid, quantity=2)
    fits = offer(aid, request, quantity=2)
    other = offer(aid, details={"level_of_care": "cc2", "bed_type": "ga"}, quantity=1)
    found = matching.match(viewer(aid), request)
    assert [c.offer for c in found.candidates] == [fits, other]
    best, worse = found.candidates
    assert reasons(best) == {
        "level of care as asked": 3,
        "bed type as asked": 3,
        "2 left covers all 2": 2,
        "available in time": 2,
        "offered for this request": 1,
        "distance unknown (no location on record)": 0,
        "pressure not shared with you": 0,
    }
    assert best.score == 11
    assert reasons(worse)["different level of care"] == -3
    assert reasons(worse)["different bed type"] == -3
    assert reasons(worse)["1 left of 2 needed"] == 1
    assert worse.score == -3 + -3 + 1 + 2
    # Another request's offer, and offers of another kind, closed or used up, are not candidates.
    offer(aid, ask(aid), quantity=1)
    offer(aid, kind="staff", details={"role": "doctor", "grade": "ST3", "shifts": "Nights"})
    used = offer(aid, quantity=1)
    actions.commit(by=aid.people[Role.COORDINATOR], offer=used, quantity=1, organisation=aid.north)
    gone = offer(aid, quantity=1)
    f.move(gone, "withdrawn", by=aid.people["south_coordinator"], reason="Ward closed.")
    assert [c.offer for c in matching.match(viewer(aid), request).candidates] == [fits, other]


def test_what_is_still_needed_counts_commitments_already_made(aid):
    request = ask(aid, quantity=3)
    first = offer(aid, request, quantity=2)
    actions.commit(by=aid.people[Role.COORDINATOR], offer=first, quantity=2)
    second = offer(aid, request, quantity=1)
    (c,) = matching.match(viewer(aid), request).candidates
    assert c.offer == second and "1 left covers all 1" in reasons(c)


def test_an_offer_available_only_after_the_need_ranks_lower_and_says_from_when(aid):
    request = ask(aid, needed_in_hours=2)
    now = timezone.now()
    late = actions.make_offer(
        by=aid.people["south_coordinator"], organisation=aid.south, site=aid.south_site,
        request=request, quantity=2, available_from=now + timedelta(hours=5),
        available_until=now + timedelta(hours=30), transport="offerer", cost_recovery="none",
        details=request.details,
    )  # fmt: skip
    soon = offer(aid, request, quantity=2)
    found = matching.match(viewer(aid), request).candidates
    assert [c.offer for c in found] == [soon, late]
    when = timezone.localtime(late.available_from)
    assert reasons(found[1])[f"only from {when:%d %b %H:%M}"] == -1


def test_distance_from_site_coordinates_ranks_the_nearer_and_a_maximum_leaves_out_the_far(aid):
    aid.north_site = f.SiteFactory(
        code="RN101", name=aid.north_site.name, organisation=aid.north, latitude=53.48,
        longitude=-2.24,
    )  # fmt: skip
    near_site = f.SiteFactory(code="RS101", name=aid.south_site.name, organisation=aid.south,
                              latitude=53.40, longitude=-2.98)  # fmt: skip
    far_site = f.SiteFactory(code="RS102", name="South Far", organisation=aid.south,
                             latitude=51.50, longitude=-0.12)  # fmt: skip
    request = ask(aid)
    far = offer(aid, request, site=far_site)
    near = offer(aid, request, site=near_site)
    found = matching.match(viewer(aid), request)
    assert [c.offer for c in found.candidates] == [near, far]
    assert found.candidates[0].distance_km == pytest.approx(50.8, abs=1)
    assert found.candidates[1].distance_km == pytest.approx(262, abs=3)
    near_points = reasons(found.candidates[0])[f"{found.candidates[0].distance_km:.0f} km away"]
    assert near_points == round(2 - found.candidates[0].distance_km / 50, 1)
    assert reasons(found.candidates[1])[f"{found.candidates[1].distance_km:.0f} km away"] == 0
    bounded = ask(aid, max_distance_km=100)
    offer(aid, bounded, site=far_site)
    close = offer(aid, bounded, site=near_site)
    limited = matching.match(viewer(aid), bounded)
    assert [c.offer for c in limited.candidates if c.offer.request_id] == [close]
    # Left out: the far answer to this request (the other request's answers are not asked).
    assert limited.too_far == 1
    assert matching.distance_km(None, (1.0, 1.0)) is None
    # An organisation with room but too far away is left out too, counted.
    f.OrganisationFactory(code="RS1", name=aid.south.name, latitude=51.5, longitude=-0.12)
    f.report(aid.south, _now() - timedelta(minutes=30), cc_adult_admissible=6)
    room = ask(aid, max_distance_km=100)
    found = matching.match(viewer(aid), room)
    assert found.candidates == [] and found.too_far == 1
    assert [c.organisation for c in matching.match(viewer(aid), ask(aid)).candidates] == [aid.south]


def test_pressure_counts_only_when_the_opel_level_is_shared(aid):
    request = ask(aid)
    offer(aid, request)
    f.report(aid.south, _now() - timedelta(minutes=30), opel_declared=2)
    (c,) = matching.match(viewer(aid), request).candidates
    assert reasons(c)["declares OPEL 2"] == 1.0 and c.pressure.value == 2
    f.reshare(f.collaborative_grant(aid.south, aid.collab),
              groups=tuple(g for g in GROUPS if g != SPEC[PRESSURE].group))  # fmt: skip
    (c,) = matching.match(viewer(aid), request).candidates
    assert c.pressure is None and reasons(c)["pressure not shared with you"] == 0


def test_organisations_with_room_are_listed_from_the_beds_they_share_as_shared(aid):
    request = ask(aid)
    f.report(aid.south, _now() - timedelta(hours=1, minutes=30), cc_adult_admissible=7)
    found = matching.match(viewer(aid), request)
    (c,) = found.candidates
    assert (c.organisation, c.offer, c.spare.value, c.spare.detail) == (aid.south, None, 7, EXACT)
    assert reasons(c) == {
        "reports 7 adult critical care beds admissible now (1 h ago; shared exact)": 3.0,
        "distance unknown (no location on record)": 0,
        "pressure not shared with you": 0,
        "no offer yet: ask them": -1,
    }
    grant = f.collaborative_grant(aid.south, aid.collab)
    grant = f.reshare(grant, detail=BANDED)
    (c,) = matching.match(viewer(aid), request).candidates
    assert c.spare.value == 5 and "reports about 5 adult" in c.reasons[0].text
    assert c.score == 2.5 - 1
    grant = f.reshare(grant, detail=STATUS)
    (c,) = matching.match(viewer(aid), request).candidates
    assert c.spare.value is None and c.score == -1
    assert c.reasons[0].text == "shares only a status for these beds: no count to go on"
    f.unshare(grant)
    found = matching.match(viewer(aid), request)
    assert found.candidates == [] and found.not_shared == 1


def test_an_organisation_with_no_room_or_with_an_offer_is_not_listed_again(aid):
    request = ask(aid)
    f.report(aid.south, _now() - timedelta(minutes=30), cc_adult_admissible=0)
    assert matching.match(viewer(aid), request).candidates == []
    f.report(aid.south, _now() - timedelta(minutes=20), cc_adult_admissible=4)
    made = offer(aid, request)
    assert [c.offer for c in matching.match(viewer(aid), request).candidates] == [made]


def test_only_transfers_and_beds_look_for_room_in_reported_figures(aid):
    f.report(aid.south, _now() - timedelta(minutes=30), cc_adult_admissible=9)
    staff = ask(aid, kind="staff", details={"role": "doctor", "grade": "ST3", "shifts": "Days"})
    assert matching.match(viewer(aid), staff).candidates == []


# ------------------------------------------------------------------ the property


@dataclass(frozen=True)
class Share:
    groups: frozenset[str]
    detail: str
    delay_hours: int


shares = st.builds(
    Share,
    groups=st.frozensets(st.sampled_from((SPEC[SPARE].group, SPEC[PRESSURE].group)), min_size=1),
    detail=st.sampled_from((EXACT, BANDED, STATUS)),
    delay_hours=st.sampled_from((0, 3, 24)),
)
reports = st.lists(
    st.tuples(st.integers(0, 30), st.integers(0, 14), st.one_of(st.none(), st.integers(1, 4))),
    min_size=1,
    max_size=4,
)


def _grant(aid, share: Share | None, extra: tuple[Share, ...]) -> list[Share]:
    """South's grants reaching North: its collaborative grant changed or revoked, and extra
    grants straight to North."""
    current = f.collaborative_grant(aid.south, aid.collab)
    reaching = []
    if share is None:
        f.unshare(current)
    else:
        f.reshare(current, groups=tuple(sorted(share.groups)), detail=share.detail,
                  delay_hours=share.delay_hours)  # fmt: skip
        reaching.append(share)
    for s in extra:
        f.grant(
            aid.south, audience="organisation", audience_organisation=aid.north,
            groups=tuple(sorted(s.groups)), detail=s.detail, delay_hours=s.delay_hours,
        )  # fmt: skip
        reaching.append(s)
    return reaching


@settings(
    max_examples=30,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    share=st.one_of(st.none(), shares),
    extra=st.lists(shares, max_size=2).map(tuple),
    reported=reports,
)
def test_matching_never_uses_a_figure_finer_or_newer_than_the_grants_allow(
    aid, share, extra, reported
):
    with transaction.atomic():
        reaching = _grant(aid, share, extra)
        now = _now()
        for hours, spare, opel in reported:
            values = {SPARE: spare} | ({PRESSURE: opel} if opel is not None else {})
            f.report(aid.south, now - timedelta(hours=hours, minutes=30), **values)
        request = ask(aid)
        north = viewer(aid)
        found = matching.match(north, request)
        seen = policy.read_latest(north, None, organisation_ids={aid.south.pk},
                                  measures=[SPARE, PRESSURE])  # fmt: skip
        as_viewer = {v.measure: v for v in seen.values if v.site_id is None}
        candidates = [c for c in found.candidates if c.organisation == aid.south]
        for measure, got in (
            (SPARE, candidates[0].spare if candidates else None),
            (PRESSURE, candidates[0].pressure if candidates else None),
        ):
            options = [(s.detail, s.delay_hours) for s in reaching
                       if SPEC[measure].group in s.groups]  # fmt: skip
            if got is None:
                continue
            # Exactly what the policy shows North, and within some grant's detail and delay.
            assert got == as_viewer[measure]
            assert options, measure
            assert got.as_of <= timezone.now() - timedelta(hours=min(d for _, d in options))
            assert RANK[got.detail] <= max(RANK[d] for d, _ in options)
            if SPEC[measure].kind == "count" and got.value is not None:
                if got.detail != EXACT:
                    assert got.value % 5 == 0
                if all(d != EXACT for d, _ in options):
                    assert got.value % 5 == 0
        spare = as_viewer.get(SPARE)
        if spare is None:
            assert not candidates and found.not_shared == 1
            continue_score = None
        elif spare.value is not None and spare.value <= 0:
            assert not candidates
            continue_score = None
        else:
            (c,) = candidates
            continue_score = c.score
            pressure = as_viewer.get(PRESSURE)
            expected = -1.0
            if spare.value is not None:
                expected += min(3.0, spare.value / 2)
            if pressure is not None and pressure.value is not None:
                expected += (4 - int(pressure.value)) * 0.5
            # A status-only count, or a figure not shared, adds nothing to the score.
            assert c.score == round(expected, 2)
        if continue_score is not None and spare.value is None:
            assert not [r for r in candidates[0].reasons if "reports" in r.text]
        transaction.set_rollback(True)
