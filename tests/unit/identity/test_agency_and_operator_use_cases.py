"""Agencies' registry, operators' work on accounts and the audit log, and
authorization requests in progress, on in-memory fakes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from gaap.identity.v1 import identity_pb2

from services.identity.domain import assurance
from services.identity.domain.audit import AuditFilter, EventType
from services.identity.domain.authorization import AuthorizationRequest
from services.identity.service_layer.agencies import AgencyRegistry
from services.identity.service_layer.audit_trail import Where
from services.identity.service_layer.operators import INDEFINITELY, Operators
from services.identity.service_layer.pending import PendingStore
from services.identity.service_layer.signin import Outcome
from services.runtime.egress import PUBLIC_ONLY
from services.runtime.errors import AlreadyExists, InvalidArgument, NotFound
from services.runtime.idempotency import keyed
from services.runtime.pagination import PageRequest
from tests.unit.identity.account_world import PASSWORD, POLICY, T0, World, token

WHERE = Where(ip="192.0.2.40")
OPERATOR = "ops-agency"


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def registry(world: World) -> AgencyRegistry:
    return AgencyRegistry(world.uow, world.clock, egress=PUBLIC_ONLY)


@pytest.fixture
def operators(world: World) -> Operators:
    return Operators(world.uow, world.clock)


def key(name: str, request_id: str = "k-1") -> identity_pb2.CreateAgencyRequest:
    return identity_pb2.CreateAgencyRequest(name=name, idempotency_key=request_id)


# -- agencies -----------------------------------------------------------------------------


def test_an_agency_is_registered_once_per_key_and_its_secret_shown_once(
    world: World, registry: AgencyRegistry
) -> None:
    call = keyed("CreateAgency", key("Parking"), OPERATOR)
    created = registry.create(name="Parking", scopes=["payments:create"], keyed=call, actor="op")
    assert created.client_secret
    replayed = registry.create(name="Parking", scopes=["payments:create"], keyed=call, actor="op")
    assert replayed.agency == created.agency
    assert replayed.client_secret is None
    assert len(world.state.agencies.rows) == 1
    [event] = world.state.audit.of_type(EventType.AGENCY_CREATED)
    assert event.details == {"by": "op", "mode": "test", "profile": "standard"}
    other = keyed("CreateAgency", key("Library"), OPERATOR)
    assert other.key == call.key
    assert other.fingerprint != call.fingerprint
    with pytest.raises(AlreadyExists):  # the same key for another request
        registry.create(name="Library", scopes=["payments:create"], keyed=other)
    assert len(world.state.agencies.rows) == 1


def test_an_update_is_checked_like_a_registration_and_changes_nothing_when_refused(
    registry: AgencyRegistry,
) -> None:
    agency = registry.create(name="Parking", scopes=["payments:create"]).agency
    updated = registry.update(agency.client_id, {"name": "Parking permits"})
    assert updated.name == "Parking permits"
    assert registry.get(agency.client_id).name == "Parking permits"
    with pytest.raises(InvalidArgument):
        registry.update(agency.client_id, {"mode": "live"})
    with pytest.raises(InvalidArgument):
        registry.update(agency.client_id, {"scopes": ["no-such-scope"]})
    assert registry.get(agency.client_id) == updated
    with pytest.raises(NotFound):
        registry.update("cli_none", {"name": "x"})


def test_a_disabled_agency_is_no_longer_active_nor_listed_by_default(
    world: World, registry: AgencyRegistry
) -> None:
    kept = registry.create(name="Kept", scopes=["payments:create"]).agency
    gone = registry.create(name="Gone", scopes=["payments:create"]).agency
    assert registry.find_active(gone.client_id) == gone
    world.clock.advance(minutes=1)
    disabled = registry.disable(gone.client_id, actor="op")
    assert disabled.disabled_at == world.clock.now
    assert registry.disable(gone.client_id) == disabled  # once is enough
    assert len(world.state.audit.of_type(EventType.AGENCY_DISABLED)) == 1
    assert registry.find_active(gone.client_id) is None
    assert registry.find_active("cli_none") is None
    page = registry.list(PageRequest.parse(10, ""))
    assert [a.client_id for a in page.items] == [kept.client_id]
    everything = registry.list(PageRequest.parse(10, ""), include_disabled=True)
    assert len(everything.items) == 2


def test_agencies_are_listed_a_page_at_a_time(registry: AgencyRegistry) -> None:
    made = sorted(
        registry.create(name=f"Agency {n}", scopes=["payments:create"]).agency.client_id
        for n in range(5)
    )
    first = registry.list(PageRequest.parse(2, ""))
    assert [a.client_id for a in first.items] == made[:2]
    assert first.next_page_token
    second = registry.list(PageRequest.parse(2, first.next_page_token))
    assert [a.client_id for a in second.items] == made[2:4]


# -- operators ------------------------------------------------------------------------------


def test_an_operators_lock_ends_the_sessions_and_tokens_and_the_unlock_lifts_every_lock(
    world: World, operators: Operators
) -> None:
    account_id = world.citizen()
    account = world.state.accounts.rows[account_id]
    cookie, session = world.signin.start_session(account, assurance.LOW, WHERE)
    world.state.user_tokens.rows["t"] = token(account_id, "agency-1", session.sid, id="t")
    for _ in range(POLICY.max_attempts):
        world.signin.password("ada@example.org", "wrong!!!", WHERE)
    status = operators.lock(account_id, until=None, reason="fraud report", actor="op")
    assert status.locked
    assert status.locked_indefinitely
    assert world.state.accounts.rows[account_id].locked_until == INDEFINITELY
    assert world.signin.session(cookie) is None
    assert world.state.user_tokens.rows["t"].revoked_at == world.clock.now
    [locked] = world.state.audit.of_type(EventType.ACCOUNT_LOCKED)[-1:]
    assert locked.details["ended_sessions"] == 1
    assert locked.details["revoked_tokens"] == 1

    unlocked = operators.unlock(account_id, reason="cleared", actor="op")
    assert not unlocked.locked
    assert unlocked.failed_attempts == 0
    assert world.signin.password("ada@example.org", PASSWORD, WHERE).outcome is Outcome.OK
    [event] = world.state.audit.of_type(EventType.ACCOUNT_UNLOCKED)
    assert event.details["was_locked"] is True


def test_a_lock_is_checked_before_anything_changes(world: World, operators: Operators) -> None:
    account_id = world.citizen()
    before = world.state.accounts.rows[account_id]
    with pytest.raises(InvalidArgument):
        operators.lock(account_id, until=T0 - timedelta(minutes=1), reason="x", actor="op")
    with pytest.raises(InvalidArgument):
        operators.lock("", until=None, reason="bad\nreason", actor="op")
    with pytest.raises(NotFound):
        operators.lock("acc_none", until=None, reason="x", actor="op")
    assert world.state.accounts.rows[account_id] == before
    assert world.state.audit.events == []


def test_a_replayed_lock_changes_nothing_more(world: World, operators: Operators) -> None:
    account_id = world.citizen()
    request = identity_pb2.LockAccountRequest(
        account_id=account_id, reason="fraud", idempotency_key="lock-1"
    )
    call = keyed("LockAccount", request, OPERATOR)
    until = T0 + timedelta(hours=1)
    first = operators.lock(account_id, until=until, reason="fraud", actor="op", keyed=call)
    again = operators.lock(account_id, until=until, reason="fraud", actor="op", keyed=call)
    assert again == first
    assert len(world.state.audit.of_type(EventType.ACCOUNT_LOCKED)) == 1


def test_lookup_shows_status_never_secrets(world: World, operators: Operators) -> None:
    account_id = world.citizen(totp_secret="JBSWY3DPEHPK3PXP")
    world.signin.password("ada@example.org", "wrong!!!", WHERE)
    status = operators.lookup(email="ada@example.org")
    assert status == operators.lookup(account_id=account_id)
    assert status.has_second_factor
    assert status.failed_attempts == 1
    assert "JBSWY3DPEHPK3PXP" not in repr(status)
    with pytest.raises(InvalidArgument):
        operators.lookup()
    with pytest.raises(NotFound):
        operators.lookup(email="nobody@example.org")


def test_audit_events_newest_first_a_page_at_a_time(world: World, operators: Operators) -> None:
    account_id = world.citizen()
    for _ in range(3):
        world.signin.password("ada@example.org", "wrong", WHERE)
        world.clock.advance(seconds=1)
    failed = AuditFilter(types=["sign_in.failed"], account_id=account_id)
    first = operators.audit_events(failed, PageRequest.parse(2, ""))
    assert [e.at for e in first.items] == [T0 + timedelta(seconds=2), T0 + timedelta(seconds=1)]
    assert first.next_page_token
    rest = operators.audit_events(failed, PageRequest.parse(2, first.next_page_token))
    assert [e.at for e in rest.items] == [T0]
    with pytest.raises(InvalidArgument):
        operators.audit_events(AuditFilter(types=["no.such"]), PageRequest.parse(2, ""))
    with pytest.raises(InvalidArgument):
        operators.audit_events(failed, PageRequest(2, "not-a-cursor"))


# -- authorization requests in progress ---------------------------------------------------------


def test_a_pending_request_belongs_to_its_browser_and_lives_half_an_hour(world: World) -> None:
    pending = PendingStore(world.uow, world.clock)
    request = AuthorizationRequest(
        client_id="agency-1",
        redirect_uri="https://agency.example/cb",
        scopes=("openid",),
        state="s",
        nonce="n",
        code_challenge="c" * 43,
        prompt=frozenset(),
        max_age=None,
        login_hint=None,
        ui_locales=(),
        claims_locales=(),
        acr=assurance.LOW,
        acr_essential=False,
        display="page",
        claims=None,
    )
    started = pending.create(request, "browser-1")
    assert pending.get(started.id, "browser-1") == started
    assert pending.get(started.id, "browser-2") is None
    assert pending.get("", "browser-1") is None
    signed_in = pending.update(started, signed_in_at=world.clock.now)
    assert pending.get(started.id, "browser-1") == signed_in
    world.clock.advance(minutes=30)
    assert pending.get(started.id, "browser-1") is None
    assert pending.purge() == 1
