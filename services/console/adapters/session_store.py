"""SQL for browser sessions, keyed by the cookie's hash."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.console.adapters.tables import browser_sessions
from services.console.domain.sessions import BrowserSession
from services.console.domain.staff import Staff


def _dump(session: BrowserSession) -> str:
    return json.dumps(
        {
            "pending": session.pending,
            "staff": asdict(session.staff) if session.staff else None,
            "id_token": session.id_token,
        }
    )


def _load(row: Any) -> BrowserSession:
    data = json.loads(row.data)
    staff = Staff(**data["staff"]) if data.get("staff") else None
    return BrowserSession(row.expires_at, data.get("pending") or {}, staff, data["id_token"])


class BrowserSessions:
    def __init__(self, session: Session) -> None:
        self._session = session

    def load(self, key: str) -> BrowserSession | None:
        row = self._session.execute(
            sa.select(browser_sessions).where(browser_sessions.c.id == key)
        ).first()
        return _load(row) if row else None

    def store(self, key: str, session: BrowserSession) -> None:
        values = {"data": _dump(session), "expires_at": session.expires_at}
        updated = self._session.execute(
            browser_sessions.update().where(browser_sessions.c.id == key).values(**values)
        )
        if updated.rowcount == 0:  # type: ignore[attr-defined]
            self._session.execute(browser_sessions.insert().values(id=key, **values))

    def delete(self, key: str) -> None:
        self._session.execute(browser_sessions.delete().where(browser_sessions.c.id == key))

    def purge(self, expired_before: datetime) -> int:
        deleted = self._session.execute(
            browser_sessions.delete().where(browser_sessions.c.expires_at <= expired_before)
        )
        return int(deleted.rowcount)  # type: ignore[attr-defined]
