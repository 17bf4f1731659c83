"""The escalation pages and API, through the Django client: what each visitor is shown."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from flotilla.audit.models import AuditEvent
from flotilla.authz import actions as authz_actions
from flotilla.escalation.models import Adoption, ComputedLevel, DifferenceNote, ProfileVersion
from tests import factories as f

pytestmark = pytest.mark.django_db


def hours_ago(n: float):
    return (timezone.now() - timedelta(hours=n)).replace(second=0, microsecond=0)


@pytest.fixture
def levels(cast):
    f.report(cast.north, hours_ago(1), **f.HOT, opel_declared=2)
    f.report(cast.south, hours_ago(1), **f.CALM, opel_declared=1)
    f.levels(cast.north, cast.south)
    return cast


def signed_in(client, person):
    client.force_login(person)
    return client


def test_the_dashboard_shows_the_computed_level_beside_the_declared_and_the_system_level(
    client, levels
):
    page = signed_in(client, levels.people["viewer"]).get(f"/c/{levels.collab.slug}/")
    html = page.content.decode()
    assert "Computed OPEL" in html
    north_row = html.split('data-org="RN1"')[1].split("</tr>")[0]
    assert "OPEL 4" in north_row and "≠ declared" in north_row
    assert 'id="system-level"' in html and "System OPEL" in html


def test_the_collaborative_page_lists_each_members_levels_and_says_who_was_left_out(client, levels):
    f.reshare(f.collaborative_grant(levels.south, levels.collab), groups=("capacity",))
    f.levels(levels.south)
    html = (
        signed_in(client, levels.people["viewer"])
        .get(f"/c/{levels.collab.slug}/escalation")
        .content.decode()
    )
    assert "differs from declared" in html
    assert "South Hospitals NHS Trust: does not share its escalation level" in html
    assert "No computed level shared with you" in html


def test_an_organisations_page_explains_its_level_to_a_member_who_sees_its_figures(client, levels):
    html = signed_in(client, levels.people["south_reporter"]).get("/o/RN1/escalation")
    html = html.content.decode()
    assert 'id="parameters-acute"' in html
    assert "G&amp;A occupancy" in html and "99.0%" in html
    assert "What would bring it down to OPEL 3" in html
    assert "Declared and computed levels differ" in html
    # Only the organisation's own people may say why.
    assert "Say why your declared level differs" not in html


def test_the_explanation_is_withheld_from_a_member_who_sees_only_the_status(client, levels):
    f.reshare(f.collaborative_grant(levels.north, levels.collab), detail="status")
    html = signed_in(client, levels.people["south_reporter"]).get("/o/RN1/escalation")
    html = html.content.decode()
    assert 'id="figures-withheld"' in html
    assert "99.0%" not in html and 'id="parameters-acute"' not in html


def test_the_organisations_own_reporter_records_why_its_declared_level_differs(client, levels):
    level = ComputedLevel.objects.get(organisation=levels.north)
    c = signed_in(client, levels.people["reporter"])
    assert "Say why your declared level differs" in c.get("/o/RN1/escalation").content.decode()
    r = c.post(
        f"/escalation/levels/{level.pk}/note",
        {"declared_level": "2", "reason": "Figures lag: the new ward opened at noon"},
    )
    assert r.status_code == 302
    note = DifferenceNote.objects.get()
    assert note.written_by == levels.people["reporter"] and note.declared_level == 2
    page = c.get("/o/RN1/escalation").content.decode()
    assert "Figures lag: the new ward opened at noon" in page


def test_a_note_with_no_reason_or_no_level_is_refused_with_a_message(client, levels):
    level = ComputedLevel.objects.get(organisation=levels.north)
    c = signed_in(client, levels.people["reporter"])
    r = c.post(f"/escalation/levels/{level.pk}/note", {"declared_level": "x", "reason": "y"})
    assert r.status_code == 302
    r = c.post(
        f"/escalation/levels/{level.pk}/note", {"declared_level": "2", "reason": " "}, follow=True
    )
    assert "Say why the declared level differs" in r.content.decode()
    assert not DifferenceNote.objects.exists()


def test_a_coordinator_adopts_a_profile_and_a_bad_variant_is_shown_with_its_line(client, cast):
    c = signed_in(client, cast.people["coordinator"])
    url = f"/c/{cast.collab.slug}/escalation/profiles"
    bad = 'extends = "acute"\ncode = "acute_x"\nversion = "1"\nlabel = "X"\nbands = [3, 2, 1]\n'
    r = c.post(url, {"do": "variant", "text": bad})
    assert r.status_code == 400
    assert "line 5" in r.content.decode()
    mental = ProfileVersion.objects.get(code="mental_health")
    r = c.post(url, {"do": "adopt", "kind": "acute", "profile": str(mental.pk)})
    assert r.status_code == 400 and "does not score" in r.content.decode()
    r = c.post(url, {"do": "adopt", "kind": "acute", "profile": "nonsense"})
    assert "Choose a profile to adopt" in r.content.decode()
    good = bad.replace("[3, 2, 1]", "[1.5, 2.5, 3.5]")
    assert c.post(url, {"do": "variant", "text": good}).status_code == 302
    variant = ProfileVersion.objects.get(code="acute_x")
    assert (
        c.post(url, {"do": "adopt", "kind": "acute", "profile": str(variant.pk)}).status_code == 302
    )
    assert Adoption.objects.get(collaborative=cast.collab).profile == variant
    html = c.get(url).content.decode()
    assert "X 1" in html
    text = c.get(f"/escalation/profiles/{variant.pk}").content.decode()
    assert "variant of Acute trusts" in text


def test_only_coordinators_may_post_to_the_profiles_page(client, cast):
    c = signed_in(client, cast.people["reporter"])
    url = f"/c/{cast.collab.slug}/escalation/profiles"
    assert "Adopt a profile" not in c.get(url).content.decode()
    assert c.post(url, {"do": "variant", "text": "x"}).status_code == 404


def test_another_collaboratives_variant_is_not_shown_to_outsiders(client, cast):
    other = f.CollaborativeFactory(name="Other System", organisation=cast.outside)
    from flotilla.escalation import actions

    text = 'extends = "acute"\ncode = "acute_o"\nversion = "1"\nlabel = "O"\n'
    variant = actions.save_variant(by=cast.people["outsider"], collaborative=other, text=text)
    c = signed_in(client, cast.people["viewer"])
    assert c.get(f"/escalation/profiles/{variant.pk}").status_code == 404
    assert c.get("/escalation/profiles/999999").status_code == 404


# The API ------------------------------------------------------------------------------------


def read_token(cast, org):
    """A read token of South's, issued by an admin of South's made for it."""
    admin = f.UserFactory(username="south_admin")
    f.member(admin, org, "org_admin")
    _token, secret = authz_actions.issue_token(
        by=admin, organisation=org, name="levels", scope="read"
    )
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def test_the_api_gives_the_levels_with_explanations_only_where_figures_are_shared_exactly(
    client, levels
):
    f.reshare(f.collaborative_grant(levels.north, levels.collab), detail="status")
    auth = read_token(levels, levels.south)
    body = client.get(f"/api/collaboratives/{levels.collab.slug}/escalation", **auth).json()
    by_code = {m["org_code"]: m for m in body["members"]}
    assert by_code["RN1"]["level"] == 4 and by_code["RN1"]["explanation"] is None
    assert by_code["RN1"]["declared_level"] == 2 and by_code["RN1"]["disagrees"] is True
    assert by_code["RS1"]["explanation"]["parameters"]
    assert body["system"]["counted"] == 2


def test_the_api_gives_the_levels_as_csv(client, levels):
    auth = read_token(levels, levels.south)
    r = client.get(f"/api/collaboratives/{levels.collab.slug}/escalation.csv", **auth)
    rows = list(csv.DictReader(io.StringIO(r.content.decode())))
    assert {r["org_code"]: r["computed_level"] for r in rows} == {"RN1": "4", "RS1": "1"}


def test_the_api_gives_an_organisations_level_history_computed_and_declared(client, levels):
    auth = read_token(levels, levels.south)
    body = client.get("/api/organisations/RN1/escalation/history", **auth).json()
    assert [p["level"] for p in body["computed"]] == [4]
    assert [p["level"] for p in body["declared"]] == [2]
    since = (timezone.now() + timedelta(hours=1)).isoformat()
    r = client.get("/api/organisations/RN1/escalation/history", {"since": since}, **auth)
    assert r.status_code == 422


def test_the_api_gives_an_organisations_explained_level(client, levels):
    auth = read_token(levels, levels.south)
    (level,) = client.get("/api/organisations/RN1/escalation", **auth).json()
    assert level["profile"].startswith("acute ")
    assert level["explanation"]["to_lower"]


def test_the_picture_api_gives_each_members_status_in_an_edxl_have_shape(client, levels):
    auth = read_token(levels, levels.south)
    body = client.get(f"/api/collaboratives/{levels.collab.slug}/status", **auth).json()
    north = next(m for m in body if m["organisation"]["id"] == "RN1")
    assert north["escalation"]["declared"]["level"] == 2
    assert north["escalation"]["computed"]["level"] == 4
    assert north["last_update_time"] is not None


def test_nothing_here_is_written_by_reading(client, levels):
    before = AuditEvent.objects.count()
    signed_in(client, levels.people["viewer"]).get(f"/c/{levels.collab.slug}/escalation")
    assert AuditEvent.objects.count() == before


def test_a_coordinator_declares_the_systems_level_beside_the_computed_one(client, levels):
    from flotilla.escalation.models import SystemDeclaration

    c = signed_in(client, levels.people["coordinator"])
    url = f"/c/{levels.collab.slug}/escalation"
    r = c.post(url + "/declare", {"level": "2", "reason": "Two trusts opening escalation wards"})
    assert r.status_code == 302
    html = c.get(url).content.decode()
    assert "Declared: OPEL 2" in html and "differs from computed" in html
    event = AuditEvent.objects.get(action="escalation.system_level_declared")
    assert event.after == {"level": 2, "reason": "Two trusts opening escalation wards"}
    assert "declared OPEL 2" in c.get(f"/c/{levels.collab.slug}/").content.decode()
    auth = read_token(levels, levels.south)
    body = client.get(f"/api/collaboratives/{levels.collab.slug}/escalation", **auth).json()
    assert body["system"]["declared"]["level"] == 2
    for bad in ({"level": "9"}, {"level": "x"}):
        c.post(url + "/declare", bad)
    assert SystemDeclaration.objects.count() == 1


def test_only_coordinators_declare_the_systems_level(client, levels):
    from flotilla.escalation import actions

    c = signed_in(client, levels.people["reporter"])
    r = c.post(f"/c/{levels.collab.slug}/escalation/declare", {"level": "2"})
    assert r.status_code == 404
    with pytest.raises(actions.EscalationError, match="coordinators"):
        actions.declare_system_level(
            by=levels.people["reporter"], collaborative=levels.collab, level=2
        )
    with pytest.raises(actions.EscalationError, match="1,000"):
        actions.declare_system_level(
            by=levels.people["coordinator"], collaborative=levels.collab, level=2, reason="x" * 1001
        )


def test_an_organisations_figures_page_links_its_computed_level_to_the_explanation(client, levels):
    html = signed_in(client, levels.people["south_reporter"]).get("/o/RN1/").content.decode()
    row = html.split('id="computed-level"')[1].split("</div>")[0]
    assert "OPEL 4" in row and "/o/RN1/escalation" in row
