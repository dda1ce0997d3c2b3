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

import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from services.identity.domain.agencies import Agency
from services.identity.domain.audit import EventType
from services.identity.service_layer.audit_trail import Where
from services.identity.service_layer.jwt_minting import sign
from services.identity.service_layer.keys import Signer
from services.identity.service_layer.signin import SignIn
from services.identity.service_layer.unit_of_work import IdentityTransactions, IdentityWork
from services.runtime.clock import Clock, utcnow
from services.runtime.periodic import PeriodicJob

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
TOKEN_LIFETIME_SECONDS = 120
# The job's own interval: what a wake-up after commit did not send (a retry
# that fell due, or a row left by a process that died) goes out within this.
JOB_INTERVAL_SECONDS = 5.0
# A finished delivery (its pairwise subject and sid) is kept this long, for
# operators tracing a complaint, then purged.
KEEP_FINISHED = timedelta(days=7)

# A freshly signed logout token for (agency, subject, sid, jti).
LogoutToken = Callable[[Agency, str, str, str], str]


class Subjects(Protocol):
    """The subject an agency knows the citizen by (``CitizenTokens.subject``)."""

    def subject(self, account_id: str, agency: Agency) -> str: ...


class Signers(Protocol):
    """The key that signs now with an algorithm (``KeyStore.signer``)."""

    def signer(self, alg: str | None = None) -> Signer: ...


class Deliveries(Protocol):
    """What sends the tokens owed (``adapters/logout_outbox.logout_deliveries``)."""

    def dispatch_due(self) -> int: ...

    def deliver_due(self) -> int: ...

    def purge_finished(self, before: datetime, batch: int = 1000) -> int: ...

    def close(self) -> None: ...


class BackChannel:
    """Tells agencies that a citizen's sessions ended (back-channel logout).

    Every way a session ends queues it: RP-initiated logout, signing out
    everywhere, a password reset or change (which end the other sessions)."""

    def __init__(
        self,
        deliveries: Callable[[LogoutToken], Deliveries],
        tokens: Subjects,
        keys: Signers,
        *,
        issuer: str,
        clock: Callable[[], float] = time.time,
        now: Clock = utcnow,
    ) -> None:
        """``deliveries``: builds what sends the tokens owed, given how to sign one
        (bootstrap: the SQL outbox, with the deployment's egress)."""
        self._tokens = tokens
        self._keys = keys
        self._issuer = issuer
        self._clock = clock
        self._now = now
        self.outbox = deliveries(self.logout_token)
        self.job = PeriodicJob("backchannel-logout", JOB_INTERVAL_SECONDS, self.outbox.dispatch_due)
        self.purge_job = PeriodicJob("purge-backchannel-logouts", 3600, self.purge)

    def purge(self) -> int:
        """Forget deliveries finished more than ``KEEP_FINISHED`` ago."""
        return self.outbox.purge_finished(self._now() - KEEP_FINISHED)

    def queue(self, uow: IdentityWork, account_id: str, ended: Mapping[str, Sequence[str]]) -> int:
        """In the unit of work that ends the sessions: ``ended`` is each ended
        session's sid and the agencies that received tokens in it; those with a
        back-channel URI are owed a token. Returns how many were queued."""
        agencies: dict[str, Agency | None] = {}
        now = self._now()
        queued = 0
        for sid, clients in ended.items():
            for client_id in clients:
                if client_id not in agencies:
                    found = uow.agencies.get(client_id)
                    agencies[client_id] = None if found is None or found.disabled else found
                agency = agencies[client_id]
                if agency is None or not agency.backchannel_logout_uri:
                    continue
                uow.logout_outbox.enqueue(
                    agency=agency,
                    event_id=secrets.token_urlsafe(16),
                    payload={"sub": self._tokens.subject(account_id, agency), "sid": sid},
                    at=now,
                )
                queued += 1
        if queued:
            # Only once the rows are committed; a rollback sends nothing.
            uow.on_commit(self.job.wake)
        return queued

    def logout_token(self, agency: Agency, subject: str, sid: str, jti: str) -> str:
        signer = self._keys.signer(agency.id_token_alg)
        now = int(self._clock())
        claims = {
            "iss": self._issuer,
            "aud": agency.client_id,
            "sub": subject,
            "sid": sid,
            "iat": now,
            "exp": now + TOKEN_LIFETIME_SECONDS,
            "jti": jti,
            "events": {BACKCHANNEL_EVENT: {}},
        }
        return sign(signer, claims, "logout+jwt")


class Logout:
    def __init__(
        self,
        uow: IdentityTransactions,
        signin: SignIn,
        back_channel: BackChannel,
        clock: Clock = utcnow,
    ) -> None:
        self._uow = uow
        self._signin = signin
        self.back_channel = back_channel
        self._clock = clock

    def end_session(self, sid: str, where: Where) -> None:
        with self._uow() as uow:
            account_id = self._signin.end(uow, sid)
            clients = uow.user_tokens.clients_of_sessions([sid])
            revoked = uow.user_tokens.revoke_session(sid, self._clock())
            if account_id is not None:
                uow.audit.record(
                    EventType.SIGNED_OUT,
                    at=self._clock(),
                    account_id=account_id,
                    client_id=where.client_id,
                    ip=where.ip,
                    revoked_tokens=revoked,
                )
                self.back_channel.queue(uow, account_id, clients)
