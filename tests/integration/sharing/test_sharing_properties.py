"""Nothing leaves Flotilla finer or fresher than the viewer's grant allows.

For random grants and random data, no page, API response or CSV export contains a value at
finer detail, or newer than the delay allows, than the viewer's grants permit: where several
grants of one owner reach the viewer, each figure is shown at the finest detail that one of
them allows at that figure's age, never finer, and nothing newer than the shortest delay
allows; a figure not shown says why (not shared, or not yet visible); and no total reveals a
withheld value by subtraction. Examples are derandomised, so every run draws the same ones.

The property test builds a collaborative of the viewer's organisation (North) and two or three
owners, gives each owner random grants (its collaborative grant changed or revoked, and extra
grants to North, to everyone, to the public or to an outsider), reports random figures over
the past two days, then reads everything North can read: the picture API, the dashboard page
and its CSV, each owner's history API and page CSV. What each should show is worked out here
from the raw figures and the grants, independently of `flotilla.sharing.policy`.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from html import unescape
from typing import Any
from urllib.parse import urlencode

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from flotilla import catalogue, formatting
from flotilla.authz import actions as authz_actions
from flotilla.authz.checks import can
from flotilla.authz.models import Role
from flotilla.authz.permissions import Perm
from flotilla.collaboratives import actions as collaboratives_actions
from flotilla.picture.queries import DASHBOARD_MEASURES
from flotilla.picture.views import CHART_MEASURES
from flotilla.sharing.policy import rules
from flotilla.sharing.policy.rules import BANDED, EXACT, GROUPS, STATUS
from tests import factories as f

pytestmark = pytest.mark.django_db

SPEC = {m.code: m for m in catalogue.current().measures}
RANK = {STATUS: 1, BANDED: 2, EXACT: 3}
#: What the history API is asked for: every kind and group of measure.
HISTORY_MEASURES = (
    "ga_open",
    "ga_occupied",
    "nctr",
    "handover_over_60",
    "staff_absent",
    "opel_declared",
    "situation",
)
BEDS = ("ga", "cc_adult")
TOTALLED = tuple(m for m in DASHBOARD_MEASURES if SPEC[m].kind == "count")
NOT_SHARED = "not shared with you"


# --- the world: grants and figures, drawn at random -------------------------------------------


@dataclass(frozen=True)
class Share:
    groups: frozenset[str]
    detail: str
    delay_hours: int


@dataclass(frozen=True)
class Report:
    hours_ago: int
    at_site: bool
    values: dict[str, Any]


@dataclass(frozen=True)
class OwnerPlan:
    #: The owner's grant to the collaborative: None when revoked.
    collaborative: Share | None
    #: Extra grants: (audience, terms); audience "north", "other" (an organisation that is
    #: neither North nor the owner), "everyone" or "public".
    extra: tuple[tuple[str, Share], ...]
    has_site: bool
    reports: tuple[Report, ...]


@dataclass(frozen=True)
class Plan:
    owners: tuple[OwnerPlan, ...]
    #: An organisation outside the collaborative that shares with North directly, or not.
    outsider: OwnerPlan
    north_reports: tuple[Report, ...]
    #: Read the picture as at this many hours ago; None: live.
    at_hours: int | None


shares = st.builds(
    Share,
    groups=st.frozensets(st.sampled_from(GROUPS), min_size=1),
    detail=st.sampled_from((EXACT, BANDED, STATUS)),
    delay_hours=st.sampled_from((0, 3, 24)),
)


def _sometimes_missing(values: st.SearchStrategy) -> st.SearchStrategy:
    return st.tuples(st.integers(0, 7), values).map(lambda t: None if t[0] == 0 else t[1])


#: Small counts, where rounding to 5 matters most, and some large ones (thousands separators).
counts = st.one_of(st.integers(0, 14), st.integers(0, 14), st.integers(15, 1000))
#: What a report may carry, and the values each may take.
CARRIED = {
    "ga_open": _sometimes_missing(counts),
    "ga_occupied": _sometimes_missing(counts),
    "cc_adult_open": _sometimes_missing(st.integers(0, 12)),
    "cc_adult_occupied": _sometimes_missing(st.integers(0, 12)),
    "nctr": _sometimes_missing(counts),
    "handover_over_60": _sometimes_missing(counts),
    "staff_absent": counts,
    "opel_declared": _sometimes_missing(st.integers(1, 4)),
    # The narrative's words are made unique to their owner when reported.
    "situation": st.integers(10, 99).map(lambda n: f"ward {n} closed"),
}
figures = st.lists(st.sampled_from(tuple(CARRIED)), min_size=1, unique=True).flatmap(
    lambda codes: st.fixed_dictionaries({c: CARRIED[c] for c in codes})
)
reports = st.builds(Report, hours_ago=st.integers(0, 47), at_site=st.booleans(), values=figures)
audiences = st.sampled_from(("north", "north", "other", "everyone", "public"))


def owner_plans(member: bool = True) -> st.SearchStrategy[OwnerPlan]:
    return st.builds(
        OwnerPlan,
        collaborative=st.one_of(st.none(), shares) if member else st.none(),
        # Often several grants reaching North at once, so that they overlap.
        extra=st.lists(st.tuples(audiences, shares), max_size=3).map(tuple),
        has_site=st.booleans(),
        reports=st.lists(reports, min_size=1, max_size=5).map(tuple),
    )


plans = st.builds(
    Plan,
    owners=st.lists(owner_plans(), min_size=2, max_size=3).map(tuple),
    outsider=owner_plans(member=False),
    north_reports=st.lists(reports, max_size=2).map(tuple),
    at_hours=st.one_of(st.none(), st.sampled_from((1, 3, 12, 30))),
)


# --- the model: what North may see, worked out from the raw figures ----------------------------


def rounded(value: float) -> float:
    """The nearest multiple of 5, halves up (counts are never negative)."""
    return float((Decimal(str(value)) / 5).quantize(Decimal(1), ROUND_HALF_UP) * 5)


def grouped(n: float) -> str:
    """A whole number as the pages write it: 1,234."""
    return f"{int(n):,}"


@dataclass(frozen=True)
class Seen:
    """One value as North may see it."""

    as_of: datetime
    value: float | None
    text: str | None
    missing: bool
    detail: str
    delay_hours: int


@dataclass
class Model:
    now: datetime
    at: datetime | None
    members: list[str]
    #: Organisation code → group → every (detail, delay) a grant reaching North gives.
    access: dict[str, dict[str, list[tuple[str, int]]]]
    sites: dict[str, str | None]
    #: (org, site or None, measure) → as of → value (None: missing), revisions applied.
    data: dict[tuple[str, str | None, str], dict[datetime, Any]] = field(default_factory=dict)

    @property
    def moment(self) -> datetime:
        return self.at or self.now

    def options(self, org: str, measure: str) -> list[tuple[str, int]]:
        """Every (detail, delay) under which North may see the measure (text: exact only)."""
        found = self.access.get(org, {}).get(SPEC[measure].group, [])
        if SPEC[measure].kind == "text":
            return [o for o in found if o[0] == EXACT]
        return found

    def how(self, org: str, measure: str) -> tuple[str, int] | None:
        """How the measure is charted: the freshest option that draws points (for a count,
        not status only), else the freshest; of alike delays, the finest."""
        found = self.options(org, measure)
        if not found:
            return None
        count = SPEC[measure].kind == "count"
        drawing = [o for o in found if not (count and o[0] == STATUS)] or found
        delay = min(d for _, d in drawing)
        return max((o for o in drawing if o[1] == delay), key=lambda o: RANK[o[0]])

    def cutoff(self, org: str, measure: str, until: datetime | None = None) -> datetime:
        """The newest as-of time any of North's grants shows."""
        delay = min(d for _, d in self.options(org, measure))
        return min(until or self.moment, self.now - timedelta(hours=delay))

    def under(
        self, org: str, measure: str, as_of: datetime, until: datetime | None = None
    ) -> tuple[str, int]:
        """The finest detail a single grant allows at the figure's age, at the shortest delay
        of the grants giving it."""
        allowing = [
            (d, h)
            for d, h in self.options(org, measure)
            if as_of <= min(until or self.moment, self.now - timedelta(hours=h))
        ]
        best = max(RANK[d] for d, _ in allowing)
        return min((o for o in allowing if RANK[o[0]] == best), key=lambda o: o[1])

    def latest(self, org: str, site: str | None, measure: str) -> tuple[datetime, Any] | None:
        """The newest raw value at or before the cutoff of North's access, if North has any."""
        if not self.options(org, measure):
            return None
        cutoff = self.cutoff(org, measure)
        times = [t for t in self.data.get((org, site, measure), {}) if t <= cutoff]
        if not times:
            return None
        as_of = max(times)
        return as_of, self.data[(org, site, measure)][as_of]

    def shown(self, measure: str, raw: Any, detail: str) -> tuple[float | None, str | None]:
        """(value, text) of one raw value at a detail (text is only ever asked for exactly)."""
        kind = SPEC[measure].kind
        if kind == "text":
            return (None, raw)
        if raw is None or kind == "level" or detail == EXACT:
            return (raw, None)
        if detail == BANDED:
            return (rounded(raw), None)
        return (None, None)

    def seen(self, org: str, site: str | None, measure: str) -> Seen | None:
        found = self.latest(org, site, measure)
        if found is None:
            return None
        as_of, raw = found
        detail, delay = self.under(org, measure, as_of)
        value, text = self.shown(measure, raw, detail)
        value = None if value is None else float(value)
        return Seen(as_of, value, text, raw is None, detail, delay)

    def places(self, org: str) -> list[str | None]:
        return [None] + ([self.sites[org]] if self.sites.get(org) else [])

    def figures(self, measures: tuple[str, ...]) -> dict[tuple[str, str | None, str], Seen]:
        out = {}
        for org in self.members:
            for site in self.places(org):
                for m in measures:
                    if (s := self.seen(org, site, m)) is not None:
                        out[(org, site, m)] = s
        return out

    def withheld(self, measures: tuple[str, ...]) -> set[tuple[str, str]]:
        """Asked for but not shared at all: groups not shared, narrative not shared exactly."""
        return {(org, m) for org in self.members for m in measures if not self.options(org, m)}

    def delayed(self, org: str, site: str | None, measure: str) -> int:
        """Hours late, when nothing is shown but the owner reported something by the moment
        that North's shortest delay does not show yet; else 0."""
        found = self.options(org, measure)
        if not found or self.latest(org, site, measure) is not None:
            return 0
        cutoff = self.cutoff(org, measure)
        newer = [t for t in self.data.get((org, site, measure), {}) if cutoff < t <= self.moment]
        return min(d for _, d in found) if newer else 0

    def occupancy(self, org: str, site: str | None, bed: str) -> tuple[str, list[str]] | None:
        """The occupancy cell's text and the numbers in it, from the exact counts, at the
        coarser of the two counts' details."""
        occ = self.latest(org, site, f"{bed}_occupied")
        opn = self.latest(org, site, f"{bed}_open")
        if occ is None or opn is None or occ[1] is None or opn[1] is None or not opn[1]:
            return None
        details = (
            self.under(org, f"{bed}_occupied", occ[0])[0],
            self.under(org, f"{bed}_open", opn[0])[0],
        )
        detail = min(details, key=RANK.__getitem__)
        if detail == EXACT:
            shown = f"{occ[1] / opn[1] * 100:.1f}%"
            return shown, [shown[:-1]]
        if detail == BANDED:
            low = int(occ[1] * 20 // opn[1]) * 5
            return f"{low}–{low + 5}%", [str(low), str(low + 5)]
        return "status", []

    def history(
        self, org: str, measure: str, since: datetime, until: datetime
    ) -> list[tuple[datetime, float | None, str]]:
        """The org-level points North may chart, each at the detail its age allows, with that
        detail: counts shown as status only have none."""
        if not self.options(org, measure):
            return []
        cutoff = self.cutoff(org, measure, until)
        out = []
        for as_of, raw in sorted(self.data.get((org, None, measure), {}).items()):
            if since <= as_of <= cutoff:
                detail, _ = self.under(org, measure, as_of, until)
                if detail == STATUS and SPEC[measure].kind == "count":
                    continue
                value, _ = self.shown(measure, raw, detail)
                out.append((as_of, None if value is None else float(value), detail))
        return out


def reaching(shares: list[Share]) -> dict[str, list[tuple[str, int]]]:
    """Group → every (detail, delay) a share reaching North gives."""
    out: dict[str, list[tuple[str, int]]] = {}
    for group in GROUPS:
        options = [(s.detail, s.delay_hours) for s in shares if group in s.groups]
        if options:
            out[group] = options
    return out


# --- building the world through the actions ----------------------------------------------------


def _grant(owner, audience: str, share: Share, cast) -> None:
    terms: dict[str, Any] = {
        "groups": tuple(sorted(share.groups)),
        "detail": share.detail,
        "delay_hours": share.delay_hours,
    }
    if audience in ("north", "other"):
        other = cast.south if owner == cast.outside else cast.outside
        target = cast.north if audience == "north" else other
        f.grant(owner, audience="organisation", audience_organisation=target, **terms)
    else:
        f.grant(owner, audience=audience, **terms)


def _report_all(model: Model, org, site, plan_reports: tuple[Report, ...]) -> None:
    for r in plan_reports:
        as_of = model.now - timedelta(hours=r.hours_ago, minutes=30)
        here = site if (r.at_site and site is not None) else None
        values = dict(r.values)
        if here is not None:
            values.pop("opel_declared", None)  # declared by the organisation, not a site
        if "situation" in values:
            values["situation"] = f"{org.code}: {values['situation']}"
        f.report(org, as_of, site=here, **values)
        for code, v in values.items():
            key = (org.code, here.code if here else None, code)
            model.data.setdefault(key, {})[as_of] = v


def build(cast, plan: Plan) -> Model:
    """The world of one example, made through the actions, and the model of it."""
    # Reports are half an hour off the hour and delays whole hours, so that the time moving on
    # by a few seconds before a request never changes which figures are due.
    now = timezone.now().replace(second=0, microsecond=0)
    at = None if plan.at_hours is None else now - timedelta(hours=plan.at_hours)
    owners = [cast.south]
    for i in range(1, len(plan.owners)):
        org = f.OrganisationFactory(code=f"R{'AB'[i - 1]}1", name=f"{'AB'[i - 1]} Trust")
        f.join(cast.collab, org)
        owners.append(org)
    owners.append(cast.outside)
    owner_plans = [*plan.owners, plan.outsider]
    model = Model(
        now=now,
        at=at,
        members=["RN1"] + [o.code for o in owners[:-1]],
        access={"RN1": {g: [(EXACT, 0)] for g in GROUPS}},
        sites={},
    )
    for org, op in zip(owners, owner_plans, strict=True):
        shares_to_north = []
        if org != cast.outside:
            current = f.collaborative_grant(org, cast.collab)
            if op.collaborative is None:
                f.unshare(current)
            else:
                s = op.collaborative
                f.reshare(
                    current,
                    groups=tuple(sorted(s.groups)),
                    detail=s.detail,
                    delay_hours=s.delay_hours,
                )
                shares_to_north.append(s)
        for audience, s in op.extra:
            _grant(org, audience, s, cast)
            if audience != "other":
                shares_to_north.append(s)
        model.access[org.code] = reaching(shares_to_north)
        site = f.SiteFactory(organisation=org, code=f"{org.code}01") if op.has_site else None
        model.sites[org.code] = site.code if site else None
        _report_all(model, org, site, op.reports)
    _report_all(model, cast.north, None, plan.north_reports)
    return model


# --- reading what North is shown ----------------------------------------------------------------


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


ROW = re.compile(
    r'<tr class="[^"]*" data-org="(?P<org>[^"]*)" data-site="(?P<site>[^"]*)">(?P<body>.*?)</tr>',
    re.S,
)
CELL = re.compile(r'<td data-measure="(?P<code>[^"]+)">(?P<body>.*?)</td>', re.S)
LATE = re.compile(
    r' ?<span class="flotilla-late" title="Shared (\d+) hours late">\(\1 h late\)</span>'
)
STALE = re.compile(r'<span class="nhsuk-u-visually-hidden"> \(stale, as of [^<]*\)</span>')
HIDDEN = re.compile(r'<span class="nhsuk-u-visually-hidden">[^<]*</span>')
TITLE = re.compile(r'title="([^"]*)"')
#: Words in cells that hold a number but no figure.
PHRASES = re.compile(r"[Rr]ounded to the nearest 5|In a 5-point band|Stale: as of [^\"]*")
TAG = re.compile(r"<[^>]+>")
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


@dataclass(frozen=True)
class Cell:
    #: What a sighted reader sees.
    shown: str
    #: Every number in the cell, seen or said to screen readers (not the as-of time or delay).
    numbers: list[str]
    late: int | None


def read_cell(body: str) -> Cell:
    late = LATE.search(body)
    body = PHRASES.sub("", STALE.sub("", LATE.sub("", body)))
    for title in TITLE.findall(body):
        assert not NUMBER.search(title), title
    said = unescape(TAG.sub("", body))
    shown = unescape(TAG.sub("", HIDDEN.sub("", body))).strip()
    return Cell(shown, NUMBER.findall(said), int(late.group(1)) if late else None)


def dashboard_cells(html: str) -> dict[tuple[str, str | None], dict[str, Cell]]:
    tbody = html[html.index("<tbody") : html.index("</tbody>")]
    rows = {}
    for row in ROW.finditer(tbody):
        key = (row["org"], row["site"] or None)
        assert key not in rows, key
        rows[key] = {c["code"]: read_cell(c["body"]) for c in CELL.finditer(row["body"])}
        last = row["body"].rindex("<td>")
        rows[key]["as of"] = read_cell(row["body"][last : row["body"].rindex("</td>")])
    return rows


def expected_cell(seen: Seen | None, withheld: bool, delayed: int = 0) -> tuple[str, list[str]]:
    """The text a figure's cell shows, and the numbers it may hold."""
    if seen is None:
        return ("not shared" if withheld else "not yet visible" if delayed else "–"), []
    if seen.missing:
        return "missing", []
    if seen.value is None:
        return "status", []
    return grouped(seen.value), [grouped(seen.value)]


def api_get(client, secret: str, path: str, **params: Any):
    query = f"?{urlencode(params, doseq=True)}" if params else ""
    return client.get(path + query, HTTP_AUTHORIZATION=f"Bearer {secret}")


# --- the checks -----------------------------------------------------------------------------


def check_api_picture(client, secret: str, cast, model: Model) -> None:
    params = {"at": model.at.isoformat()} if model.at else {}
    response = api_get(client, secret, f"/api/collaboratives/{cast.collab.slug}/picture", **params)
    assert response.status_code == 200, response.content
    body = response.json()
    measures = tuple(SPEC)
    expected = model.figures(measures)
    rows = {(r["org_code"], r["site_code"], r["measure"]): r for r in body["rows"]}
    assert len(rows) == len(body["rows"])
    assert set(rows) == set(expected)
    for key, row in rows.items():
        org, _site, measure = key
        seen = expected[key]
        assert when(row["as_of"]) == seen.as_of, key
        assert when(row["as_of"]) <= model.cutoff(org, measure), key
        assert row["value"] == seen.value, key
        assert row["text"] == seen.text, key
        assert row["missing_reason"] == ("not_reported" if seen.missing else ""), key
        assert (row["detail"], row["delay_hours"]) == (seen.detail, seen.delay_hours), key
        finest = max(RANK[d] for d, _ in model.options(org, measure))
        if RANK[seen.detail] < finest:
            event("a figure too fresh for the finest grant is shown coarser")
    withheld = {(w["org_code"], w["measure"]) for w in body["withheld"]}
    assert withheld == model.withheld(measures)
    assert {w["reason"] for w in body["withheld"]} <= {"not shared with you"}
    places = {(o, None) for o in model.members} | {(o, s) for o, s, _ in expected}
    late = {
        (org, site, m): hours
        for org, site in places
        for m in measures
        if (hours := model.delayed(org, site, m))
    }
    assert {
        (d["org_code"], d["site_code"], d["measure"]): d["delay_hours"] for d in body["delayed"]
    } == late
    for d in body["delayed"]:
        assert d["reason"] == f"not yet visible — shared {d['delay_hours']} hours late"
        event("the API says a figure is not yet visible")
    assert all(r["org_code"] != "RX1" for r in body["rows"])
    for org in model.members:
        how = model.how(org, "situation")
        if how is None or how[0] != EXACT:
            assert f"{org}: ward" not in response.content.decode()


def check_dashboard_csv(client, cast, model: Model) -> None:
    params = {"at": model.at.isoformat()} if model.at else {}
    query = f"?{urlencode(params)}" if params else ""
    response = client.get(f"/c/{cast.collab.slug}/export.csv{query}")
    assert response.status_code == 200
    lines = list(csv.reader(io.StringIO(response.content.decode())))
    assert lines[0] == ["org_code", "site_code", "measure", "value", "as_of", "detail"]
    shown = [line for line in lines[1:] if line[4]]
    got = sorted((o, s, m, v, when(t), d) for o, s, m, v, t, d in shown)
    figures = model.figures(DASHBOARD_MEASURES)
    expected = sorted(
        (
            org,
            site or "",
            m,
            "" if seen.value is None else f"{seen.value:g}",
            seen.as_of,
            seen.detail,
        )
        for (org, site, m), seen in figures.items()
    )
    assert got == expected
    for org, _site, m, _v, as_of, _d in got:
        assert as_of <= model.cutoff(org, m)
    # A figure not shown says why; a measure with no row at all was not reported.
    places = {(o, None) for o in model.members} | {(o, p) for o, p, _ in figures}
    why = sorted(
        [(org, "", m, "", "", NOT_SHARED) for org, m in model.withheld(DASHBOARD_MEASURES)]
        + [
            (org, site or "", m, "", "", f"not yet visible — shared {hours} hours late")
            for org, site in places
            for m in DASHBOARD_MEASURES
            if (hours := model.delayed(org, site, m))
        ]
    )
    assert sorted(tuple(line) for line in lines[1:] if not line[4]) == why


def check_dashboard_page(client, cast, model: Model) -> None:
    params = {"at": model.at.isoformat()} if model.at else {}
    query = f"?{urlencode(params)}" if params else ""
    response = client.get(f"/c/{cast.collab.slug}/{query}")
    assert response.status_code == 200
    html = response.content.decode()
    cells = dashboard_cells(html)
    figures = model.figures(DASHBOARD_MEASURES)
    withheld = model.withheld(DASHBOARD_MEASURES)
    rows = {(o, None) for o in model.members} | {(o, s) for o, s, _ in figures}
    assert set(cells) == rows
    for (org, site), row in cells.items():
        for code in DASHBOARD_MEASURES:
            seen = figures.get((org, site, code))
            cell = row[code]
            late = model.delayed(org, site, code)
            text, numbers = expected_cell(seen, (org, code) in withheld, late)
            rounded_count = seen is not None and seen.detail == BANDED and seen.value is not None
            if rounded_count and SPEC[code].kind == "count":
                text = f"≈{text}"
            assert cell.shown == text, (org, site, code, cell)
            assert cell.numbers == numbers, (org, site, code, cell)
            delay = seen.delay_hours if seen else 0 if (org, code) in withheld else late
            assert cell.late == (delay or None), (org, site, code, cell)
            if seen is not None and org != "RN1":
                event(f"dashboard shows a {seen.detail} figure{' late' if delay else ''}")
        shown = [s for (o, p, _), s in figures.items() if (o, p) == (org, site)]
        times = [s.as_of for s in shown]
        want = formatting.when(max(times)) if times else "no report"
        # Overdue: every figure shown is past the staleness limit even allowing for its delay.
        limit = model.moment - timedelta(
            hours=cast.collab.reporting_interval_hours * django_settings.STALE_FACTOR
        )
        if shown and all(s.as_of < limit - timedelta(hours=s.delay_hours) for s in shown):
            want += " Overdue"
        assert row["as of"].shown == want, (org, site)
        for bed in BEDS:
            cell = row[f"{bed}_occupancy"]
            occ = model.occupancy(org, site, bed)
            if occ is None:
                gone = (org, f"{bed}_occupied") in withheld
                late = model.delayed(org, site, f"{bed}_occupied")
                occ = ("not shared" if gone else "not yet visible" if late else "–", [])
            assert (cell.shown, cell.numbers) == occ, (org, site, bed, cell)
    check_totals(html, model, figures, withheld)
    for org in model.members:
        how = model.how(org, "situation")
        if how is None or how[0] != EXACT:
            assert f"{org}: ward" not in html


TOTAL = re.compile(
    r'<span data-total="(?P<code>[^"]+)">(?P<value>[^<]*)</span>'
    r'(?: <span class="flotilla-missing" title="[^"]*">'
    r"\((?P<included>\d+)/(?P<expected>\d+)\)</span>)?"
)


def check_totals(html: str, model: Model, figures: dict, withheld: set) -> None:
    """Each total is the sum of exact figures North sees, and says when any is left out."""
    foot = html[html.index("<tfoot>") : html.index("</tfoot>")]
    shown = {m["code"]: m for m in TOTAL.finditer(foot)}
    sums: dict[str, tuple[float, int, int]] = {}
    for code in TOTALLED:
        total, included, expected = 0.0, 0, 0
        for org in model.members:
            own = figures.get((org, None, code))
            site = model.sites.get(org)
            at_site = [figures[(org, site, code)]] if (org, site, code) in figures else []
            if own is None and not at_site and (org, code) not in withheld:
                continue
            expected += 1
            if own is not None and not own.missing and own.detail == EXACT:
                total += own.value
                included += 1
            elif at_site and all(not s.missing and s.detail == EXACT for s in at_site):
                total += sum(s.value for s in at_site)
                included += 1
            else:
                # Anything withheld, banded, status only or missing: left out, and said so.
                assert code not in shown or shown[code]["included"] is not None, (org, code)
        sums[code] = (total, included, expected)
        if not included:
            assert code not in shown, code
            continue
        got = shown[code]
        assert got["value"] == grouped(total), code
        if included == expected:
            assert got["included"] is None, code
        else:
            assert (int(got["included"]), int(got["expected"])) == (included, expected), code
            event("a total leaves figures out")
    assert set(shown) <= set(TOTALLED)
    cells = re.findall(r"<td>(.*?)</td>", foot, re.S)
    for index, bed in ((0, "ga"), (3, "cc_adult")):
        occ, opn = sums[f"{bed}_occupied"], sums[f"{bed}_open"]
        complete = occ[1] == occ[2] and opn[1] == opn[2] and occ[1] and opn[1] and opn[0]
        want = f"{occ[0] / opn[0] * 100:.1f}%" if complete else "–"
        assert read_cell(cells[index]).shown == want, bed


def check_history(client, secret: str, model: Model, org: str) -> None:
    since, until = model.now - timedelta(hours=49), model.now
    response = api_get(
        client,
        secret,
        f"/api/organisations/{org}/history",
        measure=list(HISTORY_MEASURES),
        since=since.isoformat(),
        until=until.isoformat(),
    )
    if not model.access.get(org):
        assert response.status_code == 404
        return
    assert response.status_code == 200, response.content
    series = {s["measure"]: s for s in response.json()["series"]}
    assert set(series) == set(HISTORY_MEASURES)
    for m, s in series.items():
        how = model.how(org, m)
        assert s["shared"] == (how is not None), m
        assert (s["detail"], s["delay_hours"]) == (how or (None, None)), m
        points = [(when(p["as_of"]), p["value"], p["detail"]) for p in s["points"]]
        assert points == model.history(org, m, since, until), m
        if how is not None:
            assert all(t <= model.cutoff(org, m, until) for t, _, _ in points), m
        if len({d for _, _, d in points}) > 1:
            event("a history mixes details by age")


def check_organisation_csv(client, model: Model, org: str) -> None:
    params = {"range": "week", "format": "csv"}
    if model.at:
        params["at"] = model.at.isoformat()
    response = client.get(f"/o/{org}/?{urlencode(params)}")
    if not model.access.get(org):
        assert response.status_code == 404
        return
    assert response.status_code == 200
    lines = list(csv.reader(io.StringIO(response.content.decode())))
    got = sorted((o, s, m, v, when(t), d) for o, s, m, v, t, d in lines[1:])
    until = model.moment
    expected = sorted(
        (org, "", m, "" if v is None else f"{v:g}", t, detail)
        for m in CHART_MEASURES
        for t, v, detail in model.history(org, m, until - timedelta(days=7), until)
    )
    assert got == expected


@pytest.fixture
def north_reader(cast, client):
    """North's viewer signed in, and a read token of North's."""
    client.force_login(cast.people[Role.VIEWER])
    _, secret = authz_actions.issue_token(
        by=cast.people[Role.ORG_ADMIN], organisation=cast.north, name="bms", scope="read"
    )
    return secret


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=plans)
def test_no_page_api_or_export_shows_more_than_the_grants_allow(cast, client, north_reader, plan):
    # Each example's organisations, grants and figures are rolled back after it.
    with transaction.atomic():
        model = build(cast, plan)
        check_api_picture(client, north_reader, cast, model)
        check_dashboard_csv(client, cast, model)
        check_dashboard_page(client, cast, model)
        for org in [*model.members[1:], "RX1"]:
            check_history(client, north_reader, model, org)
            check_organisation_csv(client, model, org)
        transaction.set_rollback(True)


# --- examples ---------------------------------------------------------------------------------


def _now() -> datetime:
    return timezone.now().replace(second=0, microsecond=0)


def _south_shares(cast, **terms: Any) -> None:
    """Change South's grant to the collaborative (exact and live on joining)."""
    f.reshare(f.collaborative_grant(cast.south, cast.collab), **terms)


def _picture(client, secret: str, cast) -> dict[str, Any]:
    response = api_get(client, secret, f"/api/collaboratives/{cast.collab.slug}/picture")
    assert response.status_code == 200
    return response.json()


def _rows(body: dict[str, Any]) -> dict[tuple[str, str | None, str], dict[str, Any]]:
    return {(r["org_code"], r["site_code"], r["measure"]): r for r in body["rows"]}


def _csv(client, cast) -> dict[tuple[str, str, str], tuple[str, str]]:
    response = client.get(f"/c/{cast.collab.slug}/export.csv")
    lines = list(csv.reader(io.StringIO(response.content.decode())))[1:]
    return {(o, s, m): (v, d) for o, s, m, v, _t, d in lines}


def test_counts_shared_banded_are_rounded_to_the_nearest_5_with_halves_going_up(
    cast, client, north_reader
):
    assert [rules.round_count(v) for v in (0, 2, 2.5, 7.5, 12.5, 12.49)] == [
        0, 0, 5, 10, 15, 10,
    ]  # fmt: skip
    _south_shares(cast, detail=BANDED)
    reported = {
        "ga_open": (12, 10),
        "ga_occupied": (13, 15),
        "nctr": (2, 0),
        "handover_over_60": (3, 5),
        "handover_30_60": (7, 5),
        "staff_absent": (8, 10),
        "discharges": (1232, 1230),
        "long_stay_7": (1233, 1235),
        "opel_declared": (3, 3),  # a level is shared as it is
    }
    f.report(cast.south, _now() - timedelta(minutes=30), **{m: v for m, (v, _) in reported.items()})
    rows = _rows(_picture(client, north_reader, cast))
    exported = _csv(client, cast)
    page = dashboard_cells(client.get(f"/c/{cast.collab.slug}/").content.decode())
    for measure, (_, shown) in reported.items():
        assert rows[("RS1", None, measure)]["value"] == shown, measure
        assert rows[("RS1", None, measure)]["detail"] == BANDED
        if measure in DASHBOARD_MEASURES:
            assert exported[("RS1", "", measure)] == (f"{shown}", BANDED)
            assert page[("RS1", None)][measure].numbers == [f"{shown:,}"], measure


def test_a_7_of_8_critical_care_occupancy_shared_banded_shows_85_to_90_percent(
    cast, client, north_reader
):
    _south_shares(cast, detail=BANDED)
    f.report(
        cast.south,
        _now() - timedelta(minutes=30),
        cc_adult_open=8,
        cc_adult_occupied=7,
        ga_open=20,
        ga_occupied=19,
    )
    html = client.get(f"/c/{cast.collab.slug}/").content.decode()
    south = dashboard_cells(html)[("RS1", None)]
    # From the exact counts, not the rounded ones (≈5 of ≈10 would be 50%).
    assert south["cc_adult_occupancy"].shown == "85–90%"
    assert (south["cc_adult_open"].shown, south["cc_adult_occupied"].shown) == ("≈10", "≈5")
    assert south["ga_occupancy"].shown == "95–100%"
    assert "87.5" not in html
    assert "95.0%" not in html
    assert not any(t in html for t in ('data-total="cc_adult_open"', 'data-total="ga_open"'))


def test_a_count_shared_as_status_only_shows_its_rag_but_no_number(cast, client, north_reader):
    _south_shares(cast, groups=("flow",), detail=STATUS)
    now = _now()
    f.report(cast.south, now - timedelta(minutes=30), nctr=123, handover_over_60=5)
    f.report(cast.north, now - timedelta(minutes=30), nctr=10)
    body = _picture(client, north_reader, cast)
    rows = _rows(body)
    nctr, handovers = rows[("RS1", None, "nctr")], rows[("RS1", None, "handover_over_60")]
    assert (nctr["value"], nctr["detail"], nctr["rag"]) == (None, STATUS, "red")
    assert (handovers["value"], handovers["rag"]) == (None, "amber")
    assert {"org_code": "RS1", "measure": "ga_open", "reason": NOT_SHARED} in body["withheld"]
    assert _csv(client, cast)[("RS1", "", "nctr")] == ("", STATUS)
    html = client.get(f"/c/{cast.collab.slug}/").content.decode()
    cell = dashboard_cells(html)[("RS1", None)]["nctr"]
    assert (cell.shown, cell.numbers) == ("status", [])
    assert re.search(r'<td data-measure="nctr"><span class="flotilla-rag flotilla-rag--red">', html)
    assert "123" not in html
    history = api_get(
        client, north_reader, "/api/organisations/RS1/history", measure=["nctr"]
    ).json()
    [series] = history["series"]
    assert (series["shared"], series["detail"], series["points"]) == (True, STATUS, [])


def test_a_status_only_count_is_left_out_of_the_total_and_the_total_says_so(
    cast, client, north_reader
):
    _south_shares(cast, groups=("flow",), detail=STATUS)
    f.report(cast.south, _now() - timedelta(minutes=30), nctr=123)
    f.report(cast.north, _now() - timedelta(minutes=30), nctr=10)
    html = client.get(f"/c/{cast.collab.slug}/").content.decode()
    totals = {m["code"]: m for m in TOTAL.finditer(html[html.index("<tfoot>") :])}
    assert totals["nctr"]["value"] == "10"
    assert (totals["nctr"]["included"], totals["nctr"]["expected"]) == ("1", "2")


@pytest.mark.parametrize("detail", [EXACT, BANDED, STATUS])
def test_narrative_text_is_withheld_unless_shared_exactly(cast, client, north_reader, detail):
    _south_shares(cast, detail=detail)
    words = "Two wards closed with norovirus; 14 beds lost."
    f.report(cast.south, _now() - timedelta(minutes=30), situation=words, ga_open=14)
    response = api_get(client, north_reader, f"/api/collaboratives/{cast.collab.slug}/picture")
    body = response.json()
    rows = _rows(body)
    history = api_get(
        client, north_reader, "/api/organisations/RS1/history", measure=["situation"]
    ).json()
    [series] = history["series"]
    if detail == EXACT:
        assert rows[("RS1", None, "situation")]["text"] == words
        assert len(series["points"]) == 1
    else:
        assert ("RS1", None, "situation") not in rows
        assert {"org_code": "RS1", "measure": "situation", "reason": NOT_SHARED} in body["withheld"]
        assert words not in response.content.decode()
        assert series["points"] == []
        assert "norovirus" not in str(history)


def test_each_figure_is_shown_at_the_finest_detail_its_age_allows_under_several_grants(
    cast, client, north_reader
):
    now = _now()
    _south_shares(cast, groups=("flow",), detail=BANDED, delay_hours=0)
    f.grant(cast.south, audience="organisation", audience_organisation=cast.north,
            groups=("flow",), detail=EXACT, delay_hours=24)  # fmt: skip
    f.grant(cast.south, audience="everyone", groups=("flow",), detail=EXACT, delay_hours=3)
    for hours, nctr in ((26, 41), (4, 42), (0, 43)):
        f.report(cast.south, now - timedelta(hours=hours, minutes=30), nctr=nctr)
    row = _rows(_picture(client, north_reader, cast))[("RS1", None, "nctr")]
    # The newest figure any grant shows (half an hour old) is shown banded, live: ≈45.
    assert (row["value"], row["detail"], row["delay_hours"]) == (45, BANDED, 0)
    assert when(row["as_of"]) == now - timedelta(minutes=30)
    history = api_get(
        client, north_reader, "/api/organisations/RS1/history", measure=["nctr"]
    ).json()
    [series] = history["series"]
    # Older figures are exact: 3 hours late beats 24 for the one 4½ hours old.
    assert [(p["value"], p["detail"]) for p in series["points"]] == [
        (41, EXACT), (42, EXACT), (45, BANDED),
    ]  # fmt: skip
    assert (series["detail"], series["delay_hours"]) == (BANDED, 0)
    page = client.get("/o/RS1/?format=csv").content.decode()
    assert [r[3:] for r in csv.reader(io.StringIO(page))][1:] == [
        ["41", (now - timedelta(hours=26, minutes=30)).isoformat(), EXACT],
        ["42", (now - timedelta(hours=4, minutes=30)).isoformat(), EXACT],
        ["45", (now - timedelta(minutes=30)).isoformat(), BANDED],
    ]


def test_a_late_exact_grant_does_not_hide_todays_opel_level_shared_live_as_status(
    cast, client, north_reader
):
    now = _now()
    _south_shares(cast, groups=("escalation",), detail=EXACT, delay_hours=24)
    f.grant(cast.south, audience="organisation", audience_organisation=cast.north,
            groups=("escalation",), detail=STATUS, delay_hours=0)  # fmt: skip
    f.report(cast.south, now - timedelta(hours=30), opel_declared=2)
    f.report(cast.south, now - timedelta(minutes=30), opel_declared=4)
    row = _rows(_picture(client, north_reader, cast))[("RS1", None, "opel_declared")]
    assert (row["value"], row["detail"], row["delay_hours"]) == (4, STATUS, 0)
    html = client.get(f"/c/{cast.collab.slug}/").content.decode()
    assert dashboard_cells(html)[("RS1", None)]["opel_declared"].shown == "4"
    status = client.get("/o/RS1/").content.decode()
    status = status[status.index('id="latest-status"') :]
    assert re.search(r"Declared OPEL level</dt>\s*<dd[^>]*>4 ", status)


def _absent(html: str, code: str) -> str:
    cell = re.search(
        rf'<tr[^>]*data-org="RS1" data-site="">.*?<td data-measure="{code}">(.*?)</td>', html, re.S
    )
    assert cell is not None
    return cell.group(1)


def test_a_figure_never_reported_says_not_reported(cast, client, north_reader):
    f.report(cast.south, _now() - timedelta(minutes=30), ga_open=100)
    html = client.get(f"/c/{cast.collab.slug}/").content.decode()
    cell = _absent(html, "nctr")
    assert read_cell(cell).shown == "–"
    assert "not reported" in cell
    body = _picture(client, north_reader, cast)
    assert ("RS1", None, "nctr") not in _rows(body)
    assert not [w for w in body["withheld"] if w["org_code"] == "RS1"]
    assert body["delayed"] == []
    exported = client.get(f"/c/{cast.collab.slug}/export.csv").content.decode()
    assert ",nctr," not in exported
    page = client.get("/o/RS1/").content.decode()
    status = page[page.index('id="latest-status"') :]
    assert "Not reported" in status


def test_a_figure_the_owner_does_not_share_says_not_shared_with_you(cast, client, north_reader):
    _south_shares(cast, groups=("capacity",))
    f.report(cast.south, _now() - timedelta(minutes=30), ga_open=100, nctr=7)
    html = client.get(f"/c/{cast.collab.slug}/").content.decode()
    cell = _absent(html, "nctr")
    assert read_cell(cell).shown == "not shared"
    assert 'title="Not shared with you"' in cell and "> with you<" in cell
    body = _picture(client, north_reader, cast)
    assert {"org_code": "RS1", "measure": "nctr", "reason": "not shared with you"} in body[
        "withheld"
    ]
    south_rows = [r for r in body["rows"] if r["org_code"] == "RS1"]
    assert [r["measure"] for r in south_rows] == ["ga_open"]
    assert 7 not in [r["value"] for r in south_rows]
    exported = client.get(f"/c/{cast.collab.slug}/export.csv").content.decode()
    assert "RS1,,nctr,,,not shared with you" in exported.splitlines()
    page = client.get("/o/RS1/").content.decode()
    status = page[page.index('id="latest-status"') :]
    assert "Not shared with you" in status  # the OPEL level, in the escalation group


def test_a_figure_reported_but_shared_late_says_not_yet_visible(cast, client, north_reader):
    _south_shares(cast, delay_hours=24)
    f.report(cast.south, _now() - timedelta(hours=2), ga_open=100, ga_occupied=90, nctr=7,
             opel_declared=3)  # fmt: skip
    html = client.get(f"/c/{cast.collab.slug}/").content.decode()
    for code in ("nctr", "ga_open", "ga_occupancy"):
        cell = read_cell(_absent(html, code))
        assert (cell.shown, cell.late, cell.numbers) == ("not yet visible", 24, []), code
    assert "nctr" not in re.sub(r"<[^>]+>", "", _absent(html, "nctr"))
    body = _picture(client, north_reader, cast)
    assert {"org_code": "RS1", "site_code": None, "measure": "nctr", "delay_hours": 24,
            "reason": "not yet visible — shared 24 hours late"} in body["delayed"]  # fmt: skip
    assert not [r for r in body["rows"] if r["org_code"] == "RS1"]
    exported = client.get(f"/c/{cast.collab.slug}/export.csv").content.decode()
    assert "RS1,,nctr,,,not yet visible — shared 24 hours late" in exported.splitlines()
    page = client.get("/o/RS1/").content.decode()
    status = page[page.index('id="latest-status"') :]
    assert "Not yet visible — shared 24 hours late" in status
    # Looking back to before the report, nothing was reported yet: not "not yet visible".
    at = (_now() - timedelta(hours=3)).isoformat()
    earlier = client.get(f"/c/{cast.collab.slug}/?{urlencode({'at': at})}").content.decode()
    assert read_cell(_absent(earlier, "nctr")).shown == "–"
    assert _picture(client, north_reader, cast)["delayed"]


def test_an_older_figure_visible_under_the_delay_is_shown_rather_than_not_yet_visible(
    cast, client, north_reader
):
    _south_shares(cast, delay_hours=24)
    f.report(cast.south, _now() - timedelta(hours=30), nctr=5)
    f.report(cast.south, _now() - timedelta(hours=2), nctr=7)
    body = _picture(client, north_reader, cast)
    row = _rows(body)[("RS1", None, "nctr")]
    assert (row["value"], row["delay_hours"]) == (5, 24)
    assert body["delayed"] == []


def test_a_revoked_grant_shows_nothing_from_the_next_request(cast, client, north_reader):
    f.report(cast.south, _now() - timedelta(minutes=30), ga_open=14)
    assert ("RS1", None, "ga_open") in _rows(_picture(client, north_reader, cast))
    f.unshare(f.collaborative_grant(cast.south, cast.collab))
    body = _picture(client, north_reader, cast)
    assert not [r for r in body["rows"] if r["org_code"] == "RS1"]
    assert {"org_code": "RS1", "measure": "ga_open", "reason": NOT_SHARED} in body["withheld"]
    response = api_get(client, north_reader, "/api/organisations/RS1/history", measure=["ga_open"])
    assert response.status_code == 404


def test_a_level_shared_banded_is_shown_as_it_is_not_as_rounded(cast, client):
    _south_shares(cast, detail=BANDED)
    f.report(cast.south, _now() - timedelta(minutes=30), opel_declared=3)
    client.force_login(cast.people[Role.VIEWER])
    html = client.get(f"/c/{cast.collab.slug}/").content.decode()
    cell = dashboard_cells(html)[("RS1", None)]["opel_declared"]
    assert cell.shown == "3"
    assert "rounded" not in re.search(r'<td data-measure="opel_declared">.*?</td>', html).group()


def test_a_coordinator_cannot_read_a_status_only_count_by_moving_the_thresholds(
    cast, client, north_reader
):
    _south_shares(cast, groups=("flow",), detail=STATUS)
    coordinator = cast.people[Role.COORDINATOR]
    assert can(coordinator, Perm.MANAGE_COLLABORATIVE, cast.collab)
    collaboratives_actions.update_collaborative(
        by=coordinator,
        collaborative=cast.collab,
        thresholds={"nctr": (123, 124)},  # amber is exactly 123 (counts are whole numbers)
        reporting_interval_hours=cast.collab.reporting_interval_hours,
    )
    as_of = _now() - timedelta(minutes=30)
    seen = {}
    for nctr in (122, 123):
        f.report(cast.south, as_of, nctr=nctr)  # the second is a revision of the first
        row = _rows(_picture(client, north_reader, cast))[("RS1", None, "nctr")]
        assert (row["value"], row["detail"]) == (None, STATUS)
        seen[nctr] = row
    # Status only: North must not be able to tell 122 from 123.
    assert seen[122] == seen[123]
