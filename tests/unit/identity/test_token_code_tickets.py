"""Code tickets (emailed and texted one-time codes) on in-memory fakes: bound to
the browser that asked, limited in attempts, every refusal audited."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.identity.domain.audit import EventType
from services.identity.domain.one_time_codes import Check, CodePolicy, Purpose
from services.identity.service_layer.audit_trail import Where
from services.identity.service_layer.code_tickets import CodeTickets
from tests.fakes.identity_tokens import TokenState, token_transactions
from tests.fakes.transactions import FakeTransactions
from tests.unit.identity.token_world import Clock

WHERE = Where(ip="192.0.2.1", client_id="ag_one")


@pytest.fixture
def uow() -> FakeTransactions[TokenState]:
    return token_transactions()


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2030, 1, 1, tzinfo=UTC))


def tickets(uow: FakeTransactions[TokenState], clock: Clock) -> CodeTickets:
    return CodeTickets(uow, b"k" * 32, CodePolicy(max_attempts=2), clock=clock)


def stored(uow: FakeTransactions[TokenState], clock: Clock, code: str = "123456") -> str:
    codes = tickets(uow, clock)
    ticket = codes.new(Purpose.RESET, "ada@example.org", code, "browser-1", "en")
    with uow() as work:
        codes.insert(work, ticket, "en")
    return ticket.id


def test_the_right_code_from_the_right_browser_is_ok(
    uow: FakeTransactions[TokenState], clock: Clock
) -> None:
    ticket_id = stored(uow, clock)
    codes = tickets(uow, clock)
    with uow() as work:
        loaded = codes.load(work, ticket_id, "browser-1", Purpose.RESET)
        assert loaded is not None
        assert loaded.ticket.code_hash != "123456"  # only a keyed hash is kept
        assert codes.judge(work, loaded, "123456", WHERE) is Check.OK
        assert codes.load(work, ticket_id, "browser-2", Purpose.RESET) is None
        assert codes.load(work, ticket_id, "browser-1", Purpose.REGISTER) is None
        assert codes.load(work, "not-a-ticket", "browser-1", Purpose.RESET) is None
    assert uow.state.audit.events == []


def test_wrong_codes_use_up_attempts_and_are_audited(
    uow: FakeTransactions[TokenState], clock: Clock
) -> None:
    ticket_id = stored(uow, clock)
    codes = tickets(uow, clock)
    for _ in range(2):
        with uow() as work:
            loaded = codes.load(work, ticket_id, "browser-1", Purpose.RESET)
            assert loaded is not None
            assert codes.judge(work, loaded, "000000", WHERE) is Check.WRONG
    with uow() as work:
        loaded = codes.load(work, ticket_id, "browser-1", Purpose.RESET)
        assert loaded is not None
        assert loaded.ticket.attempts == 2
        assert codes.judge(work, loaded, "123456", WHERE) is Check.EXHAUSTED
    events = uow.state.audit.events
    assert [e.type for e in events] == [EventType.CODE_REFUSED] * 3
    assert [e.details["reason"] for e in events] == ["wrong", "wrong", "exhausted"]
    assert (events[0].ip, events[0].client_id) == ("192.0.2.1", "ag_one")


def test_expired_tickets_are_refused_and_purged_a_day_later(
    uow: FakeTransactions[TokenState], clock: Clock
) -> None:
    ticket_id = stored(uow, clock)
    codes = tickets(uow, clock)
    clock.advance(minutes=15)
    with uow() as work:
        loaded = codes.load(work, ticket_id, "browser-1", Purpose.RESET)
        assert loaded is not None
        assert codes.judge(work, loaded, "123456", WHERE) is Check.EXPIRED
    assert codes.purge() == 0
    clock.advance(days=1, seconds=1)
    assert codes.purge() == 1
    assert codes.code_values("123456") == {"code": "123456", "minutes": "15"}
