"""OASIS EDXL-RM 1.0 in and out for the mutual-aid exchange.

**Out** (`thread`): an aid request and what became of it, as the messages of EDXL-RM, oldest
first, in one `ResourceMessages` envelope (Flotilla's, not part of RM):

- the request: `RequestResource`;
- each offer answering it: `ResponseToRequestResource` (a standing offer alone:
  `OfferUnsolicitedResource`, see `offer_message`);
- each commitment: `CommitResource`; each step it took afterwards (started, fulfilled,
  returned): `ReportResourceDeploymentStatus`; a release: `ReleaseResource`.

Each message has a `MessageID` (`urn:flotilla:aid:<thing>:<id>[:<step>]`), the `SentDateTime`
of the step, its `MessageContentType`, the thread's first message as `OriginatingMessageID`
and the message it follows on as `PrecedingMessageID`. Only what the viewer may see goes in:
requests, offers and commitments come from `flotilla.exchange.queries` alone.

What RM has no element for is carried as RM `Keyword`s (a value list and its values):
the collaborative, the site, urgency, reach, transport, a duration, a maximum distance, and
each of the kind's details (`urn:flotilla:aid-detail:<name>`).

**In** (`import_message`): one `RequestResource` or `OfferUnsolicitedResource`, read with a
parser that resolves no entities, loads no DTD and fetches nothing (a document with a DTD is
refused before parsing), checked against our schema, then made through
`flotilla.exchange.actions` for the importing organisation, through
`flotilla.interop.actions.import_once` so that the same `MessageID` imported twice changes
nothing. Errors name the element by its path.

The schema (`schemas/edxl-rm-1.0-flotilla.xsd`) is written from the specification, not the
official copy (ADR 0034).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from django.utils.dateparse import parse_datetime
from lxml import etree

from flotilla.collaboratives.queries import collaboratives_of
from flotilla.exchange import actions as exchange
from flotilla.exchange import kinds, queries
from flotilla.exchange.models import (
    AidRequest,
    Commitment,
    CostRecovery,
    Offer,
    Reach,
    Transport,
    Urgency,
)
from flotilla.interop import actions
from flotilla.organisations.models import Organisation, Site
from flotilla.sharing.policy import Viewer

NS = "urn:oasis:names:tc:emergency:EDXL:RM:1.0:msg"
SCHEMA = Path(__file__).resolve().parent / "schemas" / "edxl-rm-1.0-flotilla.xsd"
#: The longest message imported, in characters (the OpenAPI document's `maxLength`).
MAX_CHARACTERS = 256 * 1024

KIND_LIST = "urn:flotilla:list:aid-kind"
COLLABORATIVE_LIST = "urn:flotilla:list:collaborative"
SITE_LIST = "urn:flotilla:list:site"
URGENCY_LIST = "urn:flotilla:list:aid-urgency"
REACH_LIST = "urn:flotilla:list:aid-reach"
TRANSPORT_LIST = "urn:flotilla:list:aid-transport"
DURATION_LIST = "urn:flotilla:list:duration-hours"
DISTANCE_LIST = "urn:flotilla:list:max-distance-km"
STATE_LIST = "urn:flotilla:list:aid-state"
DETAIL_PREFIX = "urn:flotilla:aid-detail:"
#: The messages that may be imported.
IMPORTABLE = ("RequestResource", "OfferUnsolicitedResource")


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


@cache
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA), _parser()))


def message_id(thing: str, pk: int, step: str = "") -> str:
    return f"urn:flotilla:aid:{thing}:{pk}" + (f":{step}" if step else "")


# ------------------------------------------------------------------ out


def _text(parent: etree._Element, name: str, value: str) -> etree._Element:
    child = etree.SubElement(parent, _q(name))
    child.text = value
    return child


def _keyword(resource: etree._Element, urn: str, *values: str) -> None:
    if not values:
        return
    key = etree.SubElement(resource, _q("Keyword"))
    _text(key, "ValueListURN", urn)
    for v in values:
        _text(key, "Value", v)


def _detail_values(value: Any) -> list[str]:
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


@dataclass
class _Message:
    sent: datetime
    order: int
    element: etree._Element


def _message(
    content: str,
    mid: str,
    sent: datetime,
    *,
    description: str,
    origin: str | None,
    preceding: str | None,
) -> etree._Element:
    root = etree.Element(_q(content), nsmap={None: NS})
    _text(root, "MessageID", mid)
    _text(root, "SentDateTime", sent.isoformat())
    _text(root, "MessageContentType", content)
    _text(root, "MessageDescription", description[:1000])
    if origin:
        _text(root, "OriginatingMessageID", origin)
    if preceding:
        _text(root, "PrecedingMessageID", preceding)
    return root


def _contact(root: etree._Element, role: str, organisation: Organisation) -> None:
    contact = etree.SubElement(root, _q("ContactInformation"))
    _text(contact, "ContactRole", role)
    _text(contact, "OrganizationName", organisation.name)
    _text(contact, "OrganizationID", organisation.code)


def _resource_info(
    root: etree._Element,
    element_id: str,
    *,
    kind: str,
    details: dict[str, Any],
    summary: str,
    keywords: list[tuple[str, list[str]]],
    resource_id: str | None = None,
    status: str | None = None,
    response: tuple[str, str, str] | None = None,
) -> etree._Element:
    info = etree.SubElement(root, _q("ResourceInformation"))
    _text(info, "ResourceInfoElementID", element_id)
    if response is not None:
        preceding, kind_of_answer, reason = response
        answer = etree.SubElement(info, _q("ResponseInformation"))
        _text(answer, "PrecedingResourceInfoElementID", preceding)
        _text(answer, "ResponseType", kind_of_answer)
        if reason:
            _text(answer, "ResponseReason", reason[:1000])
    resource = etree.SubElement(info, _q("Resource"))
    if resource_id:
        _text(resource, "ResourceID", resource_id)
    _text(resource, "Name", kinds.KINDS[kind].label)
    structure = etree.SubElement(resource, _q("TypeStructure"))
    _text(structure, "ValueListURN", KIND_LIST)
    _text(structure, "Value", kind)
    for urn, values in keywords:
        _keyword(resource, urn, *values)
    for name, value in sorted(details.items()):
        _keyword(resource, DETAIL_PREFIX + name, *_detail_values(value))
    _text(resource, "Description", summary)
    if status:
        deployment = etree.SubElement(resource, _q("ResourceStatus"))
        key = etree.SubElement(deployment, _q("DeploymentStatus"))
        _text(key, "ValueListURN", STATE_LIST)
        _text(key, "Value", status)
    return info


def _assignment(
    info: etree._Element, quantity: int, unit: str, restrictions: str, note: str
) -> None:
    assignment = etree.SubElement(info, _q("AssignmentInformation"))
    measured = etree.SubElement(
        etree.SubElement(assignment, _q("Quantity")), _q("MeasuredQuantity")
    )
    _text(measured, "Amount", str(quantity))
    _text(measured, "UnitOfMeasure", unit)
    if restrictions:
        _text(assignment, "Restrictions", restrictions)
    if note:
        _text(assignment, "AssignmentInstructions", note)


def _schedule(info: etree._Element, kind: str, at: datetime | None, site: Site | None) -> None:
    schedule = etree.SubElement(info, _q("ScheduleInformation"))
    _text(schedule, "ScheduleType", kind)
    if at is not None:
        _text(schedule, "DateTime", at.isoformat())
    if site is not None:
        location = etree.SubElement(schedule, _q("Location"))
        _text(location, "LocationDescription", f"{site.name} ({site.code})")
        if site.latitude is not None and site.longitude is not None:
            _text(location, "Latitude", f"{site.latitude:.6f}")
            _text(location, "Longitude", f"{site.longitude:.6f}")


def request_message(request: AidRequest) -> etree._Element:
    """A request as a RequestResource: the thread's first message."""
    root = _message(
        "RequestResource",
        message_id("request", request.pk),
        request.created_at,
        description=f"{request.organisation.name} asks for help: {request.summary} "
        f"(now {request.state}).",
        origin=None,
        preceding=None,
    )
    _contact(root, "Requester", request.organisation)
    keywords = [
        (COLLABORATIVE_LIST, [request.collaborative.slug]),
        (SITE_LIST, [request.site.code]),
        (URGENCY_LIST, [request.urgency]),
        (REACH_LIST, [Reach(request.reach).name.lower()]),
    ]
    if request.max_distance_km is not None:
        keywords.append((DISTANCE_LIST, [str(request.max_distance_km)]))
    info = _resource_info(
        root,
        "1",
        kind=request.kind,
        details=request.details,
        summary=request.summary,
        keywords=keywords,
        resource_id=message_id("request", request.pk),
        status=request.state,
    )
    _assignment(info, request.quantity, kinds.KINDS[request.kind].unit, "", request.note)
    _schedule(info, "RequestedArrival", request.needed_by, request.site)
    return root


def offer_message(offer: Offer, origin: str | None = None) -> etree._Element:
    """An offer: a ResponseToRequestResource when it answers a request (`origin`: the
    request's message), else an OfferUnsolicitedResource."""
    answers = offer.request_id is not None
    content = "ResponseToRequestResource" if answers else "OfferUnsolicitedResource"
    root = _message(
        content,
        message_id("offer", offer.pk),
        offer.created_at,
        description=f"{offer.organisation.name} offers {offer.summary} (now {offer.state}).",
        origin=origin if answers else None,
        preceding=origin if answers else None,
    )
    funding = etree.SubElement(root, _q("Funding"))
    _text(funding, "FundCode", offer.cost_recovery)
    _text(funding, "FundingInfo", CostRecovery(offer.cost_recovery).label)
    _contact(root, "Offerer", offer.organisation)
    keywords = [
        (COLLABORATIVE_LIST, [offer.collaborative.slug]),
        (SITE_LIST, [offer.site.code]),
        (TRANSPORT_LIST, [offer.transport]),
        (REACH_LIST, [Reach(offer.reach).name.lower()]),
    ]
    if offer.duration_hours is not None:
        keywords.append((DURATION_LIST, [str(offer.duration_hours)]))
    response = None
    if answers:
        response = ("1", "Conditional" if offer.conditions else "Provisional", offer.reason)
    info = _resource_info(
        root,
        "1",
        kind=offer.kind,
        details=offer.details,
        summary=offer.summary,
        keywords=keywords,
        resource_id=message_id("offer", offer.pk),
        status=offer.state,
        response=response,
    )
    unit = kinds.KINDS[offer.kind].unit
    _assignment(info, offer.quantity, unit, offer.conditions, offer.note)
    _schedule(info, "BeginAvailable", offer.available_from, offer.site)
    _schedule(info, "EndAvailable", offer.available_until, None)
    return root


#: A commitment's later steps: state → (its time's field, the schedule type, if any).
_STEPS = {
    "in_progress": ("started_at", None),
    "fulfilled": ("fulfilled_at", "ActualArrival"),
    "returned": ("ended_at", "ActualReturnDeparture"),
}


def commitment_messages(
    commitment: Commitment, offer: Offer, origin: str, order: int
) -> list[_Message]:
    """A commitment (CommitResource) and each step after it: deployment reports, and a
    ReleaseResource if it was released."""
    out: list[_Message] = []
    unit = kinds.KINDS[offer.kind].unit
    offered = message_id("offer", offer.pk)
    committed = message_id("commitment", commitment.pk)

    def message(content: str, mid: str, sent: datetime, preceding: str, state: str) -> Any:
        root = _message(
            content,
            mid,
            sent,
            description=f"{commitment.organisation.name} takes up {commitment.quantity} of "
            f"{offer.organisation.name}'s offer ({offer.summary}): {state}.",
            origin=origin,
            preceding=preceding,
        )
        _contact(root, "Requester", commitment.organisation)
        _contact(root, "Offerer", offer.organisation)
        info = _resource_info(
            root,
            "1",
            kind=offer.kind,
            details=offer.details,
            summary=offer.summary,
            keywords=[(SITE_LIST, [offer.site.code])],
            resource_id=committed,
            status=state,
        )
        _assignment(info, commitment.quantity, unit, "", commitment.reason)
        return root, info

    root, info = message("CommitResource", committed, commitment.created_at, offered, "committed")
    _schedule(info, "Committed", commitment.created_at, offer.site)
    out.append(_Message(commitment.created_at, order, root))
    previous = committed
    reached = ["in_progress", "fulfilled", "returned"]
    for state in reached:
        stamp, schedule = _STEPS[state]
        at = getattr(commitment, stamp)
        if at is None or (state == "returned" and commitment.state != "returned"):
            continue
        mid = message_id("commitment", commitment.pk, state)
        root, info = message("ReportResourceDeploymentStatus", mid, at, previous, state)
        if schedule:
            _schedule(info, schedule, at, None)
        out.append(_Message(at, order, root))
        previous = mid
    if commitment.state == "released" and commitment.ended_at is not None:
        mid = message_id("commitment", commitment.pk, "released")
        root, _info = message("ReleaseResource", mid, commitment.ended_at, previous, "released")
        out.append(_Message(commitment.ended_at, order, root))
    return out


def thread(viewer: Viewer, request: AidRequest) -> bytes:
    """The request (one the viewer may see: `queries.get_request`) and the offers and
    commitments on it the viewer may see, as RM messages, oldest first."""
    origin = message_id("request", request.pk)
    messages = [_Message(request.created_at, 0, request_message(request))]
    offers = (
        queries.offers_seen_by(viewer)
        .filter(request=request)
        .select_related("organisation", "site", "collaborative")
        .order_by("created_at", "pk")
    )
    for n, offer in enumerate(offers, start=1):
        messages.append(_Message(offer.created_at, n, offer_message(offer, origin)))
    commitments = (
        queries.commitments_seen_by(viewer)
        .filter(request=request)
        .select_related("organisation", "offer__organisation", "offer__site")
        .order_by("created_at", "pk")
    )
    for n, commitment in enumerate(commitments, start=len(messages)):
        messages.extend(commitment_messages(commitment, commitment.offer, origin, n))
    return _envelope(messages)


def offer_thread(viewer: Viewer, offer: Offer) -> bytes:
    """A standing offer (one the viewer may see: `queries.get_offer`) and what became of it:
    its OfferUnsolicitedResource, then each commitment against it the viewer may see
    (CommitResource, deployment reports, ReleaseResource), oldest first. An offer answering
    a request belongs to that request's thread, which is given instead."""
    if offer.request_id is not None:
        return thread(viewer, queries.get_request(viewer, offer.request_id))
    origin = message_id("offer", offer.pk)
    messages = [_Message(offer.created_at, 0, offer_message(offer))]
    commitments = (
        queries.commitments_seen_by(viewer)
        .filter(offer=offer)
        .select_related("organisation", "offer__organisation", "offer__site")
        .order_by("created_at", "pk")
    )
    for n, commitment in enumerate(commitments, start=1):
        messages.extend(commitment_messages(commitment, offer, origin, n))
    return _envelope(messages)


def _envelope(messages: list[_Message]) -> bytes:
    envelope = etree.Element(_q("ResourceMessages"), nsmap={None: NS})
    for m in sorted(messages, key=lambda m: (m.sent, m.order)):
        envelope.append(m.element)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def validate(document: bytes) -> list[str]:
    """What is wrong with a document against our RM schema (empty: valid)."""
    tree = etree.fromstring(document, _parser())
    checker = schema()
    if checker.validate(tree):
        return []
    return [f"{_error_path(tree, e.path)}: {e.message}" for e in checker.error_log]


# ------------------------------------------------------------------ in


class NotPlainXml(ValueError):
    """A body that is not plain, well-formed XML (or holds a DTD): answered as a 400."""


class MessageInvalid(exchange.AidInvalid):
    """A message that cannot be imported: XML path → sentence (answered as a 422)."""


_PREFIXED = re.compile(r"\{[^}]*\}|[a-zA-Z0-9_]+:(?=[A-Za-z])")


def _path(path: str | None) -> str:
    """An element's path without namespaces: /RequestResource/ResourceInformation/..."""
    return _PREFIXED.sub("", path or "/")


def _where(element: etree._Element) -> str:
    """An element's path by local names, numbered where it has like-named siblings:
    /RequestResource/ResourceInformation/ScheduleInformation[2]/DateTime."""
    steps = []
    node: etree._Element | None = element
    while node is not None:
        name = etree.QName(node).localname
        parent = node.getparent()
        if parent is not None:
            alike = [c for c in parent if c.tag == node.tag]
            if len(alike) > 1:
                name += f"[{alike.index(node) + 1}]"
        steps.append(name)
        node = parent
    return "/" + "/".join(reversed(steps))


def _error_path(root: etree._Element, path: str | None) -> str:
    """Where a schema error is, by local names (libxml2 gives /*/*[5])."""
    try:
        found = root.getroottree().xpath(path) if path else []
    except etree.XPathError:
        found = []
    if found and isinstance(found[0], etree._Element):
        return _where(found[0])
    return _path(path)


def _parse(body: bytes) -> etree._Element:
    """The message's root element, read safely; 400 for what is not plain XML, and
    MessageInvalid (422) for a message longer than the document allows."""
    too_long = f"send at most {MAX_CHARACTERS} characters"
    if len(body) > 4 * MAX_CHARACTERS or len(body.decode("utf-8", "replace")) > MAX_CHARACTERS:
        raise MessageInvalid({"/": too_long})
    if re.search(rb"<!(DOCTYPE|ENTITY)", body, re.IGNORECASE):
        raise NotPlainXml(
            "The message holds a DTD or an entity declaration; send plain XML without one."
        )
    try:
        root = etree.fromstring(body, _parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise NotPlainXml(f"The message is not well-formed XML: {exc}") from None
    if root is None:
        raise NotPlainXml("The message is empty.")
    return root


class _Reader:
    """Reads the fields of one valid message, remembering each problem by its path."""

    def __init__(self, root: etree._Element) -> None:
        self.root = root
        self.name = etree.QName(root).localname
        self.errors: dict[str, str] = {}
        info = root.find(_q("ResourceInformation"))
        assert info is not None  # the schema requires it
        self.info = info
        resource = info.find(_q("Resource"))
        assert resource is not None
        self.resource = resource

    def at(self, *names: str) -> str:
        return "/" + "/".join((self.name, *names))

    def keywords(self) -> dict[str, tuple[etree._Element, list[str]]]:
        found: dict[str, tuple[etree._Element, list[str]]] = {}
        for key in self.resource.findall(_q("Keyword")):
            urn = (key.findtext(_q("ValueListURN")) or "").strip()
            values = [(v.text or "").strip() for v in key.findall(_q("Value"))]
            found[urn] = (key, values)
        return found

    def one(self, keywords: dict[str, Any], urn: str, label: str, required: bool = True) -> str:
        if urn not in keywords:
            if required:
                self.errors[self.at("ResourceInformation", "Resource", "Keyword")] = (
                    f"give the {label} as a Keyword with ValueListURN {urn}"
                )
            return ""
        element, values = keywords[urn]
        if len(values) != 1:
            self.errors[_where(element)] = f"give one {label}"
            return ""
        return values[0]

    def time(self, schedule_type: str) -> datetime | None:
        for schedule in self.info.findall(_q("ScheduleInformation")):
            if schedule.findtext(_q("ScheduleType")) == schedule_type:
                text = schedule.findtext(_q("DateTime"))
                if text is None:
                    self.errors[_where(schedule)] = f"give the {schedule_type} DateTime"
                    return None
                moment = parse_datetime(text.strip())
                if moment is None or moment.utcoffset() is None:
                    self.errors[_where(schedule) + "/DateTime"] = (
                        "give a date and time with its UTC offset"
                    )
                    return None
                return moment
        self.errors[self.at("ResourceInformation", "ScheduleInformation")] = (
            f"give a ScheduleInformation of ScheduleType {schedule_type}"
        )
        return None


def _choice(reader: _Reader, value: str, choices: list[str], keyword: str, label: str) -> str:
    if value and value not in choices:
        reader.errors[reader.at("ResourceInformation", "Resource", "Keyword") + f"[{keyword}]"] = (
            f"the {label} is one of {', '.join(choices)}"
        )
        return ""
    return value


def _details(reader: _Reader, kind: str, keywords: dict[str, Any]) -> dict[str, Any]:
    spec = kinds.KINDS.get(kind)
    out: dict[str, Any] = {}
    for urn, (_element, values) in keywords.items():
        if not urn.startswith(DETAIL_PREFIX):
            continue
        name = urn[len(DETAIL_PREFIX) :]
        field_spec = next((f for f in spec.fields if f.name == name), None) if spec else None
        if field_spec is not None and field_spec.type == "choices":
            out[name] = values
        else:
            out[name] = values[0] if len(values) == 1 else values
    return out


@dataclass(frozen=True)
class Imported:
    kind: str
    object_id: int
    created: bool
    message_id: str


def _paths(errors: dict[str, str], reader: _Reader) -> dict[str, str]:
    """The exchange's field names as the message's paths."""
    resource = reader.at("ResourceInformation", "Resource")
    assignment = reader.at("ResourceInformation", "AssignmentInformation")
    named = {
        "collaborative": f"{resource}/Keyword[{COLLABORATIVE_LIST}]",
        "site": f"{resource}/Keyword[{SITE_LIST}]",
        "kind": f"{resource}/TypeStructure/Value",
        "quantity": f"{assignment}/Quantity/MeasuredQuantity/Amount",
        "urgency": f"{resource}/Keyword[{URGENCY_LIST}]",
        "needed_by": reader.at("ResourceInformation", "ScheduleInformation") + "/DateTime",
        "available_until": reader.at("ResourceInformation", "ScheduleInformation") + "/DateTime",
        "max_distance_km": f"{resource}/Keyword[{DISTANCE_LIST}]",
        "duration_hours": f"{resource}/Keyword[{DURATION_LIST}]",
        "transport": f"{resource}/Keyword[{TRANSPORT_LIST}]",
        "cost_recovery": reader.at("Funding", "FundCode"),
        "note": f"{assignment}/AssignmentInstructions",
        "conditions": f"{assignment}/Restrictions",
        "reach": f"{resource}/Keyword[{REACH_LIST}]",
    }
    out = {}
    for name, message in errors.items():
        if name.startswith("details."):
            out[f"{resource}/Keyword[{DETAIL_PREFIX}{name[8:]}]"] = message
        else:
            out[named.get(name, name)] = message
    return out


def _number(reader: _Reader, text: str, keyword: str, label: str) -> int | None:
    if not text:
        return None
    if not re.fullmatch(r"[0-9]{1,9}", text):
        reader.errors[reader.at("ResourceInformation", "Resource", "Keyword") + f"[{keyword}]"] = (
            f"give the {label} as a whole number"
        )
        return None
    return int(text)


def import_message(*, by: Any, organisation: Organisation, body: bytes) -> Imported:
    """Raise the request or make the standing offer one RM message asks for, for
    `organisation` (whom `by` arranges aid for). MessageInvalid (422) names each element at
    fault (a message too long too); NotPlainXml (400) for what is not plain XML."""
    root = _parse(body)
    name = etree.QName(root).localname if isinstance(root.tag, str) else ""
    if etree.QName(root).namespace != NS or name not in IMPORTABLE:
        raise MessageInvalid(
            {"/": f"send one RequestResource or OfferUnsolicitedResource in namespace {NS}"}
        )
    checker = schema()
    if not checker.validate(root):
        raise MessageInvalid({_error_path(root, e.path): e.message for e in checker.error_log})
    reader = _Reader(root)
    content = root.findtext(_q("MessageContentType"))
    if content != name:
        reader.errors[reader.at("MessageContentType")] = f"must be {name}, as the element is"
    contact = root.find(_q("ContactInformation"))
    if contact is not None and contact.findtext(_q("OrganizationID")) != organisation.code:
        reader.errors[_where(contact) + "/OrganizationID"] = (
            f"this message is imported for {organisation.code}, not another organisation"
        )
    mid = (root.findtext(_q("MessageID")) or "").strip()
    keywords = reader.keywords()
    kind = (reader.resource.findtext(f"{_q('TypeStructure')}/{_q('Value')}") or "").strip()
    if kind not in kinds.KINDS:
        reader.errors[reader.at("ResourceInformation", "Resource", "TypeStructure", "Value")] = (
            f"the kind of aid is one of {', '.join(kinds.KINDS)}"
        )
    slug = reader.one(keywords, COLLABORATIVE_LIST, "collaborative (its slug)")
    code = reader.one(keywords, SITE_LIST, "site (its code)")
    reach_name = _choice(
        reader,
        reader.one(keywords, REACH_LIST, "reach", required=False),
        [r.name.lower() for r in Reach],
        REACH_LIST,
        "reach",
    )
    collaborative = collaboratives_of([organisation.pk]).filter(slug=slug).first() if slug else None
    if slug and collaborative is None:
        reader.errors[
            f"{reader.at('ResourceInformation', 'Resource', 'Keyword')}[{COLLABORATIVE_LIST}]"
        ] = f"{organisation.code} is not a member of a collaborative {slug!r}"
    site = (
        Site.objects.filter(organisation=organisation, code=code.upper()).first() if code else None
    )
    if code and site is None:
        reader.errors[f"{reader.at('ResourceInformation', 'Resource', 'Keyword')}[{SITE_LIST}]"] = (
            f"{code!r} is not a site of {organisation.code}"
        )
    amount = reader.info.findtext(
        f"{_q('AssignmentInformation')}/{_q('Quantity')}/{_q('MeasuredQuantity')}/{_q('Amount')}"
    )
    if amount is None:
        reader.errors[reader.at("ResourceInformation", "AssignmentInformation")] = (
            "give the quantity (Quantity/MeasuredQuantity/Amount)"
        )
    quantity = int(amount) if amount is not None and len(amount.strip()) < 10 else 0
    assignment = reader.info.find(_q("AssignmentInformation"))
    note = (
        (assignment.findtext(_q("AssignmentInstructions")) or "") if assignment is not None else ""
    )
    restrictions = (assignment.findtext(_q("Restrictions")) or "") if assignment is not None else ""
    details = _details(reader, kind, keywords)
    reach = Reach[reach_name.upper()].value if reach_name else None

    if name == "RequestResource":
        urgency = _choice(
            reader,
            reader.one(keywords, URGENCY_LIST, "urgency"),
            Urgency.values,
            URGENCY_LIST,
            "urgency",
        )
        distance = _number(
            reader,
            reader.one(keywords, DISTANCE_LIST, "maximum distance", required=False),
            DISTANCE_LIST,
            "maximum distance in km",
        )
        needed_by = reader.time("RequestedArrival")
        if reader.errors:
            raise MessageInvalid(reader.errors)
        assert collaborative is not None and site is not None and needed_by is not None

        def create() -> AidRequest | Offer:
            return exchange.raise_request(
                by=by, organisation=organisation, collaborative=collaborative, site=site,
                kind=kind, details=details, quantity=quantity, urgency=urgency,
                needed_by=needed_by, max_distance_km=distance, note=note, reach=reach,
            )  # fmt: skip
    else:
        transport = _choice(
            reader,
            reader.one(keywords, TRANSPORT_LIST, "transport"),
            Transport.values,
            TRANSPORT_LIST,
            "transport",
        )
        duration = _number(
            reader,
            reader.one(keywords, DURATION_LIST, "duration in hours", required=False),
            DURATION_LIST,
            "duration in hours",
        )
        fund = (root.findtext(f"{_q('Funding')}/{_q('FundCode')}") or "").strip()
        if fund not in CostRecovery.values:
            reader.errors[reader.at("Funding", "FundCode")] = (
                f"the cost recovery is one of {', '.join(CostRecovery.values)}"
            )
        begin, end = reader.time("BeginAvailable"), reader.time("EndAvailable")
        if reader.errors:
            raise MessageInvalid(reader.errors)
        assert collaborative is not None and site is not None
        assert begin is not None and end is not None

        def create() -> AidRequest | Offer:
            return exchange.make_offer(
                by=by, organisation=organisation, site=site, quantity=quantity,
                available_from=begin, available_until=end, transport=transport,
                cost_recovery=fund, collaborative=collaborative, kind=kind, details=details,
                duration_hours=duration, conditions=restrictions, note=note,
                reach=reach or Reach.COLLABORATIVE,
            )  # fmt: skip

    try:
        row, created = actions.import_once(
            by=by, organisation=organisation, message_id=mid, content_type=name, create=create
        )
    except exchange.AidInvalid as exc:
        raise MessageInvalid(_paths(exc.errors, reader)) from None
    if row.request_id is not None:
        return Imported("request", row.request_id, created, mid)
    assert row.offer_id is not None
    return Imported("offer", row.offer_id, created, mid)
