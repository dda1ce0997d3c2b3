"""Where a citizen's account is in use: the browsers it signed in from (a new
one sends an alert), its sessions and tokens (sign out everywhere), and the
agencies it has consented to (see them, withdraw consent).
Runs on worker threads (the database).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from services.identity.domain.account_use import AgencyUse
from services.identity.domain.accounts import Account
from services.identity.domain.audit import EventType
from services.identity.domain.disclosure import Disclosure, in_order
from services.identity.domain.messages import Kind
from services.identity.service_layer.audit_trail import Where
from services.identity.service_layer.logout import BackChannel
from services.identity.service_layer.safeguards import Safeguards
from services.identity.service_layer.unit_of_work import IdentityTransactions, IdentityWork
from services.runtime.clock import Clock, utcnow

__all__ = ["AccountActivity", "AgencyUse", "end_sessions"]


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def end_sessions(
    uow: IdentityWork, account_id: str, now: datetime, keep_sid: str | None = None
) -> dict[str, list[str]]:
    """End the account's sessions and revoke their tokens (all but ``keep_sid``'s)
    in ``uow``; returns each ended session's sid with the agencies that received
    tokens in it (for ``BackChannel.queue``)."""
    ended = uow.browser_sessions.end_all(account_id, now, keep_sid)
    clients = uow.user_tokens.clients_of_sessions(ended)
    if keep_sid is None:
        uow.user_tokens.revoke_account(account_id, now)
    else:
        uow.browser_sessions.revoke_tokens_outside(account_id, keep_sid, now)
    return clients


class AccountActivity:
    def __init__(
        self,
        uow: IdentityTransactions,
        safeguards: Safeguards,
        back_channel: BackChannel,
        *,
        clock: Clock = utcnow,
    ) -> None:
        self._uow = uow
        self._safeguards = safeguards
        self._back_channel = back_channel
        self._clock = clock

    def sign_out_everywhere(self, account_id: str, where: Where) -> int:
        """Every session and every token of the account ends."""
        now = self._clock()
        with self._uow() as uow:
            ended = end_sessions(uow, account_id, now)
            self._safeguards.record(
                uow, EventType.SIGNED_OUT_EVERYWHERE, where, account_id, sessions=len(ended)
            )
            self._back_channel.queue(uow, account_id, ended)
        return len(ended)

    def note_device(self, account: Account, device: str | None, where: Where, language: str) -> str:
        """Remember the browser a citizen signed in from; a sign-in from a browser
        not seen before (when others are known) sends an alert. Returns the
        device cookie's value."""
        now = self._clock()
        value = device if device and 20 <= len(device) <= 64 else secrets.token_urlsafe(32)
        digest = _hash(value)
        with self._uow() as uow:
            known = uow.known_devices.of_account(account.id)
            if digest in known:
                uow.known_devices.seen(account.id, digest, now)
                return value
            uow.known_devices.add(account.id, digest, now)
            alert = bool(known)
            if alert:
                self._safeguards.record(uow, EventType.NEW_DEVICE, where, account.id)
        if alert:
            self._safeguards.alert(account, Kind.NEW_DEVICE, language)
        return value

    def agencies(self, account_id: str) -> list[AgencyUse]:
        """The agencies the citizen has consented to, newest first, with the
        claims each may receive and when each was last signed in to."""
        with self._uow.read() as uow:
            consented = uow.consents.of_account(account_id)
        return [
            AgencyUse(
                c.client_id,
                c.name or c.client_id,
                c.scopes,
                in_order(Disclosure.of(c.scopes, c.claims).released(c.registered or ())),
                c.granted_at,
                c.last_signed_in,
            )
            for c in consented
        ]

    def withdraw_consent(self, account_id: str, client_id: str, where: Where) -> bool:
        """The agency's consent ends with every token it holds for the citizen; the
        next sign-in there asks again."""
        now = self._clock()
        with self._uow() as uow:
            if not uow.consents.delete(account_id, client_id):
                return False
            revoked = uow.user_tokens.revoke_account(account_id, now, client_id)
            uow.audit.record(
                EventType.CONSENT_WITHDRAWN,
                at=now,
                account_id=account_id,
                client_id=client_id,
                ip=where.ip,
                revoked_tokens=revoked,
            )
        return True
