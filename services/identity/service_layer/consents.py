"""What each citizen agreed to share with each agency: scopes, and claims agreed
one by one (asked through the ``claims`` parameter). A consent belongs to one
account and one agency: another agency's consent never counts.

Runs on worker threads (the database).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from services.identity.adapters.tables import consents
from services.identity.domain.audit import EventType
from services.identity.domain.disclosure import Disclosure
from services.identity.service_layer.audit_trail import AuditTrail, Where
from services.runtime.db import transaction
from services.runtime.db_types import utcnow


class Consents:
    def __init__(
        self, sessions: sessionmaker[Session], clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._trail = AuditTrail(sessions, clock)

    def given(self, account_id: str, client_id: str) -> Disclosure:
        """What the citizen has agreed to share with this agency (empty if nothing)."""
        with self._sessions() as session:
            return self._stored(session, account_id, client_id) or Disclosure()

    def grant(
        self,
        account_id: str,
        client_id: str,
        asked: Disclosure,
        registered: Iterable[str],
        where: Where,
    ) -> Disclosure:
        """Record the citizen's yes to ``asked`` on top of what they agreed before;
        the audit event says what was added and every claim the agency may now
        receive (within its ``registered`` scopes). Returns the whole consent."""
        now = self._clock()
        c = consents
        with transaction(self._sessions) as session:
            stored = self._stored(session, account_id, client_id)
            before = stored or Disclosure()
            after = before.merged(asked)
            values = {"scopes": sorted(after.scopes), "claims": sorted(after.claims)}
            if stored is None:
                session.execute(
                    c.insert().values(
                        account_id=account_id,
                        client_id=client_id,
                        granted_at=now,
                        last_used_at=now,
                        **values,
                    )
                )
            else:
                session.execute(
                    c.update()
                    .where(c.c.account_id == account_id, c.c.client_id == client_id)
                    .values(granted_at=now, last_used_at=now, **values)
                )
            released = after.released(registered)
            self._trail.record(
                session,
                EventType.CONSENT_GRANTED,
                where,
                account_id,
                scopes=values["scopes"],
                added_scopes=sorted(after.scopes - before.scopes),
                added_claims=sorted(released - before.released(registered)),
                released_claims=sorted(released),
            )
        return after

    @staticmethod
    def _stored(session: Session, account_id: str, client_id: str) -> Disclosure | None:
        c = consents
        row = session.execute(
            sa.select(c.c.scopes, c.c.claims).where(
                c.c.account_id == account_id, c.c.client_id == client_id
            )
        ).first()
        return None if row is None else Disclosure.of(row.scopes, row.claims)
