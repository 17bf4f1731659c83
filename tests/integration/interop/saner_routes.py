"""Who may use the FHIR SANER API: its part of the route matrix.

The collaborative's Bundle is read with a read token of a member (404 for the rest, as the
picture is): what South's grants allow only changes what is in it, never who gets it.
South's own Bundle takes a read token of an organisation South shares something with, so it
follows South's grants (`GRANT_APIS`), as South's history does. MeasureReports are sent with
a submit token, for the token's own organisation (North)."""

from tests.integration.matrix import Api, Page, api_read, members_only

#: The download on the dashboard: the collaborative's members only, as the dashboard is.
PAGES: dict[str, Page] = {
    "interop:collaborative_saner": Page("GET", "/c/{slug}/export-saner.json", members_only()),
}

#: One MeasureReport of North's: ten G&A beds open (the matrix's REPORT, as FHIR SANER).
MEASURE_REPORT = {
    "resourceType": "MeasureReport",
    "status": "complete",
    "type": "summary",
    "measure": "urn:flotilla:measure:beds",
    "subject": {
        "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "RN1"}
    },
    "period": {"start": "2026-01-05T08:00:00+00:00", "end": "2026-01-05T08:00:00+00:00"},
    "group": [
        {
            "code": {"coding": [{"system": "urn:flotilla:code-system:bed-type", "code": "ga"}]},
            "population": [
                {
                    "code": {
                        "coding": [{"system": "urn:flotilla:code-system:bed-state", "code": "open"}]
                    },
                    "count": 10,
                }
            ],
        }
    ],
}

APIS: dict[str, Api] = {
    "api:collaborative_saner": Api("GET", "/api/collaboratives/{slug}/saner", api_read()),
    "api:organisation_saner": Api("GET", "/api/organisations/RS1/saner", api_read()),
    "api:import_saner": Api(
        "POST",
        "/api/saner",
        {
            "none": 401,
            "outsider_read": 403,
            "outsider_sharing": 403,
            "outsider_aid": 403,
            "member_submit": 201,
            "member_read": 403,
            "member_sharing": 403,
            "member_aid": 403,
            "session": 401,
        },
        MEASURE_REPORT,
    ),
}

#: How South's grant settings change the outcomes: setting → route → caller → status.
GRANT_APIS: dict[str, dict[str, dict[str, int]]] = {
    "revoked": {"api:organisation_saner": {"member_read": 404}},
    "to a named outside organisation only": {
        "api:organisation_saner": {"member_read": 404, "outsider_read": 200}
    },
    "to every organisation": {"api:organisation_saner": {"outsider_read": 200}},
    "to the public": {"api:organisation_saner": {"outsider_read": 200}},
    "to an outside organisation, expired": {"api:organisation_saner": {"member_read": 404}},
}
