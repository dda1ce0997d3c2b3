"""The citizen's whole journey through the demo app in plain HTTP (no browser):
sign in at identity (password, TOTP, consent), apply, pay on the sandbox page,
come back, and wait for the app to learn of the payment from its webhook.

Used by the demo app's integration test and by ``bench/journey.py``. Cookies are
shared across the app, identity and payments as a browser shares them across
ports of one host.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from html import unescape
from urllib.parse import urljoin

import httpx
import pyotp

SUCCESS_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0002"
_FORM = re.compile(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', re.S)
# Hidden and text inputs with their current values, as a browser would submit them.
_INPUT = re.compile(r'<input type="(?:hidden|text)"(?: id="[^"]*")? name="([^"]+)" value="([^"]*)"')
_STATE = re.compile(r'id="outcome" data-state="([a-z_]+)"')
_APPLICATION = re.compile(r"/applications/(app_[0-9a-f]+)")
_REFERENCE = re.compile(r'id="reference">([A-Z0-9-]+)<')


@dataclass(frozen=True)
class Citizen:
    email: str
    password: str
    totp_secret: str


@dataclass
class Outcome:
    application_id: str
    state: str  # the app's final state: confirmed or payment_failed
    payment_url: str
    reference: str = ""


def post_form(
    client: httpx.Client, page: httpx.Response, action_contains: str, **values: str
) -> httpx.Response:
    """Submit the page's form whose action contains ``action_contains``, with its
    inputs' current values (CSRF tokens, prefilled fields) and ``values``."""
    for action, body in _FORM.findall(page.text):
        if action_contains in unescape(action):
            fields = {unescape(n): unescape(v) for n, v in _INPUT.findall(body)}
            return client.post(urljoin(str(page.url), unescape(action)), data={**fields, **values})
    raise AssertionError(f"no form posting to {action_contains!r} on {page.url}: {page.text[:800]}")


def follow(client: httpx.Client, response: httpx.Response, stop_at: str = "") -> httpx.Response:
    while response.status_code in (302, 303):
        location = urljoin(str(response.url), response.headers["location"])
        if stop_at and location.startswith(stop_at):
            break
        response = client.get(location)
    return response


def sign_in(client: httpx.Client, app_url: str, citizen: Citizen) -> httpx.Response:
    """From the app's sign-in link to the app's form, through identity's pages."""
    page = through_identity(client, client.get(f"{app_url}/signin?next=/apply"), citizen)
    assert str(page.url).startswith(f"{app_url}/apply"), (page.url, page.text[:800])
    return page


def through_identity(
    client: httpx.Client, redirect: httpx.Response, citizen: Citizen
) -> httpx.Response:
    """Follow an app's redirect to identity through its pages (password, code and
    consent, as far as each is asked for) and back to the app."""
    page = follow(client, redirect)
    if 'name="password"' in page.text:
        page = follow(
            client, post_form(client, page, "", email=citizen.email, password=citizen.password)
        )
    if 'name="code"' in page.text:
        page = follow(
            client, post_form(client, page, "", code=pyotp.TOTP(citizen.totp_secret).now())
        )
    if 'name="decision"' in page.text:
        page = follow(client, post_form(client, page, "", decision="allow"))
    return page


def apply_and_pay(
    client: httpx.Client, app_url: str, form_page: httpx.Response, card: str, **fields: str
) -> tuple[str, str]:
    """Submit the application, pay with ``card``; the application id and payment page."""
    values = {"vehicle": "AB12CDE", "postcode": "SW1A 1AA", **fields}
    to_payment = post_form(client, form_page, "/apply", **values)
    assert to_payment.status_code == 303, to_payment.text[-3000:]
    payment_page = follow(client, to_payment)
    payment_url = str(payment_page.url)
    after_card = post_form(
        client,
        payment_page,
        "/card",
        **{
            "card-number": card,
            "expiry": "12/39",
            "security-code": "123",
            "cardholder-name": "Alex Demo",
        },
    )
    page = follow(client, after_card, stop_at=app_url)
    if 'id="confirm"' in page.text:
        page = follow(client, post_form(client, page, "/confirm"), stop_at=app_url)
    if page.status_code in (302, 303):
        back = urljoin(str(page.url), page.headers["location"])
    else:  # a declined card: the page says why and links back to the agency
        match = re.search(r'href="([^"]+)" id="return-link"', page.text)
        assert match, page.text[:800]
        back = unescape(match.group(1))
    found = _APPLICATION.search(back)
    assert found, back
    follow(client, client.get(back))
    return found.group(1), payment_url


def wait_for_outcome(
    client: httpx.Client, app_url: str, application_id: str, timeout: float = 60
) -> tuple[str, str]:
    """Poll the application's page (as its Refresh header would) until it is
    final; its state and reference."""
    deadline = time.monotonic() + timeout
    while True:
        page = client.get(f"{app_url}/applications/{application_id}")
        found, reference = _STATE.search(page.text), _REFERENCE.search(page.text)
        state = found.group(1) if found else ""
        if state in ("confirmed", "payment_failed") or time.monotonic() > deadline:
            return state, reference.group(1) if reference else ""
        time.sleep(0.2)


def journey(
    app_url: str,
    citizen: Citizen,
    card: str = SUCCESS_CARD,
    timeout: float = 60,
    language: str = "",
) -> Outcome:
    with httpx.Client(timeout=30) as client:
        if language:  # as the pages' language switch sets it (shared by the services)
            client.cookies.set("gaap_lang", language)
        form_page = sign_in(client, app_url, citizen)
        application_id, payment_url = apply_and_pay(client, app_url, form_page, card)
        state, reference = wait_for_outcome(client, app_url, application_id, timeout)
    return Outcome(application_id, state, payment_url, reference)
