"""Driving the citizen-account pages over HTTP, as a browser without JavaScript."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urljoin

import httpx

from tests.integration.accounts.conftest import VERIFY, Mailbox
from tests.support.oidc import CitizenBrowser
from tests.support.totp import previous_step_code

PASSWORD = "a sensible passphrase 42"


def post_form(
    browser: CitizenBrowser, page: httpx.Response, action: str, **values: str
) -> httpx.Response:
    """Submit the form whose action starts with ``action`` (pages with several forms)."""
    for match in re.finditer(
        r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', page.text, re.S
    ):
        if unescape(match.group(1)).startswith(action):
            fields = {
                unescape(n): unescape(v)
                for n, v in re.findall(
                    r'<input type="hidden" name="([^"]+)" value="([^"]*)"', match.group(2)
                )
            }
            url = urljoin(browser.base + "/", unescape(match.group(1)))
            browser.last = browser.client.post(url, data={**fields, **values})
            return browser.last
    raise AssertionError(f"no form for {action}: {page.text[:1500]}")


def register(
    browser: CitizenBrowser,
    mailbox: Mailbox,
    email: str,
    password: str = PASSWORD,
    start: str = "/register",
) -> httpx.Response:
    """Register and prove the address; returns the response after the code."""
    before = len(mailbox.to(email, VERIFY))
    page = browser.get(start)
    sent = browser.follow(browser.submit(page, email=email, password=password, confirm=password))
    assert 'name="code"' in sent.text, sent.text[:1500]
    code = mailbox.code(email, VERIFY, before + 1)
    return browser.submit(sent, code=code)


def secret_on(page: httpx.Response) -> str:
    match = re.search(r'data-secret="([A-Z2-7]+)"', page.text)
    assert match, page.text[:2000]
    return match.group(1)


def enrol(browser: CitizenBrowser, page: httpx.Response) -> tuple[str, list[str], httpx.Response]:
    """On the authenticator page: confirm with a first code; returns the secret,
    the recovery codes shown and the recovery-codes page."""
    secret = secret_on(page)
    shown = browser.submit(page, code=previous_step_code(secret))
    assert shown.status_code == 200, shown.text[:2000]
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", shown.text)
    return secret, codes, shown


def onward_link(page: httpx.Response) -> str:
    match = re.search(r'<a href="([^"]+)">[^<]*(continue|继续)', page.text)
    assert match, page.text[:2000]
    return unescape(match.group(1))
