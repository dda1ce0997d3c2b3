"""The hosted payment page in headless Chromium: each magic card, the resulting
state, the return redirect, validation messages, cancelling and Chinese."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from gaap.payments.v1 import payments_pb2 as pb

from tests.integration.payments.support import MAGIC, Agency, Payments, payments_service
from tests.support.platform import running_platform

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

RETURN_URL = "http://127.0.0.1:9/agency/done"


@pytest.fixture(scope="module")
def payments(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Payments]:
    var = tmp_path_factory.mktemp("e2e")
    database_url = f"sqlite:///{var / 'identity.db'}"
    with (
        running_platform(database_url, var) as platform,
        payments_service(platform, database_url) as running,
    ):
        yield running


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    # The agency's return page does not exist here: answer it locally.
    context.route("http://127.0.0.1:9/**", lambda route: route.fulfill(body="agency page"))
    yield context.new_page()
    context.close()


def fill_card(page: Page, number: str) -> None:
    page.get_by_label("Card number").fill(number)
    page.get_by_label("Expiry date").fill("12/39")
    page.get_by_label("Card security code").fill("123")
    page.get_by_label("Name on card").fill("Ada Citizen")
    page.get_by_role("button", name="Continue").click()


@pytest.mark.parametrize(
    ("card", "state", "heading"),
    [
        ("declined", pb.PAYMENT_STATE_FAILED, "Your payment has been declined"),
        ("expired", pb.PAYMENT_STATE_FAILED, "Your card has expired"),
        ("error", pb.PAYMENT_STATE_ERROR, "Sorry, we could not take your payment"),
    ],
)
def test_failing_magic_cards(
    payments: Payments, page: Page, card: str, state: int, heading: str
) -> None:
    agency = Agency(payments)
    payment = agency.create(return_url=RETURN_URL, amount=1999)
    page.goto(payments.page_url(payment))
    fill_card(page, MAGIC[card])
    assert page.locator("h1").inner_text() == heading
    page.get_by_role("link", name="Continue").click()
    page.wait_for_url(RETURN_URL)
    assert agency.get(payment.id).state == state


def test_paying_with_the_success_card(payments: Payments, page: Page) -> None:
    agency = Agency(payments)
    payment = agency.create(return_url=RETURN_URL, amount=1999, description="Driving licence")
    page.goto(payments.page_url(payment))
    assert page.locator("#amount").inner_text() == "£19.99"
    assert page.locator("#description").inner_text() == "Driving licence"
    registered = payments.platform.admin.registry.get(agency.client_id).name
    assert page.locator("#agency-name").inner_text() == registered
    for label, autocomplete in [
        ("Card number", "cc-number"),
        ("Expiry date", "cc-exp"),
        ("Card security code", "cc-csc"),
        ("Name on card", "cc-name"),
    ]:
        assert page.get_by_label(label).get_attribute("autocomplete") == autocomplete
    fill_card(page, MAGIC["success"])
    assert page.locator("h1").inner_text() == "Confirm your payment"
    assert "4242" in page.locator("#card").inner_text()
    page.get_by_role("button", name="Confirm payment").click()
    page.wait_for_url(RETURN_URL)
    after = agency.get(payment.id)
    assert after.state == pb.PAYMENT_STATE_SUCCESS
    assert after.captured_amount == 1999


def test_validation_errors_link_to_fields(payments: Payments, page: Page) -> None:
    payment = Agency(payments).create(return_url=RETURN_URL)
    page.goto(payments.page_url(payment))
    page.get_by_label("Card number").fill("4242 4242 4242 4241")
    page.get_by_label("Expiry date").fill("01/20")
    page.get_by_role("button", name="Continue").click()
    summary = page.get_by_role("alert")
    assert "There is a problem" in summary.inner_text()
    summary.get_by_role("link", name="Enter a valid card number").click()
    assert page.evaluate("document.activeElement.id") == "card-number"
    assert page.get_by_label("Card number").input_value() == ""  # never echoed back
    assert page.get_by_label("Expiry date").input_value() == "01/20"
    assert page.title().startswith("Error:")


def test_citizen_cancels_and_returns(payments: Payments, page: Page) -> None:
    agency = Agency(payments)
    payment = agency.create(return_url=RETURN_URL)
    page.goto(payments.page_url(payment))
    page.get_by_role("link", name="Cancel payment").click()
    page.get_by_role("button", name="Yes, cancel payment").click()
    page.wait_for_url(RETURN_URL)
    after = agency.get(payment.id)
    assert (after.state, after.failure_code) == (
        pb.PAYMENT_STATE_FAILED,
        pb.FAILURE_CODE_CANCELLED_BY_CITIZEN,
    )


def test_simplified_chinese_from_the_payment_and_the_switch(payments: Payments, page: Page) -> None:
    payment = Agency(payments).create(return_url=RETURN_URL, language="zh-Hans")
    page.goto(payments.page_url(payment))
    assert page.locator("h1").inner_text() == "输入银行卡信息"
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    page.get_by_role("link", name="English").click()
    assert page.locator("h1").inner_text() == "Enter card details"
    page.reload()  # the switch is remembered
    assert page.locator("h1").inner_text() == "Enter card details"
