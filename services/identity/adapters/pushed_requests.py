"""Pushed authorization requests in identity's database
(``PushedAuthorizationRequests``): any replica takes what another was pushed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from services.identity.adapters.tables import pushed_authorization_requests as table
from services.identity.domain.authorization import AuthorizationRequest
from services.identity.domain.pushed_requests import StoredPush


class SqlPushedRequests:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, uri_hash: str, push: StoredPush) -> None:
        self.session.execute(
            table.insert().values(
                uri_hash=uri_hash,
                client_id=push.client_id,
                request=push.request.to_json(),
                expires_at=push.expires_at,
            )
        )

    def take(self, uri_hash: str, client_id: str) -> StoredPush | None:
        # One DELETE ... RETURNING: of two replicas taking the same push at once,
        # one gets the row and the other nothing.
        row = self.session.execute(
            table.delete()
            .where(table.c.uri_hash == uri_hash, table.c.client_id == client_id)
            .returning(table.c.client_id, table.c.request, table.c.expires_at)
        ).first()
        if row is None:
            return None
        return StoredPush(
            row.client_id, AuthorizationRequest.from_json(row.request), row.expires_at
        )

    def purge(self, now: datetime) -> int:
        rows = self.session.execute(
            table.delete().where(table.c.expires_at <= now).returning(table.c.uri_hash)
        )
        return len(rows.all())
