"""A citizen creates and keeps an account in headless Chromium: registers from an
agency's sign-in, proves the address with the emailed code (read from an SMTP
server this test runs), sets up the authenticator from the QR page's secret,
signs in at Cl.Cm, resets the password, uses a recovery code, withdraws
consent; and the same registration once in Simplified Chinese."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.test_identity_signin import _rp, agency_site  # noqa: F401 - a fixture
from tests.integration.accounts.conftest import Mailbox
from tests.support.oidc import RelyingParty
from tests.support.platform import Platform, free_port, running_platform
from tests.support.totp import previous_step_code

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

PASSWORD = "a sensible passphrase 42"
NEW_PASSWORD = "another sensible one 77"


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    from aiosmtpd.controller import Controller

    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = int(controller.port)
    yield box
    controller.stop()


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox) -> Iterator[Platform]:
    var: Path = tmp_path_factory.mktemp("e2e-accounts")
    with running_platform(
        f"sqlite:///{var / 'identity.db'}", var, smtp_port=mailbox.port
    ) as running:
        yield running


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    yield context.new_page()
    context.close()


def callback(page: Page, site: str) -> dict[str, str]:
    page.wait_for_url(site + "/callback**")
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


def register_and_enrol(
    page: Page, mailbox: Mailbox, email: str, labels: dict[str, str], subject: str
) -> tuple[str, list[str]]:
    page.get_by_role("link", name=labels["create"]).click()
    page.get_by_label(labels["email"], exact=True).fill(email)
    page.get_by_label(labels["password"], exact=True).fill(PASSWORD)
    page.get_by_label(labels["confirm"], exact=True).fill(PASSWORD)
    page.get_by_role("button", name=labels["continue"]).click()
    code = mailbox.code(email, subject)
    page.get_by_label(labels["code"], exact=True).fill(code)
    page.get_by_role("button", name=labels["continue"]).click()
    assert page.locator("svg").count() == 1  # the QR code, inline
    secret = page.locator("#secret").get_attribute("data-secret")
    assert secret
    assert page.locator("#secret").inner_text().replace(" ", "") == secret
    # The previous step, so that a sign-in straight afterwards can use the current one.
    page.get_by_label(labels["code"], exact=True).fill(previous_step_code(secret))
    page.get_by_role("button", name=labels["continue"]).click()
    codes = page.locator("ul.recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    page.get_by_role("link", name=labels["saved"]).click()
    return secret, codes


ENGLISH = {
    "create": "Create an account",
    "email": "Email address",
    "password": "Create a password",
    "confirm": "Confirm your password",
    "continue": "Continue",
    "code": "Security code",
    "saved": "I have saved my recovery codes: continue",
}
CHINESE = {
    "create": "创建账户",
    "email": "电子邮件地址",
    "password": "设置密码",
    "confirm": "确认密码",
    "continue": "继续",
    "code": "安全验证码",
    "saved": "我已保存恢复码：继续",
}


def test_a_citizen_registers_signs_in_resets_recovers_and_withdraws_consent(
    platform: Platform,
    page: Page,
    browser: Browser,
    mailbox: Mailbox,
    agency_site: str,  # noqa: F811
) -> None:
    rp: RelyingParty = _rp(platform, agency_site)
    email = f"resident-{uuid.uuid4().hex[:8]}@example.gov.test"

    # Register from the agency's Cl.Cm sign-in, then consent.
    request = rp.auth_request(scope="openid email", acr_values="Cl.Cm")
    page.goto(request.url)
    _, codes = register_and_enrol(page, mailbox, email, ENGLISH, "Your GaaP security code")
    page.get_by_role("button", name="Allow", exact=True).click()
    params = callback(page, agency_site)
    tokens = rp.redeem(params["code"], request.verifier).json()
    assert tokens["token_type"] == "Bearer"

    # On another device: forgot the password; reset it by the emailed code.
    other = browser.new_context()
    tab = other.new_page()
    tab.goto(rp.auth_request(scope="openid email", acr_values="Cl.Cm").url)
    tab.get_by_role("link", name="Forgot your password?").click()
    tab.get_by_label("Email address").fill(email)
    tab.get_by_role("button", name="Continue").click()
    tab.get_by_label("Security code").fill(mailbox.code(email, "Reset your GaaP password"))
    tab.get_by_role("button", name="Continue").click()
    tab.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    tab.get_by_label("Confirm your new password").fill(NEW_PASSWORD)
    tab.get_by_role("button", name="Change password").click()
    assert tab.get_by_role("heading").inner_text() == "Your password has been changed"
    assert mailbox.wait_for(email, "Your GaaP password was changed")

    # Sign in with the new password and, the phone being lost, a recovery code.
    tab.get_by_role("link", name="Sign in with your new password").click()
    tab.get_by_label("Email address").fill(email)
    tab.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    tab.get_by_role("button", name="Continue").click()
    tab.get_by_role("link", name="use a recovery code").click()
    tab.get_by_label("Recovery code").fill(codes[0])
    tab.get_by_role("button", name="Continue").click()
    tab.get_by_role("link", name="Not now: keep my current authenticator app").click()
    assert callback(tab, agency_site)["code"]
    assert mailbox.wait_for(email, "New sign-in to your GaaP account")

    # The account page lists the agency; withdrawing consent means being asked again.
    tab.goto(platform.identity.http_url + "/account")
    assert "Residents' parking permits" in tab.content()
    tab.get_by_role("button", name="Withdraw consent").click()
    assert "You have withdrawn your consent" in tab.content()
    assert "Residents' parking permits" not in tab.content()
    tab.goto(rp.auth_request(scope="openid email", acr_values="Cl.Cm").url)
    assert "Residents' parking permits" in tab.get_by_role("heading").inner_text()
    assert tab.get_by_role("button", name="Allow", exact=True).is_visible()
    other.close()


def test_a_citizen_registers_in_simplified_chinese(
    platform: Platform,
    page: Page,
    mailbox: Mailbox,
    agency_site: str,  # noqa: F811
) -> None:
    rp = _rp(platform, agency_site)
    email = f"jumin-{uuid.uuid4().hex[:8]}@example.gov.test"
    request = rp.auth_request(scope="openid", acr_values="Cl.Cm", ui_locales="zh-Hans")
    page.goto(request.url)
    assert page.title() == "登录"
    register_and_enrol(page, mailbox, email, CHINESE, "您的 GaaP 安全验证码")
    page.get_by_role("button", name="允许", exact=True).click()
    assert callback(page, agency_site)["code"]
