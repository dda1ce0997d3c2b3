"""Sign-in on in-memory fakes: passwords and their lockout, the authenticator
code, sessions (idle and absolute timeouts, step-up) and logout."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest

from services.identity.domain import assurance
from services.identity.domain.agencies import register
from services.identity.domain.audit import EventType
from services.identity.service_layer.audit_trail import Where
from services.identity.service_layer.signin import Outcome
from tests.unit.identity.account_world import PASSWORD, POLICY, T0, World, token

WHERE = Where(ip="192.0.2.10", client_id="agency-1")
SECRET = pyotp.random_base32()


@pytest.fixture
def world() -> World:
    return World()


def wrong_code(world: World) -> str:
    right = world.totp_code(SECRET)
    return "000000" if right != "000000" else "111111"


# -- passwords --------------------------------------------------------------------------


def test_the_right_password_signs_in_and_writes_nothing_when_nothing_was_counted(
    world: World,
) -> None:
    account_id = world.citizen()
    attempt = world.signin.password("Ada@Example.org", PASSWORD, WHERE)
    assert attempt.outcome is Outcome.OK
    assert attempt.account is not None
    assert attempt.account.id == account_id
    assert world.state.signin_failures.rows == {}
    assert world.state.audit.events == []  # the session's start is the audit event


def test_a_wrong_password_and_an_unknown_address_look_the_same(world: World) -> None:
    world.citizen()
    wrong = world.signin.password("ada@example.org", "not it at all", WHERE)
    unknown = world.signin.password("nobody@example.org", PASSWORD, WHERE)
    assert wrong.outcome is unknown.outcome is Outcome.INVALID
    assert world.hasher.checks == 1
    assert world.hasher.decoys == 1
    reasons = [e.details["reason"] for e in world.state.audit.of_type(EventType.SIGN_IN_FAILED)]
    assert reasons == ["wrong password", "unknown account"]
    assert len(world.state.signin_failures.rows) == 4  # per client and per address, each


def test_wrong_passwords_lock_the_address_then_the_lock_runs_out(world: World) -> None:
    world.citizen()
    outcomes = [
        world.signin.password("ada@example.org", "wrong!!!", WHERE).outcome
        for _ in range(POLICY.max_attempts)
    ]
    assert outcomes == [Outcome.INVALID] * (POLICY.max_attempts - 1) + [Outcome.LOCKED]
    assert EventType.ACCOUNT_LOCKED in world.state.audit.types()
    # Locked: even the right password is refused, at the same cost.
    checks = world.hasher.checks
    assert world.signin.password("ada@example.org", PASSWORD, WHERE).outcome is Outcome.LOCKED
    assert world.hasher.checks == checks
    assert world.hasher.decoys == 1
    # Another network is not locked out by this one's guesses.
    other = Where(ip="198.51.100.7")
    assert world.signin.password("ada@example.org", PASSWORD, other).outcome is Outcome.OK
    world.clock.advance(minutes=15)
    assert world.signin.password("ada@example.org", PASSWORD, WHERE).outcome is Outcome.OK


def test_an_unknown_address_locks_exactly_like_a_known_one(world: World) -> None:
    outcomes = [
        world.signin.password("nobody@example.org", "guess", WHERE).outcome
        for _ in range(POLICY.max_attempts)
    ]
    assert outcomes[-1] is Outcome.LOCKED
    assert world.signin.password_lockout.locked("nobody@example.org", WHERE.ip)


def test_a_correct_password_forgets_the_wrong_ones_before_it(world: World) -> None:
    world.citizen()
    for _ in range(POLICY.max_attempts - 1):
        world.signin.password("ada@example.org", "wrong!!!", WHERE)
    assert world.signin.password("ada@example.org", PASSWORD, WHERE).outcome is Outcome.OK
    assert world.state.signin_failures.rows == {}
    assert world.signin.password("ada@example.org", "wrong!!!", WHERE).outcome is Outcome.INVALID


def test_an_account_locked_by_its_second_factor_says_until_when(world: World) -> None:
    until = T0 + timedelta(minutes=30)
    world.citizen(locked_until=until)
    attempt = world.signin.password("ada@example.org", PASSWORD, WHERE)
    assert attempt.outcome is Outcome.LOCKED
    assert attempt.locked_until == until
    assert [e.details["reason"] for e in world.state.audit.events] == ["locked"]


def test_an_old_hash_is_replaced_at_the_next_sign_in(world: World) -> None:
    account_id = world.citizen()
    world.hasher.version = 2  # new hashing parameters
    attempt = world.signin.password("ada@example.org", PASSWORD, WHERE)
    assert attempt.outcome is Outcome.OK
    assert world.state.accounts.rows[account_id].password_hash.startswith("fake2$")
    assert world.signin.password("ada@example.org", PASSWORD, WHERE).outcome is Outcome.OK


# -- the authenticator code -------------------------------------------------------------


def test_the_right_authenticator_code_completes_the_sign_in_once(world: World) -> None:
    account_id = world.citizen(totp_secret=SECRET, failed_second_factor=2)
    code = world.totp_code(SECRET)
    attempt = world.signin.second_factor(account_id, code, WHERE)
    assert attempt.outcome is Outcome.OK
    stored = world.state.accounts.rows[account_id]
    assert stored.failed_second_factor == 0
    assert stored.totp_last_step is not None
    # The same code again is a replay: refused, and counted.
    assert world.signin.second_factor(account_id, code, WHERE).outcome is Outcome.INVALID
    assert world.state.accounts.rows[account_id].failed_second_factor == 1


def test_wrong_codes_lock_the_account_and_tell_its_owner_after_the_commit(world: World) -> None:
    account_id = world.citizen(totp_secret=SECRET)
    outcomes = [
        world.signin.second_factor(account_id, wrong_code(world), WHERE)
        for _ in range(POLICY.max_attempts)
    ]
    assert [a.outcome for a in outcomes[:-1]] == [Outcome.INVALID] * (POLICY.max_attempts - 1)
    locked = outcomes[-1]
    assert locked.outcome is Outcome.LOCKED
    assert locked.locked_until == T0 + POLICY.lock_for
    assert world.lock_alerts == [account_id]
    assert world.state.committed == []  # the alert ran once, after the commit
    # Locked: even the right code waits for the lock to end.
    right = world.signin.second_factor(account_id, world.totp_code(SECRET), WHERE)
    assert right.outcome is Outcome.LOCKED


def test_no_authenticator_no_second_factor(world: World) -> None:
    account_id = world.citizen()
    assert world.signin.second_factor(account_id, "123456", WHERE).outcome is Outcome.INVALID
    assert world.signin.second_factor("acc_nobody", "123456", WHERE).outcome is Outcome.INVALID
    assert world.state.audit.events == []


# -- sessions -----------------------------------------------------------------------------


def test_a_session_lives_while_used_and_ends_when_idle(world: World) -> None:
    account = world.state.accounts.rows[world.citizen()]
    cookie, started = world.signin.start_session(account, assurance.LOW, WHERE)
    assert world.state.audit.types() == [EventType.SIGN_IN_SUCCEEDED]
    assert cookie not in world.state.browser_sessions.rows  # only its hash is kept
    world.clock.advance(minutes=29)
    assert world.signin.session(cookie) == started  # and the idle timeout slides
    world.clock.advance(minutes=29)
    assert world.signin.session(cookie) == started
    world.clock.advance(minutes=31)
    assert world.signin.session(cookie) is None
    assert world.signin.session(None) is None
    assert world.signin.session("not-a-cookie") is None


def test_a_session_ends_after_its_longest_life_however_busy(world: World) -> None:
    account = world.state.accounts.rows[world.citizen()]
    cookie, _ = world.signin.start_session(account, assurance.LOW, WHERE)
    for _ in range(12 * 4 - 1):
        world.clock.advance(minutes=15)
        assert world.signin.session(cookie) is not None
    world.clock.advance(minutes=15)
    assert world.signin.session(cookie) is None


def test_stepping_up_raises_the_session_to_medium(world: World) -> None:
    account = world.state.accounts.rows[world.citizen()]
    cookie, started = world.signin.start_session(account, assurance.LOW, WHERE)
    world.clock.advance(minutes=1)
    raised = world.signin.step_up(cookie, WHERE)
    assert raised is not None
    assert raised.sid == started.sid
    assert raised.acr == assurance.MEDIUM
    assert raised.auth_time == world.clock.now
    assert world.signin.step_up("unknown", WHERE) is None


def test_logout_ends_the_session_revokes_its_tokens_and_owes_the_agency_a_token(
    world: World,
) -> None:
    account = world.state.accounts.rows[world.citizen()]
    cookie, session = world.signin.start_session(account, assurance.LOW, WHERE)
    agency = register(
        name="Parking",
        scopes=["openid"],
        redirect_uris=["https://parking.example/cb"],
        backchannel_logout_uri="https://parking.example/logout",
        now=T0,
    ).agency
    world.state.agencies.rows[agency.client_id] = agency
    world.state.user_tokens.rows["tok-1"] = token(account.id, agency.client_id, session.sid)
    world.logout.end_session(session.sid, WHERE)
    assert world.signin.session(cookie) is None
    assert world.state.user_tokens.rows["tok-1"].revoked_at == world.clock.now
    [signed_out] = world.state.audit.of_type(EventType.SIGNED_OUT)
    assert signed_out.details == {"revoked_tokens": 1}
    [owed] = world.state.logout_outbox.owed
    assert owed.payload == {"sub": f"sub-{account.id}-{agency.client_id}", "sid": session.sid}
    assert world.wakes == [True]
    # Ending it again finds nothing to end, and owes nothing more.
    world.logout.end_session(session.sid, WHERE)
    assert len(world.state.logout_outbox.owed) == 1
