"""The shared picture with grants in force: what a fellow member sees of South, and what not."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from flotilla.authz.models import Role
from flotilla.picture.queries import collaborative_picture
from flotilla.sharing import actions, policy
from flotilla.sharing.actions import Terms
from flotilla.sharing.models import Grant
from flotilla.sharing.policy.rules import GROUPS
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def now():
    # Reports are filed to the minute.
    return timezone.now().replace(second=0, microsecond=0)


def share(cast, **kw) -> Grant:
    """Change South's grant to the collaborative."""
    grant = Grant.objects.get(owner=cast.south, collaborative=cast.collab, ended_at__isnull=True)
    base = {"groups": GROUPS, "detail": "exact", "delay_hours": 0, "purpose": "Test"}
    terms = Terms(audience="collaborative", collaborative=cast.collab, **{**base, **kw})
    return actions.change_grant(by=f.SYSTEM, grant=grant, terms=terms)


def seen(cast, at=None):
    pic = collaborative_picture(policy.viewer_of(cast.people[Role.VIEWER]), cast.collab, at)
    return pic, {(r.organisation.code, r.site.code if r.site else ""): r for r in pic.rows}


def test_banded_counts_are_rounded_and_occupancy_is_a_band_of_the_exact_counts(cast, now):
    f.report(cast.south, now - timedelta(hours=1), cc_adult_open=8, cc_adult_occupied=7, nctr=52)
    share(cast, detail="banded")
    _, rows = seen(cast)
    south = rows["RS1", ""]
    assert south.figures["cc_adult_open"].value == 10
    assert south.figures["cc_adult_occupied"].value == 5
    assert south.derived["cc_adult_occupancy"].band == (0.85, 0.90)
    assert south.occupancy("cc_adult") is None  # not shared exactly
    # RAG is judged on South's exact figure (52 ≥ amber 50), as a status viewer would see it.
    assert south.rag("nctr") == "amber"


def test_status_only_shows_rag_and_opel_but_no_counts(cast, now):
    f.report(cast.south, now - timedelta(hours=1), ga_open=100, ga_occupied=97, opel_declared=3)
    share(cast, detail="status")
    _, rows = seen(cast)
    south = rows["RS1", ""]
    assert south.figures["ga_open"].value is None
    assert south.figures["opel_declared"].value == 3
    assert south.derived["ga_occupancy"].value is None
    assert south.rag("ga_occupancy") == "red"


def test_a_delayed_grant_shows_the_latest_figure_old_enough(cast, now):
    f.report(cast.south, now - timedelta(hours=30), ga_open=90)
    f.report(cast.south, now - timedelta(hours=2), ga_open=120)
    share(cast, delay_hours=24)
    _, rows = seen(cast)
    fig = rows["RS1", ""].figures["ga_open"]
    assert (fig.value, fig.as_of, fig.delay_hours) == (90, now - timedelta(hours=30), 24)
    # Looking back in time never brings a figure newer than the delay allows either.
    _, then = seen(cast, at=now - timedelta(hours=1))
    assert then["RS1", ""].figures["ga_open"].value == 90


def test_totals_add_only_exact_figures_so_nothing_withheld_can_be_subtracted_out(cast, now):
    f.report(cast.north, now - timedelta(hours=1), ga_open=100, ga_occupied=90, nctr=10)
    f.report(cast.south, now - timedelta(hours=1), ga_open=203, ga_occupied=150, nctr=7)
    share(cast, groups=("flow",), detail="banded")
    pic, rows = seen(cast)
    assert rows["RS1", ""].withheld >= {"ga_open", "ga_occupied"}
    ga = pic.totals["ga_open"]
    assert (ga.value, ga.included, ga.expected, ga.complete) == (100, 1, 2, False)
    nctr = pic.totals["nctr"]
    assert (nctr.value, nctr.complete) == (10, False)  # South's banded 5 is not added
    assert pic.total_occupancy("ga") is None


def test_the_dashboard_page_says_what_is_not_shared_rounded_or_late(client, cast, now):
    f.report(cast.south, now - timedelta(hours=30), ga_open=203, ga_occupied=150, nctr=None)
    share(cast, groups=("capacity", "flow"), detail="banded", delay_hours=24)
    client.force_login(cast.people[Role.VIEWER])
    page = client.get(f"/c/{cast.collab.slug}/").content.decode()
    assert "≈205" in page and "203" not in page
    assert "70–75%" in page
    assert "(24 h late)" in page
    assert "not shared" in page  # escalation: OPEL
    body = client.get(f"/c/{cast.collab.slug}/export.csv").content.decode()
    rows = {(r[0], r[2]): r for r in csv.reader(io.StringIO(body))}
    assert rows["RS1", "ga_open"][3:] == ["205", (now - timedelta(hours=30)).isoformat(), "banded"]
    assert rows["RS1", "nctr"][3] == ""


def test_the_status_only_cells_say_status_and_keep_their_rag(client, cast, now):
    f.report(cast.south, now - timedelta(hours=1), ga_open=100, ga_occupied=99, nctr=120)
    share(cast, detail="status")
    client.force_login(cast.people[Role.VIEWER])
    page = client.get(f"/c/{cast.collab.slug}/table").content.decode()
    assert "flotilla-rag--red" in page
    assert ">status<" in page
    assert "120" not in page and "99.0%" not in page


def test_the_organisation_page_charts_only_what_is_shared_and_says_why(client, cast, now):
    f.report(cast.south, now - timedelta(hours=30), ga_open=203, ga_occupied=150, nctr=9)
    f.report(cast.south, now - timedelta(hours=2), ga_open=220, ga_occupied=160, nctr=12)
    share(cast, groups=("capacity",), detail="banded", delay_hours=24)
    client.force_login(cast.people[Role.VIEWER])
    page = client.get("/o/RS1/?range=week").content.decode()
    assert "Rounded to the nearest 5" in page
    assert "Shared with you 24 hours late" in page
    assert page.count("Not shared with you.") == 2  # handovers and NCTR (flow)
    body = client.get("/o/RS1/?range=week&format=csv").content.decode()
    rows = list(csv.reader(io.StringIO(body)))[1:]
    assert {(r[2], r[3], r[5]) for r in rows} == {("ga_open", "205", "banded"),
                                                  ("ga_occupied", "150", "banded")}  # fmt: skip


def test_status_only_counts_are_not_charted(client, cast, now):
    f.report(cast.south, now - timedelta(hours=3), ga_open=203)
    share(cast, detail="status")
    client.force_login(cast.people[Role.VIEWER])
    page = client.get("/o/RS1/?range=day").content.decode()
    assert "Shared with you as status only" in page
    assert "203" not in page


def test_narrative_is_shared_only_exactly(cast, now):
    f.report(cast.south, now - timedelta(hours=1), situation="Norovirus on ward 4", ga_open=10)
    share(cast, detail="banded")
    reading = policy.read_latest(
        policy.viewer_of(cast.people[Role.VIEWER]), None, {cast.south.pk}, ["situation", "ga_open"]
    )
    assert {v.measure for v in reading.values} == {"ga_open"}
    assert reading.withheld == {(cast.south.pk, "situation")}


def test_an_anonymous_visitor_sees_a_public_organisation_page_and_nothing_else(client, cast, now):
    f.report(cast.south, now - timedelta(hours=3), opel_declared=4, ga_open=203)
    assert client.get("/o/RS1/").status_code == 302
    actions.add_grant(
        by=f.SYSTEM,
        owner=cast.south,
        terms=Terms("public", ("escalation",), "status", 0, "Public OPEL status"),
    )
    page = client.get("/o/RS1/?range=day")
    assert page.status_code == 200
    body = page.content.decode()
    assert "203" not in body
    assert "Declared OPEL level" in body and ">4 <" in body
    assert "to the public." in body
    assert client.get("/o/RN1/").status_code == 302


def test_revoking_takes_effect_on_the_very_next_page_api_response_and_export(client, cast, now):
    from flotilla.authz import actions as authz_actions

    f.report(cast.south, now - timedelta(hours=1), ga_open=203)
    client.force_login(cast.people[Role.VIEWER])
    _, secret = authz_actions.issue_token(
        by=cast.people[Role.ORG_ADMIN], organisation=cast.north, name="bms", scope="read"
    )
    api = f"/api/collaboratives/{cast.collab.slug}/picture"
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    export = f"/c/{cast.collab.slug}/export.csv"
    assert client.get("/o/RS1/").status_code == 200
    assert "RS1,,ga_open,203" in client.get(export).content.decode()
    assert any(r["org_code"] == "RS1" for r in client.get(api, **auth).json()["rows"])

    grant = Grant.objects.get(owner=cast.south, collaborative=cast.collab, ended_at__isnull=True)
    actions.revoke_grant(by=cast.people["south_reporter"], grant=grant)

    assert client.get("/o/RS1/").status_code == 404
    exported = client.get(export).content.decode()
    assert "203" not in exported
    assert "RS1,,ga_open,,,not shared with you" in exported
    body = client.get(api, **auth).json()
    assert not any(r["org_code"] == "RS1" for r in body["rows"])
    assert {"org_code": "RS1", "measure": "ga_open", "reason": "not shared with you"} in body[
        "withheld"
    ]


def test_the_export_command_reads_as_an_organisation_under_its_grants(cast, now, tmp_path):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from tests.access import recorded

    f.report(cast.south, now - timedelta(hours=30), ga_open=203, nctr=9)
    f.report(cast.south, now - timedelta(hours=1), ga_open=220, nctr=12)
    f.report(cast.outside, now - timedelta(hours=1), ga_open=50)
    share(cast, groups=("capacity",), detail="banded", delay_hours=24)
    out = tmp_path / "as-north.csv"
    call_command("export", "--at", now.isoformat(), "--as", "rn1", "--out", str(out))
    rows = {(r["org_code"], r["measure"]): r for r in csv.DictReader(out.open())}
    assert set(rows) == {("RS1", "ga_open")}
    assert (rows["RS1", "ga_open"]["value"], rows["RS1", "ga_open"]["detail"]) == ("205", "banded")
    event = recorded().get(owner=cast.south)
    assert event.reader_label == "command:export as RN1"
    assert event.what.startswith("command export --at")
    with pytest.raises(CommandError, match="no organisation 'RZZ'"):
        call_command("export", "--at", now.isoformat(), "--as", "RZZ")


def test_the_organisation_page_says_how_it_shares_with_the_viewer_and_why(client, cast):
    share(cast, groups=("capacity",), detail="banded", delay_hours=24, purpose="Rounded for now.")
    client.force_login(cast.people[Role.VIEWER])
    page = client.get("/o/RS1/").content.decode()
    assert "capacity: banded, 24 hours late, to River System. “Rounded for now.”" in page
    own = client.get("/o/RN1/").content.decode()
    assert 'id="grants-to-you"' not in own


def test_rag_never_says_more_than_the_detail_does(cast, now):
    from flotilla.collaboratives import actions as collaboratives_actions

    f.report(cast.south, now - timedelta(hours=1), handover_over_60=2, nctr=60)
    # A coordinator draws the lines right around South's figures.
    collaboratives_actions.update_collaborative(
        by=cast.people[Role.COORDINATOR],
        collaborative=cast.collab,
        thresholds={"handover_over_60": (1, 2), "nctr": (60, 61)},
        reporting_interval_hours=cast.collab.reporting_interval_hours,
    )
    _, rows = seen(cast)
    assert rows["RS1", ""].rag("handover_over_60") == "red"  # exact: 2 is red
    share(cast, detail="banded")
    _, rows = seen(cast)
    # Banded: judged on the ≈0 shown, so the band says no more than the figure.
    assert rows["RS1", ""].rag("handover_over_60") == "green"
    share(cast, detail="status")
    _, rows = seen(cast)
    # Status only: judged against the standard thresholds (handovers 1 / 10, NCTR 50 / 100),
    # which nobody in the collaborative can move.
    assert rows["RS1", ""].rag("handover_over_60") == "amber"
    assert rows["RS1", ""].rag("nctr") == "amber"
