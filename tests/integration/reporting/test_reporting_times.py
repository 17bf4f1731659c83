"""The time of a report: its as-of truncated to the minute, on every path, within a sane span.

Two reports in the same minute are revisions of one another and the later received wins;
a time more than an hour ahead of now, or before 2000, is refused with the row and field.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.utils import timezone

from flotilla import catalogue
from flotilla.authz import actions as authz_actions
from flotilla.authz.models import Role
from flotilla.reporting.actions import latest_observations, record_report
from flotilla.reporting.forms import cells_from_post
from flotilla.reporting.models import Observation, Source
from flotilla.reporting.validation import CellIn, ReportRejected, report_time
from tests import factories as f

pytestmark = pytest.mark.django_db

#: A moment well inside one minute, so that "a few seconds later" stays in it.
T = datetime(2026, 1, 5, 10, 5, 37, 123456, tzinfo=UTC)
MINUTE = T.replace(second=0, microsecond=0)


def at(monkeypatch, moment: datetime) -> None:
    """Set the clock the application reads."""
    monkeypatch.setattr(timezone, "now", lambda: moment)


def current(org, code: str) -> list[tuple[datetime, float | None]]:
    return list(
        Observation.objects.filter(
            series__organisation=org, series__measure__code=code, is_current=True
        ).values_list("as_of", "value")
    )


# --- the rule -----------------------------------------------------------------------------------


def test_a_report_time_drops_seconds_and_microseconds_and_keeps_the_time_zone():
    from zoneinfo import ZoneInfo

    london = datetime(2026, 7, 5, 10, 5, 59, 999999, tzinfo=ZoneInfo("Europe/London"))
    assert report_time(london) == datetime(2026, 7, 5, 10, 5, tzinfo=ZoneInfo("Europe/London"))
    assert report_time(london).tzinfo is london.tzinfo
    assert report_time(MINUTE) == MINUTE


def test_an_offset_with_seconds_is_truncated_in_utc():
    from datetime import timezone as tz

    odd = tz(timedelta(minutes=19, seconds=32))  # Amsterdam's offset until 1937
    moment = datetime(2026, 1, 5, 10, 5, 40, tzinfo=odd)
    filed = report_time(moment)
    assert filed.tzinfo is odd
    assert filed.astimezone(UTC) == datetime(2026, 1, 5, 9, 46, tzinfo=UTC)


def test_two_values_for_one_series_in_one_minute_of_one_report_are_refused(cast):
    cells = [
        CellIn(cast.north.pk, None, "ga_open", MINUTE + timedelta(seconds=5), 10.0),
        CellIn(cast.north.pk, None, "ga_open", MINUTE + timedelta(seconds=50), 11.0),
    ]
    with pytest.raises(ReportRejected, match="two different values for ga_open"):
        record_report(by=f.SYSTEM, organisation_id=cast.north.pk, source=Source.API, cells=cells)
    assert not Observation.objects.exists()


def test_cross_field_rules_compare_values_filed_in_the_same_minute(cast):
    result = f.report(cast.north, MINUTE + timedelta(seconds=5), ga_open=100)
    assert not result.warnings
    result = f.report(cast.north, MINUTE + timedelta(seconds=45), ga_open=100, ga_occupied=101)
    assert "More beds occupied than open" in result.warnings[0].message


# --- the same-minute correction wins --------------------------------------------------------------


def test_a_correction_on_the_form_just_after_no_change_in_the_same_minute_wins(
    client, cast, monkeypatch
):
    f.report(cast.north, T - timedelta(hours=4), ga_open=400)
    client.force_login(cast.people[Role.REPORTER])
    at(monkeypatch, T)
    assert client.post("/o/RN1/report/no-change").status_code == 302
    at(monkeypatch, T + timedelta(seconds=15))
    assert client.post("/o/RN1/report", {"ga_open": "398"}).status_code == 302
    assert current(cast.north, "ga_open") == [(MINUTE - timedelta(hours=4), 400.0), (MINUTE, 398.0)]
    latest = latest_observations(organisation_id=cast.north.pk, site_id=None)
    assert (latest["ga_open"].as_of, latest["ga_open"].value) == (MINUTE, 398.0)
    revisions = Observation.objects.filter(as_of=MINUTE).values_list("revision", "value")
    assert sorted(revisions) == [(1, 400.0), (2, 398.0)]


def test_the_later_of_two_api_reports_in_one_minute_wins_even_with_an_earlier_second(
    client, cast, monkeypatch
):
    at(monkeypatch, T)
    _, secret = authz_actions.issue_token(
        by=cast.people[Role.ORG_ADMIN], organisation=cast.north, name="bms", scope="submit"
    )

    def send(as_of: datetime, value: int):
        body = {"values": [{"measure": "ga_open", "as_of": as_of.isoformat(), "value": value}]}
        return client.post(
            "/api/reports", body, content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {secret}",
        )  # fmt: skip

    assert send(MINUTE + timedelta(seconds=37), 400).json()["created"] == 1
    second = send(MINUTE + timedelta(seconds=2), 398).json()
    assert (second["created"], second["revised"]) == (0, 1)
    assert current(cast.north, "ga_open") == [(MINUTE, 398.0)]


def upload(client, name: str, rows: list[str]):
    body = "org_code,site_code,measure,as_of,value\n" + "".join(f"{r}\n" for r in rows)
    return client.post("/o/RN1/import", {"file": SimpleUploadedFile(name, body.encode())})


def test_a_corrected_upload_in_the_same_minute_revises_the_first(client, cast, monkeypatch):
    at(monkeypatch, T)
    client.force_login(cast.people[Role.REPORTER])
    upload(
        client, "first.csv", [f"RN1,,ga_open,{(MINUTE + timedelta(seconds=50)).isoformat()},400"]
    )
    page = upload(
        client, "fixed.csv", [f"RN1,,ga_open,{(MINUTE + timedelta(seconds=20)).isoformat()},398"]
    ).content.decode()
    assert "Imported fixed.csv" in page
    assert current(cast.north, "ga_open") == [(MINUTE, 398.0)]


def test_two_rows_of_one_file_in_the_same_minute_are_one_value_and_must_agree(
    client, cast, monkeypatch
):
    at(monkeypatch, T)
    client.force_login(cast.people[Role.REPORTER])
    rows = [
        f"RN1,,ga_open,{(MINUTE + timedelta(seconds=10)).isoformat()},400",
        f"RN1,,ga_open,{(MINUTE + timedelta(seconds=40)).isoformat()},401",
    ]
    refused = upload(client, "twice.csv", rows).content.decode()
    assert "Nothing was stored" in refused
    assert not Observation.objects.exists()
    agreeing = [rows[0], rows[1].replace(",401", ",400")]
    assert "Imported agreeing.csv" in upload(client, "agreeing.csv", agreeing).content.decode()
    assert current(cast.north, "ga_open") == [(MINUTE, 400.0)]


# --- times out of span are refused on every path ----------------------------------------------


def test_the_form_path_refuses_a_time_ahead_of_now_and_stores_nothing(cast, monkeypatch):
    at(monkeypatch, T)
    cells, problems = cells_from_post(
        {"ga_open": "400"}, catalogue.current(), cast.north.pk, None, T + timedelta(hours=2)
    )
    assert not problems
    with pytest.raises(ReportRejected) as refused:
        record_report(by=f.SYSTEM, organisation_id=cast.north.pk, source=Source.FORM, cells=cells)
    [problem] = refused.value.problems
    assert (problem.field, problem.message) == (
        "as_of",
        f"{timezone.localtime(T + timedelta(hours=2)):%Y-%m-%d %H:%M} is more than an hour "
        "ahead of now",
    )
    assert not Observation.objects.exists()


def test_the_form_path_refuses_a_time_before_2000(cast):
    cells, _ = cells_from_post(
        {"ga_open": "400", "nctr": "3"},
        catalogue.current(),
        cast.north.pk,
        None,
        datetime(1999, 12, 31, 23, 59, tzinfo=UTC),
    )
    with pytest.raises(ReportRejected) as refused:
        record_report(by=f.SYSTEM, organisation_id=cast.north.pk, source=Source.FORM, cells=cells)
    assert [str(p) for p in refused.value.problems] == [
        "as_of: 1999-12-31 23:59 is before 1 January 2000"
    ]


def test_up_to_an_hour_ahead_of_now_is_accepted(cast, monkeypatch):
    at(monkeypatch, T)
    f.report(cast.north, T + timedelta(hours=1), ga_open=400)
    assert current(cast.north, "ga_open") == [(MINUTE + timedelta(hours=1), 400.0)]


def test_the_api_names_the_value_whose_time_is_ahead_of_now(client, cast, monkeypatch):
    at(monkeypatch, T)
    _, secret = authz_actions.issue_token(
        by=cast.people[Role.ORG_ADMIN], organisation=cast.north, name="bms", scope="submit"
    )
    ahead = T + timedelta(hours=1, minutes=1)
    body = {
        "values": [
            {"measure": "ga_open", "as_of": T.isoformat(), "value": 400},
            {"measure": "ga_open", "as_of": ahead.isoformat(), "value": 401},
            {"site_code": "NOPE", "measure": "ga_open", "as_of": ahead.isoformat(), "value": 1},
        ]
    }
    response = client.post(
        "/api/reports", body, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )  # fmt: skip
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "index": 1,
            "field": "values[1].as_of",
            "message": f"{timezone.localtime(ahead):%Y-%m-%d %H:%M} is more than an hour ahead "
            "of now",
        },
        {"index": 2, "field": "values[2].site_code", "message": "'NOPE' is not a site of RN1"},
    ]
    assert not Observation.objects.exists()


def test_the_api_refuses_a_time_before_2000_naming_the_field(client, cast):
    _, secret = authz_actions.issue_token(
        by=cast.people[Role.ORG_ADMIN], organisation=cast.north, name="bms", scope="submit"
    )
    body = {"values": [{"measure": "ga_open", "as_of": "1999-12-31T08:00:00+00:00", "value": 1}]}
    response = client.post(
        "/api/reports", body, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )  # fmt: skip
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "values[0].as_of"
    assert "2000" in error["message"]
    assert not Observation.objects.exists()


@pytest.mark.parametrize(
    ("as_of", "why"),
    [
        ("2026-01-05T12:00:00+00:00", "2026-01-05 12:00 is more than an hour ahead of now"),
        ("1999-06-30T08:00:00+00:00", "1999-06-30 09:00 is before 1 January 2000"),
    ],
)
def test_an_upload_with_a_time_out_of_span_is_refused_naming_the_row(
    client, cast, monkeypatch, as_of, why
):
    at(monkeypatch, T)
    client.force_login(cast.people[Role.REPORTER])
    page = upload(
        client,
        "bad.csv",
        [f"RN1,,ga_open,{MINUTE.isoformat()},400", f"RN1,,ga_open,{as_of},401"],
    ).content.decode()
    assert "Nothing was stored" in page
    assert f"<tr><td>3</td><td>as_of</td><td>{why}</td></tr>" in page
    assert not Observation.objects.exists()


@pytest.mark.parametrize(
    ("day", "why"),
    [
        ("2026-01-07", "2026-01-07 08:00 is more than an hour ahead of now"),
        ("1999-12-31", "1999-12-31 08:00 is before 1 January 2000"),
    ],
)
def test_the_import_command_refuses_a_sitrep_day_out_of_span(tmp_path, monkeypatch, day, why):
    at(monkeypatch, T)
    path = tmp_path / "sitrep.csv"
    path.write_text(
        "Code,Name,Date,G&A Beds Open\n"
        "RAA,A Hospitals NHS Trust,2026-01-05,400\n"
        f"RAA,A Hospitals NHS Trust,{day},401\n"
    )
    with pytest.raises(CommandError) as refused:
        call_command("import-sitreps", str(path))
    assert "sitrep.csv: rejected, nothing stored (1 problem)" in str(refused.value)
    assert f"row 3, column 'Date': {why}" in str(refused.value)
    assert not Observation.objects.exists()
