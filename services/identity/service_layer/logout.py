"""Ending a citizen's session: its tokens revoked, agencies told.

Back-channel logout (OpenID Connect Back-Channel Logout 1.0): each agency that
registered a ``backchannel_logout_uri`` and received tokens from the session is
sent a signed logout token, so it can end its own session for that citizen.

The tokens owed are written to an outbox in the same transaction that ends the
session, and the shared ``webhooks.Outbox`` delivers them: at once after the
commit (the job is woken), then with retries if the agency does not answer 2xx.
A process killed after the commit loses nothing: another replica, or this one
after its restart, sends what is still owed. Each attempt carries a freshly
signed token (a two-minute lifetime cannot survive a retry an hour later) with
the same ``jti``, so an agency that did get an earlier attempt can recognise
the repeat.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from urllib.parse import urlencode

import jwt
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from services.identity.adapters import audit_log
from services.identity.adapters.tables import (
    backchannel_attempts,
    backchannel_deliveries,
    user_tokens,
)
from services.identity.adapters.token_store import SqlUserTokens
from services.identity.domain.agencies import Agency
from services.identity.domain.audit import EventType
from services.identity.service_layer.agencies import AgencyRegistry
from services.identity.service_layer.audit_trail import Where
from services.identity.service_layer.citizen_tokens import CitizenTokens
from services.identity.service_layer.keys import KeyStore
from services.identity.service_layer.signin import SignIn
from services.runtime import webhooks
from services.runtime.db import transaction
from services.runtime.db_types import utcnow
from services.runtime.egress import PUBLIC_ONLY, Egress
from services.runtime.periodic import PeriodicJob

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
EVENT_TYPE = "backchannel-logout"
TOKEN_LIFETIME_SECONDS = 120
# Soon at first (an agency restarting), then spread over a day; a 4xx other
# than 408/429 is the agency refusing the token (the spec's 400), never retried.
RETRIES = webhooks.RetryPolicy(
    [
        timedelta(seconds=10),
        timedelta(minutes=1),
        timedelta(minutes=10),
        timedelta(hours=1),
        timedelta(hours=6),
        timedelta(hours=24),
    ],
    retry_client_errors=False,
)
# One attempt's whole exchange, connect to last byte of the answer.
SEND_SECONDS = 5.0
# The job's own interval: what a wake-up after commit did not send (a retry
# that fell due, or a row left by a process that died) goes out within this.
JOB_INTERVAL_SECONDS = 5.0
# A finished delivery (its pairwise subject and sid) is kept this long, for
# operators tracing a complaint, then purged.
KEEP_FINISHED = timedelta(days=7)


class BackChannel:
    """Tells agencies that a citizen's sessions ended (back-channel logout).

    Every way a session ends queues it: RP-initiated logout, signing out
    everywhere, a password reset or change (which end the other sessions)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        tokens: CitizenTokens,
        registry: AgencyRegistry,
        keys: KeyStore,
        *,
        issuer: str,
        egress: Egress = PUBLIC_ONLY,
        sender: webhooks.Sender | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``egress``: where a logout token may be sent (``sender`` replaces the
        HTTP sender altogether, for tests)."""
        self._tokens = tokens
        self._registry = registry
        self._keys = keys
        self._issuer = issuer
        self._clock = clock
        self.outbox = webhooks.Outbox(
            sessions,
            backchannel_deliveries,
            backchannel_attempts,
            prepare=self._prepare,
            policy=RETRIES,
            sender=sender or webhooks.http_sender(egress, seconds=SEND_SECONDS),
        )
        self.job = PeriodicJob("backchannel-logout", JOB_INTERVAL_SECONDS, self.outbox.dispatch_due)
        self.purge_job = PeriodicJob("purge-backchannel-logouts", 3600, self.purge)

    def purge(self) -> int:
        """Forget deliveries finished more than ``KEEP_FINISHED`` ago."""
        return self.outbox.purge_finished(utcnow() - KEEP_FINISHED)

    def queue(self, session: Session, account_id: str, ended: Mapping[str, Sequence[str]]) -> int:
        """In the transaction that ends the sessions: ``ended`` is each ended
        session's sid and the agencies that received tokens in it; those with a
        back-channel URI are owed a token. Returns how many were queued."""
        agencies: dict[str, Agency | None] = {}
        now = utcnow()
        queued = 0
        for sid, clients in ended.items():
            for client_id in clients:
                if client_id not in agencies:
                    agencies[client_id] = self._registry.find_active(client_id, session)
                agency = agencies[client_id]
                if agency is None or not agency.backchannel_logout_uri:
                    continue
                webhooks.Outbox.enqueue(
                    session,
                    backchannel_deliveries,
                    tenant=agency.client_id,
                    subscription_id=agency.client_id,
                    url=agency.backchannel_logout_uri,
                    event_id=secrets.token_urlsafe(16),
                    event_type=EVENT_TYPE,
                    payload={"sub": self._tokens.subject(account_id, agency), "sid": sid},
                    now=now,
                )
                queued += 1
        if queued:
            # Only once the rows are committed; a rollback sends nothing.
            event.listen(session, "after_commit", lambda _: self.job.wake(), once=True)
        return queued

    def logout_token(self, agency: Agency, subject: str, sid: str, jti: str) -> str:
        signer = self._keys.signer(agency.id_token_alg)
        now = int(self._clock())
        return jwt.encode(
            {
                "iss": self._issuer,
                "aud": agency.client_id,
                "sub": subject,
                "sid": sid,
                "iat": now,
                "exp": now + TOKEN_LIFETIME_SECONDS,
                "jti": jti,
                "events": {BACKCHANNEL_EVENT: {}},
            },
            signer.private_key,
            algorithm=signer.alg,
            headers={"kid": signer.kid, "typ": "logout+jwt"},
        )

    def _prepare(
        self, session: Session, delivery: webhooks.Delivery
    ) -> Callable[[], webhooks.Request] | webhooks.Gone:
        agency = self._registry.find_active(delivery.tenant, session)
        if agency is None or not agency.backchannel_logout_uri:
            return webhooks.Gone("agency disabled or back-channel logout removed")
        owed = json.loads(delivery.body)

        def request() -> webhooks.Request:
            token = self.logout_token(agency, owed["sub"], owed["sid"], delivery.event_id)
            body = urlencode({"logout_token": token}).encode()
            return body, {
                "content-type": "application/x-www-form-urlencoded",
                "user-agent": "GaaP-Identity-Logout/1",
            }

        return request


def session_clients(session: Session, sids: Sequence[str]) -> dict[str, list[str]]:
    """The agencies that received tokens in each of ``sids`` (read before the
    tokens are revoked)."""
    found: dict[str, list[str]] = {sid: [] for sid in sids}
    if sids:
        rows = session.execute(
            sa.select(user_tokens.c.sid, user_tokens.c.client_id)
            .where(user_tokens.c.sid.in_(sids))
            .distinct()
        )
        for sid, client_id in rows:
            found[sid].append(client_id)
    return found


class Logout:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        signin: SignIn,
        tokens: CitizenTokens,
        back_channel: BackChannel,
    ) -> None:
        self._sessions = sessions
        self._signin = signin
        self._tokens = tokens
        self.back_channel = back_channel

    def end_session(self, sid: str, where: Where) -> None:
        with transaction(self._sessions) as session:
            account_id = self._signin.end(session, sid)
            clients = session_clients(session, [sid])
            revoked = self._tokens.revoke_session(SqlUserTokens(session), sid)
            if account_id is not None:
                audit_log.record(
                    session,
                    EventType.SIGNED_OUT,
                    at=utcnow(),
                    account_id=account_id,
                    client_id=where.client_id,
                    ip=where.ip,
                    revoked_tokens=revoked,
                )
                self.back_channel.queue(session, account_id, clients)
