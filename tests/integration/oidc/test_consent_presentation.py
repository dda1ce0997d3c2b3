"""The consent page shows the agency's display name and https logo, escaped,
with alt text, under a CSP that lets the citizen's browser load https images only
(SQLite and PostgreSQL)."""

from __future__ import annotations

import httpx
import pyotp

from tests.integration.oidc.conftest import Citizen, make_rp
from tests.support.oidc import CitizenBrowser, RelyingParty
from tests.support.platform import Platform


def consent_page(browser: CitizenBrowser, rp: RelyingParty, citizen: Citizen) -> httpx.Response:
    page = browser.follow(browser.get(rp.auth_request().url))
    page = browser.follow(browser.submit(page, email=citizen.email, password=citizen.password))
    if 'name="code"' in page.text:
        page = browser.follow(browser.submit(page, code=pyotp.TOTP(citizen.totp_secret).now()))
    return page


def test_the_consent_page_shows_the_display_name_and_logo_escaped(
    platform: Platform, citizen: Citizen, citizen_browser: CitizenBrowser
) -> None:
    rp = make_rp(
        platform,
        display_name="City <b>parking</b>",
        logo_uri="https://city.example/logo.png?size=48&v='2'",
    )
    browser = citizen_browser
    page = consent_page(browser, rp, citizen)
    assert 'name="decision"' in page.text
    assert "City &lt;b&gt;parking&lt;/b&gt;" in page.text
    assert "<b>parking" not in page.text
    assert "Parking permits" not in page.text  # the display name replaces the name
    assert 'src="https://city.example/logo.png?size=48&amp;v=&#39;2&#39;"' in page.text
    assert 'alt="Logo of City &lt;b&gt;parking&lt;/b&gt;"' in page.text
    policy = page.headers["content-security-policy"]
    assert "img-src 'self' https:" in policy
    assert "frame-ancestors 'none'" in policy


def test_without_a_logo_the_page_has_no_image_and_the_registered_name(
    platform: Platform, citizen: Citizen, citizen_browser: CitizenBrowser
) -> None:
    rp = make_rp(platform)
    browser = citizen_browser
    page = consent_page(browser, rp, citizen)
    assert 'name="decision"' in page.text
    assert "Parking permits" in page.text
    assert "<img" not in page.text
