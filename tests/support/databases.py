"""Throwaway databases for tests."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import psycopg
import pytest

POSTGRES_ADMIN = os.environ.get(
    "GAAP_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(message: str) -> NoReturn:
    """A service a test needs is missing. On a developer's machine the test is
    skipped with the reason; in CI (CI=true) it fails, because CI must run every
    PostgreSQL, Redis and browser test."""
    if in_ci():
        pytest.fail(f"{message} (CI requires it)", pytrace=False)
    pytest.skip(message)


def require_postgres() -> str:
    try:
        with psycopg.connect(POSTGRES_ADMIN, connect_timeout=3):
            pass
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL is not reachable at {POSTGRES_ADMIN}: {exc}".splitlines()[0])
    return POSTGRES_ADMIN


# Each service has a database of its own (docs/architecture.md); tests derive the
# others from the one a fixture hands out (see ``for_service``).
SIBLINGS = ("payments", "notify", "demo_app", "console")


@contextmanager
def fresh_postgres_database(admin_url: str) -> Iterator[str]:
    """Create an empty database (and one sibling per other service), yield the
    first one's SQLAlchemy URL, drop them all afterwards."""
    name = f"gaap_test_{secrets.token_hex(6)}"
    names = [name, *(f"{name}_{s}" for s in SIBLINGS)]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for each in names:
            conn.execute(f'CREATE DATABASE "{each}"')
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            for each in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{each}" WITH (FORCE)')


def for_service(database_url: str, service: str) -> str:
    """The database of ``service`` next to the one a fixture handed out."""
    if service == "identity":
        return database_url
    if database_url.startswith("sqlite:///"):
        path = database_url.removeprefix("sqlite:///")
        folder, _, _ = path.rpartition("/")
        return f"sqlite:///{folder}/{service}.db"
    base, _, name = database_url.rpartition("/")
    return f"{base}/{name}_{service}"


REDIS_URL = os.environ.get("GAAP_TEST_REDIS", "redis://127.0.0.1:6379/15")


def require_redis() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        unavailable(f"Redis is not reachable at {REDIS_URL}: {exc}")
    return REDIS_URL
