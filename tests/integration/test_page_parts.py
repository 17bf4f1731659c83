"""Parts of every page kept once rendered (`flotilla.jinja2.parts`): the header and footer."""

from __future__ import annotations

import uuid

import pytest
from django.template import engines
from django.urls import set_script_prefix

from tests import factories as f

pytestmark = pytest.mark.django_db


def part():
    return engines["jinja2"].env.globals["part"]


def test_the_same_values_give_the_same_part_rendered_once(monkeypatch):
    env = engines["jinja2"].env
    rendered = []
    real = env.get_template

    def counting(name, *args, **kwargs):
        rendered.append(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(env, "get_template", counting)
    name = f"kept-once-{uuid.uuid4().hex[:8]}"  # never asked for before in this process
    values = {"username": name, "unread": 3, "staff": False}
    first = part()("parts/signed_in_header.jinja", **values)
    again = part()("parts/signed_in_header.jinja", **values)
    assert first == again and rendered.count("parts/signed_in_header.jinja") == 1
    assert name in first and "Inbox (3 unread)" in first
    assert ">Jobs<" not in first


def test_other_values_give_their_own_part():
    one = part()("parts/signed_in_header.jinja", username="a", unread=0, staff=False)
    other = part()("parts/signed_in_header.jinja", username="a", unread=2, staff=True)
    assert "Inbox (2 unread)" in other and "Inbox (2 unread)" not in one
    assert ">Jobs<" in other


def test_a_username_is_escaped_in_the_kept_header():
    html = part()("parts/signed_in_header.jinja", username="<b>x</b>", unread=0, staff=False)
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html


def test_links_are_kept_per_url_prefix():
    try:
        set_script_prefix("/flotilla/")
        prefixed = part()("parts/footer.jinja")
    finally:
        set_script_prefix("/")
    plain = part()("parts/footer.jinja")
    assert 'href="/flotilla/about/"' in prefixed and 'href="/about/"' in plain


def test_a_page_shows_the_readers_own_unread_count_after_it_changes(client, cast):
    from flotilla.notifications import actions

    person = cast.people["south_reporter"]
    client.force_login(person)
    assert "Inbox (" not in client.get("/about/").content.decode()
    actions.notify(by=f.SYSTEM, recipients=[person], text="New")
    assert "Inbox (1 unread)" in client.get("/about/").content.decode()
