"""The API's token lookup (ADR 0046): one written-out statement that brings the token and its
organisation exactly as the ORM would."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from flotilla.authz import actions, queries
from flotilla.authz.models import ApiToken, Role, TokenScope
from flotilla.organisations.models import Organisation
from tests import factories as f

pytestmark = pytest.mark.django_db


def fields(instance) -> dict:
    return {
        field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields
    }


def test_a_token_comes_with_its_organisation_as_the_database_holds_them(cast):
    closed = f.OrganisationFactory(
        code="RC1",
        name="Closed Hospitals NHS Trust",
        postcode="LS1 4AP",
        latitude=53.8,
        longitude=-1.55,
        closed_on=date(2026, 3, 31),
    )
    admin = f.UserFactory(username="closed_admin")
    f.member(admin, closed, Role.ORG_ADMIN)
    token, secret = actions.issue_token(
        by=admin, organisation=closed, name="EPR feed", scope=TokenScope.SUBMIT
    )
    actions.note_token_used(token=token)
    found = queries.active_token(ApiToken.hash_secret(secret))
    assert fields(found) == fields(ApiToken.objects.get(pk=token.pk))
    with CaptureQueriesContext(connection) as read:
        organisation = found.organisation
    assert read.captured_queries == []
    assert fields(organisation) == fields(Organisation.objects.get(pk=closed.pk))
    assert organisation.closed_on == date(2026, 3, 31)
    assert not hasattr(found, "_organisation_code")


def test_no_token_is_found_for_a_revoked_or_unknown_secret(cast):
    token, secret = actions.issue_token(
        by=cast.people["org_admin"], organisation=cast.north, name="Feed", scope=TokenScope.READ
    )
    actions.revoke_token(by=cast.people["org_admin"], token=token)
    assert queries.active_token(ApiToken.hash_secret(secret)) is None
    assert queries.active_token(ApiToken.hash_secret("flt_unknown")) is None
