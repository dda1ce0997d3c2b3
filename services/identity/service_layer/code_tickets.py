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
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from services.identity.adapters.tables import verification_tickets
from services.identity.domain import one_time_codes
from services.identity.domain.audit import EventType
from services.identity.domain.one_time_codes import Check, CodePolicy, Purpose, Ticket
from services.identity.service_layer.audit_trail import Where
from services.identity.service_layer.safeguards import Safeguards
from services.runtime.db import transaction
from services.runtime.db_types import utcnow

_TICKET = re.compile(r"tkt_[A-Za-z0-9_-]{20,60}")


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class LoadedTicket:
    """A ticket with what it carries besides the code."""

    ticket: Ticket
    password_hash_value: str | None
    language: str
    phone_number: str | None = None  # where the code was texted

    @property
    def id(self) -> str:
        return self.ticket.id

    @property
    def email(self) -> str:
        return self.ticket.email


class CodeTickets:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        key: bytes,
        policy: CodePolicy,
        safeguards: Safeguards,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._key = key
        self._policy = policy
        self._safeguards = safeguards
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
    def insert(session: Session, loaded: LoadedTicket, language: str) -> None:
        ticket = loaded.ticket
        session.execute(
            verification_tickets.insert().values(
                id=ticket.id,
                purpose=str(ticket.purpose),
                email=ticket.email,
                account_id=ticket.account_id,
                browser_hash=ticket.browser_hash,
                code_hash=ticket.code_hash,
                password_hash=loaded.password_hash_value,
                phone_number=loaded.phone_number,
                language=language,
                attempts=0,
                created_at=ticket.created_at,
                expires_at=ticket.expires_at,
            )
        )

    def load(
        self, session: Session, ticket_id: str, browser: str, purpose: Purpose
    ) -> LoadedTicket | None:
        """The ticket, locked for update, if it belongs to this browser."""
        if not _TICKET.fullmatch(ticket_id):
            return None
        t = verification_tickets
        query = sa.select(t).where(t.c.id == ticket_id, t.c.purpose == str(purpose))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        row = session.execute(query).first()
        if row is None or not hmac.compare_digest(row.browser_hash, _hash(browser)):
            return None
        return LoadedTicket(
            Ticket(
                id=row.id,
                purpose=Purpose(row.purpose),
                email=row.email,
                code_hash=row.code_hash,
                browser_hash=row.browser_hash,
                created_at=row.created_at,
                expires_at=row.expires_at,
                attempts=row.attempts,
                account_id=row.account_id,
                verified_at=row.verified_at,
                used_at=row.used_at,
            ),
            row.password_hash,
            row.language,
            row.phone_number,
        )

    def judge(self, session: Session, loaded: LoadedTicket, code: str, where: Where) -> Check:
        """Whether ``code`` is the ticket's; anything but OK is refused (see ``refuse``)."""
        ticket = loaded.ticket
        matches = one_time_codes.well_formed(code) and hmac.compare_digest(
            one_time_codes.digest(self._key, ticket.id, code), ticket.code_hash
        )
        result = one_time_codes.judge(ticket, matches, self._clock(), self._policy)
        if result is not Check.OK:
            self.refuse(session, loaded, result, where)
        return result

    def refuse(self, session: Session, loaded: LoadedTicket, result: Check, where: Where) -> None:
        """A refused code: a wrong one uses up an attempt; each is an audit event."""
        t = verification_tickets
        if result is Check.WRONG:
            session.execute(t.update().where(t.c.id == loaded.id).values(attempts=t.c.attempts + 1))
        self._safeguards.record(
            session,
            EventType.CODE_REFUSED,
            where,
            loaded.ticket.account_id,
            purpose=str(loaded.ticket.purpose),
            reason=str(result),
        )

    @staticmethod
    def mark(session: Session, ticket_id: str, **values: datetime) -> None:
        """Set the ticket's ``verified_at`` or ``used_at``."""
        t = verification_tickets
        session.execute(t.update().where(t.c.id == ticket_id).values(**values))

    def code_values(self, code: str) -> dict[str, str]:
        """The code message's values: the code and how many minutes it lasts."""
        minutes = int(self._policy.lifetime.total_seconds() // 60)
        return {"code": code, "minutes": str(minutes)}

    def purge(self) -> int:
        """Forget tickets a day after they expired."""
        t = verification_tickets
        cutoff = self._clock() - timedelta(days=1)
        with transaction(self._sessions) as session:
            return len(
                session.execute(t.delete().where(t.c.expires_at < cutoff).returning(t.c.id)).all()
            )
