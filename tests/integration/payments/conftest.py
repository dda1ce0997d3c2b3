from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.payments.support import Payments, payments_service
from tests.support.platform import Platform


@pytest.fixture(scope="module")
def payments(platform: Platform, database_url: str) -> Iterator[Payments]:
    """payments with a movable clock, on the module's database (SQLite, then PostgreSQL)."""
    with payments_service(platform, database_url) as running:
        yield running
