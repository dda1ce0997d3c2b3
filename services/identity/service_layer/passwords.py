"""A citizen's password after registration: resetting a forgotten one with an
emailed code, and changing a known one. Either ends the account's other
sessions and tokens and emails an alert.

No enumeration: a reset looks exactly the same whether or not the address has
an account (a ticket either way; a code is sent only when it has one).
Runs on worker threads (argon2id and the database).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from services.identity.domain import one_time_codes
from services.identity.domain.accounts import Account
from services.identity.domain.audit import EventType
from services.identity.domain.messages import Kind
from services.identity.domain.one_time_codes import Check, Purpose, Ticket
from services.identity.service_layer.account_activity import end_sessions
from services.identity.service_layer.account_ports import PasswordHasher
from services.identity.service_layer.audit_trail import Where
from services.identity.service_layer.code_tickets import CodeTickets
from services.identity.service_layer.logout import BackChannel
from services.identity.service_layer.postbox import Postbox
from services.identity.service_layer.safeguards import Safeguards
from services.identity.service_layer.signin import Outcome
from services.identity.service_layer.unit_of_work import IdentityTransactions
from services.runtime.clock import Clock, utcnow

RESET_WINDOW = timedelta(minutes=15)  # from proving the code to choosing a password


class Passwords:
    def __init__(
        self,
        uow: IdentityTransactions,
        hasher: PasswordHasher,
        postbox: Postbox,
        tickets: CodeTickets,
        safeguards: Safeguards,
        back_channel: BackChannel,
        *,
        clock: Clock = utcnow,
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._postbox = postbox
        self._tickets = tickets
        self._safeguards = safeguards
        self._back_channel = back_channel
        self._clock = clock

    # -- password reset -----------------------------------------------------------------

    def start_reset(self, email: str, browser: str, language: str, where: Where) -> str:
        """A ticket whether or not the address has an account; a code is sent
        only when it has one."""
        email = email.strip().lower()
        self._safeguards.check_ip(where)
        with self._uow.read() as uow:
            account = uow.accounts.by_email(email)
        self._safeguards.check_sends(email, where, account.id if account else None)
        code = one_time_codes.new_code()
        ticket = self._tickets.new(
            Purpose.RESET,
            email,
            code,
            browser,
            language,
            account_id=account.id if account else None,
        )
        with self._uow() as uow:
            self._tickets.insert(uow, ticket, language)
            self._safeguards.record(
                uow,
                EventType.PASSWORD_RESET_REQUESTED,
                where,
                account.id if account else None,
                known_address=account is not None,
            )
        if account is not None:
            self._postbox.post(Kind.RESET_CODE, email, language, self._tickets.code_values(code))
        return ticket.id

    def check_reset_code(self, ticket_id: str, browser: str, code: str, where: Where) -> Check:
        """OK once the emailed code is proved; the new password may then be chosen."""
        now = self._clock()
        with self._uow() as uow:
            ticket = self._tickets.load(uow, ticket_id, browser, Purpose.RESET)
            if ticket is None:
                return Check.EXPIRED
            result = self._tickets.judge(uow, ticket, code, where)
            if result is not Check.OK:
                return result
            if ticket.ticket.account_id is None:
                self._tickets.refuse(uow, ticket, Check.WRONG, where)
                return Check.WRONG
            self._tickets.mark(uow, ticket.id, verified_at=now)
            return Check.OK

    def reset_ready(self, ticket_id: str, browser: str) -> str | None:
        """The address of a reset whose code was proved and whose new password is
        still to be chosen, or None."""
        with self._uow.read() as uow:
            ticket = self._tickets.load(uow, ticket_id, browser, Purpose.RESET)
        if ticket is None or not self._ready(ticket.ticket):
            return None
        return ticket.email

    def complete_reset(
        self, ticket_id: str, browser: str, password: str, where: Where
    ) -> Account | None:
        """Set the new password; every session and refresh token of the account ends."""
        password_hash = self._hasher.hash(password)
        now = self._clock()
        with self._uow() as uow:
            ticket = self._tickets.load(uow, ticket_id, browser, Purpose.RESET)
            if ticket is None or not self._ready(ticket.ticket):
                return None
            assert ticket.ticket.account_id is not None
            account = uow.accounts.get_for_update(ticket.ticket.account_id)
            if account is None:
                return None
            # Wrong second factors stay counted: the emailed code proves the
            # address, not the second factor.
            updated = replace(account, password_hash=password_hash, updated_at=now)
            uow.accounts.update(updated)
            self._tickets.mark(uow, ticket.id, used_at=now)
            ended = end_sessions(uow, account.id, now)
            self._safeguards.record(uow, EventType.PASSWORD_RESET, where, account.id)
            self._back_channel.queue(uow, updated.id, ended)
        # The old password's wrong guesses no longer matter.
        self._safeguards.passwords.lift(updated.email)
        self._safeguards.alert(updated, Kind.PASSWORD_CHANGED, ticket.language)
        return updated

    def _ready(self, ticket: Ticket) -> bool:
        return (
            ticket.verified_at is not None
            and ticket.used_at is None
            and self._clock() < ticket.verified_at + RESET_WINDOW
        )

    # -- password change ----------------------------------------------------------------

    def change_password(
        self,
        account_id: str,
        current: str,
        new: str,
        where: Where,
        language: str,
        keep_sid: str,
    ) -> Outcome:
        """With the current password; other sessions and their tokens end. A
        wrong current password counts like a wrong password at sign-in."""
        now = self._clock()
        with self._uow.read() as uow:
            account = uow.accounts.get(account_id)
        if account is None:
            return Outcome.INVALID
        lockout = self._safeguards.passwords
        if account.locked(now) or lockout.locked(account.email, where.ip):
            return Outcome.LOCKED
        if not self._hasher.verify(account.password_hash, current):
            now_locked = lockout.failure(account.email, where.ip)
            self._safeguards.audit(
                EventType.PASSWORD_CHANGE_FAILED, where, account_id, reason="wrong"
            )
            if now_locked:
                self._safeguards.audit(
                    EventType.ACCOUNT_LOCKED, where, account_id, factor="password"
                )
                return Outcome.LOCKED
            return Outcome.INVALID
        lockout.success(account.email, where.ip)
        password_hash = self._hasher.hash(new)
        with self._uow() as uow:
            locked = uow.accounts.get_for_update(account_id)
            if locked is None:
                return Outcome.INVALID
            updated = replace(locked, password_hash=password_hash, updated_at=now)
            uow.accounts.update(updated)
            ended = end_sessions(uow, account_id, now, keep_sid=keep_sid)
            self._safeguards.record(uow, EventType.PASSWORD_CHANGED, where, account_id)
            self._back_channel.queue(uow, account_id, ended)
        self._safeguards.alert(updated, Kind.PASSWORD_CHANGED, language)
        return Outcome.OK
