"""Ending a citizen's session: its tokens revoked, agencies told.

Back-channel logout (OpenID Connect Back-Channel Logout 1.0): each agency that
registered a ``backchannel_logout_uri`` and received tokens from the session is
sent a signed logout token, so it can end its own session for that citizen.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence

import httpx
import jwt
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from services.identity.adapters import audit_log
from services.identity.adapters.tables import user_tokens
from services.identity.domain.agencies import Agency
from services.identity.domain.audit import EventType
from services.identity.service_layer.agencies import AgencyRegistry
from services.identity.service_layer.audit_trail import Where
from services.identity.service_layer.citizen_tokens import CitizenTokens
from services.identity.service_layer.keys import KeyStore
from services.identity.service_layer.signin import SignIn
from services.runtime.db import transaction
from services.runtime.db_types import utcnow

log = logging.getLogger(__name__)
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"

Poster = Callable[[str, str], int]


def http_poster(timeout: float = 5.0) -> Poster:
    client = httpx.Client(timeout=timeout, follow_redirects=False)

    def post(url: str, logout_token: str) -> int:
        return client.post(url, data={"logout_token": logout_token}).status_code

    return post


class BackChannel:
    """Tells agencies that a citizen's sessions ended (back-channel logout).

    Every way a session ends sends it: RP-initiated logout, signing out
    everywhere, a password reset or change (which end the other sessions)."""

    def __init__(
        self,
        tokens: CitizenTokens,
        registry: AgencyRegistry,
        keys: KeyStore,
        *,
        issuer: str,
        poster: Poster | None = None,
    ) -> None:
        self._tokens = tokens
        self._registry = registry
        self._keys = keys
        self._issuer = issuer
        self._post = poster or http_poster()

    def notify(self, account_id: str, ended: Mapping[str, Sequence[str]]) -> None:
        """``ended``: each ended session's sid and the agencies that received
        tokens in it; those that registered a back-channel URI get a token."""
        targets = []
        agencies: dict[str, Agency | None] = {}
        for sid, clients in ended.items():
            for client_id in clients:
                if client_id not in agencies:
                    agencies[client_id] = self._registry.find_active(client_id)
                agency = agencies[client_id]
                if agency is not None and agency.backchannel_logout_uri:
                    targets.append(
                        (agency.backchannel_logout_uri, self.logout_token(agency, account_id, sid))
                    )
        if targets:
            # Off the request path: a slow agency must not hold up the citizen.
            threading.Thread(target=self._deliver, args=(targets,), daemon=True).start()

    def logout_token(self, agency: Agency, account_id: str, sid: str) -> str:
        signer = self._keys.signer(agency.id_token_alg)
        now = int(time.time())
        return jwt.encode(
            {
                "iss": self._issuer,
                "aud": agency.client_id,
                "sub": self._tokens.subject(account_id, agency),
                "sid": sid,
                "iat": now,
                "exp": now + 120,
                "jti": secrets.token_urlsafe(16),
                "events": {BACKCHANNEL_EVENT: {}},
            },
            signer.private_key,
            algorithm=signer.alg,
            headers={"kid": signer.kid, "typ": "logout+jwt"},
        )

    def _deliver(self, targets: list[tuple[str, str]]) -> None:
        for url, token in targets:
            for attempt in range(3):
                try:
                    status = self._post(url, token)
                except httpx.HTTPError as exc:
                    log.warning("back-channel logout failed", extra={"error": type(exc).__name__})
                    status = None
                if status is not None and 200 <= status < 300:
                    break
                time.sleep(2**attempt)


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
            revoked = self._tokens.revoke_session(session, sid)
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
        if account_id is not None:
            self.back_channel.notify(account_id, clients)
