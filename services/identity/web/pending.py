"""Authorization requests in progress, between /authorize and the redirect back.

A pending request lives 30 minutes, is bound to the browser that started it
(a pending id sent to someone else's browser is useless) and records which
interactive steps this flow has completed (a fresh sign-in for prompt=login or
max_age, consent for prompt=consent: the session that gave it, so another
account signed in meanwhile never inherits it).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from services.identity.adapters.tables import pending_authorizations as table
from services.identity.domain.authorization import AuthorizationRequest
from services.runtime.db import transaction
from services.runtime.db_types import utcnow

LIFETIME = timedelta(minutes=30)


@dataclass(frozen=True)
class Pending:
    id: str
    request: AuthorizationRequest
    browser: str
    signed_in_at: datetime | None = None
    consented_sid: str | None = None  # the session whose account agreed on the page
    extra: dict[str, Any] = field(default_factory=dict)


def _browser_hash(browser: str) -> str:
    return hashlib.sha256(browser.encode()).hexdigest()


class PendingStore:
    def __init__(
        self, sessions: sessionmaker[Session], clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    def create(self, request: AuthorizationRequest, browser: str) -> Pending:
        pending = Pending(secrets.token_urlsafe(24), request, _browser_hash(browser))
        now = self._clock()
        with transaction(self._sessions) as session:
            session.execute(
                table.insert().values(
                    id=pending.id,
                    client_id=request.client_id,
                    params=_params(pending),
                    created_at=now,
                    expires_at=now + LIFETIME,
                )
            )
        return pending

    def get(self, pending_id: str, browser: str) -> Pending | None:
        if not pending_id or len(pending_id) > 64:
            return None
        with self._sessions() as session:
            row = session.execute(sa.select(table).where(table.c.id == pending_id)).first()
        if row is None or row.expires_at <= self._clock():
            return None
        params = dict(row.params)
        if not secrets.compare_digest(params["browser"], _browser_hash(browser)):
            return None
        signed_in_at = params.get("signed_in_at")
        return Pending(
            id=row.id,
            request=AuthorizationRequest.from_json(params["request"]),
            browser=params["browser"],
            signed_in_at=datetime.fromisoformat(signed_in_at) if signed_in_at else None,
            # Rows from before sessions were recorded held True: asked again.
            consented_sid=_sid_or_none(params.get("consented_sid")),
        )

    def update(self, pending: Pending, **changes: Any) -> Pending:
        updated = replace(pending, **changes)
        with transaction(self._sessions) as session:
            session.execute(
                table.update().where(table.c.id == pending.id).values(params=_params(updated))
            )
        return updated

    def finish(self, session: Session, pending_id: str) -> bool:
        """Delete it as the code is issued; False if another tab already did."""
        deleted = session.execute(
            table.delete().where(table.c.id == pending_id).returning(table.c.id)
        ).first()
        return deleted is not None

    def purge(self) -> int:
        with transaction(self._sessions) as session:
            rows = session.execute(
                table.delete().where(table.c.expires_at <= self._clock()).returning(table.c.id)
            )
            return len(rows.all())


def _params(pending: Pending) -> dict[str, Any]:
    return {
        "request": pending.request.to_json(),
        "browser": pending.browser,
        "signed_in_at": pending.signed_in_at.isoformat() if pending.signed_in_at else None,
        "consented_sid": pending.consented_sid,
    }


def _sid_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
