"""The go-live requests' store and a team's mode, on the SQL adapters (SQLite)
and on the in-memory fakes: one contract, so the fakes stay honest."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.console.adapters import go_live_tables
from services.console.adapters.tables import metadata
from services.console.adapters.unit_of_work import transactions
from services.console.domain.go_live import GoLiveRequest
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
    metadata.create_all(engine)
    go_live_tables.metadata.create_all(engine)
    yield transactions(db.session_factory(engine))
    engine.dispose()


def asked(n: int, team_id: str, minutes: int) -> GoLiveRequest:
    return GoLiveRequest(
        f"golive_{n}", team_id, "ada@example.com", "Permits", "ops@x", "pending",
        T0 + timedelta(minutes=minutes),
    )  # fmt: skip


def test_requests_latest_per_team_pending_oldest_first_and_decisions_kept(work: Opener) -> None:
    with work() as uow:
        for n in (1, 2):
            uow.teams.add(Team(f"team_{n}", f"ag_{n}", f"Team {n}", "test", T0))
        uow.go_live.add(asked(1, "team_1", 5))
        uow.go_live.add(asked(2, "team_2", 1))
        uow.go_live.add(asked(3, "team_1", 9))
    with work() as uow:
        assert [r.id for r in uow.go_live.pending()] == ["golive_2", "golive_1", "golive_3"]
        latest = uow.go_live.latest("team_1")
        assert latest is not None
        assert latest.id == "golive_3"
        assert uow.go_live.latest("team_9") is None
        decided = latest.decide(False, "olu@ops", "Say more", T0 + timedelta(hours=1))
        uow.go_live.save(decided)
        uow.teams.set_mode("team_2", "live")
    with work() as uow:
        assert uow.go_live.get("golive_3") == decided
        assert uow.go_live.get("golive_9") is None
        assert [r.id for r in uow.go_live.pending()] == ["golive_2", "golive_1"]
        team = uow.teams.get("team_2")
        assert team is not None
        assert team.mode == "live"
