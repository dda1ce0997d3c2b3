"""Thread-owned autocommit PostgreSQL connections for the hottest single statements.

A one-statement call through the SQLAlchemy pool pays, besides the round trip,
a checkout and a checkin, two autocommit switches and psycopg's conversion of
``%(name)s`` placeholders: measured, as much CPU again as the round trip. Here
each thread that runs such statements (a gRPC worker) keeps one psycopg
connection of its own, always in autocommit, and runs statements in PostgreSQL's
``$1`` form, each prepared by the server on first use.

Statements go through libpq's own blocking ``PQexecPrepared`` (psycopg's
``pq`` layer), with psycopg's C ``Transformer`` to turn values into parameters
and result columns back into Python values. A cursor's ``execute`` does the
same work as a generator that sends, polls and reads in separate steps, and
every step releases and retakes the GIL; in a server whose other threads want
the GIL, each retake is a thread switch. One libpq call is one release: a
prepared primary-key SELECT costs 23 µs of CPU instead of 60 µs in isolation,
and more than that is saved in a loaded server.

A statement that fails with a lost connection closes that thread's connection
and the next statement opens a fresh one; errors come out as SQLAlchemy's, as
they would through a session, so the error interceptor answers them the same
way (UNAVAILABLE for a database that is down).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any, cast

import psycopg
from opentelemetry.trace import SpanKind, Tracer
from psycopg import errors, pq
from psycopg.adapt import PyFormat, Transformer
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

from services.runtime.tracing import sql_operation

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


class _Link:
    """One thread's connection, its value transformer and what it has prepared."""

    __slots__ = ("conn", "pgconn", "prepared", "transformer")

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.pgconn = conn.pgconn
        self.transformer = Transformer(conn)
        # (sql, parameter types) -> server-side statement name: psycopg picks a
        # parameter's type from its value (a small int is int2, a big one int8),
        # so one statement may need more than one preparation.
        self.prepared: dict[tuple[str, tuple[int, ...]], bytes] = {}

    def fetchone(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        tx = self.transformer
        values = tx.dump_sequence(params, [PyFormat.AUTO] * len(params))
        types = tx.types or ()
        key = (sql, types)
        name = self.prepared.get(key)
        if name is None:
            name = f"gaap_direct_{len(self.prepared)}".encode()
            _check(self.pgconn.prepare(name, sql.encode(), param_types=types))
            self.prepared[key] = name
        # libpq takes a None as SQL NULL; psycopg's stub leaves None out.
        params_out = cast("list[bytes]", values)
        result = _check(self.pgconn.exec_prepared(name, params_out, param_formats=tx.formats))
        if result.ntuples == 0:
            return None
        tx.set_pgresult(result)
        row: tuple[Any, ...] = tx.load_row(0, tuple)
        return row

    @property
    def lost(self) -> bool:
        return self.conn.closed or self.pgconn.status != pq.ConnStatus.OK


_OK = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK)


def _check(result: pq.abc.PGresult) -> pq.abc.PGresult:
    if result.status in _OK:
        return result
    # The primary message only: libpq's full text adds DETAIL and CONTEXT lines
    # that quote the row's values (``Key (email)=(...)``, ``Failing row contains``).
    primary = result.error_field(pq.DiagnosticField.MESSAGE_PRIMARY) or b"statement failed"
    message = primary.decode(errors="replace").strip()
    sqlstate = result.error_field(pq.DiagnosticField.SQLSTATE)
    error: type[psycopg.Error] = psycopg.OperationalError
    if sqlstate:
        try:
            error = errors.lookup(sqlstate.decode())
        except KeyError:
            error = psycopg.DatabaseError
    raise error(message)


class DirectSql:
    """Runs single statements on this thread's own autocommit connection."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.enabled = engine.dialect.name == "postgresql"
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[psycopg.Connection[Any]] = set()
        # Set by ``tracing.trace_database`` when tracing is on.
        self.tracer: Tracer | None = None

    def fetchone(self, statement: Statement, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        if self.tracer is None:
            return self._fetchone(statement, values)
        with self.tracer.start_as_current_span(
            sql_operation(statement.sql),
            kind=SpanKind.CLIENT,
            attributes={"db.system": "postgresql", "db.statement": statement.sql},
        ):
            return self._fetchone(statement, values)

    def _fetchone(self, statement: Statement, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        link = self._link()
        try:
            return link.fetchone(statement.sql, statement.params(values))
        except psycopg.Error as exc:
            raise self._failed(link, exc) from exc

    def close(self) -> None:
        """Close every thread's connection (at shutdown)."""
        with self._lock:
            connections, self._open = self._open, set()
        for conn in connections:
            conn.close()

    def _link(self) -> _Link:
        link: _Link | None = getattr(self._local, "link", None)
        if link is not None and not link.conn.closed:
            return link
        pooled = self._engine.raw_connection()
        conn = pooled.driver_connection
        assert isinstance(conn, psycopg.Connection)
        pooled.detach()  # ours from now on: the pool makes a new one in its place
        conn.autocommit = True
        link = _Link(conn)
        with self._lock:
            self._open.add(conn)
        self._local.link = link
        return link

    def _failed(self, link: _Link, exc: psycopg.Error) -> sa_exc.StatementError:
        if link.lost or isinstance(exc, psycopg.OperationalError):
            with self._lock:
                self._open.discard(link.conn)
            link.conn.close()
            self._local.link = None
        dbapi = self._engine.dialect.loaded_dbapi
        return sa_exc.DBAPIError.instance("direct statement", None, exc, dbapi.Error)
