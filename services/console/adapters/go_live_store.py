"""SQL for requests to go live."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.console.adapters.go_live_tables import go_live_requests as t
from services.console.domain.go_live import GoLiveRequest


def _request(row: Any) -> GoLiveRequest:
    return GoLiveRequest(**row._mapping)


class GoLiveRequests:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, request: GoLiveRequest) -> None:
        self._session.execute(t.insert().values(**asdict(request)))

    def get(self, request_id: str) -> GoLiveRequest | None:
        row = self._session.execute(sa.select(t).where(t.c.id == request_id)).first()
        return _request(row) if row else None

    def save(self, request: GoLiveRequest) -> None:
        self._session.execute(t.update().where(t.c.id == request.id).values(**asdict(request)))

    def latest(self, team_id: str) -> GoLiveRequest | None:
        row = self._session.execute(
            sa.select(t).where(t.c.team_id == team_id).order_by(t.c.created_at.desc()).limit(1)
        ).first()
        return _request(row) if row else None

    def pending(self, limit: int = 200) -> list[GoLiveRequest]:
        rows = self._session.execute(
            sa.select(t).where(t.c.state == "pending").order_by(t.c.created_at).limit(limit)
        )
        return [_request(r) for r in rows]
