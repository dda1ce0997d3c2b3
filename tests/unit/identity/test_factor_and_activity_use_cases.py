"""Second factors (the authenticator app, recovery codes, a mobile number) and
where an account is in use (devices, sessions, consents), on in-memory fakes."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest

from services.identity.domain import assurance
from services.identity.domain.agencies import register
from services.identity.domain.audit import EventType
from services.identity.domain.disclosure import Disclosure
from services.identity.domain.messages import Kind
from services.identity.domain.one_time_codes import Check
from services.identity.service_layer.audit_trail import Where
from services.identity.service_layer.authenticator import Enrolment
from services.identity.service_layer.signin import Outcome
from tests.unit.identity.account_world import POLICY, T0, World, token

WHERE = Where(ip="192.0.2.30")
BROWSER = "browser-1"
NUMBER = "+447700900123"


@pytest.fixture
def world() -> World:
    return World()


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


# -- the authenticator app and recovery codes ---------------------------------------------


def enrol(world: World, account_id: str) -> tuple[str, list[str]]:
    enrolment = world.authenticator.new_enrolment(account_id)
    codes = world.authenticator.confirm_totp(
        account_id, enrolment, world.totp_code(enrolment.secret), WHERE, "en"
    )
    assert codes is not None
    return enrolment.secret, codes


def test_enrolling_an_authenticator_issues_recovery_codes_and_tells_the_owner(
    world: World,
) -> None:
    account_id = world.citizen()
    secret, codes = enrol(world, account_id)
    stored = world.state.accounts.rows[account_id]
    assert stored.totp_secret == secret
    assert len(codes) == world.authenticator.recovery_codes_left(account_id) > 0
    assert all(code not in str(world.state.recovery_codes.rows) for code in codes)  # hashes only
    assert world.postbox.kinds() == [Kind.FACTOR_CHANGED]
    assert world.state.audit.types() == [EventType.FACTOR_ADDED, EventType.RECOVERY_CODES_ISSUED]


def test_an_enrolment_needs_its_proof_and_a_right_first_code(world: World) -> None:
    account_id = world.citizen()
    enrolment = world.authenticator.new_enrolment(account_id)
    forged = Enrolment(pyotp.random_base32(), enrolment.proof)
    code = world.totp_code(forged.secret)
    assert world.authenticator.confirm_totp(account_id, forged, code, WHERE, "en") is None
    assert not world.authenticator.valid_enrolment("acc_other", enrolment.secret, enrolment.proof)
    wrong_code = wrong(world.totp_code(enrolment.secret))
    assert world.authenticator.confirm_totp(account_id, enrolment, wrong_code, WHERE, "en") is None
    assert world.state.accounts.rows[account_id].totp_secret is None
    assert world.state.audit.types() == [EventType.SECOND_FACTOR_FAILED]
    assert world.postbox.posted == []


def test_a_recovery_code_works_once_and_completes_the_sign_in(world: World) -> None:
    account_id = world.citizen(failed_second_factor=2)
    _, codes = enrol(world, account_id)
    left = world.authenticator.recovery_codes_left(account_id)
    assert world.authenticator.use_recovery_code(account_id, codes[0], WHERE) is Outcome.OK
    assert world.authenticator.recovery_codes_left(account_id) == left - 1
    assert world.state.accounts.rows[account_id].failed_second_factor == 0
    [used] = world.state.audit.of_type(EventType.RECOVERY_CODE_USED)
    assert used.details == {"remaining": left - 1}
    again = world.authenticator.use_recovery_code(account_id, codes[0], WHERE)
    assert again is Outcome.INVALID
    [refused] = world.state.audit.of_type(EventType.RECOVERY_CODE_FAILED)
    assert refused.details == {"reason": "used before"}


def test_wrong_recovery_codes_lock_the_account(world: World) -> None:
    account_id = world.citizen()
    enrol(world, account_id)
    outcomes = [
        world.authenticator.use_recovery_code(account_id, "aaaaa-bbbbb", WHERE)
        for _ in range(POLICY.max_attempts)
    ]
    assert outcomes[-1] is Outcome.LOCKED
    assert world.state.accounts.rows[account_id].locked_until == T0 + POLICY.lock_for
    assert world.lock_alerts == []  # the authenticator's alert is the safeguards' own
    assert world.postbox.kinds()[-1] is Kind.ACCOUNT_LOCKED
    assert world.authenticator.use_recovery_code(account_id, "x", WHERE) is Outcome.LOCKED


# -- a mobile number ------------------------------------------------------------------------


def test_a_number_is_the_accounts_once_the_texted_code_is_proved(world: World) -> None:
    account_id = world.citizen()
    ticket = world.phone.start_phone(account_id, NUMBER, BROWSER, "en", WHERE)
    [sent] = world.postbox.posted
    assert (sent.kind, sent.to) == (Kind.PHONE_CODE, NUMBER)
    other = world.phone.confirm_phone(
        "acc_other", ticket, BROWSER, sent.values["code"], WHERE, "en"
    )
    assert other is Check.EXPIRED
    assert world.state.accounts.rows[account_id].phone_number is None
    proved = world.phone.confirm_phone(
        account_id, ticket, BROWSER, sent.values["code"], WHERE, "en"
    )
    assert proved is Check.OK
    stored = world.state.accounts.rows[account_id]
    assert (stored.phone_number, stored.phone_number_verified) == (NUMBER, True)
    assert world.postbox.kinds()[-1] is Kind.FACTOR_CHANGED
    assert world.phone.remove_phone(account_id, WHERE, "en")
    assert world.state.accounts.rows[account_id].phone_number is None
    assert not world.phone.remove_phone(account_id, WHERE, "en")


def test_a_texted_sign_in_code_completes_the_sign_in_and_wrong_ones_count(world: World) -> None:
    account_id = world.citizen(phone_number=NUMBER, phone_number_verified=True)
    ticket = world.phone.send_signin_code(account_id, BROWSER, "en", WHERE)
    assert ticket is not None
    code = world.code_sent()
    refused = world.phone.check_signin_code(account_id, ticket, BROWSER, wrong(code), WHERE)
    assert refused is Check.WRONG
    assert world.state.accounts.rows[account_id].failed_second_factor == 1
    assert world.phone.check_signin_code(account_id, ticket, BROWSER, code, WHERE) is Outcome.OK
    assert world.state.accounts.rows[account_id].failed_second_factor == 0


def test_no_sign_in_code_for_an_account_without_a_proved_number_or_locked(world: World) -> None:
    bare = world.citizen("bare@example.org")
    locked = world.citizen(
        "locked@example.org",
        phone_number=NUMBER,
        phone_number_verified=True,
        locked_until=T0 + timedelta(minutes=5),
    )
    assert world.phone.send_signin_code(bare, BROWSER, "en", WHERE) is None
    assert world.phone.send_signin_code(locked, BROWSER, "en", WHERE) is None
    assert world.postbox.posted == []


# -- devices, sessions and consents -----------------------------------------------------------


def test_a_new_browser_alerts_the_owner_once_others_are_known(world: World) -> None:
    account = world.state.accounts.rows[world.citizen()]
    first = world.activity.note_device(account, None, WHERE, "en")
    assert world.postbox.posted == []  # the first browser is no news
    assert world.activity.note_device(account, first, WHERE, "en") == first
    assert world.postbox.posted == []
    world.activity.note_device(account, "some-other-browser-cookie-value", WHERE, "en")
    assert world.postbox.kinds() == [Kind.NEW_DEVICE]
    assert world.state.audit.types() == [EventType.NEW_DEVICE]


def test_signing_out_everywhere_ends_every_session_and_token(world: World) -> None:
    agency = register(
        name="Parking",
        scopes=["openid"],
        redirect_uris=["https://parking.example/cb"],
        backchannel_logout_uri="https://parking.example/logout",
        now=T0,
    ).agency
    world.state.agencies.rows[agency.client_id] = agency
    account = world.state.accounts.rows[world.citizen()]
    cookies = []
    for n in range(2):
        cookie, session = world.signin.start_session(account, assurance.LOW, WHERE)
        cookies.append(cookie)
        world.state.user_tokens.rows[f"t{n}"] = token(
            account.id, agency.client_id, session.sid, id=f"t{n}"
        )
    assert world.activity.sign_out_everywhere(account.id, WHERE) == 2
    assert [world.signin.session(c) for c in cookies] == [None, None]
    assert all(t.revoked_at for t in world.state.user_tokens.rows.values())
    assert len(world.state.logout_outbox.owed) == 2
    assert world.wakes == [True]


def test_consent_grows_with_each_yes_and_withdrawing_it_revokes_the_agencys_tokens(
    world: World,
) -> None:
    agency = register(
        name="Parking",
        scopes=["openid", "email", "profile"],
        redirect_uris=["https://parking.example/cb"],
        now=T0,
    ).agency
    world.state.agencies.rows[agency.client_id] = agency
    account_id = world.citizen()
    assert world.consents.given(account_id, agency.client_id) == Disclosure()
    world.consents.grant(
        account_id, agency.client_id, Disclosure.of(["openid", "email"]), agency.scopes, WHERE
    )
    world.clock.advance(minutes=1)
    whole = world.consents.grant(
        account_id,
        agency.client_id,
        Disclosure.of(["openid"], ["given_name"]),
        agency.scopes,
        WHERE,
    )
    assert whole == Disclosure.of(["openid", "email"], ["given_name"])
    assert world.consents.given(account_id, agency.client_id) == whole
    assert world.consents.given(account_id, "another-agency") == Disclosure()
    second = world.state.audit.of_type(EventType.CONSENT_GRANTED)[-1]
    assert second.details["added_claims"] == ["given_name"]
    assert second.details["added_scopes"] == []

    world.state.user_tokens.rows["t"] = token(account_id, agency.client_id, "sid-1", id="t")
    [use] = world.activity.agencies(account_id)
    assert (use.client_id, use.name) == (agency.client_id, "Parking")
    assert use.claims == ("given_name", "email", "email_verified")
    assert use.granted_at == world.clock.now
    assert use.last_signed_in == T0

    assert world.activity.withdraw_consent(account_id, agency.client_id, WHERE)
    assert world.state.user_tokens.rows["t"].revoked_at == world.clock.now
    assert world.activity.agencies(account_id) == []
    assert not world.activity.withdraw_consent(account_id, agency.client_id, WHERE)
    [withdrawn] = world.state.audit.of_type(EventType.CONSENT_WITHDRAWN)
    assert withdrawn.details == {"revoked_tokens": 1}
