"""notify's use cases wired to in-memory fakes (``tests/fakes/notify.py``), on a
clock the test moves."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from services.notify.domain.agency_settings import Defaults
from services.notify.domain.templates import Content, Template
from services.notify.service_layer.agency_settings import AgencySettingsService
from services.notify.service_layer.bulk_sends import BulkSendService
from services.notify.service_layer.callbacks import CallbackService
from services.notify.service_layer.notifications import NotificationService
from services.notify.service_layer.sending import SendingService
from services.notify.service_layer.templates import TemplateService
from services.notify.service_layer.upkeep import Upkeep
from services.runtime.context import Principal
from services.runtime.egress import PUBLIC_ONLY
from services.runtime.idempotency import Keyed
from services.runtime.rate_limit import Limit, LocalRateLimiter
from tests.fakes.notify import (
    FakeNotifyWork,
    FakeSendWriter,
    FakeSettingsLookup,
    fake_transactions,
)
from tests.fakes.transactions import FakeTransactions

START = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
AGENCY = Principal("agency-a", "live", frozenset({"notify:send"}), "tok", 0)
OTHER = Principal("agency-b", "live", frozenset({"notify:send"}), "tok", 0)
DAILY_LIMIT = 5


class Clock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


def call(tenant: str = AGENCY.client_id, key: str = "", fingerprint: str = "fp") -> Keyed:
    """A call's idempotency record: a new key unless one is given."""
    return Keyed(tenant, key or uuid.uuid4().hex, fingerprint)


def encoded(value: object) -> bytes:
    """A stand-in for the reply's serialized message (what a replay returns)."""
    return repr(getattr(value, "id", value)).encode()


@dataclass
class Notify:
    uow: FakeTransactions[FakeNotifyWork]
    clock: Clock
    writer: FakeSendWriter
    templates: TemplateService
    sending: SendingService
    bulk: BulkSendService
    notifications: NotificationService
    callbacks: CallbackService
    settings: AgencySettingsService
    upkeep: Upkeep

    @property
    def state(self) -> FakeNotifyWork:
        return self.uow.state

    def template(
        self,
        subject: str = "Hello ((name))",
        body: str = "Dear ((name))",
        *,
        channel: str = "email",
        tenant: str = AGENCY.client_id,
    ) -> Template:
        created = self.templates.create(
            tenant, channel, "A template", [Content("en", subject, body)], call(tenant), encoded
        )
        assert isinstance(created, Template)
        return created


def build(rate: Limit | None = None, retention: timedelta = timedelta(days=7)) -> Notify:
    uow = fake_transactions()
    clock = Clock()
    writer = FakeSendWriter(uow)
    limiter = LocalRateLimiter(clock=lambda: clock().timestamp())
    limit = rate or Limit.per_minute(6000, 1000)
    defaults = Defaults("GB", DAILY_LIMIT, DAILY_LIMIT)
    return Notify(
        uow=uow,
        clock=clock,
        writer=writer,
        templates=TemplateService(uow, clock),
        sending=SendingService(
            uow,
            writer,
            FakeSettingsLookup(uow),
            limiter=limiter,
            limit=limit,
            defaults=defaults,
            clock=clock,
        ),
        bulk=BulkSendService(uow, limiter, limit, defaults, clock),
        notifications=NotificationService(uow, clock),
        callbacks=CallbackService(uow, PUBLIC_ONLY, lambda: "whsec_fixed", clock),
        settings=AgencySettingsService(uow, defaults, clock),
        upkeep=Upkeep(uow, retention, clock),
    )


@pytest.fixture
def notify() -> Notify:
    return build()
