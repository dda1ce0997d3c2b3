"""identity's sign-in and account use cases wired to in-memory fakes, on a
clock the test moves."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp

from services.identity.domain import assurance
from services.identity.domain.agencies import Agency
from services.identity.domain.citizen_tokens import TokenRecord
from services.identity.domain.lockout import LockoutPolicy
from services.identity.domain.one_time_codes import CodePolicy
from services.identity.domain.throttle import Rule
from services.identity.service_layer.account_activity import AccountActivity
from services.identity.service_layer.accounts import Accounts
from services.identity.service_layer.authenticator import Authenticator
from services.identity.service_layer.code_tickets import CodeTickets
from services.identity.service_layer.consents import Consents
from services.identity.service_layer.keys import Signer
from services.identity.service_layer.logout import BackChannel, Logout, LogoutToken
from services.identity.service_layer.passwords import Passwords
from services.identity.service_layer.phone_factor import PhoneFactor
from services.identity.service_layer.registration import Registration
from services.identity.service_layer.safeguards import Rules, Safeguards
from services.identity.service_layer.signin import SignIn
from tests.fakes.identity import (
    FakeHasher,
    FakePostbox,
    IdentityState,
    MemoryIdentityTransactions,
    account,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
CODE_KEY = b"k" * 32
POLICY = LockoutPolicy(max_attempts=3, address_attempts=6, lock_for=timedelta(minutes=15))


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Subjects:
    def subject(self, account_id: str, agency: Agency) -> str:
        return f"sub-{account_id}-{agency.client_id}"


class NoKeys:
    def signer(self, alg: str | None = None) -> Signer:
        raise AssertionError("unit tests sign no logout token")


@dataclass
class NoDeliveries:
    """What would send the logout tokens owed; counts its wake-ups."""

    token: LogoutToken | None = None

    def dispatch_due(self) -> int:
        return 0

    def deliver_due(self) -> int:
        return 0

    def purge_finished(self, before: datetime, batch: int = 1000) -> int:
        return 0

    def close(self) -> None:
        pass


@dataclass
class World:
    clock: Clock = field(default_factory=Clock)
    uow: MemoryIdentityTransactions = field(default_factory=MemoryIdentityTransactions)
    hasher: FakeHasher = field(default_factory=FakeHasher)
    postbox: FakePostbox = field(default_factory=FakePostbox)
    rules: Rules = field(
        default_factory=lambda: Rules(
            codes=CodePolicy(lifetime=timedelta(minutes=15), max_attempts=3),
            lockout=POLICY,
            sends_per_address=Rule("sends-per-address", 3, timedelta(hours=1)),
            posts_per_ip=Rule("posts-per-ip", 50, timedelta(hours=1)),
        )
    )
    wakes: list[bool] = field(default_factory=list)
    lock_alerts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        uow, clock = self.uow, self.clock
        self.signin = SignIn(uow, self.hasher, lockout=POLICY, clock=clock)
        self.safeguards = Safeguards(uow, self.postbox, self.rules, clock=clock)
        self.signin.lock_alert = lambda a: self.lock_alerts.append(a.id)
        self.tickets = CodeTickets(uow, CODE_KEY, self.rules.codes, clock=clock)
        self.back_channel = BackChannel(NoDeliveries, Subjects(), NoKeys(), issuer="https://id")
        self.back_channel.job.wake = lambda: self.wakes.append(True)  # type: ignore[method-assign]
        self.accounts = Accounts(uow, self.hasher, clock)
        self.activity = AccountActivity(uow, self.safeguards, self.back_channel, clock=clock)
        self.passwords = Passwords(
            uow, self.hasher, self.postbox, self.tickets, self.safeguards, self.back_channel,
            clock=clock,
        )  # fmt: skip
        self.authenticator = Authenticator(uow, CODE_KEY, self.safeguards, clock=clock)
        self.phone = PhoneFactor(uow, self.postbox, self.tickets, self.safeguards, clock=clock)
        self.registration = Registration(
            uow, self.hasher, self.postbox, self.tickets, self.safeguards, clock=clock
        )
        self.consents = Consents(uow, clock)
        self.logout = Logout(uow, self.signin, self.back_channel, clock)

    @property
    def state(self) -> IdentityState:
        return self.uow.state

    def citizen(self, email: str = "ada@example.org", **fields: Any) -> str:
        """An account in the store; its id."""
        made = account(email, PASSWORD, at=self.clock.now, hasher=self.hasher, **fields)
        self.state.accounts.rows[made.id] = made
        return made.id

    def totp_code(self, secret: str, at: datetime | None = None) -> str:
        return pyotp.TOTP(secret).at(at or self.clock.now)

    def code_sent(self) -> str:
        """The code in the last message posted."""
        return self.postbox.posted[-1].values["code"]


def token(
    account_id: str, client_id: str, sid: str, id: str = "tok-1", auth_time: datetime = T0
) -> TokenRecord:
    """A refresh token issued in session ``sid``."""
    return TokenRecord(
        id=id,
        kind="refresh",
        client_id=client_id,
        account_id=account_id,
        sid=sid,
        code_hash=None,
        family="fam-" + id,
        scope="openid",
        claims=None,
        acr=assurance.LOW,
        amr=["pwd"],
        auth_time=auth_time,
        created_at=auth_time,
        expires_at=auth_time + timedelta(days=1),
    )
