"""The dashboard's columns, indicators and bed types come from the metric catalogue."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.template.loader import render_to_string
from django.utils import timezone

from flotilla.authz.models import Role
from flotilla.catalogue import CATALOGUE_FILE, Catalogue, current, load
from flotilla.escalation import queries as escalation
from flotilla.picture.queries import collaborative_picture, dashboard_of, table_view, trouble
from flotilla.sharing import policy
from tests import factories as f

pytestmark = pytest.mark.django_db


def variant(tmp_path, old: str, new: str) -> Catalogue:
    """The catalogue in force with one passage of its file changed, loaded like the real one."""
    text = CATALOGUE_FILE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "variant.toml"
    path.write_text(text.replace(old, new), "utf-8")
    return load(path)


def table(cast, cat: Catalogue, params: dict[str, str] | None = None) -> str:
    """The dashboard's table as a viewer in the cast sees it, under catalogue `cat`."""
    view, errors = table_view(params or {}, dashboard_of(cat))
    assert not errors
    viewer = policy.viewer_of(cast.people[Role.VIEWER])
    picture = collaborative_picture(viewer, cast.collab, None, view.dashboard.measures, view)
    levels = escalation.collaborative_levels(viewer, cast.collab)
    context = {"picture": picture, "view": view, "trouble": trouble(picture, view)}
    context["levels"] = levels
    return render_to_string("picture/_table.jinja", context | {"link": lambda params: "?"})


def headings(html: str) -> list[str]:
    return re.findall(r'<th scope="col"[^>]*data-sort="([^"]+)"', html)


def header_cells(html: str) -> int:
    """How many columns the table has (the computed level's included)."""
    return len(re.findall(r'<th scope="col"', html.split("</thead>")[0]))


def cells_per_row(html: str) -> set[int]:
    """How many cells each body and footer row has."""
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", html.split("<tbody")[1], re.S)
    return {len(re.findall(r"<t[dh][ >]", r)) for r in rows}


@pytest.fixture
def reported(cast):
    now = timezone.now()
    f.report(
        cast.north,
        now - timedelta(hours=1),
        ga_open=100,
        ga_occupied=96,
        cc_adult_open=10,
        cc_adult_occupied=9,
        nctr=60,
    )
    f.report(cast.south, now - timedelta(hours=1), handover_30_60=2, opel_declared=3)


def test_the_dashboard_shows_the_catalogues_columns_between_the_name_and_the_time(cast, reported):
    html = table(cast, current())
    assert headings(html) == ["name", *(c.key for c in current().columns), "as_of"]
    # The computed level sits beside the declared one (a column of its own, not the
    # catalogue's: it is not a reported measure).
    assert cells_per_row(html) == {len(current().columns) + 3} == {header_cells(html)}


def test_a_column_left_out_of_the_catalogue_leaves_the_table_rows_and_totals(
    cast, reported, tmp_path
):
    cat = variant(
        tmp_path, '[[columns]]\nshows = "handover_30_60"\nheading = "Handovers 30–60 min"\n', ""
    )
    html = table(cast, cat)
    assert "handover_30_60" not in headings(html)
    assert len(headings(html)) == len(current().columns) + 1
    assert 'data-measure="handover_30_60"' not in html
    assert 'data-total="handover_30_60"' not in html
    # Every row still lines up with the headings.
    assert cells_per_row(html) == {header_cells(html)} == {len(headings(html)) + 1}


def test_a_heading_is_the_one_the_catalogue_gives(cast, reported, tmp_path):
    cat = variant(tmp_path, 'heading = "Handovers >60 min"', 'heading = "Long handovers"')
    assert "Long handovers" in table(cast, cat)


def test_the_indicators_the_table_rates_on_are_the_catalogues(tmp_path):
    block = '[[indicators]]\ncode = "nctr"\nlabel = "No criteria to reside"\nmeasure = "nctr"\n'
    cat = variant(tmp_path, block + "amber = 50\nred = 100\nhigher_is_worse = true\n", "")
    without = dashboard_of(cat)
    assert "nctr" not in without.indicators
    view, errors = table_view({"rag_on": "nctr"}, without)
    assert view.rag_on == "" and "is not a rated measure" in errors["rag_on"]
    assert table_view({"rag_on": "nctr"}, dashboard_of(current()))[1] == {}


def test_narrowing_to_a_bed_type_keeps_only_its_columns_among_those_with_one(cast, reported):
    html = table(cast, current(), {"bed": "cc_adult"})
    beds = {c.key: c.bed_type for c in current().columns}
    shown = headings(html)[1:-1]
    assert shown == [k for k, bed in beds.items() if bed in ("", "cc_adult")]
    assert cells_per_row(html) == {header_cells(html)} == {len(shown) + 3}


def test_the_bed_types_the_table_can_be_narrowed_to_are_those_of_its_columns(tmp_path):
    # A column of neonatal cots makes neonatal critical care a choice.
    cat = variant(
        tmp_path,
        '[[columns]]\nshows = "nctr"',
        '[[columns]]\nshows = "nicu_open"\nheading = "NICU open"\n\n[[columns]]\nshows = "nctr"',
    )
    dashboard = dashboard_of(cat)
    assert list(dashboard.beds) == ["ga", "cc_adult", "nicu"]
    assert "nicu_open" in dashboard.measures
    view, errors = table_view({"bed": "nicu"}, dashboard)
    assert not errors
    shown = [c.key for c in cat.columns if c.bed_type in ("", "nicu")]
    assert [c.key for c in view.columns()] == ["name", *shown, "as_of"]
    assert "nicu_open" in shown
