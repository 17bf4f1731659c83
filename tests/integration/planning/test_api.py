"""GET /api/organisations/{code}/forecasts and its CSV: what the owner's grants allow."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from flotilla.authz import actions as authz_actions
from flotilla.authz.models import TokenScope
from flotilla.planning import actions
from flotilla.planning.models import Forecast
from tests import factories as f

pytestmark = pytest.mark.django_db


def token(cast, organisation_name="north") -> str:
    admins = {"north": cast.people["org_admin"], "outside": cast.people["outsider"]}
    _, secret = authz_actions.issue_token(
        by=admins[organisation_name],
        organisation=getattr(cast, organisation_name),
        name="forecasts",
        scope=TokenScope.READ,
    )
    return secret


def get(client, secret, path):
    return client.get(path, headers={"Authorization": f"Bearer {secret}"})


def days_ago(n: int):
    moment = timezone.localtime() - timedelta(days=n)
    return moment.replace(hour=8, minute=0, second=0, microsecond=0)


@pytest.fixture
def forecast(cast):
    """South's forecasts from a fortnight of figures up to three days ago."""
    for n in range(16, 2, -1):
        f.report(cast.south, days_ago(n), ga_occupied=81 + (n % 7) * 3)
    actions.recompute(organisation=cast.south)
    return cast


def rows(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_a_member_reads_a_fellow_members_forecasts_as_json_and_csv(forecast, client):
    cast = forecast
    secret = token(cast)
    response = get(client, secret, "/api/organisations/RS1/forecasts")
    assert response.status_code == 200
    (one,) = response.json()
    assert (one["org_code"], one["site_code"], one["measure"]) == ("RS1", None, "ga_occupied")
    assert one["method"] == "ensemble" and one["points"] == 14
    assert one["detail"] == "exact" and one["delay_hours"] == 0
    assert [d["horizon"] for d in one["days"]] == list(range(1, 15))
    stored = Forecast.objects.get(organisation=cast.south, horizon=2)
    assert one["days"][1]["median"] == stored.q50
    assert one["days"][1]["q975"] == stored.q975
    table = rows(get(client, secret, "/api/organisations/RS1/forecasts.csv"))
    assert len(table) == 14
    assert table[1]["median"] == f"{stored.q50:.1f}"
    assert table[1]["date"] == stored.target.isoformat()


def test_a_banded_grant_gives_quantiles_rounded_to_5_in_json_and_csv(forecast, client):
    cast = forecast
    f.reshare(f.collaborative_grant(cast.south, cast.collab), detail="banded")
    secret = token(cast)
    (one,) = get(client, secret, "/api/organisations/RS1/forecasts").json()
    assert one["detail"] == "banded"
    for day in one["days"]:
        assert all(day[k] % 5 == 0 for k in ("median", "q025", "q25", "q75", "q975"))
    for row in rows(get(client, secret, "/api/organisations/RS1/forecasts.csv")):
        assert float(row["median"]) % 5 == 0 and row["detail"] == "banded"


def test_a_status_only_grant_gives_no_forecast(forecast, client):
    cast = forecast
    f.reshare(f.collaborative_grant(cast.south, cast.collab), detail="status")
    secret = token(cast)
    assert get(client, secret, "/api/organisations/RS1/forecasts").json() == []
    assert rows(get(client, secret, "/api/organisations/RS1/forecasts.csv")) == []


def test_a_delayed_grant_gives_only_forecasts_made_from_figures_old_enough(forecast, client):
    cast = forecast
    secret = token(cast)
    f.reshare(f.collaborative_grant(cast.south, cast.collab), delay_hours=24 * 4)
    assert get(client, secret, "/api/organisations/RS1/forecasts").json() == []
    assert rows(get(client, secret, "/api/organisations/RS1/forecasts.csv")) == []
    f.reshare(f.collaborative_grant(cast.south, cast.collab), delay_hours=24 * 2)
    (one,) = get(client, secret, "/api/organisations/RS1/forecasts").json()
    assert one["delay_hours"] == 48


def test_without_a_grant_an_outsider_gets_404_and_a_member_nothing(forecast, client):
    cast = forecast
    outsider = token(cast, "outside")
    assert get(client, outsider, "/api/organisations/RS1/forecasts").status_code == 404
    assert get(client, outsider, "/api/organisations/RS1/forecasts.csv").status_code == 404
    f.reshare(f.collaborative_grant(cast.south, cast.collab), groups=("flow",))
    assert get(client, token(cast), "/api/organisations/RS1/forecasts").json() == []
