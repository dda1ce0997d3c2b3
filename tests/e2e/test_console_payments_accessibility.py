"""axe-core over the console's payment pages that need a paid payment or a
webhook first (WCAG 2.2 A and AA, English and Simplified Chinese): a payment with
its timeline, the refund form with an error, the refund's confirmation, a
webhook's secret shown once and its deliveries. The list pages are in
test_console_accessibility.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx
import pytest
from gaap.payments.v1 import payments_pb2 as pb

from gaap_client import ClientSecret, GaapClient, TokenSource
from tests.integration.payments.support import MAGIC, pay_on_page
from tests.support import devstack
from tests.support.axe import violations
from tests.support.console_browser import sign_in_at_identity
from tests.support.devstack import Devstack

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.slow
LANGUAGES = ("en", "zh-Hans")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devstack]:
    with devstack.running(tmp_path_factory.mktemp("console-pay-a11y") / "var") as running:
        yield running


def paid_payment(stack: Devstack, client_id: str, secret: str) -> str:
    with httpx.Client(timeout=10) as http:
        tokens = TokenSource(
            stack.issuer + "/oauth2/token", ClientSecret(client_id, secret), http=http
        )
        with GaapClient(tokens, stack.targets()) as agency:
            created = agency.payments.CreatePayment(
                pb.CreatePaymentRequest(
                    amount=1050,
                    reference="A11Y-1",
                    description="Parking permit",
                    return_url="https://agency.example/done",
                    idempotency_key=uuid.uuid4().hex,
                )
            )
    pay_on_page(created.next_url, MAGIC["success"])
    return str(created.id)


def test_the_payment_refund_and_webhook_pages_meet_wcag_2_2_aa(
    stack: Devstack, browser: Browser
) -> None:
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    found: dict[str, list[str]] = {}

    def check(label: str) -> None:
        problems = violations(page)
        if problems:
            found[label] = [f"{v['id']}: {v['help']} at {v['nodes'][:3]}" for v in problems]

    page.goto(stack.console_url + "/")
    page.get_by_role("link", name="Sign in").click()
    sign_in_at_identity(page, stack.demo("staff"))
    page.wait_for_url(stack.console_url + "/")
    page.goto(stack.console_url + "/agencies/new")
    page.get_by_label("Agency name").fill("Accessible Payments")
    page.get_by_role("button", name="Create the agency").click()
    client_id = page.locator("#client-id").inner_text()
    secret = page.locator("#client-secret").inner_text()
    page.get_by_role("link", name="Go to your team").click()
    team = page.url.rsplit("/", 1)[1]
    payment_id = paid_payment(stack, client_id, secret)
    # The administrator gives themselves the refunder permission.
    page.goto(f"{stack.console_url}/teams/{team}/members")
    page.locator("form[action$='/role'] input[name=refunder]").first.check()
    page.locator("form[action$='/role'] button[type=submit]").first.click()
    base = f"{stack.console_url}/teams/{team}"

    for language in LANGUAGES:
        page.goto(f"{base}/payments/{payment_id}?lang={language}")
        assert page.locator("#refund").count() == 1
        check(f"a payment ({language})")
        page.locator("#amount").fill("20")
        page.locator("#refund button[type=submit]").click()
        assert page.locator(".error-summary").count() == 1
        check(f"the refund form with errors ({language})")
        page.locator("#amount").fill("1.00")
        page.locator("#refund button[type=submit]").click()
        assert page.locator("#confirm-refund").count() == 1
        check(f"the refund's confirmation ({language})")

        page.goto(f"{base}/webhooks?lang={language}")
        page.locator("#url").fill(f"http://127.0.0.1:9/{language}")
        page.locator("#new-webhook button[type=submit]").click()
        assert page.locator("#signing-secret").count() == 1
        check(f"a webhook's secret, shown once ({language})")
        page.locator("a[href*='/webhooks/whs_']").click()
        page.locator("#send-test button[type=submit]").click()
        assert page.locator("#deliveries").count() == 1
        check(f"a webhook's deliveries ({language})")
    context.close()
    assert found == {}
