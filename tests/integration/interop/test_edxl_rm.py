"""EDXL-RM 1.0 for the exchange: a thread out as messages, a request or a standing offer in."""

from __future__ import annotations

import socket
import threading
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from lxml import etree

from flotilla.audit.models import AuditEvent
from flotilla.authz import actions as authz_actions
from flotilla.authz.models import Role
from flotilla.exchange.models import AidRequest, Offer
from flotilla.interop import edxl_rm
from flotilla.interop.models import ImportedMessage
from flotilla.sharing.policy import platform_viewer
from tests import factories as f

pytestmark = pytest.mark.django_db

NS = {"rm": edxl_rm.NS}
REQUEST_FIELDS = (
    "collaborative_id", "organisation_id", "site_id", "kind", "details", "quantity", "urgency",
    "needed_by", "max_distance_km", "note", "reach",
)  # fmt: skip
OFFER_FIELDS = (
    "collaborative_id", "organisation_id", "site_id", "kind", "details", "quantity",
    "available_from", "available_until", "transport", "cost_recovery", "duration_hours",
    "conditions", "note", "reach",
)  # fmt: skip


def _token(organisation, admin, scope="aid"):
    _, secret = authz_actions.issue_token(
        by=admin, organisation=organisation, name="rm", scope=scope
    )
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def _south_admin(cast):
    admin = f.UserFactory(username="south_admin")
    f.member(admin, cast.south, Role.ORG_ADMIN)
    return admin


def _thread(cast):
    """South asks for two critical care transfers; North offers two, South takes up one and
    releases it, then takes up the other, which North starts and fulfils; South also has a
    standing offer of staff to the collaborative."""
    south, north = cast.people["south_coordinator"], cast.people[Role.COORDINATOR]
    request = f.aid_request(
        by=south,
        organisation=cast.south,
        collaborative=cast.collab,
        site=cast.south_site,
        max_distance_km=80,
        note="Two ventilated patients; we transport.",
    )
    answer = f.offer(
        by=north,
        organisation=cast.north,
        site=cast.north_site,
        request=request,
        quantity=2,
        conditions="Within 4 hours of acceptance.",
        duration_hours=72,
        transport="shared",
        cost_recovery="tariff",
    )
    first = f.commitment(by=south, offer=answer, quantity=1)
    f.move(first, "released", by=south, reason="Admitted locally after all.")
    second = f.commitment(by=south, offer=answer, quantity=1)
    f.move(second, "in_progress", by=north)
    f.move(second, "fulfilled", by=south)
    standing = f.offer(
        by=south,
        organisation=cast.south,
        site=cast.south_site,
        collaborative=cast.collab,
        kind="staff",
        details={"role": "registered_nurse", "grade": "Band 5", "shifts": "Nights 27-29 Nov"},
        quantity=3,
        transport="not_needed",
        cost_recovery="at_cost",
        duration_hours=36,
        note="Ask for Sam at the bed bureau.",
    )
    return request, answer, standing


def _messages(document: bytes) -> list[etree._Element]:
    return list(etree.fromstring(document, edxl_rm._parser()))


def _fields(thing, names):
    return {n: getattr(thing, n) for n in names}


def test_a_thread_goes_out_as_linked_rm_messages_that_validate(client, aid):
    cast = aid
    request, _answer, _standing = _thread(cast)
    response = client.get(
        f"/api/aid/requests/{request.pk}/edxl-rm", **_token(cast.north, cast.people[Role.ORG_ADMIN])
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    assert edxl_rm.validate(response.content) == []
    messages = _messages(response.content)
    kinds = [etree.QName(m).localname for m in messages]
    assert kinds == [
        "RequestResource",
        "ResponseToRequestResource",
        "CommitResource",
        "ReleaseResource",
        "CommitResource",
        "ReportResourceDeploymentStatus",
        "ReportResourceDeploymentStatus",
    ]
    first = messages[0].findtext("rm:MessageID", namespaces=NS)
    for m in messages[1:]:
        assert m.findtext("rm:OriginatingMessageID", namespaces=NS) == first
        assert m.findtext("rm:PrecedingMessageID", namespaces=NS)
    ids = [m.findtext("rm:MessageID", namespaces=NS) for m in messages]
    assert len(set(ids)) == len(ids)
    # The release follows on from the commitment it releases, the offer from the request.
    assert messages[3].findtext("rm:PrecedingMessageID", namespaces=NS) == ids[2]
    assert messages[1].findtext("rm:PrecedingMessageID", namespaces=NS) == ids[0]
    offer = messages[1]
    assert offer.findtext("rm:Funding/rm:FundCode", namespaces=NS) == "tariff"
    transport = offer.xpath(
        ".//rm:Keyword[rm:ValueListURN='urn:flotilla:list:aid-transport']/rm:Value/text()",
        namespaces=NS,
    )
    assert transport == ["shared"]
    amount = "rm:ResourceInformation/rm:AssignmentInformation/rm:Quantity/rm:MeasuredQuantity"
    assert messages[0].findtext(f"{amount}/rm:Amount", namespaces=NS) == "2"


def test_a_standing_offer_goes_out_with_its_commitments_as_one_linked_thread(client, aid):
    cast = aid
    _request, answer, standing = _thread(cast)
    taken = f.commitment(
        by=cast.people[Role.COORDINATOR], offer=standing, quantity=1, organisation=cast.north
    )
    f.move(taken, "released", by=cast.people[Role.COORDINATOR], reason="Covered after all.")
    token = _token(cast.north, cast.people[Role.ORG_ADMIN])
    response = client.get(f"/api/aid/offers/{standing.pk}/edxl-rm", **token)
    assert response.status_code == 200
    assert edxl_rm.validate(response.content) == []
    messages = _messages(response.content)
    kinds = [etree.QName(m).localname for m in messages]
    assert kinds == ["OfferUnsolicitedResource", "CommitResource", "ReleaseResource"]
    ids = [m.findtext("rm:MessageID", namespaces=NS) for m in messages]
    for before, message in zip(ids, messages[1:], strict=False):
        assert message.findtext("rm:OriginatingMessageID", namespaces=NS) == ids[0]
        assert message.findtext("rm:PrecedingMessageID", namespaces=NS) == before
    # An offer that answers a request belongs to the request's thread.
    response = client.get(f"/api/aid/offers/{answer.pk}/edxl-rm", **token)
    kinds = [etree.QName(m).localname for m in _messages(response.content)]
    assert kinds[:2] == ["RequestResource", "ResponseToRequestResource"]


def test_an_offer_the_reader_may_not_see_is_not_in_its_thread(client, aid):
    cast = aid
    request, _answer, _standing = _thread(cast)
    # A third organisation in the request's audience sees the request but not North's answer.
    third = f.OrganisationFactory(code="RT1", name="Third Trust")
    f.join(cast.collab, third)
    admin = f.UserFactory(username="third_admin")
    f.member(admin, third, Role.ORG_ADMIN)
    response = client.get(f"/api/aid/requests/{request.pk}/edxl-rm", **_token(third, admin, "read"))
    assert response.status_code == 200
    kinds = [etree.QName(m).localname for m in _messages(response.content)]
    assert kinds == ["RequestResource"]


def test_a_thread_imported_into_a_fresh_database_gives_the_same_request_and_offer(client, aid):
    """ "Fresh": the thread is made and exported inside a transaction that is then rolled
    back, so the exchange's tables hold none of it when the messages are imported; what stays
    is what any Flotilla the messages are sent to must have for them to name (the trusts,
    their sites, the collaborative and the people), made by the fixtures before the thread.
    It is the same database engine and schema, not a second database."""
    cast = aid
    kept: dict[str, object] = {}
    with transaction.atomic():
        request, _answer, standing = _thread(cast)
        kept["request"] = _fields(request, REQUEST_FIELDS)
        kept["offer"] = _fields(standing, OFFER_FIELDS)
        document = edxl_rm.thread(platform_viewer("tests"), request)
        kept["rm_request"] = etree.tostring(_messages(document)[0])
        kept["rm_offer"] = etree.tostring(edxl_rm.offer_message(standing))
        transaction.set_rollback(True)
    assert not AidRequest.objects.exists() and not Offer.objects.exists()

    token = _token(cast.south, _south_admin(cast))
    made = client.post(
        "/api/aid/edxl-rm", kept["rm_request"], content_type="application/xml", **token
    )
    assert made.status_code == 201, made.content
    assert made.json()["kind"] == "request" and made.json()["created"] is True
    assert _fields(AidRequest.objects.get(pk=made.json()["id"]), REQUEST_FIELDS) == kept["request"]

    made = client.post(
        "/api/aid/edxl-rm", kept["rm_offer"], content_type="application/xml", **token
    )
    assert made.status_code == 201, made.content
    assert made.json()["kind"] == "offer"
    assert _fields(Offer.objects.get(pk=made.json()["id"]), OFFER_FIELDS) == kept["offer"]


def test_importing_the_same_message_twice_changes_nothing(client, aid):
    cast = aid
    standing = f.offer(
        by=cast.people["south_coordinator"],
        organisation=cast.south,
        site=cast.south_site,
        collaborative=cast.collab,
        kind="equipment",
        details={"equipment_type": "Infusion pumps", "consumable": True},
        quantity=4,
    )
    message = etree.tostring(edxl_rm.offer_message(standing)).replace(
        f"urn:flotilla:aid:offer:{standing.pk}".encode(), b"urn:example:pumps:1"
    )
    token = _token(cast.south, _south_admin(cast))
    first = client.post("/api/aid/edxl-rm", message, content_type="application/xml", **token)
    assert first.status_code == 201 and first.json()["created"] is True
    offers, events = Offer.objects.count(), AuditEvent.objects.count()
    again = client.post("/api/aid/edxl-rm", message, content_type="application/xml", **token)
    assert again.status_code == 201
    assert again.json() == {**first.json(), "created": False}
    assert (Offer.objects.count(), AuditEvent.objects.count()) == (offers, events)
    assert ImportedMessage.objects.get().offer_id == first.json()["id"]


def test_an_import_is_audited_beside_what_it_made(aid):
    cast = aid
    request = f.aid_request(
        by=cast.people["south_coordinator"],
        organisation=cast.south,
        collaborative=cast.collab,
        site=cast.south_site,
    )
    message = etree.tostring(edxl_rm.request_message(request)).replace(
        f"urn:flotilla:aid:request:{request.pk}".encode(), b"urn:example:again"
    )
    token = f.aid_token(cast.south, _south_admin(cast))
    made = edxl_rm.import_message(by=token, organisation=cast.south, body=message)
    event = AuditEvent.objects.filter(action="interop.edxl_rm_imported").get()
    assert event.after["request"] == made.object_id
    assert event.after["message_id"] == "urn:example:again"


def test_a_message_with_problems_is_refused_naming_each_element_by_its_path(client, aid):
    cast = aid
    request = f.aid_request(
        by=cast.people["south_coordinator"],
        organisation=cast.south,
        collaborative=cast.collab,
        site=cast.south_site,
    )
    message = etree.tostring(edxl_rm.request_message(request))
    message = message.replace(b"<Value>within_4h</Value>", b"<Value>whenever</Value>")
    message = message.replace(b"<Value>cc3</Value>", b"<Value>cc9</Value>")
    message = message.replace(b"<Amount>2</Amount>", b"<Amount>900</Amount>")
    before = AidRequest.objects.count()
    response = client.post(
        "/api/aid/edxl-rm",
        message,
        content_type="application/xml",
        **_token(cast.south, _south_admin(cast)),
    )
    assert response.status_code == 422, response.content
    fields = {e["field"] for e in response.json()["errors"]}
    keyword = "/RequestResource/ResourceInformation/Resource/Keyword"
    assert f"{keyword}[urn:flotilla:list:aid-urgency]" in fields
    assert AidRequest.objects.count() == before


def test_a_message_of_another_kind_or_invalid_against_the_schema_is_refused(client, aid):
    cast = aid
    token = _token(cast.south, _south_admin(cast))
    wrong = f'<CommitResource xmlns="{edxl_rm.NS}"><MessageID>x</MessageID></CommitResource>'
    response = client.post("/api/aid/edxl-rm", wrong, content_type="application/xml", **token)
    assert response.status_code == 422
    invalid = f'<RequestResource xmlns="{edxl_rm.NS}"><MessageID>x</MessageID></RequestResource>'
    response = client.post("/api/aid/edxl-rm", invalid, content_type="application/xml", **token)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"].startswith("/RequestResource")
    response = client.post("/api/aid/edxl-rm", "<not xml", content_type="application/xml", **token)
    assert response.status_code == 400


@pytest.fixture
def listener():
    """A port on this machine that counts the connections made to it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.2)
    hits: list[int] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            hits.append(1)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], hits
    stop.set()
    thread.join()
    server.close()


def test_hostile_xml_is_refused_without_fetching_anything(client, aid, listener, tmp_path):
    cast = aid
    port, hits = listener
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    token = _token(cast.south, _south_admin(cast))
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        f'<RequestResource xmlns="{edxl_rm.NS}"><MessageID>&lol3;</MessageID></RequestResource>'
    )
    external = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">'
        f'<!ENTITY y SYSTEM "http://127.0.0.1:{port}/dtd">]>'
        f'<RequestResource xmlns="{edxl_rm.NS}"><MessageID>&x;&y;</MessageID></RequestResource>'
    )
    remote_dtd = (
        f'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:{port}/evil.dtd">'
        f'<RequestResource xmlns="{edxl_rm.NS}"/>'
    )
    for hostile in (laughs, external, remote_dtd):
        response = client.post("/api/aid/edxl-rm", hostile, content_type="application/xml", **token)
        assert response.status_code == 400
        assert b"TOP-SECRET" not in response.content
    # The parser itself, past the refusal of a DTD, expands and fetches nothing either.
    root = etree.fromstring(external.encode(), edxl_rm._parser())
    assert "TOP-SECRET" not in etree.tostring(root).decode()
    etree.fromstring(remote_dtd.encode(), edxl_rm._parser())
    assert hits == []
    assert not AidRequest.objects.exists()


def test_an_aid_token_imports_only_for_its_own_organisation(client, aid):
    cast = aid
    request = f.aid_request(
        by=cast.people["south_coordinator"],
        organisation=cast.south,
        collaborative=cast.collab,
        site=cast.south_site,
    )
    message = etree.tostring(edxl_rm.request_message(request))
    response = client.post(
        "/api/aid/edxl-rm",
        message,
        content_type="application/xml",
        **_token(cast.north, cast.people[Role.ORG_ADMIN]),
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert "/RequestResource/ContactInformation/OrganizationID" in fields


def test_a_thread_left_out_of_reach_is_not_found(client, aid):
    cast = aid
    request = f.aid_request(
        by=cast.people["south_coordinator"],
        organisation=cast.south,
        collaborative=cast.collab,
        site=cast.south_site,
    )
    outsider = _token(cast.outside, cast.people["outsider"], "read")
    response = client.get(f"/api/aid/requests/{request.pk}/edxl-rm", **outsider)
    assert response.status_code == 404


def test_an_expired_needed_by_is_refused_as_the_exchange_refuses_it(aid):
    cast = aid
    request = f.aid_request(
        by=cast.people["south_coordinator"],
        organisation=cast.south,
        collaborative=cast.collab,
        site=cast.south_site,
    )
    past = (timezone.now() - timedelta(hours=1)).isoformat()
    message = etree.tostring(edxl_rm.request_message(request))
    message = message.replace(request.needed_by.isoformat().encode(), past.encode())
    message = message.replace(f"request:{request.pk}".encode(), b"request:elsewhere")
    token = f.aid_token(cast.south, _south_admin(cast))
    with pytest.raises(edxl_rm.MessageInvalid) as refused:
        edxl_rm.import_message(by=token, organisation=cast.south, body=message)
    path = "/RequestResource/ResourceInformation/ScheduleInformation/DateTime"
    assert refused.value.errors == {path: "must be in the future"}


def test_an_offers_terms_outside_their_lists_are_refused_each_by_its_path(aid):
    cast = aid
    standing = f.offer(
        by=cast.people["south_coordinator"],
        organisation=cast.south,
        site=cast.south_site,
        collaborative=cast.collab,
        kind="equipment",
        details={"equipment_type": "Infusion pumps", "consumable": True},
        quantity=4,
    )
    message = etree.tostring(edxl_rm.offer_message(standing))
    message = message.replace(b"<FundCode>none</FundCode>", b"<FundCode>gratis</FundCode>")
    message = message.replace(b"<Value>offerer</Value>", b"<Value>teleport</Value>")
    message = message.replace(f"offer:{standing.pk}".encode(), b"offer:elsewhere")
    token = f.aid_token(cast.south, _south_admin(cast))
    with pytest.raises(edxl_rm.MessageInvalid) as refused:
        edxl_rm.import_message(by=token, organisation=cast.south, body=message)
    keyword = "/OfferUnsolicitedResource/ResourceInformation/Resource/Keyword"
    assert set(refused.value.errors) == {
        "/OfferUnsolicitedResource/Funding/FundCode",
        f"{keyword}[urn:flotilla:list:aid-transport]",
    }
    assert Offer.objects.count() == 1
