"""Where a citizen's account is in use: the browsers it signed in from (a new
one sends an alert), its sessions and tokens (sign out everywhere), and the
agencies it has consented to (see them, withdraw consent).
Runs on worker threads (the database).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from services.identity.adapters import audit_log
from services.identity.adapters.tables import agencies, consents, known_devices, user_tokens
from services.identity.adapters.tables import sessions as session_table
from services.identity.domain.accounts import Account
from services.identity.domain.audit import EventType
from services.identity.domain.disclosure import Disclosure, in_order
from services.identity.domain.messages import Kind
from services.identity.service_layer.audit_trail import Where
from services.identity.service_layer.logout import BackChannel, session_clients
from services.identity.service_layer.safeguards import Safeguards
from services.runtime.db import transaction
from services.runtime.db_types import utcnow


@dataclass(frozen=True)
class AgencyUse:
    client_id: str
    name: str
    scopes: tuple[str, ...]
    claims: tuple[str, ...]  # the personal claims it may receive (disclosure.py)
    granted_at: datetime
    last_signed_in: datetime | None


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def end_sessions(
    session: Session, account_id: str, now: datetime, keep_sid: str | None = None
) -> dict[str, list[str]]:
    """End the account's sessions and revoke their tokens (all but ``keep_sid``'s)
    in ``session``'s transaction; returns each ended session's sid with the
    agencies that received tokens in it (for ``BackChannel.notify``)."""
    s, t = session_table, user_tokens
    session_filter = [s.c.account_id == account_id, s.c.ended_at.is_(None)]
    token_filter = [t.c.account_id == account_id, t.c.revoked_at.is_(None)]
    if keep_sid is not None:
        session_filter.append(s.c.sid != keep_sid)
        token_filter.append(t.c.sid != keep_sid)
    ended = session.execute(
        s.update().where(*session_filter).values(ended_at=now).returning(s.c.sid)
    ).scalars()
    clients = session_clients(session, list(ended))
    session.execute(t.update().where(*token_filter).values(revoked_at=now))
    return clients


class AccountActivity:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        safeguards: Safeguards,
        back_channel: BackChannel,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._safeguards = safeguards
        self._back_channel = back_channel
        self._clock = clock

    def sign_out_everywhere(self, account_id: str, where: Where) -> int:
        """Every session and every token of the account ends."""
        now = self._clock()
        with transaction(self._sessions) as session:
            ended = end_sessions(session, account_id, now)
            self._safeguards.record(
                session, EventType.SIGNED_OUT_EVERYWHERE, where, account_id, sessions=len(ended)
            )
            self._back_channel.queue(session, account_id, ended)
        return len(ended)

    def note_device(self, account: Account, device: str | None, where: Where, language: str) -> str:
        """Remember the browser a citizen signed in from; a sign-in from a browser
        not seen before (when others are known) sends an alert. Returns the
        device cookie's value."""
        now = self._clock()
        value = device if device and 20 <= len(device) <= 64 else secrets.token_urlsafe(32)
        digest = _hash(value)
        t = known_devices
        with transaction(self._sessions) as session:
            known = (
                session.execute(sa.select(t.c.device_hash).where(t.c.account_id == account.id))
                .scalars()
                .all()
            )
            if digest in known:
                session.execute(
                    t.update()
                    .where(t.c.account_id == account.id, t.c.device_hash == digest)
                    .values(last_seen_at=now)
                )
                return value
            session.execute(
                t.insert().values(
                    account_id=account.id, device_hash=digest, first_seen_at=now, last_seen_at=now
                )
            )
            alert = bool(known)
            if alert:
                self._safeguards.record(session, EventType.NEW_DEVICE, where, account.id)
        if alert:
            self._safeguards.alert(account, Kind.NEW_DEVICE, language)
        return value

    def agencies(self, account_id: str) -> list[AgencyUse]:
        """The agencies the citizen has consented to, newest first, with the
        claims each may receive and when each was last signed in to."""
        c, a, t = consents, agencies, user_tokens
        last = (
            sa.select(t.c.client_id, sa.func.max(t.c.auth_time).label("last"))
            .where(t.c.account_id == account_id)
            .group_by(t.c.client_id)
            .subquery()
        )
        query = (
            sa.select(
                c.c.client_id,
                c.c.scopes,
                c.c.claims,
                c.c.granted_at,
                a.c.name,
                a.c.scopes.label("registered"),
                last.c.last,
            )
            .select_from(
                c.outerjoin(a, a.c.client_id == c.c.client_id).outerjoin(
                    last, last.c.client_id == c.c.client_id
                )
            )
            .where(c.c.account_id == account_id)
            .order_by(c.c.granted_at.desc())
        )
        with self._sessions() as session:
            return [
                AgencyUse(
                    r.client_id,
                    r.name or r.client_id,
                    tuple(r.scopes),
                    in_order(Disclosure.of(r.scopes, r.claims).released(r.registered or ())),
                    r.granted_at,
                    r.last,
                )
                for r in session.execute(query)
            ]

    def withdraw_consent(self, account_id: str, client_id: str, where: Where) -> bool:
        """The agency's consent ends with every token it holds for the citizen; the
        next sign-in there asks again."""
        now = self._clock()
        c, t = consents, user_tokens
        with transaction(self._sessions) as session:
            removed = session.execute(
                c.delete()
                .where(c.c.account_id == account_id, c.c.client_id == client_id)
                .returning(c.c.client_id)
            ).all()
            if not removed:
                return False
            revoked = session.execute(
                t.update()
                .where(
                    t.c.account_id == account_id,
                    t.c.client_id == client_id,
                    t.c.revoked_at.is_(None),
                )
                .values(revoked_at=now)
                .returning(t.c.id)
            ).all()
            audit_log.record(
                session,
                EventType.CONSENT_WITHDRAWN,
                at=now,
                account_id=account_id,
                client_id=client_id,
                ip=where.ip,
                revoked_tokens=len(revoked),
            )
        return True
