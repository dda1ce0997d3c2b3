"""Forcing races in payments' tests without sleeps: a provider that stops right
after one call until the test lets it go on, work in a background thread,
another replica's clock and sweeper, and what the sandbox and ledger hold."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from services.payments.adapters import tables as t
from services.payments.domain.cards import Card
from services.payments.domain.providers import Authorisation, Provider, RefundResult
from services.payments.service_layer.checkout import Checkout
from services.payments.service_layer.providers import Providers
from services.payments.service_layer.sweeper import Sweeper
from tests.integration.payments.support import Payments

WAIT = 30  # seconds; only reached if the code under test deadlocks


class StopAfter:
    """A provider, stopping once after ``operation`` on one charge until released.
    The charge is named by the provider's reference, or for ``authorise`` (which
    makes the reference) by the payment's id."""

    def __init__(self, inner: Provider, operation: str, reference: str) -> None:
        self.name = inner.name
        self._inner = inner
        self._operation = operation
        self._reference = reference
        self.reached = threading.Event()
        self.go_on = threading.Event()

    def _stop(self, operation: str, reference: str) -> None:
        wanted = operation == self._operation and reference == self._reference
        if wanted and not self.reached.is_set():
            self.reached.set()
            assert self.go_on.wait(WAIT)

    def authorise(
        self, *, payment_id: str, amount: int, currency: str, card: Card, idempotency_key: str
    ) -> Authorisation:
        result = self._inner.authorise(
            payment_id=payment_id,
            amount=amount,
            currency=currency,
            card=card,
            idempotency_key=idempotency_key,
        )
        self._stop("authorise", payment_id)
        return result

    def capture(self, *, reference: str, amount: int, idempotency_key: str) -> None:
        self._inner.capture(reference=reference, amount=amount, idempotency_key=idempotency_key)
        self._stop("capture", reference)

    def cancel(self, *, reference: str, idempotency_key: str) -> None:
        self._inner.cancel(reference=reference, idempotency_key=idempotency_key)
        self._stop("cancel", reference)

    def refund(self, **kw: Any) -> RefundResult:
        return self._inner.refund(**kw)


class Background:
    """``work`` in a thread; ``result`` re-raises what it raised."""

    def __init__(self, work: Callable[[], object]) -> None:
        self._value: object = None
        self._error: BaseException | None = None

        def run() -> None:
            try:
                self._value = work()
            except BaseException as exc:  # re-raised in the test's thread
                self._error = exc

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def result(self) -> object:
        self._thread.join(WAIT)
        assert not self._thread.is_alive()
        if self._error is not None:
            raise self._error
        return self._value


def stopping(
    payments: Payments, operation: str, reference: str, provider: str = "sandbox"
) -> tuple[StopAfter, Providers]:
    stop = StopAfter(payments.app.providers.named(provider), operation, reference)
    return stop, Providers(stop)


def later(payments: Payments, by: timedelta) -> Callable[[], datetime]:
    """Another replica's clock, ``by`` ahead of the test's."""
    return lambda: payments.clock() + by


def sweeper(payments: Payments, providers: Providers, clock: Callable[[], datetime]) -> Sweeper:
    app = payments.app
    return Sweeper(
        app.uow,
        providers,
        app.payments,
        Checkout(app.uow, providers, clock=clock),
        clock=clock,
    )


def charge_status(payments: Payments, reference: str) -> str:
    with payments.sessions() as session:
        status = session.scalar(
            sa.select(t.sandbox_charges.c.status).where(t.sandbox_charges.c.id == reference)
        )
    return str(status)


def ledger_lines(payments: Payments, payment_id: str) -> int:
    with payments.sessions() as session:
        count = session.scalar(
            sa.select(sa.func.count()).where(t.ledger_lines.c.payment_id == payment_id)
        )
    return int(count or 0)
