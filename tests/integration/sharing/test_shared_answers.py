"""An answer worked out for one viewer is given, for a few seconds, to the others who may see
exactly the same (`policy.shared_answer`, ADR 0038): every read stays on the record in each
reader's name, and no answer outlives a change of who may see what.

Real transactions throughout: answers are shared only outside a transaction.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.cache import caches
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from flotilla.authz import actions as authz_actions
from flotilla.authz.models import Role, TokenScope
from flotilla.collaboratives import actions as collaboratives_actions
from flotilla.organisations.models import Organisation
from flotilla.sharing import actions, policy
from flotilla.sharing.actions import Terms
from flotilla.sharing.models import Grant, PendingAccess, PolicyVersion
from flotilla.sharing.policy.rules import GROUPS
from tests import factories as f

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _answers_shared(settings):
    settings.SHARED_ANSWER_SECONDS = 60


@pytest.fixture
def now():
    return timezone.now().replace(second=0, microsecond=0)


def table(client, cast, person) -> str:
    client.force_login(person)
    return client.get(f"/c/{cast.collab.slug}/table").content.decode()


def south_read_by(**reader) -> int:
    south = Organisation.objects.get(code="RS1").pk
    return sum(1 for _, owner, _ in f.pending_reads(**reader) if owner == south)


def south_grant(cast) -> Grant:
    return Grant.objects.get(owner=cast.south, collaborative=cast.collab, ended_at__isnull=True)


def south_shares(cast, **terms) -> Grant:
    """South's grant to the collaborative changed: every group, exact, in real time, but for
    `terms`."""
    base = {
        "audience": "collaborative",
        "collaborative": cast.collab,
        "groups": GROUPS,
        "detail": "exact",
        "delay_hours": 0,
        "purpose": "A test",
    }
    return actions.change_grant(by=f.SYSTEM, grant=south_grant(cast), terms=Terms(**base | terms))


def test_people_of_the_same_organisation_are_given_one_answer_and_each_read_is_recorded(
    client, cast, now
):
    f.report(cast.south, now - timedelta(hours=1), ga_open=100, ga_occupied=90, nctr=123)
    first = table(client, cast, cast.people[Role.VIEWER])
    f.report(cast.south, now, ga_open=100, ga_occupied=91, nctr=177)

    second = table(client, cast, cast.people[Role.REPORTER])

    assert ">123<" in first and second == first  # the answer worked out for the first
    for person in (cast.people[Role.VIEWER], cast.people[Role.REPORTER]):
        assert south_read_by(reader_user=person) == 1, person.username
    # The same reads, each in its reader's name.
    (worked_out, _, worked_out_groups), (given, _, given_groups) = (
        f.pending_reads(reader_user=cast.people[role])[0] for role in (Role.VIEWER, Role.REPORTER)
    )
    assert given.what == worked_out.what == f"GET /c/{cast.collab.slug}/table"
    assert given_groups == worked_out_groups and "flow" in given_groups
    assert given.reader_label == cast.people[Role.REPORTER].username


def test_members_who_see_each_other_as_they_see_themselves_are_given_one_answer(client, cast, now):
    # Both share everything with the collaborative, exactly and in real time (the default on
    # joining): each sees the other's figures as it sees its own.
    f.report(cast.north, now - timedelta(hours=1), ga_open=100, ga_occupied=90, nctr=123)
    f.report(cast.south, now - timedelta(hours=1), ga_open=80, ga_occupied=70, nctr=45)
    north_viewer, south_reporter = cast.people[Role.VIEWER], cast.people["south_reporter"]
    assert policy.seen_of(policy.viewer_of(north_viewer), [cast.north.pk, cast.south.pk]) == (
        policy.seen_of(policy.viewer_of(south_reporter), [cast.north.pk, cast.south.pk])
    )
    first = table(client, cast, north_viewer)
    f.report(cast.north, now, ga_open=100, ga_occupied=91, nctr=177)

    second = table(client, cast, south_reporter)

    assert ">123<" in first and second == first
    # Each reader's record names the other organisation's data it was shown, never its own.
    code = dict(Organisation.objects.values_list("pk", "code"))
    reads = sorted(
        (row.reader_user.username, code[owner], groups) for row, owner, groups in f.pending_reads()
    )
    assert [(who, owner) for who, owner, _ in reads] == [
        ("north_viewer", "RS1"),
        ("south_reporter", "RN1"),
    ]
    assert reads[0][2] == reads[1][2] and "flow" in reads[0][2]


def test_someone_who_may_see_otherwise_has_the_answer_worked_out_for_them(client, cast, now):
    # South shares only banded figures: North's people see South otherwise than South's own.
    south_shares(cast, detail="banded")
    f.report(cast.north, now - timedelta(hours=1), ga_open=100, ga_occupied=90, nctr=123)
    table(client, cast, cast.people[Role.VIEWER])  # North's answer
    f.report(cast.north, now, ga_open=100, ga_occupied=91, nctr=177)

    theirs = table(client, cast, cast.people["south_reporter"])

    assert ">177<" in theirs and ">123<" not in theirs
    # North's people are still given North's answer; asked with other parameters, it is
    # another question.
    assert ">123<" in table(client, cast, cast.people[Role.REPORTER])
    sorted_page = client.get(f"/c/{cast.collab.slug}/table?sort=nctr").content.decode()
    assert ">177<" in sorted_page


def without_the_moment(table: str) -> str:
    """The table without the minute it was worked out in (its coverage line says when): two
    tables worked out a moment apart may fall either side of a minute."""
    coverage = re.search(r'<p class="nhsuk-body" id="coverage">.*?</p>', table, re.S)
    assert coverage, "the coverage line"
    moment = re.sub(r"\d{1,2} \w{3}( \d{4})? \d{2}:\d{2}", "(the moment)", coverage.group())
    return table.replace(coverage.group(), moment)


def _as_each(client, cast, settings, ask) -> list:
    """What `ask(person)` answers each member's person, worked out for them alone (sharing
    off) and then given by a shared answer worked out as a stand-in (the cache emptied
    first, so each is worked out again)."""
    people = [cast.people[Role.VIEWER], cast.people["south_reporter"]]
    found = []
    for seconds in (0, 60):
        settings.SHARED_ANSWER_SECONDS = seconds
        for person in people:
            caches["shared-answers"].clear()
            found.append((seconds, person.username, ask(person)))
    return found


SOUTH_SHARES = {
    "openly": None,
    "banded": {"detail": "banded"},
    "4 hours late": {"delay_hours": 4},
    "beds only": {"groups": ("capacity",)},
    "status only": {"detail": "status"},
    "banded, and exactly a day late": "two grants",
}


@pytest.mark.parametrize("shares", SOUTH_SHARES)
def test_an_answer_worked_out_as_a_stand_in_is_the_one_each_viewer_would_be_shown(
    client, cast, now, settings, shares
):
    f.report(
        cast.north, now - timedelta(days=2), ga_open=100, ga_occupied=96, nctr=101, opel_declared=3
    )
    f.report(cast.north, now - timedelta(hours=1), ga_open=100, ga_occupied=90, nctr=123)
    for hours, occupied in ((30, 61), (2, 73)):
        f.report(
            cast.south,
            now - timedelta(hours=hours),
            ga_open=80,
            ga_occupied=occupied,
            opel_declared=2,
        )
    f.report(cast.south, now - timedelta(hours=1), situation="Theatres closed")
    change = SOUTH_SHARES[shares]
    if change == "two grants":
        south_shares(cast, detail="banded")
        base = {"audience": "collaborative", "collaborative": cast.collab, "groups": GROUPS}
        actions.add_grant(
            by=f.SYSTEM,
            owner=cast.south,
            terms=Terms(**base, detail="exact", delay_hours=24, purpose="A day late"),
        )
    elif change:
        south_shares(cast, **change)
    south_admin = f.UserFactory(username="south_admin")
    f.member(south_admin, cast.south, Role.ORG_ADMIN)
    secrets = {
        person.username: authz_actions.issue_token(
            by=admin, organisation=org, name="warehouse", scope=TokenScope.READ
        )[1]
        for person, org, admin in (
            (cast.people[Role.VIEWER], cast.north, cast.people[Role.ORG_ADMIN]),
            (cast.people["south_reporter"], cast.south, south_admin),
        )
    }

    def page(person):
        client.force_login(person)
        return [
            without_the_moment(client.get(f"/c/{cast.collab.slug}/table{query}").content.decode())
            for query in ("", "?sort=nctr", "?stale=yes")
        ]

    def api(person):
        secret = secrets[person.username]
        body = client.get(
            f"/api/collaboratives/{cast.collab.slug}/picture",
            headers={"Authorization": f"Bearer {secret}"},
        ).json()
        assert body.pop("at")  # the moment it was worked out, which differs each time
        return body

    for ask in (page, api):
        found = _as_each(client, cast, settings, ask)
        alone = {who: answer for seconds, who, answer in found if seconds == 0}
        for _, who, answer in found:
            assert answer == alone[who], (ask.__name__, who)
    if change is None:  # the two see the same, and so are given one answer
        assert alone["north_viewer"] == alone["south_reporter"]
    else:
        assert alone["north_viewer"] != alone["south_reporter"]


def test_a_stand_in_holds_its_accesses_and_no_grant(cast):
    north = policy.viewer_of(cast.people[Role.VIEWER])
    seen = policy.seen_of(north, [cast.north.pk, cast.south.pk, cast.outside.pk])
    assert dict(seen)[cast.outside.pk] == ()  # shares nothing with North
    norths = policy.access_map(north)
    with policy.standing_in(seen) as stand_in:
        assert set(policy.access_map(stand_in)) == {cast.north.pk, cast.south.pk}
        assert set(policy.access_map(stand_in, [cast.south.pk])) == {cast.south.pk}
        assert policy.access_map(north) == norths  # anyone else reads as ever
        with pytest.raises(RuntimeError, match="only through access_map"):
            policy.readable(stand_in, cast.south.pk)


@pytest.mark.parametrize("change", ["revoked", "narrowed", "left"])
def test_a_change_of_who_may_see_what_is_seen_by_the_next_reader(client, cast, now, change):
    f.report(cast.south, now - timedelta(hours=1), ga_open=100, ga_occupied=90, nctr=123)
    assert ">123<" in table(client, cast, cast.people[Role.VIEWER])
    version = policy.policy_version()

    if change == "revoked":
        actions.revoke_grant(by=f.SYSTEM, grant=south_grant(cast))
    elif change == "narrowed":
        south_shares(cast, groups=("capacity",))
    else:
        collaboratives_actions.leave(
            by=cast.people["south_reporter"], collaborative=cast.collab, organisation=cast.south
        )

    assert policy.policy_version() > version
    after = client.get(f"/c/{cast.collab.slug}/table").content.decode()  # the same person
    assert ">123<" not in after


def test_what_a_viewer_may_see_is_worked_out_once_for_the_next_request_of_its_organisations(
    client, cast, now
):
    f.report(cast.south, now - timedelta(hours=1), ga_open=100, ga_occupied=90, nctr=123)
    table(client, cast, cast.people[Role.VIEWER])
    client.force_login(cast.people[Role.REPORTER])

    with CaptureQueriesContext(connection) as queries:
        second = client.get(f"/c/{cast.collab.slug}/table").content.decode()

    assert ">123<" in second
    assert not [q for q in queries if "sharing_grant" in q["sql"]]
    assert south_read_by(reader_user=cast.people[Role.REPORTER]) == 1


def test_what_a_viewer_may_see_is_kept_after_the_answer_is_worked_out_again(
    client, cast, now, settings
):
    settings.SHARED_ANSWER_SECONDS = 0.5
    f.report(cast.south, now - timedelta(hours=1), ga_open=100, ga_occupied=90, nctr=123)
    assert ">123<" in table(client, cast, cast.people[Role.VIEWER])
    f.report(cast.south, now, ga_open=100, ga_occupied=91, nctr=177)
    time.sleep(0.6)  # the answer's time has passed; what may be seen has not changed
    client.force_login(cast.people[Role.REPORTER])

    with CaptureQueriesContext(connection) as queries:
        again = client.get(f"/c/{cast.collab.slug}/table").content.decode()

    assert ">177<" in again
    assert not [q for q in queries if "sharing_grant" in q["sql"]]


def test_an_answer_is_not_given_after_the_first_grant_it_used_expires(client, cast, now):
    f.report(cast.south, now - timedelta(hours=1), ga_open=100, ga_occupied=90, nctr=123)
    south_shares(cast, expires_at=timezone.now() + timedelta(seconds=1.5))
    assert ">123<" in table(client, cast, cast.people[Role.VIEWER])
    time.sleep(2)
    assert ">123<" not in table(client, cast, cast.people[Role.REPORTER])


def test_the_picture_api_gives_tokens_of_one_organisation_one_answer(client, cast, now):
    f.report(cast.south, now - timedelta(hours=1), ga_open=100, ga_occupied=90, nctr=123)
    secrets = [
        authz_actions.issue_token(
            by=cast.people[Role.ORG_ADMIN], organisation=cast.north, name=n, scope=TokenScope.READ
        )[1]
        for n in ("bed bureau", "data warehouse")
    ]

    def nctr(secret: str) -> list[float]:
        body = client.get(
            f"/api/collaboratives/{cast.collab.slug}/picture",
            headers={"Authorization": f"Bearer {secret}"},
        ).json()
        return [r["value"] for r in body["rows"] if r["measure"] == "nctr"]

    assert nctr(secrets[0]) == [123]
    f.report(cast.south, now, ga_open=100, ga_occupied=91, nctr=177)
    assert nctr(secrets[1]) == [123]
    by_tokens = [r for r in f.pending_reads(reader_token__isnull=False) if r[1] == cast.south.pk]
    assert len(by_tokens) == 2
    assert len(set(PendingAccess.objects.values_list("reader_token", flat=True))) == 2


def test_the_platform_operator_is_given_its_own_answers(cast):
    operator = policy.platform_viewer("a test")
    answers = iter(["first", "second"])
    ask = lambda: policy.shared_answer(operator, "what", lambda _: next(answers))  # noqa: E731
    assert ask() == ask() == "first"
    # Someone else of no organisation is not the operator: the flag is part of who they are.
    nobody = policy.viewer_of(AnonymousUser())
    assert nobody.organisation_ids == operator.organisation_ids and not nobody.platform
    assert policy.shared_answer(nobody, "what", lambda _: "their own") == "their own"


def test_an_answer_is_not_given_once_who_may_see_what_has_changed(cast):
    # Live reads of a collaborative's members are keyed by what the viewer may see of them,
    # which a change of grant changes anyway; any other answer relies on the policy version.
    viewer = policy.viewer_of(cast.people[Role.VIEWER])
    assert [policy.shared_answer(viewer, "what", lambda _, n=n: n) for n in (1, 2)] == [1, 1]
    actions.revoke_grant(by=f.SYSTEM, grant=south_grant(cast))
    assert policy.shared_answer(viewer, "what", lambda _: 3) == 3


def test_inside_a_transaction_nothing_is_shared(cast):
    viewer = policy.viewer_of(cast.people[Role.VIEWER])
    with transaction.atomic():
        assert policy.shared_answer(viewer, "what", lambda _: 1) == 1
        assert policy.shared_answer(viewer, "what", lambda _: 2) == 2
    assert policy.shared_answer(viewer, "what", lambda _: 3) == 3  # nothing was kept inside


def test_with_no_time_to_share_for_every_answer_is_worked_out(cast, settings):
    settings.SHARED_ANSWER_SECONDS = 0
    viewer = policy.viewer_of(cast.people[Role.VIEWER])
    assert [policy.shared_answer(viewer, "what", lambda _, n=n: n) for n in (1, 2)] == [1, 2]


def test_the_policy_version_starts_again_if_its_row_is_gone(cast):
    PolicyVersion.objects.all().delete()
    assert policy.policy_version() == 0
    actions.revoke_grant(by=f.SYSTEM, grant=south_grant(cast))
    assert policy.policy_version() == 1
