"""What each citizen agreed to share with each agency: scopes, and claims agreed
one by one (asked through the ``claims`` parameter). A consent belongs to one
account and one agency: another agency's consent never counts.

Runs on worker threads (the database).
"""

from __future__ import annotations

from collections.abc import Iterable

from services.identity.domain.audit import EventType
from services.identity.domain.disclosure import Disclosure
from services.identity.service_layer.audit_trail import AuditTrail, Where
from services.identity.service_layer.unit_of_work import IdentityTransactions
from services.runtime.clock import Clock, utcnow


class Consents:
    def __init__(self, uow: IdentityTransactions, clock: Clock = utcnow) -> None:
        self._uow = uow
        self._clock = clock
        self._trail = AuditTrail(uow, clock)

    def given(self, account_id: str, client_id: str) -> Disclosure:
        """What the citizen has agreed to share with this agency (empty if nothing)."""
        with self._uow.read() as uow:
            return uow.consents.get(account_id, client_id) or Disclosure()

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
        registered = list(registered)
        with self._uow() as uow:
            before = uow.consents.get(account_id, client_id) or Disclosure()
            after = before.merged(asked)
            uow.consents.put(account_id, client_id, after, now)
            released = after.released(registered)
            self._trail.record(
                uow,
                EventType.CONSENT_GRANTED,
                where,
                account_id,
                scopes=sorted(after.scopes),
                added_scopes=sorted(after.scopes - before.scopes),
                added_claims=sorted(released - before.released(registered)),
                released_claims=sorted(released),
            )
        return after
