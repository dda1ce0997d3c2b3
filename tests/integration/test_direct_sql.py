"""``DirectSql``: thread-owned autocommit statements on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import exc as sa_exc

from services.runtime import db
from services.runtime.direct_sql import DirectSql, Statement
from tests.support import databases


@pytest.fixture(scope="module")
def direct() -> Iterator[DirectSql]:
    admin = databases.require_postgres()
    with databases.fresh_postgres_database(admin) as url:
        engine = db.create_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE items (id text PRIMARY KEY, n int NOT NULL)")
        sql = DirectSql(engine)
        yield sql
        sql.close()
        engine.dispose()


INSERT = Statement("INSERT INTO items (id, n) VALUES (%(id)s, %(n)s) RETURNING n + %(n)s")
READ = Statement("SELECT n FROM items WHERE id = %(id)s")


def test_named_placeholders_become_numbered_once_per_name() -> None:
    statement = Statement("SELECT %(a)s, %(b)s, %(a)s")
    assert statement.sql == "SELECT $1, $2, $1"
    assert statement.params({"b": 2, "a": 1, "unused": 3}) == (1, 2)


def test_not_enabled_on_sqlite(tmp_path: object) -> None:
    engine = db.create_engine(f"sqlite:///{tmp_path}/x.db")
    assert not DirectSql(engine).enabled
    engine.dispose()


def test_statements_commit_on_their_own(direct: DirectSql) -> None:
    assert direct.enabled
    assert direct.fetchone(INSERT, {"id": "a", "n": 2}) == (4,)
    # Another thread (another connection) sees it at once: nothing left uncommitted.
    seen: list[object] = []
    thread = threading.Thread(target=lambda: seen.append(direct.fetchone(READ, {"id": "a"})))
    thread.start()
    thread.join()
    assert seen == [(2,)]
    assert direct.fetchone(READ, {"id": "missing"}) is None


def test_a_refused_statement_changes_nothing_and_the_connection_stays(direct: DirectSql) -> None:
    direct.fetchone(INSERT, {"id": "b", "n": 1})
    with pytest.raises(sa_exc.IntegrityError):
        direct.fetchone(INSERT, {"id": "b", "n": 5})
    assert direct.fetchone(READ, {"id": "b"}) == (1,)


def test_a_lost_connection_fails_one_statement_then_reconnects(direct: DirectSql) -> None:
    direct.fetchone(INSERT, {"id": "c", "n": 2})
    pid = direct.fetchone(Statement("SELECT pg_backend_pid()"), {})
    assert pid is not None
    admin = databases.require_postgres()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid[0],))
    with pytest.raises(sa_exc.OperationalError):
        direct.fetchone(READ, {"id": "c"})
    assert direct.fetchone(READ, {"id": "c"}) == (2,)
    again = direct.fetchone(Statement("SELECT pg_backend_pid()"), {})
    assert again is not None
    assert again != pid


def test_values_of_every_kind_go_in_and_come_back(direct: DirectSql) -> None:
    at = datetime(2026, 11, 28, 6, 30, 15, 123456, tzinfo=UTC)
    row = direct.fetchone(
        Statement(
            "SELECT %(text)s::text, %(none)s::text, %(small)s::bigint, %(big)s::bigint,"
            " %(flag)s::boolean, %(at)s::timestamptz, %(blob)s::bytea, %(doc)s::json"
        ),
        {
            "text": "naïve ✓",
            "none": None,
            "small": 7,
            "big": 2**40,
            "flag": True,
            "at": at,
            "blob": b"\x00\xff",
            "doc": '{"a": [1, 2]}',
        },
    )
    assert row is not None
    assert row[:5] == ("naïve ✓", None, 7, 2**40, True)
    assert row[5] == at
    assert bytes(row[6]) == b"\x00\xff"
    assert row[7] == {"a": [1, 2]}


def test_a_statement_prepared_for_small_numbers_takes_big_ones(direct: DirectSql) -> None:
    # psycopg types an int by its size: the same statement is prepared once
    # per set of parameter types, never reused with the wrong one.
    echo = Statement("SELECT %(n)s + 0")
    assert direct.fetchone(echo, {"n": 1}) == (1,)
    assert direct.fetchone(echo, {"n": 2**40}) == (2**40 + 0,)
    assert direct.fetchone(echo, {"n": 3}) == (3,)


def test_a_bad_statement_is_a_programming_error_and_the_connection_stays(
    direct: DirectSql,
) -> None:
    direct.fetchone(INSERT, {"id": "d", "n": 4})
    with pytest.raises(sa_exc.ProgrammingError):
        direct.fetchone(Statement("SELECT no_such_column FROM items"), {})
    assert direct.fetchone(READ, {"id": "d"}) == (4,)
