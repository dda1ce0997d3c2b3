"""A citizen with a mobile number signs in at Cl.Cm with a texted code, in
headless Chromium against the real identity pages: password, "Text me a code
instead", the code read from the text-message sink, consent, back at the agency.

identity texts through the same recording messenger as the integration tests of
the phone factor (swapped in at ``messaging.postbox``); emails go to a local
SMTP sink (adding a number emails an alert, registering emails a code)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller

from services.identity.adapters import messaging
from services.identity.adapters.postbox import Postbox
from services.identity.adapters.smtp_messenger import SmtpMessenger
from services.identity.settings import IdentitySettings
from tests.e2e.test_identity_signin import _AgencyPages, _rp
from tests.integration.accounts.conftest import Mailbox
from tests.integration.accounts.helpers import PASSWORD
from tests.integration.accounts.test_accounts_sms import (
    TextingMessenger,
    Texts,
    add_number,
    citizen,
    new_number,
)
from tests.support.oidc import decode_unverified
from tests.support.platform import Platform, free_port, running_platform

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = int(controller.port)
    yield box
    controller.stop()


@pytest.fixture(scope="module")
def texts() -> Texts:
    return Texts()


@pytest.fixture(scope="module")
def platform(
    tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox, texts: Texts
) -> Iterator[Platform]:
    def texting(settings: IdentitySettings, _token_server: Any) -> tuple[Postbox, None]:
        smtp = SmtpMessenger(
            host=settings.smtp_host, port=settings.smtp_port, sender=settings.mail_from
        )
        return Postbox(TextingMessenger(smtp, texts), can_send_sms=True), None

    var = tmp_path_factory.mktemp("e2e-identity-sms")
    patch = pytest.MonkeyPatch()
    patch.setattr(messaging, "postbox", texting)
    try:
        with running_platform(
            f"sqlite:///{var / 'identity.db'}", var, smtp_port=mailbox.port
        ) as running:
            patch.undo()
            yield running
    finally:
        patch.undo()


@pytest.fixture(scope="module")
def agency_site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AgencyPages)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    yield context.new_page()
    context.close()


def test_sign_in_at_cl_cm_with_a_texted_code(
    platform: Platform, mailbox: Mailbox, texts: Texts, page: Page, agency_site: str
) -> None:
    someone = citizen(platform, mailbox)  # registered, with an authenticator app
    typed, e164 = new_number()
    add_number(someone, texts, typed, e164)  # proved with a texted code
    rp = _rp(platform, agency_site)
    request = rp.auth_request(scope="openid profile email", acr_values="Cl.Cm")

    page.goto(request.url)
    assert page.title() == "Sign in"
    page.get_by_label("Email address").fill(someone.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()

    assert page.title() == "Enter the code from your authenticator app"
    texted = texts.to(e164)
    page.get_by_role("button", name="Text me a code instead").click()
    page.wait_for_url("**/signin/sms/code?ticket=**")
    assert page.title() == "Check your phone"
    code = texts.code(e164, texted + 1)  # the text this click sent, not an earlier one

    page.get_by_label("Security code").fill(code)
    page.get_by_role("button", name="Continue").click()
    assert "Residents' parking permits" in page.get_by_role("heading").inner_text()
    page.get_by_role("button", name="Allow", exact=True).click()

    page.wait_for_url(agency_site + "/callback**")
    params = {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}
    assert params["state"] == request.state
    tokens = rp.redeem(params["code"], request.verifier).json()
    claims = decode_unverified(tokens["id_token"])
    assert claims["acr"] == "Cl.Cm"
    assert set(claims["amr"]) >= {"pwd", "otp", "mfa"}
