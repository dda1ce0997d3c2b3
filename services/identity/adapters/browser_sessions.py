"""Citizens' browser sessions in identity's database (``BrowserSessionStore``),
found by the hash of their cookie."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.identity.adapters.tables import sessions, user_tokens
from services.identity.domain.sessions import BrowserSession, StoredSession


class SqlBrowserSessions:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, cookie_hash: str, session: BrowserSession) -> None:
        self.session.execute(
            sessions.insert().values(
                id_hash=cookie_hash,
                sid=session.sid,
                account_id=session.account_id,
                auth_time=session.auth_time,
                acr=session.acr,
                amr=list(session.amr),
                created_at=session.auth_time,
                last_seen_at=session.auth_time,
            )
        )

    def find(self, cookie_hash: str) -> StoredSession | None:
        t = sessions
        row = self.session.execute(
            sa.select(t).where(t.c.id_hash == cookie_hash, t.c.ended_at.is_(None))
        ).first()
        if row is None:
            return None
        browser = BrowserSession(row.sid, row.account_id, row.auth_time, row.acr, tuple(row.amr))
        return StoredSession(browser, row.created_at, row.last_seen_at)

    def seen(self, cookie_hash: str, at: datetime) -> None:
        t = sessions
        self.session.execute(t.update().where(t.c.id_hash == cookie_hash).values(last_seen_at=at))

    def step_up(self, cookie_hash: str, acr: str, amr: Sequence[str], at: datetime) -> None:
        t = sessions
        self.session.execute(
            t.update()
            .where(t.c.id_hash == cookie_hash, t.c.ended_at.is_(None))
            .values(acr=acr, amr=list(amr), auth_time=at, last_seen_at=at)
        )

    def end(self, sid: str, at: datetime) -> str | None:
        t = sessions
        row = self.session.execute(
            t.update()
            .where(t.c.sid == sid, t.c.ended_at.is_(None))
            .values(ended_at=at)
            .returning(t.c.account_id)
        ).first()
        return row.account_id if row else None

    def end_all(self, account_id: str, at: datetime, keep_sid: str | None = None) -> list[str]:
        t = sessions
        where = [t.c.account_id == account_id, t.c.ended_at.is_(None)]
        if keep_sid is not None:
            where.append(t.c.sid != keep_sid)
        ended = self.session.execute(
            t.update().where(*where).values(ended_at=at).returning(t.c.sid)
        ).scalars()
        return list(ended)

    def revoke_tokens_outside(self, account_id: str, keep_sid: str, at: datetime) -> int:
        t = user_tokens
        revoked = self.session.execute(
            t.update()
            .where(t.c.account_id == account_id, t.c.revoked_at.is_(None), t.c.sid != keep_sid)
            .values(revoked_at=at)
            .returning(t.c.id)
        )
        return len(revoked.all())
