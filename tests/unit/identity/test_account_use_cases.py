"""Citizen account use cases on in-memory fakes: registration, password reset
and change, and throttling of what they send."""

from __future__ import annotations

import pytest

from services.identity.domain import assurance
from services.identity.domain.accounts import Account
from services.identity.domain.audit import EventType
from services.identity.domain.messages import Kind
from services.identity.domain.one_time_codes import Check
from services.identity.service_layer.audit_trail import Where
from services.identity.service_layer.signin import Outcome
from services.identity.service_layer.throttling import Throttled
from services.runtime.errors import AlreadyExists, InvalidArgument
from tests.unit.identity.account_world import PASSWORD, POLICY, World, token

WHERE = Where(ip="192.0.2.20")
BROWSER = "browser-1"
NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def world() -> World:
    return World()


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


# -- accounts made by operators and tests ---------------------------------------------------


def test_an_account_is_created_once_per_address(world: World) -> None:
    made = world.accounts.create(email=" Ada@Example.org ", password=PASSWORD)
    assert made.email == "ada@example.org"
    assert world.accounts.by_email("ada@example.org") == made
    assert world.state.audit.types() == [EventType.REGISTERED]
    with pytest.raises(AlreadyExists):
        world.accounts.create(email="ada@example.org", password=PASSWORD)
    with pytest.raises(InvalidArgument):
        world.accounts.create(email="no-at-sign", password="short")
    world.accounts.delete(made.id)
    assert world.accounts.by_email("ada@example.org") is None


# -- registration -----------------------------------------------------------------------------


def test_registration_creates_the_account_once_the_emailed_code_is_proved(world: World) -> None:
    ticket = world.registration.register("Ada@Example.org", PASSWORD, BROWSER, "en", WHERE)
    assert world.postbox.kinds() == [Kind.VERIFY_EMAIL]
    code = world.code_sent()
    assert world.state.accounts.rows == {}
    made = world.registration.confirm_registration(ticket, BROWSER, code, WHERE)
    assert isinstance(made, Account)
    assert made.email == "ada@example.org"
    assert made.email_verified
    assert world.hasher.verify(made.password_hash, PASSWORD)
    assert EventType.REGISTERED in world.state.audit.types()
    # The code is single use, and another browser's ticket is not this one.
    assert world.registration.confirm_registration(ticket, BROWSER, code, WHERE) is not made
    assert len(world.state.accounts.rows) == 1


def test_a_wrong_code_changes_nothing_but_the_count(world: World) -> None:
    ticket = world.registration.register("ada@example.org", PASSWORD, BROWSER, "en", WHERE)
    refused = world.registration.confirm_registration(
        ticket, BROWSER, wrong(world.code_sent()), WHERE
    )
    assert refused is Check.WRONG
    assert world.state.accounts.rows == {}
    assert world.state.verification_tickets.rows[ticket].ticket.attempts == 1
    elsewhere = world.registration.confirm_registration(ticket, "other", world.code_sent(), WHERE)
    assert elsewhere is Check.EXPIRED


def test_registering_a_known_address_looks_the_same_and_tells_its_owner(world: World) -> None:
    world.citizen()
    ticket = world.registration.register("ada@example.org", "another pass", BROWSER, "en", WHERE)
    assert ticket.startswith("tkt_")
    assert world.postbox.kinds() == [Kind.ALREADY_REGISTERED]
    [started] = world.state.audit.of_type(EventType.REGISTRATION_STARTED)
    assert started.details == {"existing_account": True}
    # No code was sent: none can confirm it.
    assert world.registration.confirm_registration(ticket, BROWSER, "123456", WHERE) in (
        Check.WRONG,
        Check.EXPIRED,
    )
    assert len(world.state.accounts.rows) == 1


def test_a_resent_code_replaces_the_old_one(world: World) -> None:
    first = world.registration.register("ada@example.org", PASSWORD, BROWSER, "en", WHERE)
    old_code = world.code_sent()
    second = world.registration.resend_registration(first, BROWSER, WHERE)
    assert second is not None
    assert second != first
    new_code = world.code_sent()
    assert world.registration.confirm_registration(first, BROWSER, old_code, WHERE) is Check.USED
    assert isinstance(
        world.registration.confirm_registration(second, BROWSER, new_code, WHERE), Account
    )
    assert world.registration.resend_registration(second, BROWSER, WHERE) is None  # used


def test_codes_sent_to_one_address_are_throttled_and_the_refusal_audited(world: World) -> None:
    limit = world.rules.sends_per_address.limit
    for _ in range(limit):
        world.registration.register("ada@example.org", PASSWORD, BROWSER, "en", WHERE)
    with pytest.raises(Throttled) as refused:
        world.registration.register("ada@example.org", PASSWORD, BROWSER, "en", WHERE)
    assert refused.value.rule == "sends-per-address"
    assert refused.value.minutes >= 1
    assert len(world.postbox.posted) == limit  # nothing sent past the limit
    [throttled] = world.state.audit.of_type(EventType.THROTTLED)
    assert throttled.details == {"rule": "sends-per-address"}
    # The window passes: sending starts again; old counters are purged.
    world.clock.advance(hours=2)
    world.registration.register("ada@example.org", PASSWORD, BROWSER, "en", WHERE)
    world.clock.advance(hours=3)
    assert world.safeguards.throttle.purge() >= 1


# -- password reset -----------------------------------------------------------------------------


def test_a_reset_sets_the_password_ends_every_session_and_lifts_the_lock(world: World) -> None:
    account_id = world.citizen()
    account = world.state.accounts.rows[account_id]
    cookie, session = world.signin.start_session(account, assurance.LOW, WHERE)
    world.state.user_tokens.rows["tok-1"] = token(account_id, "agency-1", session.sid)
    for _ in range(POLICY.max_attempts):
        world.signin.password("ada@example.org", "wrong guess", WHERE)
    ticket = world.passwords.start_reset("ada@example.org", BROWSER, "en", WHERE)
    assert world.postbox.kinds() == [Kind.RESET_CODE]
    assert world.passwords.reset_ready(ticket, BROWSER) is None  # the code is not proved yet
    assert world.passwords.check_reset_code(ticket, BROWSER, world.code_sent(), WHERE) is Check.OK
    assert world.passwords.reset_ready(ticket, BROWSER) == "ada@example.org"
    updated = world.passwords.complete_reset(ticket, BROWSER, NEW_PASSWORD, WHERE)
    assert updated is not None
    assert world.hasher.verify(updated.password_hash, NEW_PASSWORD)
    assert world.signin.session(cookie) is None
    assert world.state.user_tokens.rows["tok-1"].revoked_at == world.clock.now
    assert world.postbox.kinds()[-1] is Kind.PASSWORD_CHANGED
    signed_in = world.signin.password("ada@example.org", NEW_PASSWORD, WHERE)
    assert signed_in.outcome is Outcome.OK  # the wrong passwords' lock went with the old one
    # The ticket is spent.
    assert world.passwords.complete_reset(ticket, BROWSER, "yet another one", WHERE) is None


def test_a_reset_for_an_unknown_address_looks_the_same_and_sends_nothing(world: World) -> None:
    ticket = world.passwords.start_reset("nobody@example.org", BROWSER, "en", WHERE)
    assert ticket.startswith("tkt_")
    assert world.postbox.posted == []
    [asked] = world.state.audit.of_type(EventType.PASSWORD_RESET_REQUESTED)
    assert asked.details == {"known_address": False}
    assert world.passwords.check_reset_code(ticket, BROWSER, "123456", WHERE) is not Check.OK


def test_a_proved_reset_must_be_used_within_its_window(world: World) -> None:
    world.citizen()
    ticket = world.passwords.start_reset("ada@example.org", BROWSER, "en", WHERE)
    world.passwords.check_reset_code(ticket, BROWSER, world.code_sent(), WHERE)
    world.clock.advance(minutes=16)
    assert world.passwords.reset_ready(ticket, BROWSER) is None
    assert world.passwords.complete_reset(ticket, BROWSER, NEW_PASSWORD, WHERE) is None


# -- password change --------------------------------------------------------------------------


def test_changing_the_password_keeps_this_session_and_ends_the_others(world: World) -> None:
    account_id = world.citizen()
    account = world.state.accounts.rows[account_id]
    here, kept = world.signin.start_session(account, assurance.LOW, WHERE)
    there, ended = world.signin.start_session(account, assurance.LOW, Where(ip="198.51.100.1"))
    world.state.user_tokens.rows["kept"] = token(account_id, "agency-1", kept.sid, id="kept")
    world.state.user_tokens.rows["ended"] = token(account_id, "agency-1", ended.sid, id="ended")
    outcome = world.passwords.change_password(
        account_id, PASSWORD, NEW_PASSWORD, WHERE, "en", keep_sid=kept.sid
    )
    assert outcome is Outcome.OK
    assert world.signin.session(here) is not None
    assert world.signin.session(there) is None
    # (read again: the fakes' units of work work on copies, as a database would)
    tokens = world.state.user_tokens.rows
    assert tokens["kept"].revoked_at is None
    assert tokens["ended"].revoked_at is not None
    assert world.postbox.kinds() == [Kind.PASSWORD_CHANGED]
    assert EventType.PASSWORD_CHANGED in world.state.audit.types()


def test_a_wrong_current_password_changes_nothing_and_counts_towards_the_lock(
    world: World,
) -> None:
    account_id = world.citizen()
    before = world.state.accounts.rows[account_id]
    outcomes = [
        world.passwords.change_password(account_id, "wrong", NEW_PASSWORD, WHERE, "en", "sid")
        for _ in range(POLICY.max_attempts)
    ]
    assert outcomes == [Outcome.INVALID] * (POLICY.max_attempts - 1) + [Outcome.LOCKED]
    assert world.state.accounts.rows[account_id] == before
    assert world.postbox.posted == []
    locked = world.passwords.change_password(account_id, PASSWORD, NEW_PASSWORD, WHERE, "en", "s")
    assert locked is Outcome.LOCKED
    assert world.passwords.change_password("acc_none", PASSWORD, "x", WHERE, "en", "s") is (
        Outcome.INVALID
    )


def test_sign_ins_started_and_forms_posted_are_throttled_per_network(world: World) -> None:
    posts = world.rules.posts_per_ip.limit
    for _ in range(posts):
        world.safeguards.check_ip(WHERE)
    with pytest.raises(Throttled):
        world.safeguards.check_ip(WHERE)
    world.safeguards.check_ip(Where(ip="192.0.2.99"))  # an IPv4 address counts on its own
    for n in range(world.rules.authorizations_per_ip.limit):
        world.safeguards.check_authorize(Where(ip=f"2001:db8:1:2::{n:x}"))
    with pytest.raises(Throttled) as refused:
        world.safeguards.check_authorize(Where(ip="2001:db8:1:2::ffff"))  # the same /64
    assert refused.value.rule == "authorizations-per-ip"
