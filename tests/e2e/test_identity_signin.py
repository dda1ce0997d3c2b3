"""A citizen signs in at Cl.Cm through an agency's authorization request, consents
and signs out, in headless Chromium against the real identity service."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlencode, urlsplit

import pyotp
import pytest

from tests.integration.oidc.conftest import CITIZEN_SCOPES, Citizen, make_citizen
from tests.support.oidc import RelyingParty
from tests.support.platform import Platform, running_platform

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    var = tmp_path_factory.mktemp("e2e-identity")
    with running_platform(f"sqlite:///{var / 'identity.db'}", var) as running:
        yield running


class _AgencyPages(BaseHTTPRequestHandler):
    """The agency's own pages, where identity sends the citizen back."""

    def do_GET(self) -> None:
        body = b"<title>agency page</title>"
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


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


def _rp(platform: Platform, site: str) -> RelyingParty:
    created = platform.admin.registry.create(
        name="Residents' parking permits",
        scopes=CITIZEN_SCOPES,
        redirect_uris=[site + "/callback"],
        post_logout_redirect_uris=[site + "/signed-out"],
    )
    return RelyingParty(
        platform.identity.http_url,
        created.agency.client_id,
        created.client_secret,
        site + "/callback",
    )


def _code_from(page: Page, site: str) -> dict[str, str]:
    page.wait_for_url(site + "/callback**")
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


def test_sign_in_at_cl_cm_consent_and_sign_out(
    platform: Platform, page: Page, agency_site: str
) -> None:
    rp = _rp(platform, agency_site)
    citizen: Citizen = make_citizen(platform)
    request = rp.auth_request(scope="openid profile email", acr_values="Cl.Cm")

    page.goto(request.url)
    assert page.title() == "Sign in"
    page.get_by_label("Email address").fill(citizen.email)
    page.get_by_label("Password").fill(citizen.password)
    page.get_by_role("button", name="Continue").click()

    page.get_by_label("Security code").fill(pyotp.TOTP(citizen.totp_secret).now())
    page.get_by_role("button", name="Continue").click()

    assert "Residents' parking permits" in page.get_by_role("heading").inner_text()
    page.get_by_role("button", name="Allow", exact=True).click()

    params = _code_from(page, agency_site)
    assert params["state"] == request.state
    tokens = rp.redeem(params["code"], request.verifier).json()
    assert "id_token" in tokens

    logout = {
        "id_token_hint": tokens["id_token"],
        "post_logout_redirect_uri": agency_site + "/signed-out",
        "state": "bye",
    }
    page.goto(f"{platform.identity.http_url}/logout?{urlencode(logout)}")
    page.wait_for_url(agency_site + "/signed-out**")
    assert parse_qs(urlsplit(page.url).query)["state"] == ["bye"]

    silent = rp.auth_request(prompt="none")
    page.goto(silent.url)
    assert _code_from(page, agency_site)["error"] == "login_required"


def test_wrong_password_shows_an_error_summary_linked_to_the_field(
    platform: Platform, page: Page, agency_site: str
) -> None:
    rp = _rp(platform, agency_site)
    citizen = make_citizen(platform)
    page.goto(rp.auth_request().url)
    page.get_by_label("Email address").fill(citizen.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Continue").click()
    assert page.title().startswith("Error:")
    summary = page.get_by_role("alert")
    assert "There is a problem" in summary.inner_text()
    summary.get_by_role("link").click()
    assert page.evaluate("document.activeElement.id") == "email"


def test_chinese_pages_and_the_language_switch(
    platform: Platform, page: Page, agency_site: str
) -> None:
    rp = _rp(platform, agency_site)
    page.goto(rp.auth_request(ui_locales="zh-Hans").url)
    assert page.title() == "登录"
    page.get_by_role("link", name="English").click()
    assert page.title() == "Sign in"
