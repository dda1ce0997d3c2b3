from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.oidc import LogoutReceiver
from tests.support.platform import Platform, running_platform


@pytest.fixture(scope="module")
def platform(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """identity (on SQLite, then on PostgreSQL), payments and notify, on ephemeral ports."""
    with running_platform(database_url, tmp_path_factory.mktemp("var")) as running:
        yield running


@pytest.fixture
def logout_receiver() -> Iterator[LogoutReceiver]:
    """An agency's back-channel logout endpoint on an ephemeral port."""
    receiver = LogoutReceiver()
    yield receiver
    receiver.close()
