"""Engines from URLs: one-line startup errors, and SQLite set up for concurrent use."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from services.runtime.db import create_engine, session_factory, transaction
from services.runtime.errors import StartupError

PASSWORD = "s3cret-Pa55"


def startup_error(url: str) -> str:
    with pytest.raises(StartupError) as info:
        create_engine(url)
    message = str(info.value)
    assert "\n" not in message
    assert PASSWORD not in message
    return message


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "",
        "://",
        f"postgresql+psycopg://gaap:{PASSWORD}@db.internal:notaport/gaap",
    ],
    ids=["words", "empty", "no-scheme", "port-not-a-number"],
)
def test_malformed_url_is_a_startup_error_without_the_password(url: str) -> None:
    startup_error(url)


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        (f"postgresql+nosuchdriver://gaap:{PASSWORD}@db.internal/gaap", "postgresql+nosuchdriver"),
        (f"nosuchdb://gaap:{PASSWORD}@db.internal/gaap", "nosuchdb"),
        ("sqlite+nosuchdriver:///var/x.db", "sqlite+nosuchdriver"),
    ],
)
def test_unknown_driver_is_a_startup_error_naming_it(url: str, driver: str) -> None:
    assert driver in startup_error(url)


def test_sqlite_creates_the_folder_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "there" / "service.db"
    engine = create_engine(f"sqlite:///{path}")
    try:
        assert path.parent.is_dir()
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert path.exists()
    finally:
        engine.dispose()


def test_in_memory_sqlite_works() -> None:
    engine = create_engine("sqlite://")
    try:
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


def test_transaction_commits_or_rolls_back_as_one(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'unit.db'}")
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE items (name TEXT PRIMARY KEY)")
        sessions = session_factory(engine)
        with transaction(sessions) as session:
            session.execute(sa.text("INSERT INTO items VALUES ('kept')"))

        def insert_then_fail() -> None:
            with transaction(sessions) as session:
                session.execute(sa.text("INSERT INTO items VALUES ('lost')"))
                raise RuntimeError("fail mid-transaction")

        with pytest.raises(RuntimeError):
            insert_then_fail()
        with engine.connect() as connection:
            names = connection.execute(sa.text("SELECT name FROM items")).scalars().all()
        assert names == ["kept"]
    finally:
        engine.dispose()


def test_two_processes_opening_a_new_sqlite_file_together_both_get_in(tmp_path: Path) -> None:
    # SQLite answers the loser of a simultaneous switch to WAL "database is locked"
    # without waiting on the busy timeout; before the retry between one new file in
    # ten to one in a hundred failed this way, so 150 new files make it all but certain to show.
    import threading

    failures: list[BaseException] = []
    for n in range(150):
        url = f"sqlite:///{tmp_path / f'new{n}.db'}"
        engines = [create_engine(url), create_engine(url)]
        barrier = threading.Barrier(2)

        def first_use(engine: sa.Engine, barrier: threading.Barrier) -> None:
            barrier.wait()
            try:
                with engine.begin() as connection:
                    connection.exec_driver_sql("select 1")
            except BaseException as exc:  # reported below
                failures.append(exc)

        threads = [threading.Thread(target=first_use, args=(e, barrier)) for e in engines]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for engine in engines:
            engine.dispose()
    assert not failures, failures[:1]
