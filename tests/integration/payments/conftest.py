from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.payments.fake_stripe import FakeStripe
from tests.integration.payments.support import Payments, payments_service
from tests.support.platform import Platform


@pytest.fixture(scope="module")
def payments(platform: Platform, database_url: str) -> Iterator[Payments]:
    """payments with a movable clock, on the module's database (SQLite, then PostgreSQL)."""
    with payments_service(platform, database_url) as running:
        yield running


@pytest.fixture(scope="module")
def stripe_server() -> Iterator[FakeStripe]:
    """A local server speaking Stripe's wire format, for one test module."""
    server = FakeStripe()
    yield server
    server.close()
