"""Build the demo collaborative: real trusts from a published winter, or a synthetic system.

The real demo takes one NHS England region's acute trusts from the 2021-22 winter sitrep,
shifts every date so that the last day of the winter is today, and imports the result through
the ordinary importer. Where the published data is absent, a seeded synthetic system with
fictional names and codes takes its place, with the same shapes of occupancy.
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
from django.db import transaction
from django.utils import timezone

from flotilla.audit.principals import Principal
from flotilla.registry import actions as registry
from flotilla.registry.models import Collaborative, Organisation, OrganisationKind, Role
from flotilla.reporting.actions import record_report
from flotilla.reporting.models import Source
from flotilla.reporting.validation import CellIn

DEMO = Principal.system("demo")
DEMO_PASSWORD = "flotilla-demo-2026"
DEMO_REGION = "Y63"  # North East and Yorkshire
SITREP = "nhse-winter-sitreps/sitrep2122.csv"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    organisation: str


def demo_logins() -> list[DemoLogin]:
    from flotilla.registry.models import Membership

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


def load(*, data_dir: Path | None = None, today: date | None = None) -> dict[str, Any]:
    """Load the demo; returns what was loaded. Real data where present, else synthetic."""
    data_dir = Path(data_dir or settings.DATA_DIR)
    today = today or timezone.localdate()
    if (data_dir / SITREP).exists() and (data_dir / "reference/england").is_dir():
        return _load_real(data_dir, today)
    return _load_synthetic(today)


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
        user = registry.create_user(by=DEMO, username=username, password=DEMO_PASSWORD)
        registry.set_membership(by=DEMO, user=user, organisation=org, role=role)


def _collaborative(
    founder: Organisation, members: list[Organisation], name: str, purpose: str
) -> Collaborative:
    # The demo's address starts "demo-" so that links in the docs work.
    collab = registry.create_collaborative(
        by=DEMO,
        organisation=founder,
        name=name,
        purpose=purpose,
        reporting_interval_hours=24,
        slug=f"demo-{name}",
    )
    inviter = registry.create_user(by=DEMO, username="demo-founder", password=DEMO_PASSWORD)
    registry.set_membership(by=DEMO, user=inviter, organisation=founder, role=Role.ORG_ADMIN)
    for org in members:
        if org.pk == founder.pk:
            continue
        inv = registry.invite(by=inviter, collaborative=collab, organisation=org)
        registry.respond(by=DEMO, invitation=inv, accept=True)
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
    from flotilla.registry.reference import load_reference
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
        system_org = registry.register_organisation(
            by=DEMO,
            code="QHM",
            name="North East and North Cumbria ICB (system coordination centre)",
            kind=OrganisationKind.OTHER,
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
        _users(collab, members[0], members[1], system_org)
        _grants(collab, members)
    return {
        "kind": "real",
        "collaborative": collab.slug,
        "organisations": len(members),
        "shifted_days": shift.days,
        "values": getattr(outcome, "created", None),
    }


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
            org = registry.register_organisation(
                by=DEMO, code=code, name=name, kind=OrganisationKind.ACUTE
            )
            for s in sites:
                scode, sname = s.split(" ", 1)
                registry.register_site(by=DEMO, code=scode, name=sname, organisation=org)
            orgs.append((org, ga, cc))
        system_org = registry.register_organisation(
            by=DEMO,
            code="ZZQ",
            name="Vale Integrated Care Board (system coordination centre)",
            kind=OrganisationKind.OTHER,
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
                    "opel_declared": 4 if occ > 0.97 else 3 if occ > 0.94 else 2,
                }
                if rng.random() < 0.03:
                    cells.append(
                        CellIn(
                            org.pk, None, "handover_over_60", as_of, missing_reason="not_reported"
                        )
                    )
                    values.pop("handover_over_60")
                cells += [CellIn(org.pk, None, k, as_of, value=float(v)) for k, v in values.items()]
            total += record_report(
                by=DEMO, organisation_id=org.pk, source=Source.DEMO, cells=cells
            ).created
        _users(collab, members[0], members[1], system_org)
        _grants(collab, members)
    return {
        "kind": "synthetic",
        "collaborative": collab.slug,
        "organisations": len(members),
        "values": total,
    }
