"""The uploads' repository contract, on the SQL adapter (SQLite, built by the
console's migrations) and on the in-memory fake the use-case tests use."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.console.adapters.unit_of_work import transactions
from services.console.bootstrap import MIGRATIONS
from services.console.domain.bulk_uploads import BulkUpload, GoodRow, RowProblem
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


def made(n: int, team_id: str = "team_1") -> BulkUpload:
    return BulkUpload(
        id=f"upl_{n}",
        team_id=team_id,
        uploaded_by="sub-sam",
        template_id="tpl_1",
        file_name="list.xlsx",
        rows=(GoodRow(2, "a@example.com", {"first name": "Ada 张"}),),
        problems=(RowProblem(3, "email address", "not a valid email address"),),
        created_at=T0 + timedelta(hours=n),
    )


def test_uploads_are_kept_sent_and_purged(work: Opener) -> None:
    with work() as uow:
        for n in (1, 2):
            uow.teams.add(Team(f"team_{n}", f"ag_{n}", f"Team {n}", "test", T0))
        uow.bulk_uploads.add(made(1))
        uow.bulk_uploads.add(made(2))
    with work() as uow:
        assert uow.bulk_uploads.get("team_1", "upl_1") == made(1)
        assert uow.bulk_uploads.get("team_2", "upl_1") is None  # another team's
        uow.bulk_uploads.mark_sent("upl_1", "bulk_9")
    with work() as uow:
        assert uow.bulk_uploads.get("team_1", "upl_1") == made(1).sent("bulk_9")
        assert uow.bulk_uploads.purge(T0 + timedelta(hours=2)) == 1
    with work() as uow:
        assert uow.bulk_uploads.get("team_1", "upl_1") is None
        assert uow.bulk_uploads.get("team_1", "upl_2") == made(2)
