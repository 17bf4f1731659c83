"""Computed escalation levels: from a report to a stored, explained level; who may see it;
the system level and who was left out; notes on a disagreement; profiles and variants."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from flotilla import opel
from flotilla.audit.models import AuditEvent
from flotilla.escalation import actions, queries
from flotilla.escalation.models import ComputedLevel, DifferenceNote, ProfileVersion, SystemLevel
from flotilla.sharing import policy
from tests import factories as f

pytestmark = pytest.mark.django_db


def hours_ago(n: float):
    return (timezone.now() - timedelta(hours=n)).replace(second=0, microsecond=0)


def viewer(person):
    return policy.viewer_of(person)


def acute() -> ProfileVersion:
    return ProfileVersion.objects.get(code="acute", collaborative__isnull=True)


def test_the_shipped_profiles_are_stored_whole_with_their_versions_after_migrate():
    stored = {(v.code, v.version) for v in ProfileVersion.objects.all()}
    assert stored == {(p.code, p.version) for p in opel.shipped().values()}
    for v in ProfileVersion.objects.all():
        assert v.text == queries.shipped_text(v.code)


def test_a_shipped_profile_edited_without_a_new_version_is_refused():
    v = acute()
    ProfileVersion.objects.filter(pk=v.pk).update(text=v.text + "\n# edited\n")
    with pytest.raises(actions.EscalationError, match="changed without a new version"):
        actions.register_shipped(by=f.SYSTEM)


def test_a_report_queues_the_recompute_of_its_organisations_level(cast):
    f.report(cast.north, hours_ago(1), **f.CALM)
    (job,) = DBTaskResult.objects.filter(task_path="flotilla.escalation.tasks.recompute_levels")
    assert job.args_kwargs["kwargs"] == {"organisation_ids": [cast.north.pk]}


def test_a_level_is_computed_from_the_figures_with_its_explanation_and_an_audit_event(cast):
    f.report(cast.north, hours_ago(1), **f.HOT)
    f.levels(cast.north)
    (level,) = ComputedLevel.objects.filter(organisation=cast.north)
    assert level.level == 4
    assert level.profile == acute()
    assert level.as_of == hours_ago(1)
    x = level.explanation
    assert all(p["score"] == 4 for p in x["parameters"])
    assert x["missing"] == []
    assert x["to_next_level"] is None
    assert x["to_lower"], "a level above 1 says what would bring it down"
    event = AuditEvent.objects.get(action="escalation.level_computed")
    assert event.organisation_id == cast.north.pk
    assert event.after["level"] == 4 and event.before is None


def test_the_level_is_the_engines_level_for_the_same_figures(cast):
    figures = {**f.CALM, "ga_occupied": 96, "handover_over_60": 6, "nctr": 16}
    f.report(cast.north, hours_ago(1), **figures)
    f.levels(cast.north)
    level = ComputedLevel.objects.get(organisation=cast.north)
    expected = opel.score(queries.loaded(acute()), {k: float(v) for k, v in figures.items()})
    assert (level.level, level.score) == (expected.level, expected.score)


def test_computing_again_for_the_same_report_stores_nothing_more(cast):
    f.report(cast.north, hours_ago(1), **f.CALM)
    f.levels(cast.north)
    f.levels(cast.north)
    assert ComputedLevel.objects.filter(organisation=cast.north).count() == 1
    assert AuditEvent.objects.filter(action="escalation.level_computed").count() == 1


def test_a_newer_report_gives_a_newer_level_and_the_audit_says_what_it_was(cast):
    f.report(cast.north, hours_ago(3), **f.CALM)
    f.levels(cast.north)
    f.report(cast.north, hours_ago(1), **f.HOT)
    f.levels(cast.north)
    assert list(
        ComputedLevel.objects.filter(organisation=cast.north)
        .order_by("as_of")
        .values_list("level", flat=True)
    ) == [1, 4]
    last = AuditEvent.objects.filter(action="escalation.level_computed").order_by("id").last()
    assert last.before["level"] == 1 and last.after["level"] == 4


def test_too_few_figures_give_no_level_because_missing_is_never_calm(cast):
    f.report(cast.north, hours_ago(1), ga_open=100, ga_occupied=99, handover_over_60=None)
    f.levels(cast.north)
    level = ComputedLevel.objects.get(organisation=cast.north)
    assert level.level is None
    assert "handover_over_60" in level.explanation["missing"]


def test_an_organisation_reporting_only_by_site_is_scored_on_its_sites_added_up(cast):
    a = f.SiteFactory(code="RN1AA", name="North A", organisation=cast.north)
    b = f.SiteFactory(code="RN1BB", name="North B", organisation=cast.north)
    f.report(cast.north, hours_ago(1), site=a, **{**f.HOT, "ga_open": 60, "ga_occupied": 60})
    f.report(cast.north, hours_ago(1), site=b, ga_open=40, ga_occupied=39)
    f.levels(cast.north)
    level = ComputedLevel.objects.get(organisation=cast.north)
    ga = next(p for p in level.explanation["parameters"] if p["code"] == "ga_occupancy")
    assert ga["value"] == pytest.approx(0.99)


# Who may see a level ----------------------------------------------------------------------


def seen_by(person, org, collab):
    return queries.collaborative_levels(viewer(person), collab).members.get(org.pk)


def test_a_member_sees_another_members_level_with_its_figures_under_an_exact_grant(cast):
    f.report(cast.north, hours_ago(1), **f.HOT, opel_declared=2)
    f.levels(cast.north)
    s = seen_by(cast.people["south_reporter"], cast.north, cast.collab)
    assert s.level == 4 and s.figures_shown
    assert s.declared == 2 and s.disagrees


def test_the_declared_levels_a_picture_already_read_are_used_instead_of_read_again(cast):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from flotilla.picture.queries import collaborative_picture

    f.report(cast.north, hours_ago(1), **f.HOT, opel_declared=2)
    f.report(cast.south, hours_ago(1), **f.CALM)
    f.levels(cast.north)
    f.levels(cast.south)
    v = viewer(cast.people["south_reporter"])
    picture = collaborative_picture(v, cast.collab)
    declared = picture.declared_levels()
    assert declared == {cast.north.pk: (2, hours_ago(1))}  # south declared nothing
    alone = queries.collaborative_levels(v, cast.collab)
    with CaptureQueriesContext(connection) as given:
        shared = queries.collaborative_levels(
            v, cast.collab, members=picture.members, declared=declared
        )
    assert (
        {o: (s.level, s.declared) for o, s in shared.members.items()}
        == {o: (s.level, s.declared) for o, s in alone.members.items()}
        == {cast.north.pk: (4, 2), cast.south.pk: (1, None)}
    )
    assert not any("reporting_observation" in q["sql"] for q in given.captured_queries)


def test_a_picture_without_the_declared_level_gives_none_to_read_it_afresh(cast):
    from flotilla.picture.queries import collaborative_picture

    picture = collaborative_picture(
        viewer(cast.people["south_reporter"]), cast.collab, measures=["ga_open"]
    )
    assert picture.declared_levels() is None


def test_without_the_escalation_group_the_level_is_not_shown_at_all(cast):
    grant = f.collaborative_grant(cast.north, cast.collab)
    f.reshare(grant, groups=("capacity", "flow"))
    f.report(cast.north, hours_ago(1), **f.HOT)
    f.levels(cast.north)
    assert seen_by(cast.people["south_reporter"], cast.north, cast.collab) is None
    # Its own people still see it.
    assert seen_by(cast.people["viewer"], cast.north, cast.collab).level == 4


def test_an_escalation_grant_shared_late_shows_the_level_of_that_long_ago(cast):
    grant = f.collaborative_grant(cast.north, cast.collab)
    f.reshare(grant, delay_hours=4)
    f.report(cast.north, hours_ago(6), **f.CALM)
    f.report(cast.north, hours_ago(1), **f.HOT)
    f.levels(cast.north)  # the newest: 1 hour ago
    actions.backfill(organisation=cast.north, since=hours_ago(24))
    s = seen_by(cast.people["south_reporter"], cast.north, cast.collab)
    assert s.level == 1 and s.computed.as_of == hours_ago(6)
    assert s.access.delay_hours == 4


def test_with_figures_shared_as_status_only_the_level_shows_but_not_its_explanation(cast):
    grant = f.collaborative_grant(cast.north, cast.collab)
    f.reshare(grant, detail="status")
    f.report(cast.north, hours_ago(1), **f.HOT)
    f.levels(cast.north)
    s = seen_by(cast.people["south_reporter"], cast.north, cast.collab)
    assert s.level == 4
    assert not s.figures_shown


def test_reading_another_members_level_goes_on_its_access_record(cast):
    from tests.access import recorded

    f.report(cast.north, hours_ago(1), **f.CALM)
    f.levels(cast.north)
    before = recorded().filter(owner=cast.north).count()
    seen_by(cast.people["south_reporter"], cast.north, cast.collab)
    event = recorded().filter(owner=cast.north).order_by("id").last()
    assert recorded().filter(owner=cast.north).count() > before
    assert "escalation" in event.groups


# The system level ---------------------------------------------------------------------------


def test_the_system_level_rolls_up_the_members_and_names_who_was_left_out_and_why(cast):
    f.report(cast.north, hours_ago(1), **f.HOT)
    f.levels(cast.north)
    system = SystemLevel.objects.get(collaborative=cast.collab)
    assert system.level == 4
    assert [c["organisation"] for c in system.counted] == [cast.north.pk]
    assert system.left_out == [
        {"organisation": cast.south.pk, "name": cast.south.name, "why": "has no computed level yet"}
    ]
    assert AuditEvent.objects.filter(action="escalation.system_level_computed").count() == 1


def test_a_member_not_sharing_its_level_with_the_collaborative_is_left_out_of_its_system_level(
    cast,
):
    f.reshare(f.collaborative_grant(cast.south, cast.collab), groups=("capacity",))
    f.report(cast.north, hours_ago(1), **f.CALM)
    f.report(cast.south, hours_ago(1), **f.HOT)
    f.levels(cast.north, cast.south)
    system = SystemLevel.objects.filter(collaborative=cast.collab).first()
    assert system.level == 1
    (out,) = system.left_out
    assert out["why"] == "does not share its escalation level with the collaborative"


def test_a_member_whose_figures_are_too_old_stops_counting_when_the_schedule_rolls_up(cast):
    f.report(cast.north, hours_ago(30), **f.HOT)
    f.report(cast.south, hours_ago(1), **f.CALM)
    f.levels(cast.north, cast.south)
    system = SystemLevel.objects.filter(collaborative=cast.collab).first()
    assert system.level == 1
    (out,) = system.left_out
    assert out["organisation"] == cast.north.pk and "too old to count" in out["why"]


def test_a_system_level_is_stored_again_only_when_it_changes(cast):
    f.report(cast.north, hours_ago(1), **f.CALM)
    f.levels(cast.north)
    assert actions.roll_up(collaborative=cast.collab) is None
    assert SystemLevel.objects.filter(collaborative=cast.collab).count() == 1


# Saying why the declared level differs ------------------------------------------------------


def test_the_organisations_own_people_say_why_the_declared_level_differs(cast):
    f.report(cast.north, hours_ago(1), **f.CALM, opel_declared=3)
    f.levels(cast.north)
    level = ComputedLevel.objects.get(organisation=cast.north)
    note = actions.note_difference(
        by=cast.people["reporter"], computed=level, declared_level=3, reason="  Two wards shut "
    )
    assert note.reason == "Two wards shut"
    event = AuditEvent.objects.get(action="escalation.difference_noted")
    assert event.after == {"computed_level": 1, "declared_level": 3, "reason": "Two wards shut"}


@pytest.mark.parametrize(
    ("who", "declared", "reason", "message"),
    [
        ("south_reporter", 3, "Not ours", "Only the organisation's own people"),
        ("viewer", 3, "Viewers do not report", "Only the organisation's own people"),
        ("reporter", 3, "   ", "Say why"),
        ("reporter", 5, "Level five", "1 to 4"),
        ("reporter", 3, "x" * 1001, "1,000 characters"),
    ],
)
def test_a_note_on_a_difference_is_refused_in_words(cast, who, declared, reason, message):
    f.report(cast.north, hours_ago(1), **f.CALM)
    f.levels(cast.north)
    level = ComputedLevel.objects.get(organisation=cast.north)
    with pytest.raises(actions.EscalationError, match=message):
        actions.note_difference(
            by=cast.people[who], computed=level, declared_level=declared, reason=reason
        )
    assert not DifferenceNote.objects.exists()


# Profiles and variants ----------------------------------------------------------------------

VARIANT = """extends = "acute"
code = "acute_river"
version = "2026.1"
label = "Acute trusts, River variant"

[[parameters]]
code = "ga_occupancy"
thresholds = [0.70, 0.75, 0.78]
"""


def test_a_coordinator_adopts_a_variant_and_old_levels_keep_the_profile_that_made_them(cast):
    f.report(cast.north, hours_ago(2), **f.CALM)
    f.levels(cast.north)
    variant = actions.save_variant(
        by=cast.people["coordinator"], collaborative=cast.collab, text=VARIANT
    )
    actions.adopt(
        by=cast.people["coordinator"],
        collaborative=cast.collab,
        organisation_kind="acute",
        profile=variant,
    )
    f.report(cast.north, hours_ago(1), **f.CALM)
    f.levels(cast.north)
    old, new = ComputedLevel.objects.filter(organisation=cast.north).order_by("as_of")
    assert old.profile == acute() and new.profile == variant
    ga = next(p for p in new.explanation["parameters"] if p["code"] == "ga_occupancy")
    assert ga["score"] == 4  # 80% is past the variant's 78%
    assert AuditEvent.objects.filter(action="escalation.profile_adopted").count() == 1
    assert AuditEvent.objects.get(action="escalation.variant_saved").after["text"] == VARIANT


def test_a_variant_with_a_mistake_is_refused_naming_the_line(cast):
    bad = VARIANT.replace("[0.70, 0.75, 0.78]", "[0.80, 0.75, 0.78]")
    with pytest.raises(opel.ProfileError, match="line 8"):
        actions.save_variant(by=cast.people["coordinator"], collaborative=cast.collab, text=bad)
    assert not ProfileVersion.objects.filter(collaborative=cast.collab).exists()


def test_a_variant_must_extend_a_shipped_profile_and_have_a_new_version(cast):
    whole = queries.shipped_text("acute")
    with pytest.raises(actions.EscalationError, match="extends a shipped profile"):
        actions.save_variant(by=cast.people["coordinator"], collaborative=cast.collab, text=whole)
    actions.save_variant(by=cast.people["coordinator"], collaborative=cast.collab, text=VARIANT)
    with pytest.raises(actions.EscalationError, match="exists already"):
        actions.save_variant(by=cast.people["coordinator"], collaborative=cast.collab, text=VARIANT)


def test_only_coordinators_change_profiles_and_only_for_kinds_a_profile_scores(cast):
    with pytest.raises(actions.EscalationError, match="coordinators"):
        actions.save_variant(by=cast.people["reporter"], collaborative=cast.collab, text=VARIANT)
    mental = ProfileVersion.objects.get(code="mental_health")
    with pytest.raises(actions.EscalationError, match="does not score"):
        actions.adopt(
            by=cast.people["coordinator"],
            collaborative=cast.collab,
            organisation_kind="acute",
            profile=mental,
        )


def test_adopting_the_profile_in_use_again_changes_nothing(cast):
    a = actions.adopt(
        by=cast.people["coordinator"],
        collaborative=cast.collab,
        organisation_kind="acute",
        profile=acute(),
    )
    b = actions.adopt(
        by=cast.people["coordinator"],
        collaborative=cast.collab,
        organisation_kind="acute",
        profile=acute(),
    )
    assert a == b
    assert AuditEvent.objects.filter(action="escalation.profile_adopted").count() == 1


def test_another_collaboratives_variant_cannot_be_adopted(cast):
    other = f.CollaborativeFactory(name="Other System", organisation=cast.outside)
    variant = actions.save_variant(by=cast.people["outsider"], collaborative=other, text=VARIANT)
    with pytest.raises(actions.EscalationError, match="another collaborative's"):
        actions.adopt(
            by=cast.people["coordinator"],
            collaborative=cast.collab,
            organisation_kind="acute",
            profile=variant,
        )


# Surge, switched by the system level ------------------------------------------------------


def test_a_collaborative_that_chose_automatic_surge_enters_and_leaves_it_with_its_level(cast):
    from flotilla.collaboratives.models import Collaborative, SurgeSwitch

    f.surge_settings(cast.collab, level=3, automatic=True)
    f.report(cast.north, hours_ago(2), **f.HOT)
    f.report(cast.south, hours_ago(2), **f.HOT)
    f.levels(cast.north, cast.south)
    collab = Collaborative.objects.get(pk=cast.collab.pk)
    assert collab.in_surge and collab.surge_switched_automatically
    on = SurgeSwitch.objects.get(collaborative=collab)
    assert on.automatic and on.level == 4 and "reached OPEL 4" in on.reason
    f.report(cast.north, hours_ago(1), **f.CALM)
    f.report(cast.south, hours_ago(1), **f.CALM)
    f.levels(cast.north, cast.south)
    collab.refresh_from_db()
    assert not collab.in_surge
    assert SurgeSwitch.objects.filter(collaborative=collab).count() == 2


def test_a_surge_switched_on_by_hand_is_not_ended_by_a_calm_level(cast):
    from flotilla.collaboratives.models import Collaborative

    f.surge_settings(cast.collab, level=3, automatic=True)
    f.surge(cast.collab, by=cast.people["coordinator"], reason="Major incident declared")
    f.report(cast.north, hours_ago(1), **f.CALM)
    f.levels(cast.north)
    assert Collaborative.objects.get(pk=cast.collab.pk).in_surge


# The jobs -----------------------------------------------------------------------------------


def test_the_recompute_job_a_report_queues_computes_the_level(cast):
    from flotilla.escalation import tasks

    f.report(cast.north, hours_ago(1), **f.HOT)
    done = tasks.recompute_levels.call(organisation_ids=[cast.north.pk])
    assert done == {"computed": 1, "system_levels": 1}
    assert tasks.recompute_levels.call(organisation_ids=[cast.north.pk])["computed"] == 0


def test_a_recompute_reads_the_profiles_and_adoptions_once_for_its_levels_and_roll_up(cast):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    f.report(cast.north, hours_ago(1), **f.HOT)
    with CaptureQueriesContext(connection) as captured:
        done = actions.recompute_for(organisation_ids=[cast.north.pk])
    assert done == {"computed": 1, "system_levels": 1}
    reads = [q["sql"] for q in captured if q["sql"].startswith("SELECT")]
    assert sum('FROM "escalation_adoption"' in q for q in reads) == 1
    assert sum('FROM "escalation_profileversion"' in q for q in reads) == 1


def test_the_scheduled_roll_up_leaves_out_a_member_whose_figures_grew_old(cast):
    from flotilla.escalation import tasks

    f.report(cast.north, hours_ago(1), **f.HOT)
    f.report(cast.south, hours_ago(1), **f.CALM)
    f.levels(cast.north, cast.south)
    later = timezone.now() + timedelta(hours=9)  # past twice the 4-hour interval
    assert tasks.roll_up_system_levels.call(slot=later.isoformat()) == 1
    system = SystemLevel.objects.filter(collaborative=cast.collab).first()
    assert system.level is None and len(system.left_out) == 2
    assert tasks.roll_up_system_levels.call(slot=later.isoformat()) == 0  # nothing changed


def test_an_organisation_that_has_reported_nothing_has_no_level(cast):
    assert f.levels(cast.north)["computed"] == 0
    assert not ComputedLevel.objects.exists()


def test_a_member_with_too_few_figures_is_left_out_of_the_system_level(cast):
    f.report(cast.north, hours_ago(1), **f.HOT)
    f.report(cast.south, hours_ago(1), ga_open=100, ga_occupied=90)
    f.levels(cast.north, cast.south)
    system = SystemLevel.objects.filter(collaborative=cast.collab).first()
    (out,) = system.left_out
    assert out["why"] == "reported too few of the figures its profile scores"


def test_adopting_another_profile_ends_the_one_before_with_its_history_kept(cast):
    from flotilla.escalation.models import Adoption

    by = cast.people["coordinator"]
    actions.adopt(by=by, collaborative=cast.collab, organisation_kind="acute", profile=acute())
    variant = actions.save_variant(by=by, collaborative=cast.collab, text=VARIANT)
    actions.adopt(by=by, collaborative=cast.collab, organisation_kind="acute", profile=variant)
    old, new = Adoption.objects.filter(collaborative=cast.collab).order_by("adopted_at")
    assert old.ended_at is not None and new.ended_at is None
    assert queries.profile_for(cast.collab, "acute") == variant


def test_the_system_level_as_at_a_past_moment_is_the_one_stored_then(cast):
    f.report(cast.north, hours_ago(3), **f.HOT)
    f.levels(cast.north)
    first = SystemLevel.objects.get(collaborative=cast.collab)
    SystemLevel.objects.filter(pk=first.pk).update(computed_at=hours_ago(3))
    f.report(cast.north, hours_ago(1), **f.CALM)
    f.levels(cast.north)
    viewer = policy.viewer_of(cast.people["viewer"])
    then = queries.collaborative_levels(viewer, cast.collab, at=hours_ago(2))
    now = queries.collaborative_levels(viewer, cast.collab)
    assert (then.system.level, now.system.level) == (4, 1)
