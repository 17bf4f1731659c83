"""Take the user guide's screenshots from a running demo server.

    .venv/bin/flotilla runserver 127.0.0.1:8000 &   # with the demo loaded
    .venv/bin/python scripts/screenshots.py http://127.0.0.1:8000

Writes PNGs into docs/img/. Uses the machine's Chromium through Playwright. A second
argument, the password of a staff user named "platform", adds the jobs page.

Admins pass a second factor (ADR 0031): the first time an admin signs in, the script sets up
an authenticator app as a person would, reading the key the page shows and working out the
app's code from it, and keeps the key for their next sign-ins.
"""

from __future__ import annotations

import base64
import shutil
import sys
import time
from pathlib import Path

from django_otp.oath import TOTP
from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parent.parent / "docs" / "img"
PASSWORD = "flotilla-demo-2026"


class Authenticators:
    """The keys of the authenticator apps the script set up, and the last step each used (a
    code is accepted once, so a sign-in within the same 30 seconds takes the next one)."""

    def __init__(self) -> None:
        self.keys: dict[str, bytes] = {}
        self.last: dict[str, int] = {}
        #: Whether the code page's screenshot is taken (the first time it is shown).
        self.code_page_taken = False

    def add(self, user: str, shown: str) -> str:
        secret = shown.replace(" ", "")
        self.keys[user] = base64.b32decode(secret + "=" * (-len(secret) % 8))
        return self.code(user)

    def code(self, user: str) -> str:
        totp = TOTP(self.keys[user])
        step = max(int(time.time() // 30), self.last.get(user, -1) + 1)
        totp.time = step * 30 + 1
        self.last[user] = step
        return f"{totp.token():06d}"


def main(base: str, staff_password: str = "") -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=shutil.which("chromium"),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        # A British browser, as its users have: dates on forms read day first.
        page = browser.new_page(
            base_url=base, viewport={"width": 1400, "height": 1000}, locale="en-GB"
        )

        apps = Authenticators()

        def sign_in(user: str, password: str = PASSWORD) -> None:
            page.context.clear_cookies()
            page.goto("/signin/")
            page.fill("#id_username", user)
            page.fill("#id_password", password)
            page.click("button[type=submit]")
            page.wait_for_load_state()
            second_factor(user)

        def second_factor(user: str) -> None:
            if "/account/second-factor/set-up" in page.url:
                first = not apps.keys
                if first:
                    page.screenshot(path=OUT / "second-factor-set-up.png", full_page=True)
                page.fill("#id_code", apps.add(user, page.inner_text("#authenticator-key")))
                page.click("#add-authenticator")
                page.wait_for_selector("#recovery-codes")
                if first:
                    page.screenshot(path=OUT / "recovery-codes.png", full_page=True)
                page.click("#continue")
                page.wait_for_load_state()
            elif "/account/second-factor/" in page.url:
                if not apps.code_page_taken:
                    page.screenshot(path=OUT / "second-factor.png", full_page=True)
                    apps.code_page_taken = True
                page.fill("#id_code", apps.code(user))
                page.click("#pass-second-factor")
                page.wait_for_load_state()

        page.goto("/signin/")
        page.screenshot(path=OUT / "signin.png")
        sign_in("demo-system")
        page.screenshot(path=OUT / "home.png", full_page=True)
        page.click("text=North East and Yorkshire winter system")
        page.wait_for_load_state()
        slug = page.url.rstrip("/").rsplit("/", 1)[1]
        page.screenshot(path=OUT / "dashboard.png", full_page=True)
        page.goto(f"/c/{slug}/?at=2026-11-01T09:00")
        page.screenshot(path=OUT / "dashboard-as-at.png")
        first_org = page.locator("#picture-table tbody th a").first
        first_org.click()
        page.wait_for_load_state()
        page.screenshot(path=OUT / "organisation.png", full_page=True)
        page.goto(page.url + "?range=season")
        page.screenshot(path=OUT / "organisation-season.png", full_page=True)
        page.goto(f"/c/{slug}/members")
        page.screenshot(path=OUT / "members.png", full_page=True)
        page.goto(f"/c/{slug}/escalation")
        page.screenshot(path=OUT / "escalation-levels.png", full_page=True)
        page.click("#levels tr:has-text('differs from declared') th a >> nth=0")
        page.wait_for_load_state()
        page.screenshot(path=OUT / "escalation-organisation.png", full_page=True)
        page.goto(f"/c/{slug}/escalation/profiles")
        page.screenshot(path=OUT / "escalation-profiles.png", full_page=True)
        sign_in("demo-reporter")
        page.goto("/report/")
        page.click("text=Whole organisation")
        page.wait_for_load_state()
        page.screenshot(path=OUT / "report-form.png", full_page=True)
        page.fill("#id_ga_open", "abc")
        page.click("#submit-report")
        page.wait_for_selector(".nhsuk-error-summary")
        page.screenshot(path=OUT / "report-form-error.png")
        org_code = page.url.split("/o/")[1].split("/")[0]
        sign_in("demo-admin")
        page.goto(f"/o/{org_code}/import")
        page.screenshot(path=OUT / "upload.png", full_page=True)
        page.goto(f"/o/{org_code}/access")
        page.screenshot(path=OUT / "access-record.png", full_page=True)
        page.goto(f"/o/{org_code}/tokens")
        page.fill("#id_name", "Bed management system")
        page.click("text=Issue token")
        page.wait_for_selector("#new-token")
        page.screenshot(path=OUT / "tokens.png", full_page=True)
        page.goto(f"/o/{org_code}/people")
        page.fill("#id_who", "night.manager@example.nhs.uk")
        page.check("input[name=role][value=reporter]")
        page.click("#send-invitation")
        page.wait_for_selector("#invitation-link")
        page.screenshot(path=OUT / "people.png", full_page=True)
        link = page.inner_text("#invitation-link").strip()
        page.goto(f"/c/{slug}/members")
        leave = page.locator("a", has_text="Leave").first
        if leave.count():
            leave.click()
            page.wait_for_load_state()
            page.screenshot(path=OUT / "leave-confirm.png", full_page=True)
        page.goto("/inbox")
        page.screenshot(path=OUT / "inbox.png", full_page=True)
        page.context.clear_cookies()
        page.goto(link)
        page.screenshot(path=OUT / "join.png", full_page=True)
        page.goto("/request-access/?q=Leeds")
        page.screenshot(path=OUT / "request-access.png", full_page=True)
        sign_in("demo-admin")  # the second time: the app's code, not the set-up
        page.goto("/account/")
        page.screenshot(path=OUT / "account.png", full_page=True)
        page.goto(f"/o/{org_code}/sharing")
        page.screenshot(path=OUT / "sharing.png", full_page=True)
        page.goto("/inbox/settings")
        page.screenshot(path=OUT / "notification-settings.png", full_page=True)
        page.goto(f"/o/{org_code}/webhooks")
        page.screenshot(path=OUT / "webhooks.png", full_page=True)
        page.goto(f"/o/{org_code}/sharing/new")
        page.screenshot(path=OUT / "grant-new.png", full_page=True)
        page.click("text=Add the grant")
        page.wait_for_selector(".nhsuk-error-summary")
        page.screenshot(path=OUT / "grant-new-error.png")
        page.context.clear_cookies()
        page.goto(f"/o/{org_code}/")
        page.screenshot(path=OUT / "public-organisation.png", full_page=True)
        sign_in("demo-coordinator")
        page.goto(f"/c/{slug}/")
        banded = page.locator("#picture-table tbody tr", has_text="≈").first
        banded.scroll_into_view_if_needed()
        page.screenshot(path=OUT / "dashboard-grants.png")
        banded.locator("th a").click()
        page.wait_for_load_state()
        page.screenshot(path=OUT / "organisation-banded.png", full_page=True)
        # Mutual aid, as the coordinator whose trust asked for a critical care transfer.
        page.goto(f"/c/{slug}/aid")
        page.screenshot(path=OUT / "aid-board.png", full_page=True)
        page.click("#aid-lists a:has-text('critical care level 3')")
        page.wait_for_load_state()
        page.screenshot(path=OUT / "aid-request.png", full_page=True)
        page.goto(f"/c/{slug}/aid/ask?kind=transfer")
        page.screenshot(path=OUT / "aid-ask.png", full_page=True)
        page.goto(f"/c/{slug}/aid/ledger")
        page.screenshot(path=OUT / "aid-ledger.png")
        # Alerts: the coordinator subscribed to the system's occupancy rule.
        page.goto("/alerts/")
        page.screenshot(path=OUT / "alerts.png", full_page=True)
        page.click("#alerts-open a:has-text('Forecast')")
        page.wait_for_load_state()
        page.screenshot(path=OUT / "alert-forecast.png", full_page=True)
        page.goto(f"/c/{slug}/alerts/")
        page.screenshot(path=OUT / "alert-rules.png", full_page=True)
        # Working together, as the same coordinator: objectives, the log, a decision with
        # the picture it was taken on, today's brief and the call's minutes.
        page.goto(f"/c/{slug}/objectives/")
        page.screenshot(path=OUT / "objectives.png", full_page=True)
        page.goto(f"/c/{slug}/log/")
        page.screenshot(path=OUT / "raid-log.png", full_page=True)
        page.goto(f"/c/{slug}/log/?kind=decision&show=all")
        page.click("#log-items a:has-text('Divert critical care')")
        page.wait_for_load_state()
        page.screenshot(path=OUT / "decision.png")
        page.goto(f"/c/{slug}/call/brief")
        page.screenshot(path=OUT / "brief.png", full_page=True)
        page.click("text=Go to today's minutes")
        page.wait_for_load_state()
        page.screenshot(path=OUT / "minutes.png")
        page.goto(f"/c/{slug}/team")
        page.screenshot(path=OUT / "team.png", full_page=True)
        page.goto(f"/c/{slug}/replay")
        page.screenshot(path=OUT / "replay.png")
        # Who to call: every member's on-call directory, as the coordinator may see it, and
        # their own organisation's, which they keep.
        page.goto(f"/c/{slug}/on-call")
        page.screenshot(path=OUT / "who-to-call.png")
        page.click("h2 a:has-text('Barnsley')")  # the coordinator's own trust
        page.wait_for_load_state()
        page.screenshot(path=OUT / "on-call.png", full_page=True)
        # Balancing the load, as the same coordinator.
        page.goto(f"/c/{slug}/planning")
        page.click("#run-plan")
        page.wait_for_selector("#result")
        page.screenshot(path=OUT / "planning.png", full_page=True)
        page.select_option("#days", "7")
        page.click("#run-plan")
        page.wait_for_selector("#result")
        page.screenshot(path=OUT / "planning-outlook.png")
        page.goto(f"/c/{slug}/planning")
        page.click("#run-plan")
        page.wait_for_selector("#result")
        page.check("#move-1")
        page.check("#move-2")
        page.click("#make-drafts")
        page.wait_for_url("**/planning/drafts")
        phone = browser.new_page(
            base_url=base, viewport={"width": 390, "height": 844}, locale="en-GB"
        )
        phone.context.add_cookies(page.context.cookies())
        phone.goto(f"/c/{slug}/aid")
        phone.screenshot(path=OUT / "aid-board-phone.png")
        phone.close()
        sign_in("demo-coord-rhq")  # another trust, offering help
        page.goto(f"/c/{slug}/aid")
        page.click("#aid-lists a:has-text('registered nurse')")
        page.wait_for_load_state()
        page.click("text=Offer help")
        page.wait_for_load_state()
        page.screenshot(path=OUT / "aid-offer.png", full_page=True)
        # The draft offer the coordinator's plan put to this trust.
        page.goto(f"/c/{slug}/aid")
        page.click("#drafts a >> nth=0")
        page.wait_for_load_state()
        page.screenshot(path=OUT / "planning-draft.png", full_page=True)
        # Platform staff (a superuser made with `flotilla createsuperuser`, named "platform").
        if staff_password:
            sign_in("platform", staff_password)
            page.goto("/platform/jobs")
            page.screenshot(path=OUT / "jobs.png", full_page=True)
        browser.close()
    print(f"screenshots written to {OUT}")


if __name__ == "__main__":
    main(
        sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000",
        sys.argv[2] if len(sys.argv) > 2 else "",
    )
