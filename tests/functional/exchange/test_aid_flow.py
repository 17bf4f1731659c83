"""Two trusts arrange a patient transfer in two browsers, from the request to the ledger.

Neither reloads a page to see what the other did first: the board and the request page
refresh themselves. (South reloads once, to see the take-up at once rather than within 30 s.)
"""

from __future__ import annotations

import re

import pytest

from flotilla.exchange.models import AidRequest, Commitment
from tests import factories as f
from tests.functional.conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


class Clicks:
    """Counts what a person does with the pointer: links, buttons, boxes and list choices.
    Typing a number and reloading a page are not clicks."""

    def __init__(self) -> None:
        self.count = 0

    def click(self, page, selector: str) -> None:
        self.count += 1
        page.click(selector)

    def check(self, page, selector: str) -> None:
        self.count += 1
        page.check(selector)

    def choose(self, page, selector: str, value: str) -> None:
        self.count += 1
        page.select_option(selector, value)


def test_two_trusts_arrange_a_patient_transfer_from_request_to_ledger_in_twelve_clicks(
    open_page, aid
):
    north, south = open_page(), open_page()
    sign_in(north, "north_coordinator")
    sign_in(south, "south_coordinator")
    board = f"/c/{aid.collab.slug}/aid"
    south.goto(board)  # South is watching the board
    north.goto(board)
    clicks = Clicks()

    # North asks for a ventilated critical care transfer for 2 patients.
    clicks.click(north, "#ask-for >> text=Patient transfer")
    clicks.choose(north, "#id_detail_level_of_care", "cc3")
    north.fill("#id_quantity", "2")
    clicks.check(north, "input[name=urgency][value=within_4h]")
    clicks.click(north, "button:has-text('Ask for help')")
    north.wait_for_url(re.compile(r".*/aid/requests/\d+$"))
    pk = int(north.url.rsplit("/", 1)[1])
    assert AidRequest.objects.get(pk=pk).details["bed_type"] == "cc_adult"

    # South's board shows it within 60 s without a reload, and South's inbox has it.
    link = f"#aid-lists a[href='/aid/requests/{pk}']"
    south.wait_for_selector(link, timeout=60_000)
    inbox = south.context.new_page()
    inbox.goto("/inbox")
    assert "North Hospitals NHS Trust asks for help (within 4 hours)" in inbox.inner_text("main")
    inbox.close()

    # South offers 2 beds, with the form's terms.
    clicks.click(south, link)
    clicks.click(south, "text=Offer help")
    assert south.input_value("#id_quantity") == "2"
    clicks.click(south, "button:has-text('Make the offer')")
    south.wait_for_url(f"**/aid/requests/{pk}")

    # North's request page shows the offer by itself (it refreshes its offers every 30 s);
    # North takes up 1 of the 2.
    north.wait_for_selector(
        "#request-live >> text=South Hospitals NHS Trust offers", timeout=60_000
    )
    north.fill("input[name=quantity]", "1")
    clicks.click(north, "button:has-text('Take up')")
    north.wait_for_selector(".nhsuk-table >> text=Committed")

    # South marks it in progress, then fulfilled.
    south.reload()
    clicks.click(south, "button:has-text('Start')")
    south.wait_for_selector(".nhsuk-table >> text=In progress")
    clicks.click(south, "button:has-text('Fulfil')")
    south.wait_for_selector(".nhsuk-table >> text=Fulfilled")
    commitment = Commitment.objects.get(request_id=pk)
    assert (commitment.quantity, commitment.state) == (1, "fulfilled")

    # Both see it on the ledger.
    for page in (north, south):
        clicks.click(page, "text=Who has helped whom")
        row = page.locator("tr", has_text="1 patient, critical care level 3").first
        assert "South Hospitals NHS Trust" in row.inner_text()
        assert "North Hospitals NHS Trust" in row.inner_text()
    assert clicks.count <= 12, f"{clicks.count} clicks for the two sides together"


def test_the_request_page_holds_its_refresh_while_the_person_is_typing_in_it(page, aid):
    request = f.aid_request(
        by=aid.people["coordinator"],
        organisation=aid.north,
        collaborative=aid.collab,
        site=aid.north_site,
    )
    f.offer(
        by=aid.people["south_coordinator"],
        organisation=aid.south,
        site=aid.south_site,
        request=request,
        quantity=2,
    )
    sign_in(page, "north_coordinator")
    page.goto(f"/aid/requests/{request.pk}")
    page.wait_for_load_state("load")  # htmx (a deferred script) has run
    # The refresh htmx is about to make of the live region: refused (default prevented)
    # while the take-up field inside it has the focus, made once the person has left it.
    refresh = """() => {
        const region = document.querySelector('#request-live');
        const event = new CustomEvent('htmx:beforeRequest',
            {bubbles: true, cancelable: true, detail: {elt: region}});
        return region.dispatchEvent(event);
    }"""
    page.focus("#request-live input[name=quantity]")
    assert page.evaluate(refresh) is False
    page.evaluate("document.activeElement.blur()")
    assert page.evaluate(refresh) is True
