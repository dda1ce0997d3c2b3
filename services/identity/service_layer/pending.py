"""Authorization requests in progress, between /authorize and the redirect back.

A pending request lives 30 minutes, is bound to the browser that started it
(a pending id sent to someone else's browser is useless) and records which
interactive steps this flow has completed (a fresh sign-in for prompt=login or
max_age, consent for prompt=consent: the session that gave it, so another
account signed in meanwhile never inherits it). The code issued at the end
deletes it (``authorization_flow.CodeIssuer``).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import replace
from datetime import timedelta
from typing import Any

from services.identity.domain.authorization import AuthorizationRequest
from services.identity.domain.pending import Pending
from services.identity.service_layer.unit_of_work import IdentityTransactions
from services.runtime.clock import Clock, utcnow

__all__ = ["LIFETIME", "Pending", "PendingStore"]

LIFETIME = timedelta(minutes=30)


def _browser_hash(browser: str) -> str:
    return hashlib.sha256(browser.encode()).hexdigest()


class PendingStore:
    def __init__(self, uow: IdentityTransactions, clock: Clock = utcnow) -> None:
        self._uow = uow
        self._clock = clock

    def create(self, request: AuthorizationRequest, browser: str) -> Pending:
        pending = Pending(secrets.token_urlsafe(24), request, _browser_hash(browser))
        now = self._clock()
        with self._uow() as uow:
            uow.pending.add(pending, now, now + LIFETIME)
        return pending

    def get(self, pending_id: str, browser: str) -> Pending | None:
        if not pending_id or len(pending_id) > 64:
            return None
        with self._uow.read() as uow:
            stored = uow.pending.get(pending_id)
        if stored is None or stored.expires_at <= self._clock():
            return None
        if not secrets.compare_digest(stored.pending.browser, _browser_hash(browser)):
            return None
        return stored.pending

    def update(self, pending: Pending, **changes: Any) -> Pending:
        updated = replace(pending, **changes)
        with self._uow() as uow:
            uow.pending.update(updated)
        return updated

    def purge(self) -> int:
        with self._uow() as uow:
            return uow.pending.purge(self._clock())
