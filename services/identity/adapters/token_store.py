"""Citizens' authorization codes, tokens and code tickets in identity's database
(``service_layer/token_ports.py``'s ``AuthorizationCodeStore`` and ``UserTokenStore``,
``service_layer/code_tickets.py``'s ``VerificationTicketStore``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.identity.adapters.tables import (
    authorization_codes,
    user_tokens,
    verification_tickets,
)
from services.identity.domain.citizen_tokens import StoredCode, TokenRecord
from services.identity.domain.one_time_codes import Purpose, Ticket
from services.identity.domain.verification_tickets import LoadedTicket


def _locked(session: Session, query: Any, lock: bool) -> Any:
    """PostgreSQL locks the row; SQLite's write lock already serialises writers."""
    if lock and session.get_bind().dialect.name == "postgresql":
        return query.with_for_update()
    return query


class SqlAuthorizationCodes:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, code: StoredCode) -> None:
        self.session.execute(authorization_codes.insert().values(**vars(code)))

    def get(self, code_hash: str, *, lock: bool = False) -> StoredCode | None:
        t = authorization_codes
        query = _locked(self.session, sa.select(t).where(t.c.code_hash == code_hash), lock)
        row = self.session.execute(query).first()
        if row is None:
            return None
        values = dict(row._mapping)
        values["amr"] = list(values["amr"])
        return StoredCode(**values)

    def mark_used(self, code_hash: str, at: datetime) -> bool:
        t = authorization_codes
        marked = self.session.execute(
            t.update()
            .where(t.c.code_hash == code_hash, t.c.used_at.is_(None))
            .values(used_at=at)
            .returning(t.c.code_hash)
        ).first()
        return marked is not None


class SqlUserTokens:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, record: TokenRecord) -> None:
        self.session.execute(user_tokens.insert().values(**vars(record)))

    def _one(self, condition: Any, lock: bool = False) -> TokenRecord | None:
        query = _locked(self.session, sa.select(user_tokens).where(condition), lock)
        row = self.session.execute(query).first()
        if row is None:
            return None
        values = dict(row._mapping)
        values["amr"] = list(values["amr"])
        return TokenRecord(**values)

    def get(self, token_id: str) -> TokenRecord | None:
        return self._one(user_tokens.c.id == token_id)

    def get_refresh(self, token_hash: str, *, lock: bool = False) -> TokenRecord | None:
        t = user_tokens
        return self._one(sa.and_(t.c.id == token_hash, t.c.kind == "refresh"), lock)

    def get_access(self, jti: str) -> TokenRecord | None:
        t = user_tokens
        return self._one(sa.and_(t.c.id == jti, t.c.kind == "access"))

    def mark_used(self, token_id: str, at: datetime) -> None:
        t = user_tokens
        self.session.execute(t.update().where(t.c.id == token_id).values(used_at=at))

    def _revoke_where(self, condition: Any, at: datetime) -> int:
        t = user_tokens
        result = self.session.execute(
            t.update()
            .where(condition, t.c.revoked_at.is_(None))
            .values(revoked_at=at)
            .returning(t.c.id)
        )
        return len(result.all())

    def revoke(self, token_id: str, at: datetime) -> int:
        return self._revoke_where(user_tokens.c.id == token_id, at)

    def revoke_code(self, code_hash: str, at: datetime) -> int:
        return self._revoke_where(user_tokens.c.code_hash == code_hash, at)

    def revoke_family(self, family: str, at: datetime) -> int:
        return self._revoke_where(user_tokens.c.family == family, at)

    def revoke_session(self, sid: str, at: datetime) -> int:
        return self._revoke_where(user_tokens.c.sid == sid, at)

    def revoke_account(self, account_id: str, at: datetime, client_id: str | None = None) -> int:
        t = user_tokens
        condition = t.c.account_id == account_id
        if client_id is not None:
            condition = sa.and_(condition, t.c.client_id == client_id)
        return self._revoke_where(condition, at)

    def clients_of_sessions(self, sids: Sequence[str]) -> dict[str, list[str]]:
        t = user_tokens
        found: dict[str, list[str]] = {sid: [] for sid in sids}
        if not sids:
            return found
        rows = self.session.execute(
            sa.select(t.c.sid, t.c.client_id).where(t.c.sid.in_(list(sids))).distinct()
        )
        for sid, client_id in rows:
            if client_id not in found[sid]:
                found[sid].append(client_id)
        return found


class SqlVerificationTickets:
    """Code tickets (``service_layer/code_tickets.py``'s ``VerificationTicketStore``)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, loaded: LoadedTicket, language: str) -> None:
        ticket = loaded.ticket
        self.session.execute(
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

    def get(self, ticket_id: str, purpose: Purpose, *, lock: bool = False) -> LoadedTicket | None:
        t = verification_tickets
        query = sa.select(t).where(t.c.id == ticket_id, t.c.purpose == str(purpose))
        row = self.session.execute(_locked(self.session, query, lock)).first()
        if row is None:
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

    def count_wrong(self, ticket_id: str) -> None:
        t = verification_tickets
        self.session.execute(
            t.update().where(t.c.id == ticket_id).values(attempts=t.c.attempts + 1)
        )

    def mark(self, ticket_id: str, **values: datetime) -> None:
        t = verification_tickets
        self.session.execute(t.update().where(t.c.id == ticket_id).values(**values))

    def purge(self, expired_before: datetime) -> int:
        t = verification_tickets
        result = self.session.execute(
            t.delete().where(t.c.expires_at < expired_before).returning(t.c.id)
        )
        return len(result.all())
