"""Build the demo collaborative: real trusts from a published winter, or a synthetic system.

The real demo takes one NHS England region's acute trusts from the 2021-22 winter sitrep,
shifts every date so that the last day of the winter is today, and imports the result through
the ordinary importer. Where the published data is absent, a seeded synthetic system with
fictional names and codes takes its place, with the same shapes of occupancy.

The published sitrep has no OPEL column, so the demo declares an OPEL level for each trust
each day itself (`declared_opel`), from that day's figures, submitted as the trust through
the ordinary reporting action. These levels are illustrative: derived by the demo, never
declared or published by the trusts.

The demo coordinator's trust and its five nearest neighbours also ask each other for help and
give it: a month of mutual aid and what is open today (`flotilla.demo.aid`). Each member with
a demo coordinator or admin lists who to call there (`flotilla.demo.directory`).
"""

from __future__ import annotations

import csv
import io
import math
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from flotilla.alerts import actions as alerts
from flotilla.audit.principals import Principal
from flotilla.authz import actions as authz_actions
from flotilla.authz.models import Role
from flotilla.collaboratives import actions as collaboratives_actions
from flotilla.collaboratives.models import Collaborative
from flotilla.demo import aid, coordination, directory
from flotilla.escalation import actions as escalation
from flotilla.organisations import actions as organisations_actions
from flotilla.organisations.models import Organisation, OrganisationKind
from flotilla.planning import actions as planning
from flotilla.reporting.actions import record_report
from flotilla.reporting.importers.sitrep import SNAPSHOT_TIME
from flotilla.reporting.models import Source
from flotilla.reporting.validation import CellIn

DEMO = Principal.system("demo")
#: How many days of computed escalation levels the demo starts with.
LEVEL_HISTORY_DAYS = 14
#: How many days of daily forecasts before today's the demo starts with: enough for the
#: grant a day late to show one.
FORECAST_HISTORY_DAYS = 2

#: The demo's OPEL rule: (level, G&A occupancy at or above, or handovers over 60 minutes at
#: or above), checked from the highest level down; a day with neither figure declares nothing.
OPEL_RULE: tuple[tuple[int, float, float], ...] = (
    (4, 0.97, 20),
    (3, 0.94, 8),
    (2, 0.88, 1),
)


def declared_opel(occupancy: float | None, over_60: float | None) -> int | None:
    """The OPEL level the demo declares for a day's G&A occupancy (occupied / open) and
    ambulance handovers over 60 minutes (see `OPEL_RULE`); None when both are unknown."""
    if occupancy is None and over_60 is None:
        return None
    for level, occupancy_from, over_60_from in OPEL_RULE:
        if (occupancy is not None and occupancy >= occupancy_from) or (
            over_60 is not None and over_60 >= over_60_from
        ):
            return level
    return 1


DEMO_PASSWORD = "flotilla-demo-2026"
DEMO_REGION = "Y63"  # North East and Yorkshire
SITREP = "nhse-winter-sitreps/sitrep2122.csv"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    organisation: str


def demo_logins() -> list[DemoLogin]:
    from flotilla.authz.models import Membership

    out = []
    for m in (
        Membership.objects.filter(user__username__startswith="demo-")
        .select_related("user", "organisation")
        .order_by("user__username")
    ):
        out.append(DemoLogin(m.user.username, m.get_role_display(), m.organisation.name))
    return out


def is_loaded() -> bool:
    return Collaborative.objects.filter(slug__startswith="demo-").exists()


def last_snapshot_day(now: datetime | None = None) -> date:
    """The latest day whose 08:00 snapshot is already past: today, or yesterday before 08:00.

    Reports dated ahead of now are refused, so a demo loaded at 6 a.m. must not end at today's
    08:00 snapshot.
    """
    now = timezone.localtime(now)
    return now.date() if now.time() >= SNAPSHOT_TIME else now.date() - timedelta(days=1)


def load(*, data_dir: Path | None = None, today: date | None = None) -> dict[str, Any]:
    """Load the demo; returns what was loaded. Real data where present, else synthetic."""
    data_dir = Path(data_dir or settings.DATA_DIR)
    today = today or last_snapshot_day()
    if (data_dir / SITREP).exists() and (data_dir / "reference/england").is_dir():
        result = _load_real(data_dir, today)
    else:
        result = _load_synthetic(today)
    _gather_statistics()
    return result


def _gather_statistics() -> None:
    """Give PostgreSQL's planner statistics of what was just loaded.

    After a bulk load the planner knows nothing of the new rows until autovacuum samples
    them, a minute or more later; until then it guesses, and the first pages and a load
    test started at once run plans made for empty tables. SQLite's planner is left as it
    is: it plans these queries from their indexes without statistics.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _users(
    collab: Collaborative,
    reporter_org: Organisation,
    coord_org: Organisation,
    system_org: Organisation,
) -> None:
    cast = [
        ("demo-reporter", reporter_org, Role.REPORTER),
        ("demo-coordinator", coord_org, Role.COORDINATOR),
        ("demo-system", system_org, Role.COORDINATOR),
        ("demo-admin", reporter_org, Role.ORG_ADMIN),
    ]
    for username, org, role in cast:
        user = authz_actions.create_user(by=DEMO, username=username, password=DEMO_PASSWORD)
        authz_actions.set_membership(by=DEMO, user=user, organisation=org, role=role)


def _collaborative(
    founder: Organisation, members: list[Organisation], name: str, purpose: str
) -> Collaborative:
    # The demo's address starts "demo-" so that links in the docs work.
    collab = collaboratives_actions.create_collaborative(
        by=DEMO,
        organisation=founder,
        name=name,
        purpose=purpose,
        reporting_interval_hours=24,
        slug=f"demo-{name}",
    )
    inviter = authz_actions.create_user(by=DEMO, username="demo-founder", password=DEMO_PASSWORD)
    authz_actions.set_membership(by=DEMO, user=inviter, organisation=founder, role=Role.ORG_ADMIN)
    for org in members:
        if org.pk == founder.pk:
            continue
        inv = collaboratives_actions.invite(by=inviter, collaborative=collab, organisation=org)
        collaboratives_actions.respond(by=DEMO, invitation=inv, accept=True)
    return collab


def _grants(collab: Collaborative, members: list[Organisation]) -> None:
    """A little variety in sharing, through the same actions an admin's page uses: the demo
    admin's trust publishes rounded bed numbers a day late, and a third trust shares rounded
    figures four hours late with the collaborative."""
    from flotilla.sharing import actions as sharing
    from flotilla.sharing.models import Grant

    sharing.add_grant(
        by=DEMO,
        owner=members[0],
        terms=sharing.Terms(
            audience="public",
            groups=("capacity", "escalation"),
            detail="banded",
            delay_hours=24,
            purpose="Our bed numbers, rounded and a day late, and our OPEL level are public, "
            "for patients, families and partners.",
        ),
    )
    if len(members) > 2:
        sharing.change_grant(
            by=DEMO,
            grant=Grant.objects.get(owner=members[2], collaborative=collab, ended_at__isnull=True),
            terms=sharing.Terms(
                audience="collaborative",
                collaborative=collab,
                groups=("capacity", "flow", "escalation"),
                detail="banded",
                delay_hours=4,
                purpose="Rounded figures, four hours late, until our board's data-sharing "
                "review in March.",
            ),
        )


def _load_real(data_dir: Path, today: date) -> dict[str, Any]:
    from flotilla.organisations.reference import load_reference
    from flotilla.reporting.imports import import_file

    load_reference(by=DEMO, data_dir=data_dir)
    with (data_dir / SITREP).open(newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    region_codes = set(
        Organisation.objects.filter(
            region__code=DEMO_REGION, kind=OrganisationKind.ACUTE
        ).values_list("code", flat=True)
    )
    rows = [r for r in rows if r["Code"] in region_codes]
    # The file's last days carry only a few columns; today is the last day with bed figures.
    last = max(date.fromisoformat(r["Date"]) for r in rows if r["G&A beds occ'd"] not in ("", "-"))
    rows = [r for r in rows if date.fromisoformat(r["Date"]) <= last]
    shift = today - last
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0].keys()))
    writer.writeheader()
    for r in rows:
        writer.writerow({**r, "Date": (date.fromisoformat(r["Date"]) + shift).isoformat()})
    codes = sorted({r["Code"] for r in rows})
    with transaction.atomic():
        members = list(Organisation.objects.filter(code__in=codes).order_by("name"))
        system_org = organisations_actions.register_organisation(
            by=DEMO,
            code="QHM",
            name="North East and North Cumbria ICB (system coordination centre)",
            kind=OrganisationKind.COMMISSIONER,
        )
        collab = _collaborative(
            members[0],
            [*members, system_org],
            "North East and Yorkshire winter system",
            "Keep every emergency department in the region flowing this winter: no ambulance "
            "waits over an hour, and no one in a corridor.",
        )
        outcome = import_file(
            by=DEMO,
            path_or_stream=io.StringIO(out.getvalue()),
            name=f"demo {SITREP}",
            fmt="sitrep",
            on_conflict="last",
        )
        _declare_opel(members, rows, shift)
        _users(collab, members[0], members[1], system_org)
        _grants(collab, members)
        exchange = aid.load(collab, members[1], members, password=DEMO_PASSWORD, demo=DEMO)
        on_call = directory.load([*members, system_org])
    levels = _levels(collab, members)
    forecasts = _forecasts(members)
    _alert_rules(collab, members)
    work = coordination.load(collab, members, system_org)
    return {
        "kind": "real",
        "levels": levels,
        "forecasts": forecasts,
        "collaborative": collab.slug,
        "organisations": len(members),
        "shifted_days": shift.days,
        "values": getattr(outcome, "created", None),
        "aid": exchange,
        "on_call": on_call,
        "log_items": work,
    }


def _levels(collab: Collaborative, members: list[Organisation]) -> int:
    """Compute every member's escalation level at each report of the last fortnight (what an
    organisation's page shows), then the collaborative's system level, as the recompute job
    would have had it run all along."""
    since = timezone.now() - timedelta(days=LEVEL_HISTORY_DAYS)
    computed = sum(escalation.backfill(organisation=m, since=since) for m in members)
    escalation.roll_up(collaborative=collab)
    return computed


def _forecasts(members: list[Organisation]) -> int:
    """Every member's daily forecasts, as the forecast job would have made them today and on
    the days before (so the organisation pages open with fans)."""
    return sum(planning.backfill(organisation=m, days=FORECAST_HISTORY_DAYS) for m in members)


def _alert_rules(collab: Collaborative, members: list[Organisation]) -> None:
    """The system coordination centre's alert rules, judged once on today's figures and
    forecasts so that the demo opens with the alerts they raise (told in the inbox, as the
    jobs would)."""
    from django.contrib.auth import get_user_model

    users = get_user_model().objects
    system, coordinator = users.get(username="demo-system"), users.get(username="demo-coordinator")
    rules = [
        alerts.add_rule(
            by=system,
            collaborative=collab,
            kind="measure",
            measure="ga_occupancy",
            threshold=0.97,
            clear_at=0.95,
        ),
        alerts.add_rule(
            by=system,
            collaborative=collab,
            kind="forecast",
            measure="ga_occupancy",
            threshold=0.96,
            within_days=3,
        ),
        alerts.add_rule(by=system, collaborative=collab, kind="level", threshold=4),
        alerts.add_rule(by=system, collaborative=collab, kind="system_level", threshold=3),
        alerts.add_rule(by=system, collaborative=collab, kind="overdue"),
    ]
    alerts.subscribe(by=coordinator, rule=rules[0])
    alerts.subscribe(by=coordinator, rule=rules[1])
    opened = alerts.evaluate(organisation_ids=[m.pk for m in members]).opened
    opened += alerts.evaluate_collaboratives(collaborative_ids=[collab.pk]).opened
    alerts.tell(alert_ids=opened)


def _figure(text: str | None) -> float | None:
    try:
        value = float(text or "")
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _declare_opel(
    members: list[Organisation], rows: list[dict[str, str]], shift: timedelta
) -> None:
    """Each trust declares the demo's OPEL level for each day of the (shifted) sitrep, from
    that day's G&A occupancy and handovers over 60 minutes, as the trust would: one report
    per trust through the reporting action."""
    from flotilla.reporting.importers.sitrep import as_of

    by_code = {o.code: o for o in members}
    # A trust and day the file gives twice takes its last row with figures: a row without
    # them (the file repeats its last week empty) yields to one with them, as in the import.
    levels: dict[tuple[str, date], int] = {}
    for r in rows:
        if r["Code"] not in by_code:
            continue
        occupied, open_ = _figure(r.get("G&A beds occ'd")), _figure(r.get("G&A Beds Open"))
        occupancy = occupied / open_ if occupied is not None and open_ else None
        level = declared_opel(occupancy, _figure(r.get("Delays60")))
        key = (r["Code"], date.fromisoformat(r["Date"]) + shift)
        if level is not None:
            levels[key] = level
    cells: dict[str, list[CellIn]] = {}
    for (code, day), level in sorted(levels.items()):
        org = by_code[code]
        cells.setdefault(code, []).append(
            CellIn(org.pk, None, "opel_declared", as_of(day), value=float(level))
        )
    for code, org_cells in sorted(cells.items()):
        record_report(
            by=Principal(
                label=f"system:demo, declaring for {code}", organisation_id=by_code[code].pk
            ),
            organisation_id=by_code[code].pk,
            source=Source.DEMO,
            cells=org_cells,
            reference="OPEL levels derived by the demo from the day's published figures",
        )


SYNTHETIC_TRUSTS = [
    (
        "ZZA",
        "Northby Hospitals NHS Trust",
        920,
        38,
        ["ZZA01 Northby General", "ZZA02 Northby Royal Infirmary"],
    ),
    (
        "ZZB",
        "Eastmoor University Hospitals NHS Foundation Trust",
        1310,
        56,
        ["ZZB01 Eastmoor City Hospital"],
    ),
    (
        "ZZC",
        "Westdale and Fell NHS Trust",
        640,
        22,
        ["ZZC01 Westdale Hospital", "ZZC02 Fell Community Hospital"],
    ),
    (
        "ZZD",
        "South Carr Teaching Hospitals NHS Foundation Trust",
        1105,
        44,
        ["ZZD01 South Carr Hospital"],
    ),
    ("ZZE", "Harbour Bay NHS Foundation Trust", 530, 16, ["ZZE01 Harbour Bay Hospital"]),
    ("ZZF", "Riverside and Vale Hospitals NHS Trust", 780, 28, ["ZZF01 Riverside Hospital"]),
]


def _load_synthetic(today: date, days: int = 120, seed: int = 20261126) -> dict[str, Any]:
    """A fictional system whose occupancy follows a winter: a rise, a January peak, weekly dips."""
    rng = random.Random(seed)
    tz = timezone.get_current_timezone()
    with transaction.atomic():
        orgs = []
        for code, name, ga, cc, sites in SYNTHETIC_TRUSTS:
            org = organisations_actions.register_organisation(
                by=DEMO, code=code, name=name, kind=OrganisationKind.ACUTE
            )
            for s in sites:
                scode, sname = s.split(" ", 1)
                organisations_actions.register_site(
                    by=DEMO, code=scode, name=sname, organisation=org
                )
            orgs.append((org, ga, cc))
        system_org = organisations_actions.register_organisation(
            by=DEMO,
            code="ZZQ",
            name="Vale Integrated Care Board (system coordination centre)",
            kind=OrganisationKind.COMMISSIONER,
        )
        members = [o for o, _, _ in orgs]
        collab = _collaborative(
            members[0],
            [*members, system_org],
            "Vale winter system (synthetic)",
            "Keep every emergency department in the Vale flowing this winter.",
        )
        total = 0
        for org, ga, cc in orgs:
            cells = []
            base = rng.uniform(0.86, 0.93)
            for d in range(days):
                day = today - timedelta(days=days - 1 - d)
                as_of = datetime.combine(day, time(8, 0), tz)
                season = 0.05 * math.exp(-(((d - days * 0.45) / (days * 0.2)) ** 2))
                weekly = -0.02 if day.weekday() in (5, 6) else 0.0
                occ = min(1.02, base + season + weekly + rng.gauss(0, 0.012))
                opn = ga + rng.randint(-15, 15)
                cc_open = cc + rng.randint(-2, 2)
                values = {
                    "ga_open": opn,
                    "ga_occupied": round(opn * occ),
                    "cc_adult_open": cc_open,
                    "cc_adult_occupied": min(
                        cc_open + 2, round(cc_open * min(1.0, occ - 0.1 + rng.gauss(0, 0.05)))
                    ),
                    "handover_30_60": max(0, round(rng.gauss(12 + 60 * season, 4))),
                    "handover_over_60": max(0, round(rng.gauss(4 + 50 * season, 3))),
                    "nctr": max(0, round(rng.gauss(opn * 0.12, 8))),
                }
                if rng.random() < 0.03:
                    cells.append(
                        CellIn(
                            org.pk, None, "handover_over_60", as_of, missing_reason="not_reported"
                        )
                    )
                    values.pop("handover_over_60")
                values["opel_declared"] = declared_opel(
                    values["ga_occupied"] / opn, values.get("handover_over_60")
                )
                cells += [CellIn(org.pk, None, k, as_of, value=float(v)) for k, v in values.items()]
            total += record_report(
                by=DEMO, organisation_id=org.pk, source=Source.DEMO, cells=cells
            ).created
        _users(collab, members[0], members[1], system_org)
        _grants(collab, members)
        exchange = aid.load(collab, members[1], members, password=DEMO_PASSWORD, demo=DEMO)
        on_call = directory.load([*members, system_org])
    levels = _levels(collab, members)
    forecasts = _forecasts(members)
    _alert_rules(collab, members)
    work = coordination.load(collab, members, system_org)
    return {
        "kind": "synthetic",
        "levels": levels,
        "forecasts": forecasts,
        "collaborative": collab.slug,
        "organisations": len(members),
        "values": total,
        "aid": exchange,
        "on_call": on_call,
        "log_items": work,
    }
