"""One builder for payments' domain objects in unit tests: every field has a plain
default, and a test names only the fields it is about."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from services.payments.domain.payments import Payment, State

BUILT_AT = datetime(2030, 1, 1, 12, tzinfo=UTC)


def a_payment(**changes: object) -> Payment:
    base = Payment(
        id="pay_1",
        tenant="agency",
        amount=1000,
        currency="GBP",
        reference="R",
        description="D",
        return_url="https://a.example/",
        email="",
        language="en",
        metadata={},
        delayed_capture=False,
        state=State.CREATED,
        provider="sandbox",
        created_at=BUILT_AT,
        updated_at=BUILT_AT,
    )
    return replace(base, **changes)  # type: ignore[arg-type]
