"""Add organisations and sites to the registry from a reference file of our own layout.

For organisations and sites outside England (Welsh health boards and hospitals, a US state's
hospitals), which England's published lists (`reference.py`) do not hold. A CSV (UTF-8, a
byte-order mark is fine) with a header row; columns by name, in any order:

- ``code`` (required): the organisation's or site's code (ODS code where there is one);
- ``name`` (required);
- ``kind``: an organisation kind (``acute``, ``mental_health``, ``community``, ``ambulance``,
  ``independent``, ``social_care``, ``commissioner``, ``other``); required for an
  organisation, left empty for a site;
- ``region``: a region code (``W``, ``Y56``…); a code not yet known is registered, named from
  ``region_name`` (or its code);
- ``region_name``: optional, see above;
- ``latitude``, ``longitude``: decimal degrees, both or neither;
- ``postcode``: optional;
- ``parent_code``: when present, the row is a **site** of that organisation (in the file,
  earlier or later, or already in the registry);
- ``aliases``: other names the organisation goes by in published files, separated by ``|``
  (organisations only).

Whole or nothing: every problem is listed (row = the line in the file, the header is line 1,
and the column), and nothing is written unless there is none. Every write goes through
`organisations.actions` (audited, and nothing written when nothing changed), so loading the
same file again changes nothing. A blank cell never wipes what the registry holds.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction

from flotilla.audit.models import AuditEvent
from flotilla.organisations import actions
from flotilla.organisations.models import Organisation, OrganisationKind, Region

REQUIRED = ("code", "name")
KNOWN = (
    "code",
    "name",
    "kind",
    "region",
    "region_name",
    "latitude",
    "longitude",
    "postcode",
    "parent_code",
    "aliases",
)


@dataclass(frozen=True)
class RegistryProblem:
    message: str
    column: str = ""
    row: int | None = None

    def __str__(self) -> str:
        where = [f"row {self.row}"] if self.row else []
        if self.column:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class RegistryFileError(Exception):
    """The file has problems and nothing was written; `problems` says where."""

    def __init__(self, problems: list[RegistryProblem]):
        super().__init__(f"{len(problems)} problem(s), nothing loaded")
        self.problems = problems


@dataclass
class _Row:
    line: int
    code: str
    name: str
    kind: str
    region: str
    region_name: str
    latitude: float | None
    longitude: float | None
    postcode: str
    parent: str
    aliases: list[str] = field(default_factory=list)


def _number(text: str, low: float, high: float) -> float | None:
    text = text.strip()
    if not text:
        return None
    value = float(text)  # ValueError for the caller
    if not low <= value <= high:
        raise ValueError(text)
    return value


def read(text: str) -> list[_Row]:
    """The rows of a registry file, or `RegistryFileError` listing every problem."""
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    problems: list[RegistryProblem] = []
    header = [h.strip().lower() for h in next(reader, [])]
    absent = [c for c in REQUIRED if c not in header]
    if absent:
        raise RegistryFileError([RegistryProblem(f"missing column(s): {', '.join(absent)}", row=1)])
    for name in header:
        if name and name not in KNOWN:
            problems.append(
                RegistryProblem(f"unknown column (expected {', '.join(KNOWN)})", name, 1)
            )
    rows: list[_Row] = []
    seen: dict[str, int] = {}
    in_file: set[str] = set()
    kinds = set(OrganisationKind.values)
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if "\x00" in "".join(cells):
            problems.append(RegistryProblem("contains a NUL character", row=line))
            continue
        if len(cells) > len(header):
            problems.append(
                RegistryProblem(f"{len(cells)} cells but the header has {len(header)}", row=line)
            )
            continue
        get = dict(zip(header, [c.strip() for c in cells], strict=False)).get
        code, name = (get("code") or "").upper(), " ".join((get("name") or "").split())
        parent = (get("parent_code") or "").upper()
        if not parent:
            in_file.add(code)  # even if the row is refused: its sites are not wrong too
        kind = get("kind") or ""
        before = len(problems)
        if not code:
            problems.append(RegistryProblem("no code", "code", line))
        elif len(code) > 10:
            problems.append(RegistryProblem(f"{code!r} is longer than 10 characters", "code", line))
        elif code in seen:
            problems.append(RegistryProblem(f"{code} is also in row {seen[code]}", "code", line))
        if not name:
            problems.append(RegistryProblem("no name", "name", line))
        if parent:
            if kind:
                problems.append(
                    RegistryProblem("a site (with a parent_code) has no kind", "kind", line)
                )
            if get("aliases"):
                problems.append(
                    RegistryProblem("aliases are kept for organisations only", "aliases", line)
                )
        elif kind not in kinds:
            problems.append(
                RegistryProblem(
                    f"{kind!r} is not a kind ({', '.join(sorted(kinds))})" if kind else "no kind",
                    "kind",
                    line,
                )
            )
        coords: list[float | None] = []
        for column, low, high in (("latitude", -90, 90), ("longitude", -180, 180)):
            try:
                coords.append(_number(get(column) or "", low, high))
            except ValueError:
                problems.append(
                    RegistryProblem(
                        f"{get(column)!r} is not a number from {low} to {high}", column, line
                    )
                )
                coords.append(None)
        if (coords[0] is None) != (coords[1] is None) and len(problems) == before:
            problems.append(
                RegistryProblem("give both latitude and longitude, or neither", "", line)
            )
        region = (get("region") or "").upper()
        if len(region) > 10:
            problems.append(
                RegistryProblem(f"{region!r} is longer than 10 characters", "region", line)
            )
        if len(problems) > before:
            continue
        seen[code] = line
        aliases = [" ".join(a.split()) for a in (get("aliases") or "").split("|") if a.strip()]
        rows.append(
            _Row(
                line,
                code,
                name,
                kind,
                region,
                get("region_name") or "",
                coords[0],
                coords[1],
                get("postcode") or "",
                parent,
                aliases,
            )
        )
    known = in_file
    registered = set(
        Organisation.objects.filter(code__in={r.parent for r in rows if r.parent}).values_list(
            "code", flat=True
        )
    )
    for r in rows:
        if r.parent and r.parent not in known and r.parent not in registered:
            problems.append(
                RegistryProblem(
                    f"{r.parent} is neither an organisation in this file nor in the registry",
                    "parent_code",
                    r.line,
                )
            )
    if problems:
        raise RegistryFileError(problems)
    return rows


def load_registry_file(*, by: Any, path: Path | str) -> dict[str, Any]:
    """Register the file's organisations, sites, regions and aliases in one transaction.

    Returns how many of each the file holds and the audit events written, by action (none
    when the registry already says everything the file says).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise RegistryFileError(
            [RegistryProblem(f"not UTF-8 text (byte {exc.start})", row=1)]
        ) from None
    rows = read(text)
    with transaction.atomic():
        first = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        regions: dict[str, Region] = {}
        for r in rows:
            if r.region and r.region not in regions:
                existing = Region.objects.filter(code=r.region).first()
                regions[r.region] = existing or actions.register_region(
                    by=by, code=r.region, name=r.region_name or r.region
                )
        orgs: dict[str, Organisation] = {}
        for r in rows:
            if r.parent:
                continue
            fields: dict[str, Any] = {}
            if r.region:
                fields["region"] = regions[r.region]
            if r.latitude is not None:
                fields["latitude"], fields["longitude"] = r.latitude, r.longitude
            if r.postcode:
                fields["postcode"] = r.postcode
            org = actions.register_organisation(
                by=by, code=r.code, name=r.name, kind=r.kind, **fields
            )
            orgs[r.code] = org
            for alias in r.aliases:
                actions.add_organisation_alias(by=by, organisation=org, name=alias)
        for r in rows:
            if not r.parent:
                continue
            parent = orgs.get(r.parent) or Organisation.objects.get(code=r.parent)
            site_fields: dict[str, Any] = {}
            if r.latitude is not None:
                site_fields["latitude"], site_fields["longitude"] = r.latitude, r.longitude
            if r.postcode:
                site_fields["postcode"] = r.postcode
            actions.register_site(
                by=by, code=r.code, name=r.name, organisation=parent, **site_fields
            )
        events = Counter(AuditEvent.objects.filter(id__gt=first).values_list("action", flat=True))
    return {
        "organisations": sum(1 for r in rows if not r.parent),
        "sites": sum(1 for r in rows if r.parent),
        "aliases": sum(len(r.aliases) for r in rows),
        "changes": dict(sorted(events.items())),
    }
