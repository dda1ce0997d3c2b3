"""Creating an account: an email address and a password, then proving the
address with an emailed code.

No enumeration: registering an address that already has an account looks
exactly like registering a new one (same page, same work, a ticket whose code
was never sent); its owner gets an email saying so instead.
Runs on worker threads (argon2id and the database).
"""

from __future__ import annotations

import uuid

from services.identity.domain import one_time_codes
from services.identity.domain.accounts import Account
from services.identity.domain.audit import EventType
from services.identity.domain.messages import Kind
from services.identity.domain.one_time_codes import Check, Purpose
from services.identity.service_layer.account_ports import PasswordHasher
from services.identity.service_layer.audit_trail import Where
from services.identity.service_layer.code_tickets import CodeTickets
from services.identity.service_layer.postbox import Postbox
from services.identity.service_layer.safeguards import Safeguards
from services.identity.service_layer.unit_of_work import IdentityTransactions
from services.runtime.clock import Clock, utcnow


class Registration:
    def __init__(
        self,
        uow: IdentityTransactions,
        hasher: PasswordHasher,
        postbox: Postbox,
        tickets: CodeTickets,
        safeguards: Safeguards,
        *,
        clock: Clock = utcnow,
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._postbox = postbox
        self._tickets = tickets
        self._safeguards = safeguards
        self._clock = clock

    def register(self, email: str, password: str, browser: str, language: str, where: Where) -> str:
        """Start a registration; returns the ticket the browser carries to the code
        page. The address and password are already valid (see the pages)."""
        email = email.strip().lower()
        self._safeguards.check_ip(where)
        with self._uow.read() as uow:
            existing = uow.accounts.by_email(email)
        self._safeguards.check_sends(email, where, existing.id if existing else None)
        password_hash = self._hasher.hash(password)  # the same work either way
        code = one_time_codes.new_code()
        ticket = self._tickets.new(
            Purpose.REGISTER,
            email,
            code,
            browser,
            language,
            account_id=existing.id if existing else None,
            password_hash=None if existing else password_hash,
        )
        with self._uow() as uow:
            self._tickets.insert(uow, ticket, language)
            self._safeguards.record(
                uow,
                EventType.REGISTRATION_STARTED,
                where,
                existing.id if existing else None,
                existing_account=existing is not None,
            )
        if existing is not None:
            self._postbox.post(Kind.ALREADY_REGISTERED, email, language, {})
        else:
            self._postbox.post(Kind.VERIFY_EMAIL, email, language, self._tickets.code_values(code))
        return ticket.id

    def confirm_registration(
        self, ticket_id: str, browser: str, code: str, where: Where
    ) -> Account | Check:
        """The new account, or why the code was refused."""
        now = self._clock()
        with self._uow() as uow:
            ticket = self._tickets.load(uow, ticket_id, browser, Purpose.REGISTER)
            if ticket is None:
                return Check.EXPIRED
            result = self._tickets.judge(uow, ticket, code, where)
            if result is not Check.OK:
                return result
            if (
                ticket.password_hash_value is None
                or uow.accounts.by_email(ticket.email) is not None
            ):
                # The address already had an account: its code was never sent.
                self._tickets.refuse(uow, ticket, Check.WRONG, where)
                return Check.WRONG
            account = Account(
                id="acc_" + uuid.uuid4().hex,
                email=ticket.email,
                email_verified=True,
                password_hash=ticket.password_hash_value,
                created_at=now,
                updated_at=now,
                locale=ticket.language,
            )
            uow.accounts.add(account)
            self._tickets.mark(uow, ticket.id, used_at=now)
            self._safeguards.record(uow, EventType.EMAIL_VERIFIED, where, account.id)
            self._safeguards.record(uow, EventType.REGISTERED, where, account.id)
            return account

    def resend_registration(self, ticket_id: str, browser: str, where: Where) -> str | None:
        """A new code for the same registration, or None for a ticket that is
        unknown, used or another browser's. The old ticket ends only when the new
        one is stored: a throttled request leaves the old code working."""
        with self._uow.read() as uow:
            ticket = self._tickets.load(uow, ticket_id, browser, Purpose.REGISTER)
        if ticket is None or ticket.ticket.used_at is not None:
            return None
        self._safeguards.check_ip(where)
        self._safeguards.check_sends(ticket.email, where, ticket.ticket.account_id)
        code = one_time_codes.new_code()
        fresh = self._tickets.new(
            Purpose.REGISTER,
            ticket.email,
            code,
            browser,
            ticket.language,
            account_id=ticket.ticket.account_id,
            password_hash=ticket.password_hash_value,
        )
        with self._uow() as uow:
            again = self._tickets.load(uow, ticket_id, browser, Purpose.REGISTER)
            if again is None or again.ticket.used_at is not None:
                return None  # confirmed or resent meanwhile (another tab)
            self._tickets.mark(uow, ticket_id, used_at=self._clock())
            self._tickets.insert(uow, fresh, ticket.language)
            self._safeguards.record(uow, EventType.CODE_SENT, where, ticket.ticket.account_id)
        if fresh.password_hash_value is None:
            self._postbox.post(Kind.ALREADY_REGISTERED, ticket.email, ticket.language, {})
        else:
            self._postbox.post(
                Kind.VERIFY_EMAIL, ticket.email, ticket.language, self._tickets.code_values(code)
            )
        return fresh.id
