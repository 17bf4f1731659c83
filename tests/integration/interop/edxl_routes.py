"""Who may use the EDXL operations: their part of the route matrix.

HAVE documents are read with a read token: a collaborative's by its members (404 for the
outsider), an organisation's by whoever it shares something with, so South's follows South's
grants (`GRANT_APIS`, as its history does); where a grant reached does not share the figures,
the answer is still 200, with the counts left out and why. An aid request's RM thread is read
with a read or an aid token by whoever sees the request. An RM message is imported with an
aid token for the token's own organisation: the matrix's body names North's collaborative
and site, so the outsider's token gets 422 (neither is its own).
"""

from datetime import timedelta

from django.utils import timezone

from tests.integration.matrix import Api, Page, api_aid, api_aid_read, api_read, members_only

_SOON = (timezone.now() + timedelta(days=2)).isoformat()
_NS = "urn:oasis:names:tc:emergency:EDXL:RM:1.0:msg"
_DETAIL = "urn:flotilla:aid-detail"

#: A request for two porters from North's site, as an EDXL-RM RequestResource.
RM_REQUEST = f"""<RequestResource xmlns="{_NS}">
  <MessageID>urn:example:matrix:1</MessageID>
  <SentDateTime>2026-12-01T08:00:00+00:00</SentDateTime>
  <MessageContentType>RequestResource</MessageContentType>
  <ResourceInformation>
    <ResourceInfoElementID>1</ResourceInfoElementID>
    <Resource>
      <TypeStructure><ValueListURN>urn:flotilla:list:aid-kind</ValueListURN><Value>staff</Value></TypeStructure>
      <Keyword><ValueListURN>urn:flotilla:list:collaborative</ValueListURN><Value>river-system</Value></Keyword>
      <Keyword><ValueListURN>urn:flotilla:list:site</ValueListURN><Value>RN101</Value></Keyword>
      <Keyword><ValueListURN>urn:flotilla:list:aid-urgency</ValueListURN><Value>planned</Value></Keyword>
      <Keyword><ValueListURN>{_DETAIL}:role</ValueListURN><Value>porter</Value></Keyword>
      <Keyword><ValueListURN>{_DETAIL}:grade</ValueListURN><Value>Band 2</Value></Keyword>
      <Keyword><ValueListURN>{_DETAIL}:shifts</ValueListURN><Value>Days</Value></Keyword>
    </Resource>
    <AssignmentInformation>
      <Quantity><MeasuredQuantity><Amount>2</Amount></MeasuredQuantity></Quantity>
    </AssignmentInformation>
    <ScheduleInformation>
      <ScheduleType>RequestedArrival</ScheduleType>
      <DateTime>{_SOON}</DateTime>
    </ScheduleInformation>
  </ResourceInformation>
</RequestResource>"""

#: The downloads on the dashboard and on a request's page, for whoever sees those pages.
PAGES: dict[str, Page] = {
    "interop:collaborative_have": Page("GET", "/c/{slug}/export-have.xml", members_only()),
    "interop:aid_request_rm": Page(
        "GET", "/aid/requests/{aid_request}/edxl-rm.xml", members_only()
    ),
    # South's standing offer to the collaborative: every North role sees it.
    "interop:aid_offer_rm": Page("GET", "/aid/offers/{standing_offer}/edxl-rm.xml", members_only()),
}

APIS: dict[str, Api] = {
    "api:collaborative_have": Api("GET", "/api/collaboratives/{slug}/have", api_read()),
    "api:organisation_have": Api("GET", "/api/organisations/RS1/have", api_read()),
    "api:aid_request_edxl_rm": Api(
        "GET", "/api/aid/requests/{aid_request}/edxl-rm", api_aid_read()
    ),
    "api:aid_offer_edxl_rm": Api("GET", "/api/aid/offers/{standing_offer}/edxl-rm", api_aid_read()),
    "api:import_edxl_rm": Api("POST", "/api/aid/edxl-rm", api_aid(201, 422), RM_REQUEST),
}

#: How South's grant settings change the outcomes: setting → route → caller → status.
GRANT_APIS: dict[str, dict[str, dict[str, int]]] = {
    "revoked": {"api:organisation_have": {"member_read": 404}},
    "to a named outside organisation only": {
        "api:organisation_have": {"member_read": 404, "outsider_read": 200}
    },
    "to every organisation": {"api:organisation_have": {"outsider_read": 200}},
    "to the public": {"api:organisation_have": {"outsider_read": 200}},
    "to an outside organisation, expired": {"api:organisation_have": {"member_read": 404}},
}
