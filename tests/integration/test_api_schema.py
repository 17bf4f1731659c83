"""Generated requests from our own OpenAPI description never make the API fail with a 5xx.

Schemathesis reads /api/openapi.json from the WSGI application and, for every operation, sends
inputs built from the schema (valid and invalid ones), once without a token and once with a
token of the scope the operation needs. Only "no server error" is checked: refusals (401, 403,
404, 409, 422) are the API doing its job.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from flotilla.authz import actions as authz_actions
from flotilla.authz.models import TokenScope
from flotilla.wsgi import application
from tests import factories as f

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)


@pytest.fixture
def keep_connection():
    """Keep the test's database connection open across WSGI requests, as Django's test client
    does: the handler would otherwise close it at the end of each request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def secrets(db, keep_connection):
    """A member trust with a site, some figures, and one token per scope."""
    org = f.OrganisationFactory(code="RN1")
    admin = f.UserFactory()
    f.member(admin, org, "org_admin")
    f.SiteFactory(organisation=org, code="RN101")
    f.CollaborativeFactory(name="River System", organisation=org)
    return {
        scope: authz_actions.issue_token(by=admin, organisation=org, name=scope, scope=scope)[1]
        for scope in TokenScope.values
    }


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_generated_request_makes_the_api_fail(case, secrets):
    scope = TokenScope.SUBMIT if case.method.upper() == "POST" else TokenScope.READ
    case.call_and_validate(checks=[not_a_server_error])
    case.call_and_validate(
        headers={"Authorization": f"Bearer {secrets[scope]}"}, checks=[not_a_server_error]
    )
