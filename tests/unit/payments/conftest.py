"""payments' use cases wired to in-memory fakes (tests/fakes/payments.py), with
a clock the test moves and a provider that answers as told."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from services.payments.domain.cards import Card
from services.payments.domain.payments import NewPayment, Payment
from services.payments.service_layer.checkout import Checkout
from services.payments.service_layer.payments import PaymentsService
from services.payments.service_layer.providers import Providers
from services.payments.service_layer.stripe_events import StripeEvents
from services.payments.service_layer.subscriptions import WebhookSubscriptions
from services.payments.service_layer.sweeper import Sweeper
from services.runtime.context import Principal
from services.runtime.egress import PUBLIC_ONLY
from services.runtime.idempotency import Keyed
from tests.fakes.payments import FakePaymentsTransactions, FakePaymentsWork, FakeProvider

AGENCY = "agency-a"
OTHER = "agency-b"
CARD = Card("4242424242424242", 4, 2030, "123", "A Citizen")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class World:
    clock: Clock
    provider: FakeProvider
    uow: FakePaymentsTransactions
    payments: PaymentsService
    checkout: Checkout
    sweeper: Sweeper
    stripe: StripeEvents
    subscriptions: WebhookSubscriptions

    @property
    def state(self) -> FakePaymentsWork:
        return self.uow.state

    def create(self, tenant: str = AGENCY, /, **fields: object) -> Payment:
        """A new payment, each with its own key."""
        self._n = getattr(self, "_n", 0) + 1
        return self.payments.create(
            caller(tenant), new_payment(**fields), key(f"k{self._n}", tenant)
        )

    def paid(self, tenant: str = AGENCY, /, **fields: object) -> Payment:
        """A payment the citizen has paid (captured: ``success``)."""
        payment = self.create(tenant, **fields)
        self.checkout.open(payment.id)
        self.checkout.submit(payment.id, CARD)
        return self.checkout.confirm(payment.id)

    def stored(self, payment_id: str) -> Payment:
        found = self.state.payments.get_by_id(payment_id)
        assert found is not None
        return found


def caller(tenant: str = AGENCY, mode: str = "test") -> Principal:
    return Principal(tenant, mode, frozenset(), "token", 0, agency_name="Parking Agency")  # type: ignore[arg-type]


def key(name: str, tenant: str = AGENCY, request: str = "same") -> Keyed:
    """A call's key; ``request`` stands for the fingerprint of the rest of it."""
    return Keyed(tenant, name, request)


def new_payment(**fields: object) -> NewPayment:
    values: dict[str, object] = {
        "amount": 1500,
        "currency": "GBP",
        "reference": "PCN-1",
        "description": "Parking fine",
        "return_url": "https://agency.example/done",
        "email": "",
        "language": "en",
        "metadata": {},
        "delayed_capture": False,
    }
    values.update(fields)
    return NewPayment(**values)  # type: ignore[arg-type]


def world(*, at_once: bool = False) -> World:
    clock = Clock()
    provider = FakeProvider()
    providers = Providers(provider)
    uow = FakePaymentsTransactions(at_once=at_once)
    payments = PaymentsService(uow, providers, max_amount=10_000_000, clock=clock)
    checkout = Checkout(uow, providers, clock=clock)
    return World(
        clock=clock,
        provider=provider,
        uow=uow,
        payments=payments,
        checkout=checkout,
        sweeper=Sweeper(uow, providers, payments, checkout, clock=clock, batch=50),
        stripe=StripeEvents(uow, clock=clock),
        subscriptions=WebhookSubscriptions(
            uow, egress=PUBLIC_ONLY, new_secret=lambda: "whsec_test", clock=clock
        ),
    )


@pytest.fixture(params=[False, True], ids=["general-path", "one-step-create"])
def w(request: pytest.FixtureRequest) -> World:
    """Every test runs with the store's one-step create declined (SQLite) and
    offered (PostgreSQL): the use cases must behave the same."""
    return world(at_once=request.param)
