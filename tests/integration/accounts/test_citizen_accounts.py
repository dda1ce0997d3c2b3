"""Citizen accounts over real HTTP against the running identity service (SQLite
and PostgreSQL): registration, codes, the authenticator, recovery, the account
page, alerts, throttling. One test per rule."""

from __future__ import annotations

import re
import uuid

import jwt
import pyotp
import sqlalchemy as sa

from services.identity.adapters.tables import audit_events, recovery_codes, verification_tickets
from tests.integration.accounts.conftest import (
    ALREADY,
    FACTOR_CHANGED,
    NEW_DEVICE,
    PASSWORD_CHANGED,
    RESET,
    VERIFY,
    Mailbox,
    text_of,
)
from tests.integration.accounts.helpers import (
    PASSWORD,
    enrol,
    onward_link,
    post_form,
    register,
)
from tests.integration.oidc.conftest import make_rp
from tests.support.oidc import CitizenBrowser, LogoutReceiver, callback_params
from tests.support.platform import Platform


def new_email() -> str:
    return f"resident-{uuid.uuid4().hex[:10]}@example.gov.test"


def events(platform: Platform, account_id: str | None = None, type: str | None = None) -> list[str]:
    q = sa.select(audit_events.c.type).order_by(audit_events.c.at)
    if account_id:
        q = q.where(audit_events.c.account_id == account_id)
    if type:
        q = q.where(audit_events.c.type == type)
    with platform.admin.database.sessions() as session:
        return list(session.scalars(q))


def fresh(platform: Platform) -> CitizenBrowser:
    return CitizenBrowser(platform.identity.http_url)


def registered(
    platform: Platform, mailbox: Mailbox, email: str | None = None
) -> tuple[CitizenBrowser, str, str, list[str]]:
    """A registered citizen with an authenticator: (browser, email, secret, codes)."""
    email = email or new_email()
    browser = fresh(platform)
    enrolment = browser.follow(register(browser, mailbox, email))
    secret, codes, _ = enrol(browser, enrolment)
    return browser, email, secret, codes


# -- registration -------------------------------------------------------------------------


def test_registration_proves_the_address_then_asks_for_an_authenticator(
    platform: Platform, mailbox: Mailbox
) -> None:
    email = new_email()
    browser = fresh(platform)
    page = browser.get("/register")
    assert 'autocomplete="email"' in page.text
    assert page.text.count('autocomplete="new-password"') == 2
    sent = browser.follow(browser.submit(page, email=email, password=PASSWORD, confirm=PASSWORD))
    assert 'autocomplete="one-time-code"' in sent.text
    code = mailbox.code(email, VERIFY)
    done = browser.submit(sent, code=code)
    assert done.status_code == 303
    assert done.headers["location"] == "/account/authenticator"
    account = platform.admin.accounts.by_email(email)
    assert account is not None
    assert account.email_verified
    assert not account.has_second_factor
    assert {"email.verified", "account.registered"} <= set(events(platform, account.id))
    assert events(platform, type="registration.started")


def test_an_existing_address_gets_the_same_page_and_an_email_instead_of_a_code(
    platform: Platform, mailbox: Mailbox
) -> None:
    _, email, _, _ = registered(platform, mailbox)
    browser = fresh(platform)
    page = browser.get("/register")
    again = browser.follow(browser.submit(page, email=email, password=PASSWORD, confirm=PASSWORD))
    new_address = new_email()
    other = fresh(platform)
    first = other.follow(
        other.submit(other.get("/register"), email=new_address, password=PASSWORD, confirm=PASSWORD)
    )
    strip = re.compile(r'value="[^"]*"|ticket=[^"&]+')
    assert strip.sub("", again.text) == strip.sub("", first.text)  # no enumeration
    notice = mailbox.wait_for(email, ALREADY)
    assert not re.search(r"\b\d{6}\b", text_of(notice))
    refused = browser.submit(again, code="123456")
    assert refused.status_code == 400
    assert "The security code is not right" in refused.text


def test_common_short_and_mismatched_passwords_are_refused_with_a_linked_summary(
    platform: Platform,
) -> None:
    browser = fresh(platform)
    for password, confirm, message in [
        ("password123", "password123", "This password is too common"),
        ("qwerty2024", "qwerty2024", "This password is too common"),
        ("short", "short", "at least 8 characters"),
        ("x" * 257, "x" * 257, "256 characters or fewer"),
        (PASSWORD, PASSWORD + "!", "The passwords do not match"),
    ]:
        page = browser.submit(
            browser.get("/register"), email=new_email(), password=password, confirm=confirm
        )
        assert page.status_code == 400
        assert message in page.text
        assert 'class="error-summary"' in page.text
        assert re.search(r'<a href="#(password|confirm)">', page.text)
    bad = browser.submit(browser.get("/register"), email="not-an-address", password=PASSWORD)
    assert bad.status_code == 400
    assert '<a href="#email">' in bad.text


def test_a_code_is_single_use_and_dies_after_too_many_wrong_tries(
    platform: Platform, mailbox: Mailbox
) -> None:
    email = new_email()
    browser = fresh(platform)
    sent = browser.follow(
        browser.submit(browser.get("/register"), email=email, password=PASSWORD, confirm=PASSWORD)
    )
    code = mailbox.code(email, VERIFY)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert "not right" in browser.submit(sent, code=wrong).text
    dead = browser.submit(sent, code=code)
    assert "too many times" in dead.text
    assert platform.admin.accounts.by_email(email) is None
    assert "code.refused" in events(platform, type="code.refused")

    other = new_email()
    page = browser.follow(
        browser.submit(browser.get("/register"), email=other, password=PASSWORD, confirm=PASSWORD)
    )
    ok = browser.submit(page, code=mailbox.code(other, VERIFY))
    assert ok.status_code == 303
    reused = browser.submit(page, code=mailbox.code(other, VERIFY))
    assert "already been used" in reused.text


def test_codes_are_stored_only_as_hashes(platform: Platform, mailbox: Mailbox) -> None:
    email = new_email()
    browser = fresh(platform)
    browser.submit(browser.get("/register"), email=email, password=PASSWORD, confirm=PASSWORD)
    code = mailbox.code(email, VERIFY)
    with platform.admin.database.sessions() as session:
        row = session.execute(
            sa.select(verification_tickets).where(verification_tickets.c.email == email)
        ).one()
    assert code not in str(tuple(row))
    assert row.password_hash.startswith("$argon2id$")


def test_a_ticket_belongs_to_the_browser_it_was_issued_to(
    platform: Platform, mailbox: Mailbox
) -> None:
    email = new_email()
    browser = fresh(platform)
    sent = browser.follow(
        browser.submit(browser.get("/register"), email=email, password=PASSWORD, confirm=PASSWORD)
    )
    code = mailbox.code(email, VERIFY)
    thief = fresh(platform)
    page = thief.get(str(sent.url))
    refused = thief.submit(page, code=code)
    assert refused.status_code == 400
    assert platform.admin.accounts.by_email(email) is None


def test_a_new_code_replaces_the_old_one_for_the_same_browser_only(
    platform: Platform, mailbox: Mailbox
) -> None:
    email = new_email()
    browser = fresh(platform)
    sent = browser.follow(
        browser.submit(browser.get("/register"), email=email, password=PASSWORD, confirm=PASSWORD)
    )
    first = mailbox.code(email, VERIFY)
    assert "Send a new code" in sent.text

    thief = fresh(platform)  # another browser with the page's address gets nothing sent
    stranger = post_form(thief, thief.get(str(sent.url)), "/register/code/resend")
    assert stranger.status_code == 303
    assert stranger.headers["location"].endswith("/register")

    again = browser.follow(post_form(browser, sent, "/register/code/resend"))
    assert 'name="code"' in again.text
    second = mailbox.code(email, VERIFY, 2)
    assert len(mailbox.to(email, VERIFY)) == 2
    assert "already been used" in browser.submit(sent, code=first).text
    done = browser.submit(again, code=second)
    assert done.status_code == 303
    assert platform.admin.accounts.by_email(email) is not None


# -- the authenticator app and recovery codes --------------------------------------------


def test_enrolment_shows_a_qr_code_and_the_secret_then_recovery_codes_once(
    platform: Platform, mailbox: Mailbox
) -> None:
    email = new_email()
    browser = fresh(platform)
    page = browser.follow(register(browser, mailbox, email))
    assert "<svg" in page.text
    assert "<script" not in page.text
    refused = browser.submit(page, code="000000")
    assert refused.status_code == 400
    secret, codes, shown = enrol(browser, page)
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert "We will not show these codes again" in shown.text
    account = platform.admin.accounts.by_email(email)
    assert account is not None
    assert account.totp_secret == secret
    with platform.admin.database.sessions() as session:
        stored = list(
            session.scalars(
                sa.select(recovery_codes.c.code_hash).where(
                    recovery_codes.c.account_id == account.id
                )
            )
        )
    assert len(stored) == 10
    assert not set(codes) & set(stored)
    assert "factor.added" in events(platform, account.id)
    assert mailbox.wait_for(email, FACTOR_CHANGED)
    assert "10 left" in browser.get("/account").text
    # Shown once: no page shows them again.
    for path in ("/account", "/account/authenticator"):
        assert not any(code in browser.get(path).text for code in codes)


def test_cl_cm_sign_in_without_a_second_factor_enrols_one_instead_of_refusing(
    platform: Platform, mailbox: Mailbox
) -> None:
    rp = make_rp(platform)
    email = new_email()
    browser = fresh(platform)
    register(browser, mailbox, email)  # an account without an authenticator yet
    other = fresh(platform)
    request = rp.auth_request(acr_values="Cl.Cm")
    signin = other.follow(other.get(request.url))
    enrolment = other.follow(other.submit(signin, email=email, password=PASSWORD))
    assert "/account/authenticator?auth=" in str(enrolment.url)
    _, _, shown = enrol(other, enrolment)
    consent = other.follow(other.get(onward_link(shown)))
    answer = other.follow(other.submit(consent, decision="allow"))
    params = callback_params(answer)
    tokens = rp.redeem(params["code"], request.verifier).json()
    assert "id_token" in tokens


def test_a_recovery_code_signs_in_once_and_offers_a_new_authenticator(
    platform: Platform, mailbox: Mailbox
) -> None:
    _, email, _, codes = registered(platform, mailbox)
    rp = make_rp(platform)
    browser = fresh(platform)
    request = rp.auth_request(acr_values="Cl.Cm")
    page = browser.follow(browser.get(request.url))
    factor = browser.follow(browser.submit(page, email=email, password=PASSWORD))
    assert "/signin/recovery" in factor.text
    link = re.search(r'href="(/signin/recovery[^"]*)"', factor.text)
    assert link
    recovery_page = browser.get(link[1])
    assert 'autocomplete="one-time-code"' in recovery_page.text
    replace = browser.follow(browser.submit(recovery_page, code=codes[0].upper()))
    assert "/account/authenticator" in str(replace.url)
    assert "Not now" in replace.text
    new_secret, new_codes, shown = enrol(browser, replace)
    consent = browser.follow(browser.get(onward_link(shown)))
    assert callback_params(browser.follow(browser.submit(consent, decision="allow")))["code"]
    assert len(new_codes) == 10

    again = fresh(platform)
    page = again.follow(again.get(rp.auth_request(acr_values="Cl.Cm").url))
    again.follow(again.submit(page, email=email, password=PASSWORD))
    reused = again.submit(
        again.get(f"/signin/recovery?{str(again.last.url).split('?')[1]}" if again.last else ""),
        code=codes[1],
    )
    # The first set was replaced with the new authenticator: old codes are dead.
    assert reused.status_code == 400
    assert "not right, or it has already been used" in reused.text
    account = platform.admin.accounts.by_email(email)
    assert account is not None
    assert account.totp_secret == new_secret
    types = events(platform, account.id)
    assert "recovery_code.used" in types
    assert "recovery_code.failed" in types


def test_a_used_recovery_code_is_refused(platform: Platform, mailbox: Mailbox) -> None:
    browser, _email, _, codes = registered(platform, mailbox)
    page = browser.get("/signin/recovery")
    assert browser.follow(browser.submit(page, code=codes[0])).status_code == 200
    second = browser.submit(browser.get("/signin/recovery"), code=codes[0])
    assert second.status_code == 400
    assert "already been used" in second.text


def test_wrong_recovery_codes_lock_the_account(platform: Platform, mailbox: Mailbox) -> None:
    browser, email, _, _ = registered(platform, mailbox)
    page = browser.get("/signin/recovery")
    for _ in range(5):
        assert "not right" in browser.submit(page, code="aaaaa-bbbbb").text
    locked = browser.submit(page, code="aaaaa-bbbbb")
    assert "Wait 15 minutes" in locked.text
    account = platform.admin.accounts.by_email(email)
    assert account is not None
    assert account.locked_until is not None
    assert "account.locked" in events(platform, account.id)


# -- password reset and change -----------------------------------------------------------


def test_reset_never_reveals_whether_an_address_has_an_account(
    platform: Platform, mailbox: Mailbox
) -> None:
    _, email, _, _ = registered(platform, mailbox)
    unknown = new_email()
    pages = []
    for address in (email, unknown):
        browser = fresh(platform)
        pages.append(browser.follow(browser.submit(browser.get("/reset"), email=address)))
    strip = re.compile(r'value="[^"]*"|ticket=[^"&]+')
    assert strip.sub("", pages[0].text) == strip.sub("", pages[1].text)
    assert "If there is a GaaP account" in pages[0].text
    assert mailbox.wait_for(email, RESET)
    assert mailbox.to(unknown) == []


def test_reset_sets_a_new_password_and_signs_out_everywhere(
    platform: Platform, mailbox: Mailbox
) -> None:
    rp = make_rp(platform)
    browser, email, secret, _ = registered(platform, mailbox)
    request = rp.auth_request(
        scope="openid email offline_access", acr_values="Cl.Cm", prompt="consent"
    )
    params = callback_params(browser.sign_in(request.url, email, PASSWORD, secret))
    refresh = rp.redeem(params["code"], request.verifier).json()["refresh_token"]

    other = fresh(platform)
    sent = other.follow(other.submit(other.get("/reset"), email=email))
    code = mailbox.code(email, RESET)
    chosen = other.follow(other.submit(sent, code=code))
    assert 'autocomplete="new-password"' in chosen.text
    common = other.submit(chosen, password="iloveyou1", confirm="iloveyou1")
    assert "too common" in common.text
    done = other.submit(chosen, password="a brand new passphrase", confirm="a brand new passphrase")
    assert "Your password has been changed" in done.text
    assert rp.token(grant_type="refresh_token", refresh_token=refresh).status_code == 400
    assert browser.get("/account").status_code == 303  # that session ended
    twice = other.get(str(chosen.url))
    assert "expired or has already been used" in twice.text
    account = platform.admin.accounts.by_email(email)
    assert account is not None
    assert "password.reset" in events(platform, account.id)
    assert mailbox.wait_for(email, PASSWORD_CHANGED)
    assert (
        browser.sign_in(rp.auth_request().url, email, "a brand new passphrase", secret).status_code
        == 303
    )


def test_change_password_needs_the_current_one_and_sends_an_alert(
    platform: Platform, mailbox: Mailbox
) -> None:
    browser, email, _, _ = registered(platform, mailbox)
    page = browser.get("/account/password")
    assert 'autocomplete="current-password"' in page.text
    wrong = browser.submit(
        page, current="not it at all", password="another good one", confirm="another good one"
    )
    assert "current password is not right" in wrong.text
    done = browser.submit(
        page, current=PASSWORD, password="another good one", confirm="another good one"
    )
    assert done.headers["location"] == "/account?changed=1"
    account = platform.admin.accounts.by_email(email)
    assert account is not None
    assert {"password.change_failed", "password.changed"} <= set(events(platform, account.id))
    assert mailbox.wait_for(email, PASSWORD_CHANGED)


# -- the account page ----------------------------------------------------------------------


def test_the_account_page_lists_agencies_and_withdrawing_consent_ends_their_tokens(
    platform: Platform, mailbox: Mailbox
) -> None:
    rp = make_rp(platform)
    browser, email, secret, _ = registered(platform, mailbox)
    request = rp.auth_request(
        scope="openid email offline_access", acr_values="Cl.Cm", prompt="consent"
    )
    params = callback_params(browser.sign_in(request.url, email, PASSWORD, secret))
    refresh = rp.redeem(params["code"], request.verifier).json()["refresh_token"]
    page = browser.get("/account")
    assert "Parking permits" in page.text
    withdrawn = post_form(browser, page, "/account/consents/withdraw")
    assert withdrawn.headers["location"] == "/account?withdrawn=1"
    assert "Parking permits" not in browser.get("/account").text
    assert rp.token(grant_type="refresh_token", refresh_token=refresh).status_code == 400
    asked = browser.follow(browser.get(rp.auth_request(acr_values="Cl.Cm").url))
    assert 'name="decision"' in asked.text  # consent is asked again
    account = platform.admin.accounts.by_email(email)
    assert account is not None
    assert "consent.withdrawn" in events(platform, account.id)


def test_sign_out_everywhere_ends_every_session_and_refresh_token(
    platform: Platform, mailbox: Mailbox, logout_receiver: LogoutReceiver
) -> None:
    rp = make_rp(platform, backchannel_logout_uri=logout_receiver.url)
    browser, email, secret, _ = registered(platform, mailbox)
    elsewhere = fresh(platform)
    request = rp.auth_request(scope="openid offline_access", acr_values="Cl.Cm", prompt="consent")
    params = callback_params(elsewhere.sign_in(request.url, email, PASSWORD, secret))
    tokens = rp.redeem(params["code"], request.verifier).json()
    page = browser.get("/account")
    done = post_form(browser, page, "/account/signout-everywhere")
    assert "You have signed out everywhere" in done.text
    assert (
        rp.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"]).status_code
        == 400
    )
    silent = elsewhere.follow(elsewhere.get(rp.auth_request(prompt="none").url))
    assert callback_params(silent)["error"] == "login_required"
    assert browser.get("/account").status_code == 303
    # The agency that got tokens in the other browser's session is told, by sid.
    id_claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    logout = logout_receiver.claims(platform.identity.http_url, rp.client_id)
    assert logout["sid"] == id_claims["sid"]
    assert logout["sub"] == id_claims["sub"]


def test_a_sign_in_from_a_new_device_sends_an_alert(platform: Platform, mailbox: Mailbox) -> None:
    browser, email, secret, _ = registered(platform, mailbox)
    rp = make_rp(platform)
    browser.sign_in(rp.auth_request().url, email, PASSWORD, secret)  # the same browser
    newcomer = fresh(platform)
    newcomer.sign_in(rp.auth_request().url, email, PASSWORD, secret)
    assert mailbox.wait_for(email, NEW_DEVICE)
    account = platform.admin.accounts.by_email(email)
    assert account is not None
    assert events(platform, account.id).count("sign_in.new_device") == 1


def test_account_pages_need_a_second_factor(platform: Platform, mailbox: Mailbox) -> None:
    _, email, secret, _ = registered(platform, mailbox)
    browser = fresh(platform)
    assert browser.get("/account").headers["location"] == "/account/signin"
    page = browser.get("/account/signin")
    code_page = browser.submit(page, email=email, password=PASSWORD)
    assert code_page.headers["location"] == "/account/signin/code"
    assert browser.get("/account").headers["location"] == "/account/signin/code"
    assert browser.get("/account/password").headers["location"] == "/account/signin/code"
    done = browser.submit(browser.get("/account/signin/code"), code=pyotp.TOTP(secret).now())
    assert done.headers["location"] == "/account"
    assert email in browser.get("/account").text


def test_without_a_messenger_that_texts_no_mobile_number_is_offered(
    platform: Platform, mailbox: Mailbox
) -> None:
    browser, email, _, _ = registered(platform, mailbox)
    overview = browser.get("/account")
    assert "Getting security codes by text message is not available" in overview.text
    assert 'href="/account/phone"' not in overview.text
    unavailable = browser.get("/account/phone")
    assert unavailable.status_code == 404
    assert 'name="phone"' not in unavailable.text
    rp = make_rp(platform)
    other = fresh(platform)
    page = other.follow(other.get(rp.auth_request(acr_values="Cl.Cm").url))
    factor = other.follow(other.submit(page, email=email, password=PASSWORD))
    assert 'name="code"' in factor.text
    assert "Text me a code" not in factor.text


# -- languages, throttling, bad input -----------------------------------------------------


def test_pages_and_emails_in_simplified_chinese(platform: Platform, mailbox: Mailbox) -> None:
    email = new_email()
    browser = fresh(platform)
    page = browser.get("/register?lang=zh-Hans")
    assert "创建您的 GaaP 账户" in page.text
    assert 'lang="zh-Hans"' in page.text
    browser.submit(page, email=email, password=PASSWORD, confirm=PASSWORD)
    assert mailbox.wait_for(email, "您的 GaaP 安全验证码")
    accept = fresh(platform)
    accept.client.headers["accept-language"] = "zh-CN,zh;q=0.9"
    assert "重置密码" in accept.get("/reset").text


def test_too_many_codes_for_one_address_are_throttled(platform: Platform) -> None:
    email = new_email()
    browser = fresh(platform)
    for _ in range(3):
        browser.submit(browser.get("/reset"), email=email)
    refused = browser.submit(browser.get("/reset"), email=email)
    assert refused.status_code == 429
    assert "too many attempts" in refused.text
    assert events(platform, type="throttled")


def test_no_input_gives_a_server_error(platform: Platform) -> None:
    browser = fresh(platform)
    token_page = browser.get("/register")
    hidden = dict(re.findall(r'name="(csrf_token|purpose)" value="([^"]*)"', token_page.text))
    odd = ["", "\x00", "ü" * 5000, "' OR 1=1 --", "<script>", "9" * 400, "tkt_" + "a" * 100]
    paths = [
        "/register",
        "/register/code?ticket=tkt_nope",
        "/reset",
        "/reset/code?ticket=x",
        "/reset/password?ticket=tkt_x",
        "/signin/recovery",
        "/account/signin",
        "/account/signin/code",
        "/account/authenticator",
        "/account/password",
        "/account/consents/withdraw",
        "/account/signout-everywhere",
        "/register?auth=unknown",
        "/account/authenticator?auth=unknown",
        "/signin?auth=%00",
        "/signin/recovery?auth=%00",
        "/register/code?ticket=tkt_%00",
    ]
    for path in paths:
        assert browser.get(path).status_code < 500, path
        for value in odd:
            data = {**hidden, "email": value, "password": value, "confirm": value, "code": value}
            response = browser.client.post(platform.identity.http_url + path, data=data)
            assert response.status_code < 500, (path, value[:10])
    huge = browser.client.post(
        platform.identity.http_url + "/register",
        content=b"a=" + b"x" * 100_000,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert huge.status_code == 413  # refused as it arrives (services.runtime.body_limit)


def test_codes_passwords_and_tokens_never_reach_the_audit_log(
    platform: Platform, mailbox: Mailbox
) -> None:
    _browser, _email, _, codes = registered(platform, mailbox)
    with platform.admin.database.sessions() as session:
        text = " ".join(str(tuple(r)) for r in session.execute(sa.select(audit_events)))
    assert PASSWORD not in text
    assert codes[0] not in text
    assert "123456" not in text
