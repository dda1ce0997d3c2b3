"""A mobile number as a second factor, over real HTTP against the running
identity service (SQLite and PostgreSQL): adding one proved by a texted code,
signing in at Cl.Cm with a texted code, single use, lockout, removing it.

identity is built with a messenger that can text: emails still go to the
test's SMTP server, texts are recorded (swapped in at the bootstrap's
messenger seam, ``messaging.postbox``)."""

from __future__ import annotations

import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from services.identity.adapters import messaging
from services.identity.adapters.postbox import Postbox
from services.identity.adapters.smtp_messenger import SmtpMessenger
from services.identity.adapters.tables import audit_events
from services.identity.domain import messages
from services.identity.domain.messages import Kind
from services.identity.settings import IdentitySettings
from tests.integration.accounts.conftest import FACTOR_CHANGED, Mailbox, text_of
from tests.integration.accounts.helpers import PASSWORD, enrol, post_form, register
from tests.integration.oidc.conftest import make_rp
from tests.support.oidc import CitizenBrowser, callback_params, decode_unverified
from tests.support.platform import Platform, running_platform


@dataclass
class Texts:
    """Every text message identity sent: (number, body)."""

    sent: list[tuple[str, str]] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def record(self, to: str, body: str) -> None:
        with self._changed:
            self.sent.append((to, body))
            self._changed.notify_all()

    def code(self, number: str, count: int = 1, timeout: float = 15) -> str:
        """The code in text number ``count`` to ``number`` (sending is asynchronous)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [body for to, body in self.sent if to == number]
                if len(found) >= count:
                    match = re.search(r"\b(\d{6})\b", found[count - 1])
                    assert match, found[count - 1]
                    return match.group(1)
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"no text number {count} to {number}"
                self._changed.wait(remaining)

    def to(self, number: str) -> int:
        with self._changed:
            return sum(1 for to, _ in self.sent if to == number)


class TextingMessenger:
    """Emails by SMTP as deployed; texts recorded, as notify would send them."""

    can_send_sms = True

    def __init__(self, mail: SmtpMessenger, texts: Texts) -> None:
        self._mail = mail
        self._texts = texts

    def send(self, kind: Kind, to: str, language: str, values: Mapping[str, str]) -> None:
        if kind in messages.SMS_KINDS:
            self._texts.record(to, messages.render(kind, language, values).body)
        else:
            self._mail.send(kind, to, language, values)


@pytest.fixture(scope="module")
def texts() -> Texts:
    return Texts()


@pytest.fixture(scope="module")
def platform(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox, texts: Texts
) -> Iterator[Platform]:
    def texting(settings: IdentitySettings, _token_server: Any) -> tuple[Postbox, None]:
        smtp = SmtpMessenger(
            host=settings.smtp_host, port=settings.smtp_port, sender=settings.mail_from
        )
        return Postbox(TextingMessenger(smtp, texts), can_send_sms=True), None

    patch = pytest.MonkeyPatch()
    patch.setattr(messaging, "postbox", texting)
    try:
        with running_platform(
            database_url,
            tmp_path_factory.mktemp("var"),
            smtp_port=mailbox.port,
            posts_per_ip_per_hour=10000,
            sends_per_address_per_hour=20,
        ) as running:
            patch.undo()
            yield running
    finally:
        patch.undo()


def new_number() -> tuple[str, str]:
    """A UK mobile number as a citizen types it, and its E.164 form."""
    digits = f"{secrets.randbelow(10**6):06d}"
    return f"07912 {digits}", f"+447912{digits}"


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def details(platform: Platform, account_id: str, type: str) -> list[dict[str, Any]]:
    q = (
        sa.select(audit_events.c.details)
        .where(audit_events.c.account_id == account_id, audit_events.c.type == type)
        .order_by(audit_events.c.at)
    )
    with platform.admin.database.sessions() as session:
        return [dict(d) for d in session.scalars(q)]


@dataclass
class Citizen:
    browser: CitizenBrowser  # signed in to the account, proved with a second factor
    email: str
    account_id: str


def citizen(platform: Platform, mailbox: Mailbox) -> Citizen:
    email = f"texter-{uuid.uuid4().hex[:10]}@example.gov.test"
    browser = CitizenBrowser(platform.identity.http_url)
    enrol(browser, browser.follow(register(browser, mailbox, email)))
    account = platform.admin.accounts.by_email(email)
    assert account is not None
    return Citizen(browser, email, account.id)


def add_number(citizen: Citizen, texts: Texts, typed: str, e164: str) -> httpx.Response:
    browser = citizen.browser
    sent = browser.submit(browser.get("/account/phone"), phone=typed)
    assert sent.status_code == 303, sent.text[:1500]
    page = browser.follow(sent)
    return browser.follow(browser.submit(page, code=texts.code(e164, texts.to(e164))))


def cl_cm_code_page(platform: Platform, email: str) -> tuple[CitizenBrowser, httpx.Response, Any]:
    """A fresh browser signed in with the password at an agency asking for Cl.Cm,
    on the second-factor page."""
    rp = make_rp(platform)
    request = rp.auth_request(acr_values="Cl.Cm")
    browser = CitizenBrowser(platform.identity.http_url)
    page = browser.follow(browser.get(request.url))
    factor = browser.follow(browser.submit(page, email=email, password=PASSWORD))
    assert "/signin/code?auth=" in str(factor.url), factor.text[:1500]
    return browser, factor, (rp, request)


def text_me(browser: CitizenBrowser, factor: httpx.Response) -> httpx.Response:
    assert "Text me a code instead" in factor.text
    sent = post_form(browser, factor, "/signin/sms")
    assert sent.status_code == 303, sent.text[:1500]
    assert sent.headers["location"].startswith("/signin/sms/code?ticket=")
    page = browser.follow(sent)
    assert 'autocomplete="one-time-code"' in page.text
    return page


# -- adding a number ----------------------------------------------------------------------


def test_a_number_is_checked_then_proved_with_a_texted_code(
    platform: Platform, mailbox: Mailbox, texts: Texts
) -> None:
    someone = citizen(platform, mailbox)
    browser = someone.browser
    overview = browser.get("/account")
    assert 'href="/account/phone"' in overview.text
    assert "Add a mobile number as a second way to sign in" in overview.text
    form = browser.get("/account/phone")
    assert 'autocomplete="tel"' in form.text
    assert 'for="phone"' in form.text
    assert "添加手机号码" in browser.get("/account/phone?lang=zh-Hans").text
    browser.get("/account/phone?lang=en")

    before = len(texts.sent)
    premium = browser.submit(form, phone="09098 790000")
    assert premium.status_code == 400
    assert "premium-rate numbers cannot be used" in premium.text
    assert 'href="#phone"' in premium.text  # the error summary links to the field
    invalid = browser.submit(form, phone="12345")
    assert invalid.status_code == 400
    assert "Enter a mobile number in the correct format" in invalid.text
    assert len(texts.sent) == before  # nothing texted to a refused number

    typed, e164 = new_number()
    sent = browser.submit(form, phone=typed)
    assert sent.status_code == 303
    page = browser.follow(sent)
    code = texts.code(e164)
    refused = browser.submit(page, code=wrong(code))
    assert refused.status_code == 400
    assert "The security code is not right" in refused.text
    account = platform.admin.accounts.by_email(someone.email)
    assert account is not None
    assert account.phone_number is None

    done = browser.submit(refused, code=code)
    assert done.status_code == 303
    assert done.headers["location"] == "/account?phone=added"
    account = platform.admin.accounts.by_email(someone.email)
    assert account is not None
    assert account.phone_number == e164
    assert account.phone_number_verified
    assert details(platform, account.id, "factor.added")[-1] == {"factor": "sms", "replaced": False}
    alert = mailbox.wait_for(someone.email, FACTOR_CHANGED, count=2)  # after the authenticator's
    assert "text message" in text_of(alert)
    shown = browser.follow(done)
    assert f"ending {e164[-3:]}" in shown.text
    assert code not in str(details(platform, account.id, "code.sent"))


# -- signing in with a texted code ------------------------------------------------------


def test_cl_cm_sign_in_with_a_texted_code_steps_up_and_the_code_works_once(
    platform: Platform, mailbox: Mailbox, texts: Texts
) -> None:
    someone = citizen(platform, mailbox)
    typed, e164 = new_number()
    add_number(someone, texts, typed, e164)

    browser, factor, (rp, request) = cl_cm_code_page(platform, someone.email)
    page = text_me(browser, factor)
    code = texts.code(e164, texts.to(e164))
    answer = browser.follow(browser.submit(page, code=code))
    if 'name="decision"' in answer.text:
        answer = browser.follow(browser.submit(answer, decision="allow"))
    params = callback_params(answer)
    assert params["state"] == request.state
    tokens = rp.redeem(params["code"], request.verifier).json()
    claims = decode_unverified(tokens["id_token"])
    assert claims["acr"] == "Cl.Cm"

    # The same code again (the agency's sign-in has finished: the account's own).
    form = browser.form(page)
    ticket = re.search(r"ticket=([^&\"]+)", form.action)
    assert ticket
    again = browser.client.post(
        f"{browser.base}/signin/sms/code?ticket={ticket[1]}", data={**form.fields, "code": code}
    )
    assert again.status_code == 400
    assert "already been used" in again.text


def test_a_texted_code_signs_in_to_the_account_page_too(
    platform: Platform, mailbox: Mailbox, texts: Texts
) -> None:
    someone = citizen(platform, mailbox)
    typed, e164 = new_number()
    add_number(someone, texts, typed, e164)
    browser = CitizenBrowser(platform.identity.http_url)
    signin = browser.get("/account/signin")
    factor = browser.follow(browser.submit(signin, email=someone.email, password=PASSWORD))
    assert str(factor.url).endswith("/account/signin/code")
    page = text_me(browser, factor)
    done = browser.submit(page, code=texts.code(e164, texts.to(e164)))
    assert done.status_code == 303
    assert done.headers["location"] == "/account"
    assert "Remove your mobile number" in browser.get("/account").text


def test_wrong_texted_codes_count_towards_the_lockout(
    platform: Platform, mailbox: Mailbox, texts: Texts
) -> None:
    someone = citizen(platform, mailbox)
    typed, e164 = new_number()
    add_number(someone, texts, typed, e164)
    browser, factor, _ = cl_cm_code_page(platform, someone.email)
    page = text_me(browser, factor)
    code = texts.code(e164, texts.to(e164))
    attempts = platform.identity_settings.lockout_attempts
    for _ in range(attempts - 1):
        page = browser.submit(page, code=wrong(code))
        assert page.status_code == 400
        assert "You have tried too many times" not in page.text
    locked = browser.submit(page, code=wrong(code))
    assert locked.status_code == 400
    assert "You have tried too many times" in locked.text
    still = browser.submit(locked, code=code)  # even the right code, while locked
    assert "You have tried too many times" in still.text
    [lock] = details(platform, someone.account_id, "account.locked")
    assert (lock["factor"], lock["in_a_row"]) == ("sms", 1)
    # The owner is told, by email (whoever typed the codes knew the password).
    assert "locked until" in text_of(mailbox.wait_for(someone.email, "Your GaaP account is locked"))
    failed = details(platform, someone.account_id, "second_factor.failed")
    assert len(failed) == attempts
    # Signed in with the password only: the session never reached Cl.Cm.
    assert browser.get("/account").headers["location"] == "/account/signin/code"


# -- removing the number ------------------------------------------------------------------


def test_removing_the_number_ends_texted_codes(
    platform: Platform, mailbox: Mailbox, texts: Texts
) -> None:
    someone = citizen(platform, mailbox)
    typed, e164 = new_number()
    add_number(someone, texts, typed, e164)
    browser = someone.browser
    removed = post_form(browser, browser.get("/account"), "/account/phone/remove")
    assert removed.status_code == 303
    assert removed.headers["location"] == "/account?phone=removed"
    account = platform.admin.accounts.by_email(someone.email)
    assert account is not None
    assert account.phone_number is None
    assert not account.phone_number_verified
    assert details(platform, account.id, "factor.removed") == [{"factor": "sms"}]
    mailbox.wait_for(someone.email, FACTOR_CHANGED, count=3)
    assert "Add a mobile number" in browser.get("/account").text
    _, factor, _ = cl_cm_code_page(platform, someone.email)
    assert "Text me a code" not in factor.text


def test_odd_input_never_gives_a_server_error(platform: Platform, mailbox: Mailbox) -> None:
    someone = citizen(platform, mailbox)
    browser = someone.browser
    odd = [
        "",
        "\x00",
        "ü" * 5000,
        "' OR 1=1 --",
        "<script>",
        "9" * 400,
        "+" * 30,
        "tkt_" + "a" * 90,
    ]
    pages = {
        "/account/phone": "phone",
        "/account/phone/code?ticket=tkt_%00": "code",
        "/account/phone/code?ticket=" + "x" * 300: "code",
        "/signin/sms/code?ticket=tkt_nope": "code",
        "/signin/sms/code?ticket=tkt_nope&auth=%00": "code",
    }
    for path, name in pages.items():
        page = browser.get(path)
        assert page.status_code < 500, path
        for value in odd:
            if 'name="csrf_token"' in page.text:
                answer = browser.submit(page, **{name: value})
                assert answer.status_code < 500, (path, value[:10])
                assert "<script>" not in answer.text  # escaped when shown again
    refused = post_form(browser, browser.get("/account/phone"), "/account/phone", phone="<script>")
    assert refused.status_code == 400
    assert "&lt;script&gt;" in refused.text
