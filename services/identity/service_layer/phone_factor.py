"""A mobile number as a second factor: proving one with a texted code, removing
it, and signing in with a texted code instead of the authenticator app.

Rules kept here: texted codes are throttled per number like emailed codes per
address; a sign-in code is texted only to a proved number of an unlocked
account, and every refused one counts towards the account's lockout.
Runs on worker threads (the database).
"""

from __future__ import annotations

from dataclasses import replace

from services.identity.domain import one_time_codes
from services.identity.domain.audit import EventType
from services.identity.domain.messages import Kind
from services.identity.domain.one_time_codes import Check, Purpose
from services.identity.service_layer.audit_trail import Where
from services.identity.service_layer.code_tickets import CodeTickets
from services.identity.service_layer.postbox import Postbox
from services.identity.service_layer.safeguards import Safeguards
from services.identity.service_layer.signin import Outcome
from services.identity.service_layer.unit_of_work import IdentityTransactions
from services.runtime.clock import Clock, utcnow


class PhoneFactor:
    def __init__(
        self,
        uow: IdentityTransactions,
        postbox: Postbox,
        tickets: CodeTickets,
        safeguards: Safeguards,
        *,
        clock: Clock = utcnow,
    ) -> None:
        self._uow = uow
        self._postbox = postbox
        self._tickets = tickets
        self._safeguards = safeguards
        self._clock = clock

    # -- the account's number -----------------------------------------------------------

    def start_phone(
        self, account_id: str, number: str, browser: str, language: str, where: Where
    ) -> str:
        """Text a code to ``number`` (E.164, already checked) to prove it is the
        citizen's; returns the ticket the browser carries to the code page.
        Throttled like emailed codes, per number."""
        self._safeguards.check_ip(where)
        self._safeguards.check_sends(number, where, account_id)
        return self._text_code(Purpose.PHONE, account_id, number, browser, language, where)

    def confirm_phone(
        self, account_id: str, ticket_id: str, browser: str, code: str, where: Where, language: str
    ) -> Check:
        """The number becomes the account's proved mobile number, or why not."""
        now = self._clock()
        with self._uow() as uow:
            ticket = self._tickets.load(uow, ticket_id, browser, Purpose.PHONE)
            if ticket is None or ticket.ticket.account_id != account_id:
                return Check.EXPIRED
            result = self._tickets.judge(uow, ticket, code, where)
            if result is not Check.OK:
                return result
            account = uow.accounts.get_for_update(account_id)
            if account is None or ticket.phone_number is None:
                return Check.EXPIRED
            updated = replace(
                account,
                phone_number=ticket.phone_number,
                phone_number_verified=True,
                updated_at=now,
            )
            uow.accounts.update(updated)
            self._tickets.mark(uow, ticket.id, used_at=now)
            self._safeguards.record(
                uow,
                EventType.FACTOR_ADDED,
                where,
                account_id,
                factor="sms",
                replaced=account.has_sms_factor,
            )
        self._safeguards.alert(updated, Kind.FACTOR_CHANGED, language, factor="sms")
        return Check.OK

    def remove_phone(self, account_id: str, where: Where, language: str) -> bool:
        now = self._clock()
        with self._uow() as uow:
            account = uow.accounts.get_for_update(account_id)
            if account is None or account.phone_number is None:
                return False
            updated = replace(
                account, phone_number=None, phone_number_verified=False, updated_at=now
            )
            uow.accounts.update(updated)
            self._safeguards.record(uow, EventType.FACTOR_REMOVED, where, account_id, factor="sms")
        self._safeguards.alert(updated, Kind.FACTOR_CHANGED, language, factor="sms")
        return True

    # -- a texted code at sign-in -------------------------------------------------------

    def send_signin_code(
        self, account_id: str, browser: str, language: str, where: Where
    ) -> str | None:
        """Text a sign-in code to the account's proved number; returns the ticket,
        or None when the account has no proved number or is locked (no text
        that could not be used)."""
        with self._uow.read() as uow:
            account = uow.accounts.get(account_id)
        if account is None or account.phone_number is None or not account.has_sms_factor:
            return None
        if account.locked(self._clock()):
            return None
        self._safeguards.check_ip(where)
        self._safeguards.check_sends(account.phone_number, where, account_id)
        return self._text_code(
            Purpose.SMS_SIGNIN, account_id, account.phone_number, browser, language, where
        )

    def check_signin_code(
        self, account_id: str, ticket_id: str, browser: str, code: str, where: Where
    ) -> Outcome | Check:
        """Outcome.OK (the caller steps the session up), Outcome.LOCKED, or why
        the code was refused. Every refused code counts towards the account's
        lock, like a wrong authenticator code; only a correct one starts the
        count again."""
        now = self._clock()
        with self._uow() as uow:
            account = uow.accounts.get_for_update(account_id)
            if account is None:
                return Check.EXPIRED
            if account.locked(now):
                return Outcome.LOCKED
            ticket = self._tickets.load(uow, ticket_id, browser, Purpose.SMS_SIGNIN)
            if (
                ticket is None
                or ticket.ticket.account_id != account_id
                or not account.has_sms_factor
                or ticket.phone_number != account.phone_number  # the number changed since
            ):
                return Check.EXPIRED
            result = self._tickets.judge(uow, ticket, code, where)
            if result is Check.OK:
                self._tickets.mark(uow, ticket.id, used_at=now)
                updated = self._safeguards.rules.lockout.after_sign_in(account)
                if updated != account:
                    uow.accounts.update(updated)
                return Outcome.OK
            counted = self._safeguards.second_factor_failed(
                uow, account, where, EventType.SECOND_FACTOR_FAILED, "sms", str(result)
            )
            return Outcome.LOCKED if counted is Outcome.LOCKED else result

    def _text_code(
        self,
        purpose: Purpose,
        account_id: str,
        number: str,
        browser: str,
        language: str,
        where: Where,
    ) -> str:
        code = one_time_codes.new_code()
        # Texted codes need no email: the ticket's number is where the code went.
        ticket = self._tickets.new(
            purpose, "", code, browser, language, account_id=account_id, phone_number=number
        )
        with self._uow() as uow:
            self._tickets.insert(uow, ticket, language)
            self._safeguards.record(
                uow, EventType.CODE_SENT, where, account_id, purpose=str(purpose)
            )
        self._postbox.post(Kind.PHONE_CODE, number, language, self._tickets.code_values(code))
        return ticket.id
