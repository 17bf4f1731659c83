"""Load England's reference data (regions, ICSs, trusts, sites, mergers): one audited transaction.

Reads `DATA_DIR/reference/england/`:

- ``ods_etr_trust_list_noheader.csv`` — the ODS trust extract, no header. Columns used
  (1-based): 1 code, 2 name, 3 NHS England region (``Y56``–``Y63``; ``W00`` is Wales),
  4 ICB/STP code, 10 postcode, 11 open date, 12 close date (``YYYYMMDD``).
- ``nhs_trusts22_points.csv`` — the 2022 acute trusts with their coordinates.
- ``nhs_uk_hospitals.csv`` — hospital sites with their parent organisation.
- ``trust_mergers.csv`` — old code → new code (UTF-8 with a byte-order mark).

Decisions:

- **Regions**: the seven English regions, named from a fixed table (the file only carries
  codes). Wales (``W00``) is not an NHS England region: Welsh trusts are registered with no
  region and no ICS.
- **Integrated care systems**: the file carries codes only, so a new ICS is created with its
  code as its name (``QOP``); a name set later by a person is kept on re-load. Its region is
  the region most of its trusts are in.
- **Names** in capitals are title-cased (``NHS`` stays upper case, ``and``/``of``/``the``…
  lower case, ``Guy's`` not ``Guy'S``); names already in mixed case are kept.
- **Kind** is inferred, in this order: ``AMBULANCE`` in the name → ambulance; a code in
  `KNOWN_KINDS` (trusts whose names do not say what they are: Oxford Health, Oxleas, South
  London and Maudsley, Tees, Esk and Wear Valleys…) → that kind; listed in
  ``nhs_trusts22_points.csv`` (the acute trusts) → acute; a parent of a site whose
  ``SubType`` is ``Mental Health Hospital`` in ``nhs_uk_hospitals.csv`` → mental health;
  ``COMMUNITY``, ``CARE SERVICES`` or ``HEALTH AND CARE`` → community; ``MENTAL HEALTH``,
  ``PARTNERSHIP``, ``COMBINED HEALTHCARE`` or a "<Name> CARE NHS" name (Mersey Care, Pennine
  Care) → mental health; anything else → acute (the specialist acute trusts: children's,
  cancer, heart, orthopaedic, eye). Trusts that run both mental-health and community services
  are classed by their inpatient beds, which are mental-health beds. A parent organisation of
  a site that is not in the ODS list is registered from ``ParentName``: independent if the
  site's sector is ``Independent Sector``, otherwise other. Commissioners (ICBs) are not in
  these files; they are registered as kind commissioner by whoever adds them.
- **Coordinates** of a trust come from the acute-trust points file; they are only set where
  the file has them (a value entered otherwise is not wiped).
- **Mergers** set ``successor`` on the old code (creating the old code, named by its code,
  if absent). An old code with no close date in the ODS list is closed the day before the
  merger took effect.

Every change goes through `organisations.actions.register_organisation` / `register_site` (which
audit and do nothing when nothing changed), or is audited here for regions and ICSs, all
inside one transaction: a failed load leaves the database as it was, and a second load of
the same files writes nothing.
"""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from django.db import transaction

from flotilla.audit import actions as audit
from flotilla.audit.models import AuditEvent
from flotilla.organisations import actions as organisations_actions
from flotilla.organisations.models import (
    IntegratedCareSystem,
    Organisation,
    OrganisationKind,
    Region,
)

REGION_NAMES: dict[str, str] = {
    "Y56": "London",
    "Y58": "South West",
    "Y59": "South East",
    "Y60": "Midlands",
    "Y61": "East of England",
    "Y62": "North West",
    "Y63": "North East and Yorkshire",
}
#: The ODS "national grouping" code for Wales, and the ICB-column code its trusts carry.
WALES_CODES = {"W00", "Q99"}

_SMALL_WORDS = {"and", "of", "for", "the", "upon", "on", "in", "at", "by", "with"}
_UPPER_WORDS = {"NHS", "UK", "ICB", "CIC", "LLP", "PLC"}


class ReferenceDataError(Exception):
    """The reference files are missing or unreadable."""


def title_case(name: str) -> str:
    """'GUY'S AND ST THOMAS' NHS FOUNDATION TRUST' → "Guy's and St Thomas' NHS Foundation Trust"."""
    name = " ".join(name.split())
    if name != name.upper():
        return name
    words = []
    for i, word in enumerate(name.split(" ")):
        bare = word.strip(",.()&")
        if bare in _UPPER_WORDS:
            words.append(word)
        elif i > 0 and word.lower() in _SMALL_WORDS:
            words.append(word.lower())
        else:
            words.append("-".join(part[:1].upper() + part[1:].lower() for part in word.split("-")))
    return " ".join(words)


_CARE_NAME = re.compile(r"^[A-Z]+ CARE NHS")

_MH, _COMMUNITY = OrganisationKind.MENTAL_HEALTH, OrganisationKind.COMMUNITY
#: Trusts in the ODS list whose names do not say what kind they are, by code.
KNOWN_KINDS: dict[str, str] = {
    "R1A": _MH,  # Worcestershire Health and Care (mental health and community)
    "R1C": _COMMUNITY,  # Solent
    "RAT": _MH,  # North East London
    "RDY": _MH,  # Dorset HealthCare University
    "RHA": _MH,  # Nottinghamshire Healthcare
    "RKL": _MH,  # West London NHS Trust
    "RMY": _MH,  # Norfolk and Suffolk
    "RNK": _MH,  # Tavistock and Portman
    "RNU": _MH,  # Oxford Health
    "RP1": _MH,  # Northamptonshire Healthcare
    "RPG": _MH,  # Oxleas
    "RT1": _MH,  # Cambridgeshire and Peterborough
    "RTQ": _MH,  # Gloucestershire Health and Care (mental health and community)
    "RTV": _MH,  # North West Boroughs Healthcare
    "RV3": _MH,  # Central and North West London
    "RV5": _MH,  # South London and Maudsley
    "RV9": _MH,  # Humber Teaching
    "RW1": _MH,  # Southern Health
    "RW5": _MH,  # Lancashire & South Cumbria
    "RWK": _MH,  # East London
    "RWX": _MH,  # Berkshire Healthcare
    "RX3": _MH,  # Tees, Esk and Wear Valleys
    "RX4": _MH,  # Cumbria, Northumberland, Tyne and Wear
    "RXE": _MH,  # Rotherham Doncaster and South Humber
    "RXM": _MH,  # Derbyshire Healthcare
    "RYT": OrganisationKind.OTHER,  # Public Health Wales
}


def infer_kind(
    name: str, *, acute_listed: bool, code: str = "", mental_health_sites: bool = False
) -> str:
    """The organisation kind from what the reference files say of it (see the module
    docstring): its name, its code, whether it is in the acute-trust list, and whether it
    runs a site listed as a mental-health hospital."""
    upper = name.upper()
    if "AMBULANCE" in upper:
        return OrganisationKind.AMBULANCE
    if code.upper() in KNOWN_KINDS:
        return KNOWN_KINDS[code.upper()]
    if acute_listed:
        return OrganisationKind.ACUTE
    if mental_health_sites:
        return OrganisationKind.MENTAL_HEALTH
    if any(w in upper for w in ("COMMUNITY", "CARE SERVICES", "HEALTH AND CARE")):
        return OrganisationKind.COMMUNITY
    if any(
        w in upper for w in ("MENTAL HEALTH", "PARTNERSHIP", "COMBINED HEALTHCARE")
    ) or _CARE_NAME.match(upper):
        return OrganisationKind.MENTAL_HEALTH
    return OrganisationKind.ACUTE


def _ods_date(text: str) -> date | None:
    text = text.strip()
    return datetime.strptime(text, "%Y%m%d").date() if text else None


def _float(text: str) -> float | None:
    text = (text or "").strip()
    return float(text) if text else None


@dataclass
class _Plan:
    """What the files say, before anything is written."""

    regions: dict[str, str] = field(default_factory=dict)
    ics_regions: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    organisations: dict[str, dict[str, Any]] = field(default_factory=dict)
    parents: dict[str, dict[str, Any]] = field(default_factory=dict)
    sites: list[dict[str, Any]] = field(default_factory=list)
    mergers: list[tuple[str, str, date]] = field(default_factory=list)
    welsh: int = 0


def _read(data_dir: Path) -> _Plan:
    folder = Path(data_dir) / "reference" / "england"
    files = {
        "ods": folder / "ods_etr_trust_list_noheader.csv",
        "points": folder / "nhs_trusts22_points.csv",
        "sites": folder / "nhs_uk_hospitals.csv",
        "mergers": folder / "trust_mergers.csv",
    }
    absent = [str(p) for p in files.values() if not p.is_file()]
    if absent:
        raise ReferenceDataError(f"reference files not found: {', '.join(absent)}")
    plan = _Plan()
    with files["points"].open(encoding="utf-8-sig", newline="") as fh:
        points = {
            r["nhs_trust22_code"].strip().upper(): (float(r["latitude"]), float(r["longitude"]))
            for r in csv.DictReader(fh)
        }
    with files["sites"].open(encoding="utf-8-sig", newline="") as fh:
        mental_health_parents = {
            r["ParentODSCode"].strip().upper()
            for r in csv.DictReader(fh)
            if r["SubType"].strip() == "Mental Health Hospital"
        }
    with files["ods"].open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.reader(fh):
            if not row or not row[0].strip():
                continue
            code, raw_name, region, ics = (c.strip().upper() for c in row[:4])
            raw_name = row[1].strip()
            welsh = region in WALES_CODES
            plan.welsh += welsh
            if not welsh:
                plan.regions.setdefault(region, REGION_NAMES.get(region, region))
                if ics and ics not in WALES_CODES:
                    plan.ics_regions[ics][region] += 1
            org: dict[str, Any] = {
                "name": title_case(raw_name),
                "kind": infer_kind(
                    raw_name,
                    acute_listed=code in points,
                    code=code,
                    mental_health_sites=code in mental_health_parents,
                ),
                "region": None if welsh else region,
                "ics": None if welsh or not ics else ics,
                "postcode": row[9].strip() if len(row) > 9 else "",
                "closed_on": _ods_date(row[11]) if len(row) > 11 else None,
            }
            if code in points:
                org["latitude"], org["longitude"] = points[code]
            plan.organisations[code] = org
    with files["sites"].open(encoding="utf-8-sig", newline="") as fh:
        for r in csv.DictReader(fh):
            parent = r["ParentODSCode"].strip().upper()
            if parent not in plan.organisations and parent not in plan.parents:
                independent = r["Sector"].strip() == "Independent Sector"
                plan.parents[parent] = {
                    "name": title_case(r["ParentName"].strip()) or parent,
                    "kind": OrganisationKind.INDEPENDENT if independent else OrganisationKind.OTHER,
                }
            plan.sites.append(
                {
                    "code": r["OrganisationCode"].strip().upper(),
                    "name": " ".join(r["OrganisationName"].split()),
                    "parent": parent,
                    "postcode": r["Postcode"].strip(),
                    "latitude": _float(r["Latitude"]),
                    "longitude": _float(r["Longitude"]),
                }
            )
    with files["mergers"].open(encoding="utf-8-sig", newline="") as fh:
        for r in csv.DictReader(fh):
            old, new = r["trust_code_old"].strip().upper(), r["trust_code_new"].strip().upper()
            if old and new:
                plan.mergers.append((old, new, date.fromisoformat(r["from_date"].strip())))
    return plan


def _ensure_region(by: Any, code: str, name: str) -> Region:
    region: Region = audit.register(
        by=by,
        model=Region,
        key={"code": code},
        values={"name": name},
        snapshot=lambda r: {"code": r.code, "name": r.name},
        noun="organisations.region",
    )
    return region


def _ensure_ics(by: Any, code: str, region: Region | None) -> IntegratedCareSystem:
    ics: IntegratedCareSystem = audit.register(
        by=by,
        model=IntegratedCareSystem,
        key={"code": code},
        values={"region": region},
        on_create={"name": code},
        snapshot=lambda i: {"code": i.code, "name": i.name, "region": i.region_id},
        noun="organisations.ics",
    )
    return ics


def load_reference(*, by: Any, data_dir: Path | str) -> dict[str, Any]:
    """Bring regions, ICSs, organisations, sites and mergers in line with the reference files.

    Returns a summary: how many of each the files hold, and the audit events written by
    action (empty when nothing changed).
    """
    plan = _read(Path(data_dir))
    with transaction.atomic():
        first_event = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        regions = {code: _ensure_region(by, code, name) for code, name in plan.regions.items()}
        icss = {
            code: _ensure_ics(by, code, regions.get(counts.most_common(1)[0][0]))
            for code, counts in plan.ics_regions.items()
        }
        merged_into = {old: (new, when) for old, new, when in plan.mergers}
        orgs: dict[str, Organisation] = {}
        for code, values in plan.organisations.items():
            values = dict(values)
            values["region"] = regions.get(values["region"]) if values["region"] else None
            values["ics"] = icss.get(values["ics"]) if values["ics"] else None
            if code in merged_into and values["closed_on"] is None:
                values["closed_on"] = merged_into[code][1] - timedelta(days=1)
            orgs[code] = organisations_actions.register_organisation(by=by, code=code, **values)
        for code, values in plan.parents.items():
            existing = Organisation.objects.filter(code=code).first()
            if existing is None:
                orgs[code] = organisations_actions.register_organisation(by=by, code=code, **values)
            else:  # registered by someone else (e.g. a sitrep import): leave it as it is
                orgs[code] = existing
        for site in plan.sites:
            organisations_actions.register_site(
                by=by,
                code=site["code"],
                name=site["name"],
                organisation=orgs[site["parent"]],
                postcode=site["postcode"],
                latitude=site["latitude"],
                longitude=site["longitude"],
            )
        for old, new, when in plan.mergers:
            successor = orgs.get(new) or Organisation.objects.filter(code=new).first()
            if successor is None:
                raise ReferenceDataError(f"merger {old} → {new}: {new} is not a known code")
            current = orgs.get(old) or Organisation.objects.filter(code=old).first()
            if current is None:
                orgs[old] = organisations_actions.register_organisation(
                    by=by,
                    code=old,
                    name=old,
                    kind=successor.kind,
                    region=successor.region,
                    ics=successor.ics,
                    successor=successor,
                    closed_on=when - timedelta(days=1),
                )
            else:
                orgs[old] = organisations_actions.register_organisation(
                    by=by, code=old, name=current.name, kind=current.kind, successor=successor
                )
        events = Counter(
            AuditEvent.objects.filter(id__gt=first_event).values_list("action", flat=True)
        )
    return {
        "regions": len(plan.regions),
        "integrated_care_systems": len(plan.ics_regions),
        "organisations": len(plan.organisations),
        "welsh_organisations": plan.welsh,
        "site_parents_registered_from_site_list": len(plan.parents),
        "sites": len(plan.sites),
        "mergers": len(plan.mergers),
        "changes": dict(sorted(events.items())),
    }
