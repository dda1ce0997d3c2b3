"""Authorization requests in progress, in identity's database
(``PendingAuthorizations``): so any replica can resume one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.identity.adapters.tables import pending_authorizations as table
from services.identity.domain.authorization import AuthorizationRequest
from services.identity.domain.pending import Pending, StoredPending


class SqlPendingAuthorizations:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, pending: Pending, created_at: datetime, expires_at: datetime) -> None:
        self.session.execute(
            table.insert().values(
                id=pending.id,
                client_id=pending.request.client_id,
                params=_params(pending),
                created_at=created_at,
                expires_at=expires_at,
            )
        )

    def get(self, pending_id: str) -> StoredPending | None:
        row = self.session.execute(sa.select(table).where(table.c.id == pending_id)).first()
        if row is None:
            return None
        params = dict(row.params)
        signed_in_at = params.get("signed_in_at")
        pending = Pending(
            id=row.id,
            request=AuthorizationRequest.from_json(params["request"]),
            browser=params["browser"],
            signed_in_at=datetime.fromisoformat(signed_in_at) if signed_in_at else None,
            # Rows from before sessions were recorded held True: asked again.
            consented_sid=_sid_or_none(params.get("consented_sid")),
        )
        return StoredPending(pending, row.expires_at)

    def update(self, pending: Pending) -> None:
        self.session.execute(
            table.update().where(table.c.id == pending.id).values(params=_params(pending))
        )

    def delete(self, pending_id: str) -> bool:
        deleted = self.session.execute(
            table.delete().where(table.c.id == pending_id).returning(table.c.id)
        ).first()
        return deleted is not None

    def purge(self, now: datetime) -> int:
        rows = self.session.execute(
            table.delete().where(table.c.expires_at <= now).returning(table.c.id)
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
