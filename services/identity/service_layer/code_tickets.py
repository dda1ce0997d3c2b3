"""The tickets that carry a one-time code sent by email or text message
(registration, password reset, proving a mobile number, texted sign-in codes):
making one, storing it, loading it for the browser that asked, judging a code
entered against it, and forgetting it a day after it expired.

Rules kept here: codes are short-lived, single use, limited in attempts, bound
to the browser that asked, and stored only as a keyed hash; every refused code
is an audit event.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from services.identity.domain import one_time_codes
from services.identity.domain.audit import EventType
from services.identity.domain.one_time_codes import Check, CodePolicy, Purpose, Ticket
from services.identity.domain.verification_tickets import LoadedTicket
from services.identity.service_layer.audit_trail import Where
from services.identity.service_layer.token_ports import AuditRecorder, VerificationTicketStore
from services.runtime.clock import utcnow
from services.runtime.unit_of_work import Transactions

# Kept importable from here: the account use cases name it with CodeTickets.
__all__ = ["CodeTickets", "LoadedTicket", "TicketWork", "VerificationTicketStore"]

_TICKET = re.compile(r"tkt_[A-Za-z0-9_-]{20,60}")


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class TicketWork(Protocol):
    """What code tickets use of identity's unit of work."""

    @property
    def verification_tickets(self) -> VerificationTicketStore: ...

    @property
    def audit(self) -> AuditRecorder: ...


class CodeTickets:
    """Every method but ``new``, ``code_values`` and ``purge`` works in the
    caller's unit of work (``uow``), with the rest of the caller's step."""

    def __init__(
        self,
        uow: Transactions[TicketWork],
        key: bytes,
        policy: CodePolicy,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._uow = uow
        self._key = key
        self._policy = policy
        self._clock = clock

    def new(
        self,
        purpose: Purpose,
        email: str,
        code: str,
        browser: str,
        language: str,
        *,
        account_id: str | None = None,
        password_hash: str | None = None,
        phone_number: str | None = None,
    ) -> LoadedTicket:
        """A ticket for ``code``, not yet stored (see ``insert``)."""
        now = self._clock()
        ticket_id = one_time_codes.new_ticket_id()
        return LoadedTicket(
            Ticket(
                id=ticket_id,
                purpose=purpose,
                email=email,
                code_hash=one_time_codes.digest(self._key, ticket_id, code),
                browser_hash=_hash(browser),
                created_at=now,
                expires_at=now + self._policy.lifetime,
                account_id=account_id,
            ),
            password_hash,
            language,
            phone_number,
        )

    @staticmethod
    def insert(uow: TicketWork, loaded: LoadedTicket, language: str) -> None:
        uow.verification_tickets.add(loaded, language)

    def load(
        self, uow: TicketWork, ticket_id: str, browser: str, purpose: Purpose
    ) -> LoadedTicket | None:
        """The ticket, locked for update, if it belongs to this browser."""
        if not _TICKET.fullmatch(ticket_id):
            return None
        loaded = uow.verification_tickets.get(ticket_id, purpose, lock=True)
        if loaded is None or not hmac.compare_digest(loaded.ticket.browser_hash, _hash(browser)):
            return None
        return loaded

    def judge(self, uow: TicketWork, loaded: LoadedTicket, code: str, where: Where) -> Check:
        """Whether ``code`` is the ticket's; anything but OK is refused (see ``refuse``)."""
        ticket = loaded.ticket
        matches = one_time_codes.well_formed(code) and hmac.compare_digest(
            one_time_codes.digest(self._key, ticket.id, code), ticket.code_hash
        )
        result = one_time_codes.judge(ticket, matches, self._clock(), self._policy)
        if result is not Check.OK:
            self.refuse(uow, loaded, result, where)
        return result

    def refuse(self, uow: TicketWork, loaded: LoadedTicket, result: Check, where: Where) -> None:
        """A refused code: a wrong one uses up an attempt; each is an audit event."""
        if result is Check.WRONG:
            uow.verification_tickets.count_wrong(loaded.id)
        uow.audit.record(
            EventType.CODE_REFUSED,
            at=self._clock(),
            account_id=loaded.ticket.account_id,
            client_id=where.client_id,
            ip=where.ip,
            purpose=str(loaded.ticket.purpose),
            reason=str(result),
        )

    @staticmethod
    def mark(uow: TicketWork, ticket_id: str, **values: datetime) -> None:
        """Set the ticket's ``verified_at`` or ``used_at``."""
        uow.verification_tickets.mark(ticket_id, **values)

    def code_values(self, code: str) -> dict[str, str]:
        """The code message's values: the code and how many minutes it lasts."""
        minutes = int(self._policy.lifetime.total_seconds() // 60)
        return {"code": code, "minutes": str(minutes)}

    def purge(self) -> int:
        """Forget tickets a day after they expired."""
        with self._uow() as uow:
            return uow.verification_tickets.purge(self._clock() - timedelta(days=1))
