"""OASIS EDXL-HAVE 2.0 out: hospital status and bed availability as one viewer may see them.

A read module: it builds the XML document for the organisations (and their sites) a viewer
asks about, and changes nothing. Every figure comes from `flotilla.sharing.policy.read_latest`
as that viewer (already delayed and coarsened to their grants, and put on the owners' access
record), and every computed escalation level from `flotilla.escalation.queries`; nothing here
reads the store itself.

What a HAVE document can say is narrower than what the policy gives: it has no "rounded to 5"
or "status only". So a count goes in only when the viewer sees it exactly, and an available
count (open − occupied, the same bed type at the same place) only when the viewer sees both
figures exactly. Otherwise the count is left out, never written as zero nor as a band's
middle, and the bed type's `CommentText` says why (not shared, shared rounded or as a status
only, not yet visible, not reported). The ED's traffic status is likewise judged only from
diverts and closures seen exactly. See docs/interoperability.md.

The schema (`schemas/edxl-have-2.0-flotilla.xsd`) is written from the specification, not the
official copy (ADR 0034).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

from flotilla import catalogue, formatting
from flotilla.collaboratives.models import Collaborative
from flotilla.collaboratives.queries import members_of
from flotilla.escalation import queries as escalation
from flotilla.organisations.models import Organisation, Site
from flotilla.sharing import policy
from flotilla.sharing.policy import Shared, Viewer, rules

NS = "urn:oasis:names:tc:emergency:EDXL:HAVE:2.0"
SCHEMA = Path(__file__).resolve().parent / "schemas" / "edxl-have-2.0-flotilla.xsd"
#: The lists the codes in a document come from (EDXL's ValueListURN).
ODS_LIST = "urn:flotilla:list:ods-code"
BED_TYPE_LIST = "urn:flotilla:list:bed-type"
OPEL_LIST = "urn:flotilla:list:opel-level"
#: The emergency department's measures HAVE has a place for: its traffic status.
ED_MEASURES = ("ed_diverts", "ed_closures")
MEDIA_TYPE = "application/xml"


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def bed_types() -> list[str]:
    """The catalogue's bed types that have both an open and an occupied measure, in order."""
    codes = {m.code for m in catalogue.current().measures}
    return [b for b in catalogue.current().bed_types if {f"{b}_open", f"{b}_occupied"} <= codes]


def measures() -> list[str]:
    """Every measure a HAVE document reads."""
    beds = [f"{b}_{s}" for b in bed_types() for s in ("open", "occupied")]
    return [*beds, *ED_MEASURES, escalation.DECLARED]


@cache
def schema() -> etree.XMLSchema:
    """Our schema of what we write (written from the specification)."""
    return etree.XMLSchema(etree.parse(str(SCHEMA), _safe_parser()))


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


# ------------------------------------------------------------------ what the viewer may see


@dataclass
class Place:
    """An organisation (site None) or one of its sites, with what the viewer sees of it."""

    organisation: Organisation
    site: Site | None
    shown: dict[str, Shared] = field(default_factory=dict)
    delayed: dict[str, int] = field(default_factory=dict)
    withheld: set[str] = field(default_factory=set)

    @property
    def has_anything(self) -> bool:
        return bool(self.shown or self.delayed)


@dataclass
class Level:
    level: int
    source: str
    as_of: datetime


def _read(viewer: Viewer, organisations: list[Organisation]) -> list[Place]:
    """Each organisation and each of its sites the viewer sees something of, read through
    the policy (one read for all)."""
    ids = {o.pk for o in organisations}
    reading = policy.read_latest(viewer, None, ids, measures())
    sites = {s.pk: s for s in Site.objects.filter(organisation_id__in=ids).order_by("code")}
    places: dict[tuple[int, int | None], Place] = {}
    for org in organisations:
        places[(org.pk, None)] = Place(org, None)
    by_pk = {o.pk: o for o in organisations}

    def place(owner: int, site: int | None) -> Place | None:
        if (owner, site) not in places:
            if site not in sites:
                return None
            places[(owner, site)] = Place(by_pk[owner], sites[site])
        return places[(owner, site)]

    for v in reading.values:
        found = place(v.organisation_id, v.site_id)
        if found is not None:
            found.shown[v.measure] = v
    for (owner, site, code), hours in reading.delayed.items():
        found = place(owner, site)
        if found is not None:
            found.delayed[code] = hours
    for owner, code in reading.withheld:
        places[(owner, None)].withheld.add(code)
    ordered = []
    for org in organisations:
        ordered.append(places[(org.pk, None)])
        ordered.extend(
            p
            for (o, s), p in sorted(places.items(), key=lambda i: (i[0][0], i[0][1] or 0))
            if o == org.pk and s is not None and p.has_anything
        )
    return ordered


def _computed(seen: Iterable[escalation.Seen]) -> dict[int, Level]:
    """Organisation id → its newest computed level the viewer may see."""
    out: dict[int, Level] = {}
    for s in seen:
        c = s.computed
        if c.level is None:
            continue
        mine = out.get(c.organisation_id)
        if mine is None or c.as_of > mine.as_of:
            out[c.organisation_id] = Level(
                c.level, f"computed: {c.profile.code} {c.profile.version}", c.as_of
            )
    return out


# ------------------------------------------------------------------ the document


def _text(parent: etree._Element, name: str, value: str) -> etree._Element:
    child = etree.SubElement(parent, _q(name))
    child.text = value
    return child


def _value_key(parent: etree._Element, name: str, urn: str, value: str) -> None:
    key = etree.SubElement(parent, _q(name))
    _text(key, "ValueListURN", urn)
    _text(key, "Value", value)


def _time(t: datetime) -> str:
    return t.isoformat()


def _exact(v: Shared | None) -> bool:
    return (
        v is not None and v.detail == rules.EXACT and v.value is not None and not v.missing_reason
    )


def why_absent(place: Place, code: str) -> str | None:
    """Why the viewer has no exact figure of `code` at `place` (None: they have one)."""
    v = place.shown.get(code)
    if _exact(v):
        return None
    if code in place.withheld:
        return formatting.why_missing(withheld=True)
    if v is None:
        return formatting.why_missing(delayed=place.delayed.get(code, 0))
    if v.missing_reason or (v.value is None and v.detail == rules.EXACT):
        return "not reported" + (
            f" ({v.missing_reason.replace('_', ' ')})" if v.missing_reason else ""
        )
    if v.detail == rules.BANDED:
        return "shared with you rounded to the nearest 5, so no exact count is given"
    return "shared with you as a status only, so no count is given"


def _beds(hospital: etree._Element, place: Place) -> list[datetime]:
    """The bed types' capacity; returns the times of the figures used."""
    used: list[datetime] = []
    entries = []
    for bed in bed_types():
        open_, occupied = f"{bed}_open", f"{bed}_occupied"
        wanted = (open_, occupied)
        known = any(c in place.shown or c in place.delayed for c in wanted)
        withheld = all(c in place.withheld for c in wanted)
        if not known and not (withheld and place.site is None):
            continue
        entries.append((bed, open_, occupied))
    if not entries:
        return used
    status = etree.SubElement(hospital, _q("HospitalBedCapacityStatus"))
    for bed, open_, occupied in entries:
        entry = etree.SubElement(status, _q("BedCapacity"))
        _value_key(entry, "BedType", BED_TYPE_LIST, bed)
        capacity = etree.SubElement(entry, _q("Capacity"))
        o, c = place.shown.get(open_), place.shown.get(occupied)
        comments = []
        available = None
        if _exact(o) and _exact(c):
            assert o is not None and c is not None and o.value is not None
            assert c.value is not None
            if c.value <= o.value:
                available = int(o.value - c.value)
            else:
                comments.append("more beds reported occupied than open: no available count")
        else:
            for code, label in ((open_, "beds open"), (occupied, "beds occupied")):
                why = why_absent(place, code)
                if why:
                    comments.append(f"{label} {why}")
        if available is not None:
            _text(capacity, "CapacityStatus", "Vacant/Available" if available else "NotAvailable")
            _text(capacity, "AvailableCount", str(available))
        if _exact(o):
            assert o is not None and o.value is not None
            _text(capacity, "BaselineCount", str(int(o.value)))
            used.append(o.as_of)
        if available is not None:
            assert c is not None
            used.append(c.as_of)
        if comments:
            said = "; ".join(comments) + "."
            _text(entry, "CommentText", said[0].upper() + said[1:])
    return used


def _emergency_department(hospital: etree._Element, place: Place) -> list[datetime]:
    """The ED's traffic status, judged only from diverts and closures seen exactly."""
    if not any(c in place.shown or c in place.delayed or c in place.withheld for c in ED_MEASURES):
        return []
    ed = etree.SubElement(hospital, _q("EmergencyDepartmentStatus"))
    traffic = etree.SubElement(ed, _q("EMSTraffic"))
    diverts, closures = place.shown.get("ed_diverts"), place.shown.get("ed_closures")
    if _exact(diverts) and _exact(closures):
        assert diverts is not None and closures is not None
        assert diverts.value is not None and closures.value is not None
        d, c = int(diverts.value), int(closures.value)
        state = "Closed" if c else "Advisory" if d else "Normal"
        _text(traffic, "EMSTrafficStatus", state)
        _text(traffic, "EMSTrafficReason", f"{c} closures and {d} diverts reported.")
        return [diverts.as_of, closures.as_of]
    reasons = [
        f"{label} {why}"
        for code, label in (("ed_closures", "closures"), ("ed_diverts", "diverts"))
        if (why := why_absent(place, code))
    ]
    _text(traffic, "EMSTrafficReason", ("No traffic status: " + "; ".join(reasons) + "."))
    return []


def _hospital(root: etree._Element, place: Place, computed: Level | None) -> None:
    hospital = etree.SubElement(root, _q("Hospital"))
    org, site = place.organisation, place.site
    where = site or org
    organization = etree.SubElement(hospital, _q("Organization"))
    info = etree.SubElement(organization, _q("OrganizationInformation"))
    _text(info, "OrganizationName", where.name)
    _value_key(info, "OrganizationID", ODS_LIST, where.code)
    if site is not None:
        _value_key(info, "ParentOrganizationID", ODS_LIST, org.code)
    if where.latitude is not None and where.longitude is not None:
        geo = etree.SubElement(organization, _q("OrganizationGeoLocation"))
        _text(geo, "Latitude", f"{where.latitude:.6f}")
        _text(geo, "Longitude", f"{where.longitude:.6f}")
    times: list[datetime] = []
    levels = []
    declared = place.shown.get(escalation.DECLARED)
    if declared is not None and declared.value is not None and not declared.missing_reason:
        levels.append(Level(int(declared.value), "declared", declared.as_of))
    if computed is not None and site is None:
        levels.append(computed)
    if levels:
        status = etree.SubElement(hospital, _q("OrganizationStatus"))
        for level in levels:
            entry = etree.SubElement(status, _q("EscalationLevel"))
            _value_key(entry, "LevelCode", OPEL_LIST, str(level.level))
            _text(entry, "LevelSource", level.source)
            _text(entry, "AsOfTime", _time(level.as_of))
            times.append(level.as_of)
    times += _emergency_department(hospital, place)
    times += _beds(hospital, place)
    if times:
        _text(hospital, "LastUpdateTime", _time(max(times)))


def build(viewer: Viewer, organisations: list[Organisation], computed: dict[int, Level]) -> bytes:
    """The HAVE document for these organisations (and their sites) as the viewer sees them."""
    root = etree.Element(_q("HospitalStatus"), nsmap={None: NS})
    for place in _read(viewer, organisations):
        _hospital(root, place, computed.get(place.organisation.pk))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def for_collaborative(viewer: Viewer, collaborative: Collaborative) -> bytes:
    """Every member of a collaborative the viewer opened (`find_collaborative`)."""
    levels = escalation.collaborative_levels(viewer, collaborative)
    return build(viewer, members_of(collaborative), _computed(levels.members.values()))


def for_organisation(viewer: Viewer, organisation: Organisation) -> bytes:
    """One organisation (one the viewer may read: `policy.get_organisation`) and its sites."""
    levels = escalation.levels_of(viewer, organisation)
    return build(viewer, [organisation], _computed(levels))


def validate(document: bytes) -> list[str]:
    """What is wrong with a document against our HAVE schema (empty: valid)."""
    try:
        tree = etree.fromstring(document, _safe_parser())
    except etree.XMLSyntaxError as exc:
        return [str(exc)]
    checker = schema()
    if checker.validate(tree):
        return []
    return [f"line {e.line}: {e.message}" for e in checker.error_log]


def parsed(document: bytes) -> Any:
    """A document read back safely (for tests and tools)."""
    return etree.fromstring(document, _safe_parser())
