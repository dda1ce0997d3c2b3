"""In-memory fakes of the stores both sides of identity use: accounts, the audit
log and verification tickets (``tests/fakes/identity.py`` and
``identity_tokens.py`` build on them)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.identity.domain.accounts import Account
from services.identity.domain.audit import AuditEvent, AuditFilter, EventType
from services.identity.domain.one_time_codes import Purpose
from services.identity.domain.verification_tickets import LoadedTicket


@dataclass
class MemoryAccounts:
    rows: dict[str, Account] = field(default_factory=dict)

    def add(self, account: Account) -> None:
        assert account.id not in self.rows, "the primary key refuses a second row"
        assert self.by_email(account.email) is None, "the email column is unique"
        self.rows[account.id] = account

    def get(self, account_id: str) -> Account | None:
        return self.rows.get(account_id)

    def get_for_update(self, account_id: str) -> Account | None:
        return self.rows.get(account_id)

    def by_email(self, email: str) -> Account | None:
        email = email.strip().lower()
        return next((a for a in self.rows.values() if a.email == email), None)

    def update(self, account: Account) -> None:
        if account.id in self.rows:
            self.rows[account.id] = account

    def delete(self, account_id: str) -> None:
        self.rows.pop(account_id, None)


@dataclass
class MemoryAuditLog:
    events: list[AuditEvent] = field(default_factory=list)

    def record(
        self,
        type: EventType,
        *,
        at: datetime,
        account_id: str | None = None,
        client_id: str | None = None,
        ip: str | None = None,
        **details: Any,
    ) -> AuditEvent:
        event = AuditEvent(
            id=f"evt_{len(self.events):06d}",
            at=at,
            type=type,
            account_id=account_id,
            client_id=client_id,
            ip=ip,
            details=details,
        )
        self.events.append(event)
        return event

    def query(self, where: AuditFilter, *, after: str | None, limit: int) -> list[AuditEvent]:
        found = sorted(self.events, key=lambda e: (e.at, e.id), reverse=True)
        found = [
            e
            for e in found
            if (not where.types or str(e.type) in where.types)
            and (not where.account_id or e.account_id == where.account_id)
            and (not where.client_id or e.client_id == where.client_id)
            and (where.since is None or e.at >= where.since)
            and (where.until is None or e.at < where.until)
            and (after is None or cursor_key(e) < cursor_key_of(after))
        ]
        return found[:limit]

    def types(self) -> list[EventType]:
        return [e.type for e in self.events]

    def of_type(self, type: EventType) -> list[AuditEvent]:
        return [e for e in self.events if e.type is type]


def cursor_key(event: AuditEvent) -> tuple[datetime, str]:
    return event.at, event.id


def cursor_key_of(token: str) -> tuple[datetime, str]:
    at, _, event_id = token.partition("|")
    return datetime.fromisoformat(at), event_id


@dataclass
class MemoryVerificationTickets:
    rows: dict[str, LoadedTicket] = field(default_factory=dict)

    def add(self, loaded: LoadedTicket, language: str) -> None:
        assert loaded.id not in self.rows, "the primary key refuses a second row"
        self.rows[loaded.id] = dataclasses.replace(loaded, language=language)

    def get(self, ticket_id: str, purpose: Purpose, *, lock: bool = False) -> LoadedTicket | None:
        found = self.rows.get(ticket_id)
        return found if found is not None and found.ticket.purpose is purpose else None

    def count_wrong(self, ticket_id: str) -> None:
        found = self.rows.get(ticket_id)
        if found is None:  # an UPDATE of a missing row changes nothing
            return
        ticket = dataclasses.replace(found.ticket, attempts=found.ticket.attempts + 1)
        self.rows[ticket_id] = dataclasses.replace(found, ticket=ticket)

    def mark(self, ticket_id: str, **values: datetime) -> None:
        found = self.rows.get(ticket_id)
        if found is not None:
            ticket = dataclasses.replace(found.ticket, **values)  # type: ignore[arg-type]
            self.rows[ticket_id] = dataclasses.replace(found, ticket=ticket)

    def purge(self, expired_before: datetime) -> int:
        gone = [k for k, t in self.rows.items() if t.ticket.expires_at < expired_before]
        for k in gone:
            del self.rows[k]
        return len(gone)
