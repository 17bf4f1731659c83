from datetime import UTC, datetime

import pytest

from flotilla.audit.models import AuditEvent
from flotilla.reporting.models import Observation
from flotilla.reporting.validation import ReportRejected
from tests import factories as f

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_a_report_is_stored_with_its_audit_event_in_one_go():
    org = f.OrganisationFactory()
    result = f.report(org, T0, ga_open=100, ga_occupied=90)
    assert result.created == 2
    assert Observation.objects.filter(is_current=True).count() == 2
    event = AuditEvent.objects.get(action="reporting.report_submitted")
    assert event.after["created"] == 2


@pytest.mark.django_db
def test_the_same_report_twice_changes_nothing():
    org = f.OrganisationFactory()
    f.report(org, T0, ga_open=100, ga_occupied=90)
    again = f.report(org, T0, ga_open=100, ga_occupied=90)
    assert (again.created, again.revised, again.unchanged) == (0, 0, 2)
    assert Observation.objects.count() == 2


@pytest.mark.django_db
def test_a_correction_is_a_new_revision_and_the_old_value_is_kept():
    org = f.OrganisationFactory()
    f.report(org, T0, ga_open=100, ga_occupied=90)
    fixed = f.report(org, T0, ga_occupied=95)
    assert fixed.revised == 1
    rows = Observation.objects.filter(series__measure__code="ga_occupied")
    values = sorted(rows.values_list("revision", "value", "is_current"))
    assert values == [(1, 90.0, False), (2, 95.0, True)]


@pytest.mark.django_db
def test_missing_is_stored_as_missing_not_zero():
    org = f.OrganisationFactory()
    f.report(org, T0, ga_open=None)
    obs = Observation.objects.get()
    assert obs.value is None
    assert obs.missing_reason == "not_reported"


@pytest.mark.django_db
def test_an_out_of_range_value_rejects_the_whole_report():
    org = f.OrganisationFactory()
    with pytest.raises(ReportRejected, match="below the minimum"):
        f.report(org, T0, ga_open=100, ga_occupied=-1)
    assert Observation.objects.count() == 0


@pytest.mark.django_db
def test_occupied_above_open_is_a_warning_not_an_error():
    org = f.OrganisationFactory()
    result = f.report(org, T0, ga_open=100, ga_occupied=101)
    assert result.created == 2
    assert "More beds occupied than open" in result.warnings[0].message


def test_a_plain_retry_replays_the_stored_answer_without_building_the_report_again(cast):
    from flotilla.authz import actions as authz_actions
    from flotilla.reporting.actions import record_report_once
    from flotilla.reporting.validation import CellIn

    token, _ = authz_actions.issue_token(
        by=cast.people["org_admin"], organisation=cast.north, name="bms", scope="submit"
    )
    built = []

    def cells():
        built.append(1)
        return [CellIn(cast.north.pk, None, "ga_open", datetime(2026, 1, 5, 8, tzinfo=UTC), 10.0)]

    first, replayed = record_report_once(by=token, key="k1", body_sha256="b", cells=cells)
    assert (replayed, len(built)) == (False, 1)
    again, replayed = record_report_once(by=token, key="k1", body_sha256="b", cells=cells)
    assert (again, replayed, len(built)) == (first, True, 1)
