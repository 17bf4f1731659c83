"""Not found, not allowed, broken: styled pages that say what to do and give nothing away."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import Client, RequestFactory

from flotilla import errors
from flotilla.authz.models import Role


@pytest.mark.django_db
def test_an_anonymous_visitor_gets_a_styled_not_found_page(client):
    response = client.get("/no/such/page")
    page = response.content.decode()
    assert response.status_code == 404
    assert "<h1>Page not found</h1>" in page
    assert "nhsuk-header" in page and "Sign in" in page
    assert "/no/such/page" not in page


@pytest.mark.django_db
def test_a_collaborative_you_are_not_in_looks_the_same_as_one_that_does_not_exist(client, cast):
    client.force_login(cast.people["outsider"])
    hidden = client.get(f"/c/{cast.collab.slug}/members")
    absent = client.get("/c/no-such-collaborative/members")
    assert hidden.status_code == absent.status_code == 404
    assert hidden.content == absent.content
    assert cast.collab.name not in hidden.content.decode()
    assert "Go to your home page" in hidden.content.decode()


@pytest.mark.django_db
def test_a_form_sent_without_its_security_token_gets_the_styled_forbidden_page(cast):
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.people[Role.ORG_ADMIN])
    response = client.post("/inbox/clear")
    assert response.status_code == 403
    page = response.content.decode()
    assert "<h1>You cannot do that here</h1>" in page
    assert "reload the page and try again" in page
    assert "CSRF" not in page


@pytest.mark.django_db
def test_the_forbidden_page_works_for_an_anonymous_visitor():
    request = RequestFactory().get("/anything")
    request.user = AnonymousUser()
    response = errors.forbidden(request)
    assert response.status_code == 403
    assert "Sign in" in response.content.decode()


def test_the_server_error_page_needs_no_database():
    # No `db` fixture: any query here would fail the test.
    response = errors.server_error(RequestFactory().get("/"))
    page = response.content.decode()
    assert response.status_code == 500
    assert "Sorry, there is a problem with the service" in page
    assert "nhsuk-frontend.min.css" in page
