"""The jobs page in a real browser: platform staff find it from the header, read a failure's
traceback, and the page passes axe (WCAG 2.2 AA)."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from tests.functional.conftest import axe_violations, sign_in
from tests.integration.jobs.test_jobs import add, always_fails, run_worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"


def test_staff_open_the_jobs_page_from_the_header_and_read_why_a_job_failed(
    page, monkeypatch, tmp_path
):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    call_command("createsuperuser", "--noinput", username="platform", email="p@example.nhs.uk")
    always_fails.enqueue("Ward 7")
    add.enqueue(2, 3)
    run_worker(schedule=True)
    add.enqueue(4, 5)

    sign_in(page, "platform", PASSWORD)
    page.get_by_role("link", name="Jobs").first.click()
    page.wait_for_url("**/platform/jobs")

    assert page.get_by_role("heading", name="Background jobs").is_visible()
    error = page.locator("#failed ~ .flotilla-job .flotilla-job-error").first
    assert error.inner_text() == "ValueError: the bed list for Ward 7 is unreadable"
    traceback = page.locator("#failed ~ .flotilla-job pre").first
    assert not traceback.is_visible()
    page.get_by_text("Traceback of always_fails").click()
    assert "Traceback (most recent call last)" in traceback.inner_text()
    page.screenshot(path=str(tmp_path / "jobs.png"), full_page=True)
    assert axe_violations(page) == []
