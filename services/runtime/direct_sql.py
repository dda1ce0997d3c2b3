"""Thread-owned autocommit PostgreSQL connections for the hottest single statements.

A one-statement call through the SQLAlchemy pool pays, besides the round trip,
a checkout and a checkin, two autocommit switches and psycopg's conversion of
``%(name)s`` placeholders: measured, as much CPU again as the round trip. Here
each thread that runs such statements (a gRPC worker) keeps one psycopg
connection of its own, always in autocommit, with a cursor that speaks
PostgreSQL's ``$1`` placeholders natively (``RawCursor``) and prepares every
statement on first use. The connection comes from the engine's pool (so it is
made with the same URL, TLS and connect hooks) and is then detached from it.

A statement that fails with a lost connection closes that thread's connection
and the next statement opens a fresh one; errors come out as SQLAlchemy's, as
they would through a session, so the error interceptor answers them the same
way (UNAVAILABLE for a database that is down).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

import psycopg
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

_NAMED = re.compile(r"%\((\w+)\)s")


class Statement:
    """SQL written with ``%(name)s`` placeholders, turned once into ``$n`` form.

    Named placeholders keep long statements readable; ``params`` orders a
    mapping's values for the ``$n`` form (a name used twice is one parameter).
    """

    __slots__ = ("names", "sql")

    def __init__(self, sql: str) -> None:
        names: list[str] = []

        def number(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in names:
                names.append(name)
            return f"${names.index(name) + 1}"

        self.sql = _NAMED.sub(number, sql)
        self.names = tuple(names)

    def params(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(values[name] for name in self.names)


class DirectSql:
    """Runs single statements on this thread's own autocommit connection."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.enabled = engine.dialect.name == "postgresql"
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[psycopg.Connection[Any]] = set()

    def fetchone(self, statement: Statement, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        cursor = self._cursor()
        try:
            cursor.execute(statement.sql, statement.params(values), prepare=True)
            return cursor.fetchone()
        except psycopg.Error as exc:
            raise self._failed(cursor, exc) from exc

    def close(self) -> None:
        """Close every thread's connection (at shutdown)."""
        with self._lock:
            connections, self._open = self._open, set()
        for conn in connections:
            conn.close()

    def _cursor(self) -> psycopg.RawCursor[Any]:
        cursor: psycopg.RawCursor[Any] | None = getattr(self._local, "cursor", None)
        if cursor is not None and not cursor.connection.closed:
            return cursor
        pooled = self._engine.raw_connection()
        conn = pooled.driver_connection
        assert isinstance(conn, psycopg.Connection)
        pooled.detach()  # ours from now on: the pool makes a new one in its place
        conn.autocommit = True
        cursor = psycopg.RawCursor(conn)
        with self._lock:
            self._open.add(conn)
        self._local.cursor = cursor
        return cursor

    def _failed(self, cursor: psycopg.RawCursor[Any], exc: psycopg.Error) -> sa_exc.StatementError:
        conn = cursor.connection
        if conn.broken or conn.closed or isinstance(exc, psycopg.OperationalError):
            with self._lock:
                self._open.discard(conn)
            conn.close()
            self._local.cursor = None
        dbapi = self._engine.dialect.loaded_dbapi
        return sa_exc.DBAPIError.instance("direct statement", None, exc, dbapi.Error)
