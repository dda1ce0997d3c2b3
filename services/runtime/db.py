"""Database access: engines from a URL, sessions, and migrations applied at start.

SQLite is the embedded default (WAL, a busy timeout, foreign keys on); PostgreSQL
is the production store. Both run the same code and the same tests.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from services.runtime.errors import StartupError

log = logging.getLogger(__name__)

# Any 64-bit number will do; it serialises concurrent migrations of one database.
_MIGRATION_LOCK_ID = 0x6761617000


def create_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine for ``url``; a malformed URL or unknown driver stops the process.

    Bound values (recipients, message bodies, codes) never appear in an error's
    text (``hide_parameters``), so a logged traceback cannot carry them.
    """
    try:
        parsed = sa.make_url(url)
    except (ArgumentError, ValueError):
        raise StartupError(f"database URL {_redact(url)!r} is not a valid SQLAlchemy URL") from None
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(parsed)
        # No pre-ping (a round trip per checkout): a dropped connection fails its
        # call with UNAVAILABLE and SQLAlchemy then invalidates the whole pool, so
        # the service recovers by itself once the database is back.
        return sa.create_engine(
            parsed,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_recycle=1800,
            hide_parameters=True,
        )
    except (NoSuchModuleError, ImportError):
        raise StartupError(f"no database driver for {parsed.drivername!r}") from None


def _sqlite_engine(url: sa.URL) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True
    )

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy (not pysqlite) issue BEGIN, so a transaction really starts
        # where the code says it does.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        _switch_to_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        # IMMEDIATE takes the write lock up front, so two writers queue on the
        # busy timeout instead of failing with "database is locked" mid-transaction.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _switch_to_wal(cursor: Any) -> None:
    """Put the database in WAL mode (once per file; later it is only a read).

    Two processes opening a new file at once can both try to switch, and SQLite
    answers the loser "database is locked" at once, without waiting on the busy
    timeout. The switch is retried for up to about six seconds, by which time the
    other process has made it."""
    for attempt in range(100):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 99:
                raise
            time.sleep(0.01 + 0.001 * attempt)


def _redact(url: str) -> str:
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "<unparseable>"


def shown(url: str) -> str:
    """``url`` as an operator should read it: never with its password, and a SQLite
    file by its absolute path (a relative one depends on the current folder)."""
    try:
        parsed = sa.make_url(url)
    except (ArgumentError, ValueError):
        return "<unparseable>"
    if _sqlite_file(parsed) is not None:
        parsed = parsed.set(database=str(Path(str(parsed.database)).resolve()))
    return parsed.render_as_string(hide_password=True)


def _sqlite_file(url: sa.URL) -> Path | None:
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(str(url.database))


def holds_schema(url: str) -> bool:
    """Whether the database at ``url`` exists and has been migrated (it has
    Alembic's version table), found out without creating anything: a SQLite file
    that does not exist is not opened, since opening it would create it."""
    try:
        parsed = sa.make_url(url)
    except (ArgumentError, ValueError):
        raise StartupError(f"database URL {_redact(url)!r} is not a valid SQLAlchemy URL") from None
    if parsed.get_backend_name() == "sqlite":
        file = _sqlite_file(parsed)
        if file is None or not file.is_file():
            return False
    engine = create_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            return sa.inspect(connection).has_table("alembic_version")
    except OperationalError as exc:
        raise StartupError(
            f"cannot reach the database at {_redact(url)}: "
            f"{str(exc.orig).strip().splitlines()[0] if exc.orig else exc}"
        ) from None
    finally:
        engine.dispose()


# Constraint names a reader (and Alembic) can predict, the same in every service.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> sa.MetaData:
    """A service's table metadata, with the shared naming convention."""
    return sa.MetaData(naming_convention=NAMING_CONVENTION)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commits on success, rolls back on any exception."""
    with sessions.begin() as session:
        yield session


def migrate(engine: Engine, script_location: Path) -> None:
    """Apply the service's Alembic migrations up to head.

    On PostgreSQL an advisory lock makes replicas that start together take
    turns, so each migration runs once.
    """
    config = Config()
    config.set_main_option("script_location", str(script_location))
    try:
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK_ID)))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except OperationalError as exc:
        raise StartupError(
            f"cannot reach the database at {_redact(str(engine.url))}: "
            f"{str(exc.orig).strip().splitlines()[0] if exc.orig else exc}"
        ) from None


def advisory_lock(session: Session, name: str) -> None:
    """Serialise one job across replicas for the rest of the transaction.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: nothing to do, the
    transaction already holds the database's write lock (BEGIN IMMEDIATE).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(name))))
