"""An organisation's admins add, change and revoke sharing grants, and see who can see what.

North (RN1) and South (RS1) are in River System, each sharing everything with it by default;
Outside (RX1) is in no collaborative with them.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from flotilla.authz.models import Role
from flotilla.collaboratives import actions as collaboratives_actions
from flotilla.sharing import actions, policy
from flotilla.sharing import views as sharing_views
from flotilla.sharing.models import AudienceKind, Detail, EndReason, Grant
from flotilla.sharing.policy.rules import Access
from tests import factories as f

pytestmark = pytest.mark.django_db

PAGE = "/o/RN1/sharing"
NEW = "/o/RN1/sharing/new"
ORG = "audience_organisation"


def edit(grant: Grant) -> str:
    return f"/o/RN1/sharing/{grant.pk}"


def revoke(grant: Grant) -> str:
    return f"/o/RN1/sharing/{grant.pk}/revoke"


def local(moment) -> str:
    """A time as a date-time input sends it: local, to the minute."""
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def to_outside(**changes) -> dict:
    """A good form: North's capacity and flow, banded, a day late, to Outside (RX1)."""
    return {
        "audience": "organisation",
        "audience_organisation": "rx1",
        "groups": ["capacity", "flow"],
        "detail": "banded",
        "delay_hours": "24",
        "purpose": "Mutual aid with our neighbours this winter",
        "expires_at": "",
        **changes,
    }


def grant_to_outside(cast, **changes) -> Grant:
    terms = {
        "audience": AudienceKind.ORGANISATION,
        "audience_organisation": cast.outside,
        "groups": ("capacity",),
        "detail": Detail.BANDED,
        "delay_hours": 24,
        "purpose": "Mutual aid with our neighbours this winter",
        **changes,
    }
    return actions.add_grant(
        by=cast.people[Role.ORG_ADMIN], owner=cast.north, terms=actions.Terms(**terms)
    )


def seen_by_outside(cast) -> dict[str, tuple[Access, ...]]:
    viewer = policy.viewer_of(cast.people["outsider"])
    return policy.access_map(viewer, {cast.north.pk}).get(cast.north.pk, {})


@pytest.fixture
def admin(client, cast):
    client.force_login(cast.people[Role.ORG_ADMIN])
    return client


def later(monkeypatch, hours: float) -> None:
    """Move the clock on."""
    moment = timezone.now() + timedelta(hours=hours)
    monkeypatch.setattr(timezone, "now", lambda: moment)


# Adding


def test_an_admin_adds_a_banded_late_grant_to_a_named_organisation_and_it_takes_effect(admin, cast):
    response = admin.post(NEW, to_outside())
    assert response.status_code == 302
    assert response["Location"] == PAGE
    grant = Grant.objects.get(audience=AudienceKind.ORGANISATION)
    assert grant.audience_organisation == cast.outside
    assert grant.created_by_label == "north_org_admin"
    assert seen_by_outside(cast) == {
        "capacity": (Access("banded", 24, grant.pk),),
        "flow": (Access("banded", 24, grant.pk),),
    }
    page = admin.get(PAGE).content.decode()
    assert f"Grant {grant.pk} added: Outside Hospitals NHS Trust can see capacity, flow" in page
    assert "Banded, 24 hours late" in page
    assert "Counts rounded to the nearest 5, occupancy in 5-point bands." in page
    assert "Mutual aid with our neighbours this winter" in page
    assert f'href="/o/RN1/sharing/{grant.pk}"' in page
    assert f'action="/o/RN1/sharing/{grant.pk}/revoke"' in page


def test_the_add_form_offers_its_collaboratives_and_says_what_each_group_holds(admin, cast):
    page = admin.get(NEW).content.decode()
    assert "River System" in page
    assert "Ambulance handovers over 60 min" in page
    assert "Staff absent" in page
    assert "Declared OPEL level" in page
    assert 'value="0"' in page  # real time, to start with
    assert "nhsuk-error-summary" not in page


def test_an_admin_shares_with_a_collaborative_it_belongs_to(admin, cast):
    other = f.CollaborativeFactory(name="Coast", organisation=cast.outside)
    f.join(other, cast.north)
    data = to_outside(audience="collaborative", collaborative=str(other.pk), detail="status")
    assert admin.post(NEW, data).status_code == 302
    grant = Grant.objects.get(owner=cast.north, collaborative=other, detail="status")
    reached = {a.grant.pk: a.organisations for a in policy.audiences(cast.north)}
    assert reached[grant.pk] == (cast.outside,)


def test_fields_for_another_audience_are_ignored(admin, cast):
    data = to_outside(audience="everyone", collaborative="999", audience_organisation="ZZZ")
    assert admin.post(NEW, data).status_code == 302
    grant = Grant.objects.get(audience=AudienceKind.EVERYONE)
    assert grant.collaborative is None
    assert grant.audience_organisation is None


def test_an_expiry_is_read_in_local_time(admin, cast):
    expiry = timezone.now() + timedelta(days=2)
    assert admin.post(NEW, to_outside(expires_at=local(expiry))).status_code == 302
    grant = Grant.objects.get(audience=AudienceKind.ORGANISATION)
    assert local(grant.expires_at) == local(expiry)


BAD_INPUT = [
    ({"groups": []}, "groups", "Choose at least one group of measures to share"),
    ({ORG: "zzz9"}, ORG, "No organisation on Flotilla has the ODS code ZZZ9"),
    ({"delay_hours": "abc"}, "delay_hours", "Enter the delay as a whole number of hours"),
    ({"delay_hours": "-1"}, "delay_hours", "Enter a delay from 0 (real time) to 672 hours"),
    ({"delay_hours": ""}, "delay_hours", "Enter the delay in hours (0 for real time)"),
    ({"expires_at": "2020-01-01T09:00"}, "expires_at", "The expiry must be in the future"),
    ({"expires_at": "next tuesday"}, "expires_at", "Enter the expiry as a date and time"),
    ({"purpose": "   "}, "purpose", "Say in a sentence why this is shared"),
    ({"purpose": "x" * 301}, "purpose", "Keep the purpose to 300 characters or fewer"),
    ({"audience": ""}, "audience", "Choose who to share with"),
    ({"detail": ""}, "detail", "Choose how finely to share"),
    ({"groups": ["gossip"]}, "groups", "Choose the groups of measures to share from the list"),
]


@pytest.mark.parametrize(("changes", "field", "message"), BAD_INPUT)
def test_bad_input_is_a_field_error_and_nothing_is_stored(admin, cast, changes, field, message):
    before = Grant.objects.count()
    response = admin.post(NEW, to_outside(**changes))
    assert response.status_code == 200
    page = response.content.decode()
    assert "There is a problem" in page
    assert f'<a href="#id_{field}">{message}' in page
    assert f'id="{field}-error"' in page
    assert Grant.objects.count() == before


def test_every_mistake_is_shown_at_once_in_the_order_of_the_form(admin, cast):
    before = Grant.objects.count()
    data = to_outside(
        audience_organisation="NOPE",
        groups=[],
        delay_hours="abc",
        purpose="",
        expires_at="2020-01-01T09:00",
    )
    page = admin.post(NEW, data).content.decode()
    anchors = ["id_audience_organisation", "id_groups", "id_delay_hours", "id_purpose"]
    positions = [page.index(f'href="#{a}"') for a in [*anchors, "id_expires_at"]]
    assert positions == sorted(positions)
    assert Grant.objects.count() == before
    assert 'value="NOPE"' in page  # what was typed stays in the form


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({ORG: "RN1"}, ORG, "An organisation always sees its own data"),
        ({ORG: " "}, ORG, "Choose the organisation to share with"),
        ({"audience": "collaborative"}, "collaborative", "Choose the collaborative to share with"),
    ],
)
def test_what_the_sharing_rules_refuse_comes_back_on_its_field(
    admin, cast, changes, field, message
):
    before = Grant.objects.count()
    page = admin.post(NEW, to_outside(**changes)).content.decode()
    assert f'<a href="#id_{field}">{message}' in page
    assert Grant.objects.count() == before


def test_a_collaborative_the_organisation_is_not_in_cannot_be_chosen(admin, cast):
    coast = f.CollaborativeFactory(name="Coast", organisation=cast.outside)
    data = to_outside(audience="collaborative", collaborative=str(coast.pk))
    page = admin.post(NEW, data).content.decode()
    assert "Choose one of the collaboratives North Hospitals NHS Trust belongs to" in page
    assert not Grant.objects.filter(owner=cast.north, collaborative=coast).exists()


def test_an_organisation_in_no_collaborative_is_not_offered_one(client, cast):
    client.force_login(cast.people["outsider"])
    page = client.get("/o/RX1/sharing/new").content.decode()
    assert 'value="collaborative"' not in page
    assert 'id="id_audience"' in page  # the first choice still takes the error link


# Changing


def test_the_change_form_starts_from_the_grant_and_says_what_a_change_does(admin, cast):
    expiry = timezone.now() + timedelta(days=3)
    grant = grant_to_outside(cast, expires_at=expiry)
    page = admin.get(edit(grant)).content.decode()
    assert f"Saving a change ends grant {grant.pk} and starts a new grant" in page
    assert 'value="RX1"' in page
    assert f'value="{local(expiry)}"' in page
    assert 'value="banded" aria-describedby="id_detail-banded-item-hint" checked' in page
    assert 'value="capacity" aria-describedby="id_groups-item-hint" checked' in page
    assert "takes effect on the next request" in page


def test_the_change_form_of_a_collaborative_grant_has_its_collaborative_chosen(admin, cast):
    grant = Grant.objects.get(owner=cast.north, collaborative=cast.collab)
    page = admin.get(edit(grant)).content.decode()
    assert f'<option value="{cast.collab.pk}" selected>River System</option>' in page
    assert 'value="collaborative" checked' in page


def test_a_change_ends_the_grant_and_a_new_one_replaces_it_both_in_the_history(admin, cast):
    old = grant_to_outside(cast)
    response = admin.post(edit(old), to_outside(detail="exact", delay_hours="0"))
    assert response.status_code == 302
    old.refresh_from_db()
    new = Grant.objects.get(replaces=old)
    assert old.end_reason == EndReason.CHANGED
    assert old.ended_by_label == "north_org_admin"
    assert new.ended_at is None
    assert seen_by_outside(cast)["capacity"] == (Access("exact", 0, new.pk),)
    page = admin.get(PAGE).content.decode()
    assert f"Grant {old.pk} ended and grant {new.pk} replaces it" in page
    history = page.split("<h2>History</h2>")[1]
    assert f"Grant {new.pk}</th>" in history
    assert f"Grant {old.pk}</th>" in history
    assert history.index(f"Grant {new.pk}</th>") < history.index(f"Grant {old.pk}</th>")
    assert "Changed" in history
    assert f"<td>Grant {new.pk}</td>" in history  # what replaced the old one
    assert f"replacing grant {old.pk}" in page


def test_a_bad_change_changes_nothing(admin, cast):
    grant = grant_to_outside(cast)
    page = admin.post(edit(grant), to_outside(groups=[])).content.decode()
    assert "Choose at least one group of measures to share" in page
    grant.refresh_from_db()
    assert grant.ended_at is None
    assert not Grant.objects.filter(replaces=grant).exists()


def test_a_change_refused_by_the_sharing_rules_changes_nothing(admin, cast):
    grant = grant_to_outside(cast)
    page = admin.post(edit(grant), to_outside(audience_organisation="RN1")).content.decode()
    assert "An organisation always sees its own data" in page
    assert not Grant.objects.filter(replaces=grant).exists()


def test_a_grant_revoked_while_its_change_form_was_open_is_not_changed(admin, cast, monkeypatch):
    grant = grant_to_outside(cast)
    change = actions.change_grant

    def someone_revokes_first(**kwargs):
        actions.revoke_grant(by=cast.people[Role.ORG_ADMIN], grant=grant)
        return change(**kwargs)

    monkeypatch.setattr(sharing_views.actions, "change_grant", someone_revokes_first)
    page = admin.post(edit(grant), to_outside()).content.decode()
    assert "<li>This grant already ended (Revoked)</li>" in page
    assert not Grant.objects.filter(replaces=grant).exists()


def test_a_grant_no_longer_in_force_cannot_be_changed(admin, cast, monkeypatch):
    revoked = grant_to_outside(cast)
    actions.revoke_grant(by=cast.people[Role.ORG_ADMIN], grant=revoked)
    assert admin.get(edit(revoked)).status_code == 404
    expiring = grant_to_outside(cast, expires_at=timezone.now() + timedelta(hours=1))
    later(monkeypatch, 2)
    assert admin.get(edit(expiring)).status_code == 404
    assert admin.post(edit(expiring), to_outside()).status_code == 404


# Revoking


def test_revoking_ends_the_grant_at_once_and_moves_it_to_the_history(admin, cast):
    grant = grant_to_outside(cast)
    assert seen_by_outside(cast)
    response = admin.post(revoke(grant))
    assert response.status_code == 302
    assert response["Location"] == PAGE
    grant.refresh_from_db()
    assert grant.end_reason == EndReason.REVOKED
    assert seen_by_outside(cast) == {}
    page = admin.get(PAGE).content.decode()
    assert f"Grant {grant.pk} revoked: what it shared with Outside Hospitals NHS Trust" in page
    current, history = page.split("<h2>History</h2>")
    assert f"/o/RN1/sharing/{grant.pk}/revoke" not in current
    assert "Revoked" in history
    assert "by north_org_admin" in history


def test_revoking_twice_says_the_grant_already_ended(admin, cast):
    grant = grant_to_outside(cast)
    admin.post(revoke(grant))
    page = admin.post(revoke(grant), follow=True).content.decode()
    assert f"Grant {grant.pk} was not revoked. This grant already ended (Revoked)." in page


def test_an_expired_grant_is_not_revoked_but_shown_as_expired(admin, cast, monkeypatch):
    grant = grant_to_outside(cast, expires_at=timezone.now() + timedelta(hours=1))
    later(monkeypatch, 2)
    page = admin.post(revoke(grant), follow=True).content.decode()
    assert f"Grant {grant.pk} was not revoked. This grant already expired" in page
    grant.refresh_from_db()
    assert grant.ended_at is None
    history = page.split("<h2>History</h2>")[1]
    assert "Expired" in history


def test_revoke_only_accepts_a_post(admin, cast):
    grant = grant_to_outside(cast)
    assert admin.get(revoke(grant)).status_code == 405
    grant.refresh_from_db()
    assert grant.ended_at is None


# Who may


@pytest.mark.parametrize("role", [Role.VIEWER, Role.REPORTER, Role.COORDINATOR])
def test_other_people_of_the_organisation_cannot_manage_its_sharing(client, cast, role):
    grant = grant_to_outside(cast)
    client.force_login(cast.people[role])
    assert client.get(NEW).status_code == 404
    assert client.post(NEW, to_outside()).status_code == 404
    assert client.get(edit(grant)).status_code == 404
    assert client.post(edit(grant), to_outside(detail="exact")).status_code == 404
    assert client.post(revoke(grant)).status_code == 404
    assert Grant.objects.filter(owner=cast.north, audience="organisation").count() == 1
    grant.refresh_from_db()
    assert grant.ended_at is None


def test_an_admin_of_another_organisation_sees_none_of_these_pages(client, cast):
    grant = grant_to_outside(cast)
    client.force_login(cast.people["outsider"])
    assert client.get(PAGE).status_code == 404
    assert client.get(NEW).status_code == 404
    assert client.post(NEW, to_outside(audience_organisation="RS1")).status_code == 404
    assert client.get(edit(grant)).status_code == 404
    assert client.post(revoke(grant)).status_code == 404
    grant.refresh_from_db()
    assert grant.ended_at is None


def test_another_organisations_grant_is_not_found_through_this_organisations_pages(admin, cast):
    theirs = Grant.objects.get(owner=cast.south)
    assert admin.get(f"/o/RN1/sharing/{theirs.pk}").status_code == 404
    assert admin.post(f"/o/RN1/sharing/{theirs.pk}/revoke").status_code == 404
    theirs.refresh_from_db()
    assert theirs.ended_at is None


def test_signing_in_comes_first(client, cast):
    grant = grant_to_outside(cast)
    for response in (client.get(NEW), client.get(edit(grant)), client.post(revoke(grant))):
        assert response.status_code == 302
        assert response["Location"].startswith("/signin/")


def test_people_who_may_see_the_grants_but_not_manage_them_get_no_buttons(admin, cast, monkeypatch):
    monkeypatch.setattr(sharing_views, "can", lambda *args: False)
    page = admin.get(PAGE).content.decode()
    assert "Open by default on joining River System." in page
    assert "Add a grant" not in page
    assert "/revoke" not in page
    assert "Change<" not in page


# What each organisation sees, and the history


def test_each_organisation_is_shown_what_it_sees_group_by_group(admin, cast):
    grant_to_outside(cast, groups=("capacity", "workforce"), detail=Detail.STATUS, delay_hours=1)
    page = admin.get(PAGE).content.decode()
    table = page.split("<h2>What each organisation sees</h2>")[1].split("<h2>History")[0]
    outside = table.split("Outside Hospitals NHS Trust</th>")[1].split("</tr>")[0]
    assert outside.count("Status only, 1 hour late") == 2
    assert outside.count("not shared") == 4
    south = table.split("South Hospitals NHS Trust</th>")[1].split("</tr>")[0]
    assert south.count("Exact, real time") == 6


def test_a_grant_to_every_organisation_lists_them_while_there_are_few(admin, cast):
    grant_to_outside(cast, audience=AudienceKind.EVERYONE, audience_organisation=None)
    third = f.OrganisationFactory(name="Third Hospitals NHS Trust")
    page = admin.get(PAGE).content.decode()
    table = page.split("<h2>What each organisation sees</h2>")[1].split("<h2>History")[0]
    assert third.name in table
    assert "Outside Hospitals NHS Trust" in table
    assert "more organisations" not in table
    assert "Every organisation on Flotilla (their signed-in people and tokens)" in page


def test_a_grant_to_every_organisation_counts_them_when_there_are_many(admin, cast):
    grant_to_outside(cast, audience=AudienceKind.EVERYONE, audience_organisation=None)
    for n in range(sharing_views.TABLE_LIMIT):
        f.OrganisationFactory(code=f"RZ{n:02d}", name=f"Zed Hospitals NHS Trust {n}")
    page = admin.get(PAGE).content.decode()
    table = page.split("<h2>What each organisation sees</h2>")[1].split("<h2>History")[0]
    assert "South Hospitals NHS Trust</th>" in table  # named by the collaborative grant
    assert "Zed Hospitals" not in table
    others = sharing_views.TABLE_LIMIT + 1  # and Outside
    assert f"{others} more organisations</th>" in table
    rest = table.split("more organisations</th>")[1].split("</tr>")[0]
    assert rest.count("Banded, 24 hours late") == 1
    assert f"The last row stands for {others} more organisations" in table


def test_a_public_grant_says_what_anyone_sees_without_signing_in(admin, cast):
    grant_to_outside(cast, audience=AudienceKind.PUBLIC, audience_organisation=None)
    grant_to_outside(
        cast,
        audience=AudienceKind.PUBLIC,
        audience_organisation=None,
        groups=("capacity", "escalation"),
        detail=Detail.STATUS,
        delay_hours=0,
    )
    page = admin.get(PAGE).content.decode()
    row = page.split("Anyone, without signing in</th>")[1].split("</tr>")[0]
    cells = re.findall(r"<td>(.*?)</td>", row, re.S)
    # Capacity: both grants, each figure at the finest its age allows; escalation: status only.
    assert cells[0] == "Banded, 24 hours late;<br>Status only, real time"
    assert cells[3] == "Status only, real time"
    assert row.count("not shared") == 4


def test_an_organisation_nobody_sees_is_told_so(client, cast):
    client.force_login(cast.people["outsider"])
    page = client.get("/o/RX1/sharing").content.decode()
    assert "nobody outside it can see its data" in page
    assert "No other organisation sees any of Outside Hospitals NHS Trust's data" in page
    assert "Outside Hospitals NHS Trust has made no grants" in page


def test_a_collaborative_with_no_other_members_yet_is_said_so(client, cast):
    f.CollaborativeFactory(name="Coast", organisation=cast.outside)
    client.force_login(cast.people["outsider"])
    page = client.get("/o/RX1/sharing").content.decode()
    assert "No other members yet" in page


def test_the_history_says_how_each_grant_ended(admin, cast, monkeypatch):
    # South needs someone to run the collaborative once North has left.
    f.member(cast.people["south_reporter"], cast.south, Role.COORDINATOR)
    collaboratives_actions.leave(
        by=cast.people[Role.ORG_ADMIN], collaborative=cast.collab, organisation=cast.north
    )
    expiring = grant_to_outside(cast, expires_at=timezone.now() + timedelta(hours=1))
    lasting = grant_to_outside(cast, expires_at=timezone.now() + timedelta(days=30))
    page = admin.get(PAGE).content.decode()
    history = page.split("<h2>History</h2>")[1]
    assert "Left the collaborative" in history
    assert "In force" in history
    assert f"until {lasting.expires_at.astimezone(timezone.get_current_timezone()):%-d %b}" in (
        history
    )
    later(monkeypatch, 2)
    history = admin.get(PAGE).content.decode().split("<h2>History</h2>")[1]
    row = history.split(f"Grant {expiring.pk}</th>")[1].split("</tr>")[0]
    assert "Expired" in row
