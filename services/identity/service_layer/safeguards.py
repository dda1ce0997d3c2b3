"""What every citizen self-service action shares: its rules, throttling per
client address and per address a code is sent to, counting wrong passwords (per
email address) and wrong second factors (per account) towards lockout, email
alerts (a change to the account, a new device, a lock by wrong codes), and the
audit trail.

Rules kept here:
- wrong second factors count towards the account's lockout under a row lock,
  wrong passwords in ``signin_failures`` (replicas count together);
- every outcome is an audit event; no password or code is ever logged.
Runs on worker threads (the database).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from services.identity.domain import messages
from services.identity.domain.accounts import Account
from services.identity.domain.audit import EventType
from services.identity.domain.lockout import LockoutPolicy
from services.identity.domain.messages import Kind
from services.identity.domain.one_time_codes import CodePolicy
from services.identity.domain.throttle import Rule
from services.identity.service_layer.audit_trail import AuditTrail, Where
from services.identity.service_layer.password_lockout import PasswordLockout
from services.identity.service_layer.postbox import Postbox
from services.identity.service_layer.signin import Outcome, second_factor_failed
from services.identity.service_layer.throttling import Throttle
from services.identity.service_layer.unit_of_work import IdentityTransactions, IdentityWork
from services.runtime.client_address import throttle_key
from services.runtime.clock import Clock, utcnow


@dataclass(frozen=True)
class Rules:
    """The operator's settings for citizen accounts, in one place for bootstrap."""

    codes: CodePolicy = field(default_factory=CodePolicy)
    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)
    # Codes sent to one address (registration, reset) and account form posts
    # from one client address.
    sends_per_address: Rule = field(
        default_factory=lambda: Rule("sends-per-address", 5, timedelta(hours=1))
    )
    posts_per_ip: Rule = field(
        default_factory=lambda: Rule("posts-per-ip", 100, timedelta(hours=1))
    )
    # Sign-ins started (/authorize, each a pending row) from one client address.
    authorizations_per_ip: Rule = field(
        default_factory=lambda: Rule("authorizations-per-ip", 300, timedelta(hours=1))
    )
    # Mobile numbers typed without a country code are read as this region's.
    phone_region: str = "GB"


class Safeguards(AuditTrail):
    def __init__(
        self,
        uow: IdentityTransactions,
        postbox: Postbox,
        rules: Rules | None = None,
        *,
        clock: Clock = utcnow,
    ) -> None:
        super().__init__(uow, clock)
        self._postbox = postbox
        self.rules = rules or Rules()
        self.throttle = Throttle(uow, clock)
        self.passwords = PasswordLockout(uow, self.rules.lockout, clock)

    @property
    def can_send_sms(self) -> bool:
        """Whether this deployment's messenger can text (notify can, SMTP cannot)."""
        return self._postbox.can_send_sms

    # -- throttling -------------------------------------------------------------------

    def check_ip(self, where: Where) -> None:
        """One account form post from this client address (raises Throttled)."""
        self.throttle.check(
            self.rules.posts_per_ip,
            throttle_key(where.ip),  # an IPv6 client by its /64; audit keeps the address
            ip=where.ip,
            client_id=where.client_id,
        )

    def check_authorize(self, where: Where) -> None:
        """One sign-in started from this client address (raises Throttled)."""
        self.throttle.check(
            self.rules.authorizations_per_ip,
            throttle_key(where.ip),
            ip=where.ip,
            client_id=where.client_id,
        )

    def check_sends(self, address: str, where: Where, account_id: str | None) -> None:
        """One code sent to this email address or mobile number (raises Throttled)."""
        self.throttle.check(
            self.rules.sends_per_address,
            address,
            ip=where.ip,
            client_id=where.client_id,
            account_id=account_id,
        )

    # -- lockout ----------------------------------------------------------------------

    def second_factor_failed(
        self,
        uow: IdentityWork,
        account: Account,
        where: Where,
        event: EventType,
        factor: str,
        reason: str,
    ) -> Outcome:
        """Count a wrong second-factor answer for ``account`` (already locked for
        update in ``uow``); LOCKED when it was the last one allowed."""
        return second_factor_failed(
            self,
            self.rules.lockout,
            uow,
            account,
            where,
            factor=factor,
            reason=reason,
            event=event,
            alert=self.lock_alert,
        )

    # -- alerts and audit -------------------------------------------------------------

    def alert(self, account: Account, kind: Kind, language: str, factor: str = "") -> None:
        """Email the account's owner that something changed (sent off the request path)."""
        lang = messages.language_of(language)
        values = {"time": self._clock().strftime("%Y-%m-%d %H:%M")}
        if factor:
            values["factor"] = messages.FACTOR_NAMES[factor][lang]
        self._postbox.post(kind, account.email, lang, values)

    def lock_alert(self, account: Account) -> None:
        """Email the owner that wrong codes have locked their account, and until
        when: whoever typed them knew the password. In the account's own
        language, not the page's (the page may be the attacker's)."""
        if account.locked_until is None:
            return
        values = {
            "time": self._clock().strftime("%Y-%m-%d %H:%M"),
            "until": account.locked_until.strftime("%Y-%m-%d %H:%M"),
        }
        lang = messages.language_of(account.locale)
        self._postbox.post(Kind.ACCOUNT_LOCKED, account.email, lang, values)
