"""The payment links' repository contract, on the SQL adapter (SQLite, built by
the console's migrations) and on the in-memory fake the use-case tests use."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.console.adapters.unit_of_work import transactions
from services.console.bootstrap import MIGRATIONS
from services.console.domain.payment_links import (
    Characters,
    LinkPayment,
    PaymentLink,
    ReferenceRule,
    State,
)
from services.console.domain.teams import Team
from services.runtime import db
from tests.fakes.console import MemoryConsoleWork

T0 = datetime(2030, 1, 1, tzinfo=UTC)
Opener = Callable[[], AbstractContextManager[Any]]


@pytest.fixture(params=["sql", "memory"])
def work(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    if request.param == "memory":
        state = MemoryConsoleWork()

        @contextmanager
        def memory() -> Iterator[MemoryConsoleWork]:
            yield state

        yield memory
        return
    engine = db.create_engine(f"sqlite:///{tmp_path / 'console.db'}")
    db.migrate(engine, MIGRATIONS)
    yield transactions(db.session_factory(engine))
    engine.dispose()


def link(n: int, team_id: str = "team_1", **changes: Any) -> PaymentLink:
    made = PaymentLink(
        id=f"pl_{n}",
        team_id=team_id,
        slug=f"slug{n:08d}",
        title=f"Fee {n}",
        description="For a\nlicence",
        currency="GBP",
        fixed_amount=None,
        min_amount=100,
        max_amount=10_000_000,
        reference=ReferenceRule("Application number", False, 255, Characters.DIGITS),
        return_url="",
        state=State.ACTIVE,
        created_by="ada@example.com",
        created_at=T0 + timedelta(minutes=n),
    )
    return replace(made, **changes)


def test_links(work: Opener) -> None:
    with work() as uow:
        for n in (1, 2):
            uow.teams.add(Team(f"team_{n}", f"ag_{n}", f"Team {n}", "test", T0))
        uow.payment_links.add(link(1))
        uow.payment_links.add(link(2, fixed_amount=7550, min_amount=None, max_amount=None))
        uow.payment_links.add(link(3, "team_2", return_url="https://agency.example/done"))
    with work() as uow:
        assert uow.payment_links.get("team_1", "pl_1") == link(1)
        assert uow.payment_links.get("team_2", "pl_1") is None, "another team's link"
        assert uow.payment_links.by_slug("slug00000003") == link(
            3, "team_2", return_url="https://agency.example/done"
        )
        assert uow.payment_links.by_slug("nothing") is None
        assert [x.id for x in uow.payment_links.of_team("team_1")] == ["pl_2", "pl_1"]
        assert uow.payment_links.of_team("team_1")[0].fixed_amount == 7550
        assert [x.id for x in uow.payment_links.of_team("team_1", limit=1)] == ["pl_2"]
        uow.payment_links.set_state("pl_1", State.PAUSED)
    with work() as uow:
        assert uow.payment_links.get("team_1", "pl_1").state is State.PAUSED
        assert uow.payment_links.get("team_1", "pl_2").state is State.ACTIVE


def test_payments_of_a_link_recorded_once(work: Opener) -> None:
    first = LinkPayment("pay_1", "pl_1", "a" * 64, T0)
    with work() as uow:
        uow.teams.add(Team("team_1", "ag_1", "Team 1", "test", T0))
        uow.payment_links.add(link(1))
        uow.payment_links.add(link(2))
        uow.payment_links.record_payment(first)
        uow.payment_links.record_payment(LinkPayment("pay_2", "pl_1", "b" * 64, T0 + timedelta(1)))
        uow.payment_links.record_payment(LinkPayment("pay_3", "pl_2", "c" * 64, T0))
    with work() as uow:
        # the double submit payments answered with the same payment
        uow.payment_links.record_payment(replace(first, created_at=T0 + timedelta(2)))
    with work() as uow:
        assert [p.payment_id for p in uow.payment_links.payments("pl_1")] == ["pay_2", "pay_1"]
        assert [p.payment_id for p in uow.payment_links.payments("pl_1", limit=1)] == ["pay_2"]
        assert uow.payment_links.payment_by_form("pl_1", "a" * 64) == first
        assert uow.payment_links.payment_by_form("pl_2", "a" * 64) is None, "another link's"
        assert uow.payment_links.payment_by_form("pl_1", "d" * 64) is None
