"""Fixtures shared by every test: the databases the platform runs on.

PostgreSQL tests run whenever 127.0.0.1:5432 answers; in CI (``CI=true``) an
unreachable PostgreSQL fails the run instead of skipping it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.support import databases
from tests.support.browser import CHROMIUM_FLAGS, chromium_path

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The admin URL of the test PostgreSQL server (skip locally, fail in CI, if absent)."""
    return databases.require_postgres()


@pytest.fixture(params=["sqlite", "postgresql"], scope="module")
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh, empty database for one test module, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'service.db'}"
        return
    admin = databases.require_postgres()
    with databases.fresh_postgres_database(admin) as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis (database 15); skip locally, fail in CI, if absent."""
    return databases.require_redis()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium for one test module; tests open their own contexts.

    Module scope, not session: Playwright's sync API keeps an event loop running
    in this thread while it is open, and later tests that call asyncio.run
    (notify's SMTP and worker tests) must not find one.
    """
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_FLAGS
        )
        yield launched
        launched.close()
