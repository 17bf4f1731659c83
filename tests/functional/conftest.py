"""Browser tests: Playwright driving the machine's Chromium against a live test server.

They skip, saying why, where Chromium is not installed (`apt-get install chromium`).
"""

from __future__ import annotations

import os

import pytest

from tests.conftest import chromium_path

# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make
# there (through factories) are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if not path:
        pytest.skip("Chromium not found: install Debian's chromium to run the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def open_page(browser, live_server):
    """Opens a page in a browser context of its own (its own cookies: one person each), as
    many as a test needs. Any request leaving the test server fails the test (the platform
    must work offline), and so does anything the Content-Security-Policy refused (an inline
    script or style would be)."""
    contexts, outside, refused = [], [], []

    def watch(message):
        if "Content Security Policy" in message.text:
            refused.append(message.text)

    def guard(route):
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    def open_one(width: int = 1280, height: int = 900):
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": width, "height": height}
        )
        context.route("**/*", guard)
        context.on("console", watch)  # every page of the context, popups included
        contexts.append(context)
        return context.new_page()

    yield open_one
    for context in contexts:
        context.close()
    assert not outside, f"the page fetched from outside the server: {outside}"
    assert not refused, f"the Content-Security-Policy refused: {refused}"


@pytest.fixture
def page(open_page):
    return open_page()


def sign_in(page, username: str, password: str = "correct horse battery staple") -> None:
    page.goto("/signin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/")


def axe_violations(page) -> list[dict]:
    """Serious or critical WCAG 2.2 AA violations on the current page."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(
        page,
        options={
            "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21aa", "wcag22aa"]}
        },
    )
    return [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
