"""Reporting through the pages: the form, 'no change', and file uploads."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from flotilla.authz.models import Role
from flotilla.organisations.models import Organisation
from flotilla.reporting.models import Observation, Source, Submission
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_the_form_is_prefilled_with_the_last_report(client, cast):
    f.report(cast.north, timezone.now() - timedelta(hours=3), ga_open=412, situation="Busy")
    client.force_login(cast.people[Role.REPORTER])
    page = client.get("/o/RN1/report").content.decode()
    assert 'value="412"' in page
    assert ">Busy</textarea>" in page
    assert "No change since the last report" in page


def test_the_form_names_who_sent_the_newest_figures_and_how(client, cast):
    reporter = cast.people[Role.REPORTER]
    now = timezone.now()
    f.report(cast.north, now - timedelta(hours=2), by=reporter, ga_open=412)
    # Received later, but of older figures: an import of last week's history.
    f.report(cast.north, now - timedelta(days=7), source=Source.IMPORT, ga_open=380)
    client.force_login(reporter)
    page = client.get("/o/RN1/report").content.decode()
    assert f", by {reporter.get_username()} (web form)." in page
    # A newer report through the API is the last one, and no person is named for it.
    f.report(cast.north, now - timedelta(hours=1), source=Source.API, ga_open=415)
    page = client.get("/o/RN1/report").content.decode()
    assert "Last report: figures as of" in page
    assert " (api)." in page
    assert f"by {reporter.get_username()}" not in page


def test_submitting_the_form_stores_only_the_figures_given(client, cast):
    client.force_login(cast.people[Role.REPORTER])
    response = client.post("/o/RN1/report", {"ga_open": "1,400", "ga_occupied": "1390", "nctr": ""})
    assert response.status_code == 302
    stored = dict(Observation.objects.values_list("series__measure__code", "value"))
    assert stored == {"ga_open": 1400.0, "ga_occupied": 1390.0}


def test_a_saved_report_is_redirected_without_reading_the_forms_figures(client, cast, monkeypatch):
    from flotilla.reporting import views

    def not_needed(*args, **kwargs):
        raise AssertionError("the form's figures were read for a report that was saved")

    client.force_login(cast.people[Role.REPORTER])
    monkeypatch.setattr(views, "_form_context", not_needed)
    assert client.post("/o/RN1/report", {"ga_open": "400"}).status_code == 302
    # A report refused is shown again on the form, which needs them.
    with pytest.raises(AssertionError, match="figures were read"):
        client.post("/o/RN1/report", {"ga_open": "x"})


def test_a_valid_report_is_saved_with_warnings_shown(client, cast):
    client.force_login(cast.people[Role.REPORTER])
    response = client.post(
        "/o/RN1/report", {"ga_open": "400", "ga_occupied": "410", "nctr": ""}, follow=True
    )
    page = response.content.decode()
    assert "Report saved: 2 figures" in page
    assert "More beds occupied than open" in page
    codes = set(Observation.objects.values_list("series__measure__code", flat=True))
    assert codes == {"ga_open", "ga_occupied"}


def test_an_empty_form_asks_for_a_figure_or_no_change(client, cast):
    client.force_login(cast.people[Role.REPORTER])
    page = client.post("/o/RN1/report", {}).content.decode()
    assert "Enter at least one figure, or confirm there is no change" in page


def test_a_range_error_is_shown_beside_its_field_and_nothing_is_stored(client, cast):
    client.force_login(cast.people[Role.REPORTER])
    page = client.post("/o/RN1/report", {"ga_open": "-5"}).content.decode()
    assert 'id="ga_open-error"' in page
    assert "below the minimum" in page
    assert not Observation.objects.exists()


def test_no_change_restates_the_last_figures_as_true_now(client, cast):
    earlier = timezone.now() - timedelta(hours=5)
    f.report(cast.north, earlier, ga_open=300, ga_occupied=None)
    client.force_login(cast.people[Role.REPORTER])
    client.post("/o/RN1/report/no-change")
    latest = Observation.objects.filter(as_of__gt=earlier)
    assert {(o.series.measure.code, o.value, o.missing_reason) for o in latest} == {
        ("ga_open", 300.0, ""),
        ("ga_occupied", None, "not_reported"),
    }
    assert Submission.objects.filter(confirms_no_change=True).count() == 1


def test_no_change_with_nothing_reported_before_says_so(client, cast):
    client.force_login(cast.people[Role.REPORTER])
    response = client.post("/o/RN1/report/no-change", follow=True)
    assert "there is no earlier report to confirm" in response.content.decode()


def test_a_site_report_goes_to_that_site_and_a_foreign_site_is_not_found(client, cast):
    site = f.SiteFactory(code="RN101", organisation=cast.north)
    other = f.SiteFactory(code="RS101", organisation=cast.south)
    client.force_login(cast.people[Role.REPORTER])
    client.post("/o/RN1/report", {"site": site.code, "ga_open": "50"})
    assert Observation.objects.get().series.site == site
    assert client.get(f"/o/RN1/report?site={other.code}").status_code == 404


def test_uploading_the_long_format_stores_the_file(client, cast):
    body = (
        "org_code,site_code,measure,as_of,value\n"
        "RN1,,ga_open,2026-01-05T08:00:00+00:00,100\n"
        "RN1,,ga_occupied,2026-01-05T08:00:00+00:00,-\n"
    )
    client.force_login(cast.people[Role.REPORTER])
    page = client.post(
        "/o/RN1/import", {"file": SimpleUploadedFile("mine.csv", body.encode())}
    ).content.decode()
    assert "Imported mine.csv" in page
    assert Observation.objects.filter(missing_reason="not_reported").count() == 1


def test_uploading_rows_for_another_organisation_is_refused_whole(client, cast):
    body = (
        "org_code,site_code,measure,as_of,value\n"
        "RN1,,ga_open,2026-01-05T08:00:00+00:00,100\n"
        "RS1,,ga_open,2026-01-05T08:00:00+00:00,100\n"
    )
    client.force_login(cast.people[Role.REPORTER])
    page = client.post(
        "/o/RN1/import", {"file": SimpleUploadedFile("mixed.csv", body.encode())}
    ).content.decode()
    assert "you cannot report for RS1" in page
    assert "Nothing was stored" in page
    assert not Observation.objects.exists()


def test_uploading_without_a_file_asks_for_one(client, cast):
    client.force_login(cast.people[Role.REPORTER])
    assert "Choose a CSV file" in client.post("/o/RN1/import", {}).content.decode()


def test_uploading_a_file_in_a_published_layout_reads_it_through_that_mapping(client, cast):
    body = (
        '"nhs_trust22_code","date","do_not_meet_criteria_to_reside"\n'
        '"RN1",2026-01-05,42\n'
        '"RN1",2026-01-06,NA\n'
    )
    client.force_login(cast.people[Role.REPORTER])
    form = client.get("/o/RN1/import").content.decode()
    assert 'value="england_trust_criteria_to_reside"' in form
    page = client.post(
        "/o/RN1/import",
        {
            "file": SimpleUploadedFile("nctr.csv", body.encode()),
            "layout": "england_trust_criteria_to_reside",
        },
    ).content.decode()
    assert "Imported nctr.csv" in page
    assert "Read through the mapping" in page
    stored = {o.as_of.day: (o.value, o.missing_reason) for o in Observation.objects.all()}
    assert stored == {5: (42.0, ""), 6: (None, "not_reported")}


def test_an_upload_read_through_a_mapping_never_registers_and_stores_nothing_for_others(
    client, cast
):
    body = '"nhs_trust22_code","date","do_not_meet_criteria_to_reside"\n"RXX",2026-01-05,42\n'
    client.force_login(cast.people[Role.REPORTER])
    page = client.post(
        "/o/RN1/import",
        {
            "file": SimpleUploadedFile("other.csv", body.encode()),
            "layout": "england_trust_criteria_to_reside",
        },
    ).content.decode()
    assert "Nothing was stored" in page
    assert "RXX" in page
    assert not Observation.objects.exists()
    assert not Organisation.objects.filter(code="RXX").exists()


def test_a_layout_that_is_not_listed_is_refused_before_the_file_is_read(client, cast):
    client.force_login(cast.people[Role.REPORTER])
    page = client.post(
        "/o/RN1/import",
        {"file": SimpleUploadedFile("x.csv", b"a,b\n1,2\n"), "layout": "../../etc/passwd"},
    ).content.decode()
    assert "Choose one of the layouts listed" in page
    assert not Observation.objects.exists()
