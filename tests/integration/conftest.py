from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.platform import Platform, running_platform


@pytest.fixture(scope="module")
def platform(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """identity (on SQLite, then on PostgreSQL), payments and notify, on ephemeral ports."""
    with running_platform(database_url, tmp_path_factory.mktemp("var")) as running:
        yield running
