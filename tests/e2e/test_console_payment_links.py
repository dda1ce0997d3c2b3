"""Payment links in headless Chromium against the processes ``make run`` starts:
the demo staff member signs up an agency and makes a payment link on the
console's pages; a citizen with no account opens its public address, types an
amount within the bounds and an application number, pays on the hosted page
with the sandbox's 4242 card, and lands on the console's thank-you page; the
payment shows on the link's page; paused, the link refuses the next citizen."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.support import devstack
from tests.support.console_browser import sign_in_at_identity
from tests.support.devstack import Devstack

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devstack]:
    with devstack.running(tmp_path_factory.mktemp("links") / "var") as running:
        yield running


def test_a_citizen_pays_through_a_payment_link_with_the_4242_card(
    stack: Devstack, browser: Browser
) -> None:
    staff_context = browser.new_context(locale="en-GB")
    page = staff_context.new_page()
    page.goto(stack.console_url + "/")
    page.get_by_role("link", name="Sign in").click()
    sign_in_at_identity(page, stack.demo("staff"))
    page.wait_for_url(stack.console_url + "/")
    page.goto(stack.console_url + "/agencies/new")
    page.get_by_label("Agency name").fill("Harbour Fees")
    page.get_by_role("button", name="Create the agency").click()
    page.get_by_role("link", name="Go to your team").click()

    page.get_by_role("link", name="Payment links").click()
    page.get_by_role("link", name="Make a payment link").click()
    page.get_by_role("button", name="Make the payment link").click()
    assert "Enter the payment's title" in page.locator(".error-summary").inner_text()
    page.get_by_label("Title").fill("Mooring fee")
    page.get_by_label("An amount the person paying types, within limits").check()
    page.get_by_label("Smallest amount").fill("10")
    page.get_by_label("Largest amount").fill("200")
    page.get_by_label("What the reference is called").fill("Mooring number")
    page.get_by_role("button", name="Make the payment link").click()
    assert page.locator("h1").inner_text() == "Mooring fee"
    link_page = page.url
    public = page.locator("#public-url").get_attribute("href")
    assert public

    citizen_context = browser.new_context(locale="en-GB")
    citizen = citizen_context.new_page()
    citizen.goto(public)
    assert citizen.locator("h1").inner_text() == "Mooring fee"
    citizen.get_by_label("Amount to pay, in GBP").fill("250")
    citizen.get_by_label("Mooring number").fill("M-42")
    citizen.get_by_role("button", name="Continue to payment").click()
    assert (
        "Enter an amount within the limits shown" in citizen.locator(".error-summary").inner_text()
    )
    citizen.get_by_label("Amount to pay, in GBP").fill("42.50")
    citizen.get_by_role("button", name="Continue to payment").click()
    # payments' hosted page, then back to the console's thank-you page
    citizen.get_by_label("Card number").fill("4242 4242 4242 4242")
    citizen.get_by_label("Expiry date").fill("12/39")
    citizen.get_by_label("Card security code").fill("123")
    citizen.get_by_label("Name on card").fill("Ada Citizen")
    citizen.get_by_role("button", name="Continue").click()
    citizen.get_by_role("button", name="Confirm payment").click()
    citizen.wait_for_url(public + "/done/*")
    assert citizen.locator("h1").inner_text() == "Thank you, your payment was taken"
    assert citizen.locator("#payment-state").inner_text() == "Succeeded"

    page.goto(link_page)
    rows = page.locator("#link-payments tbody tr")
    assert rows.count() == 1
    assert "M-42" in rows.first.inner_text()
    assert "£42.50" in rows.first.inner_text()
    assert "Succeeded" in rows.first.inner_text()

    page.get_by_role("button", name="Pause this link").click()
    assert page.locator("#link-state").inner_text() == "Paused"
    response = citizen.goto(public)
    assert response is not None
    assert response.status == 410
    assert citizen.locator("h1").inner_text() == "This payment link is paused"

    # make run's demo link answers without signing in
    demo = citizen.goto(stack.demo("payment-link")["url"])
    assert demo is not None
    assert demo.status == 200
    citizen_context.close()
    staff_context.close()
