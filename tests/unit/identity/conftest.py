"""The ``work`` fixture the identity store contracts share: each test runs once
on the SQL adapters (SQLite) and once on the in-memory fakes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from services.identity.adapters.tables import metadata
from services.identity.adapters.unit_of_work import SqlIdentityWork
from services.runtime.db import create_engine, session_factory
from tests.fakes.identity import IdentityState

Opener = Callable[[], AbstractContextManager[Any]]


@pytest.fixture(params=["sql", "memory"])
def work(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens one unit of work; what it wrote is seen by the next one."""
    if request.param == "memory":
        state = IdentityState()

        @contextmanager
        def memory() -> Iterator[IdentityState]:
            yield state

        yield memory
        return
    engine = create_engine(f"sqlite:///{tmp_path / 'identity.db'}")
    metadata.create_all(engine)
    sessions = session_factory(engine)

    @contextmanager
    def sql() -> Iterator[SqlIdentityWork]:
        with sessions.begin() as session:
            yield SqlIdentityWork(session)

    try:
        yield sql
    finally:
        engine.dispose()
