"""A console's use cases on fakes, on a clock the test moves."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from services.console.domain.staff import Staff
from services.console.service_layer.invitations import Invitations
from services.console.service_layer.signing_in import SignIn
from services.console.service_layer.teams import Teams
from tests.fakes.console import (
    FakeIdentitySignIn,
    FakeMailer,
    FakeRegistrar,
    MemoryConsoleWork,
    console_transactions,
)
from tests.fakes.transactions import FakeTransactions

OPERATOR = "operator@platform.example"


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime(2026, 1, 5, 9, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Console:
    uow: FakeTransactions[MemoryConsoleWork] = field(default_factory=console_transactions)
    identity: FakeIdentitySignIn = field(default_factory=FakeIdentitySignIn)
    registrar: FakeRegistrar = field(default_factory=FakeRegistrar)
    mailer: FakeMailer = field(default_factory=FakeMailer)
    clock: Clock = field(default_factory=Clock)

    @property
    def sign_in(self) -> SignIn:
        return SignIn(self.uow, self.identity, frozenset({OPERATOR}), self.clock)

    @property
    def teams(self) -> Teams:
        return Teams(self.uow, self.registrar, self.clock)

    @property
    def invitations(self) -> Invitations:
        return Invitations(self.uow, self.mailer, "https://console.test", self.clock)

    @property
    def work(self) -> MemoryConsoleWork:
        return self.uow.state


def staff(name: str, *, verified: bool = True, operator: bool = False) -> Staff:
    return Staff(f"sub-{name}", f"{name}@agency.example", verified, name.title(), operator)
