"""Codes and tokens of citizens' sign-ins: issue, redeem, rotate, inspect, revoke.

Rules (RFC 9700, OIDC Core):
- an authorization code is single use and lives 60 seconds; a second use fails
  and revokes every token issued from it;
- a refresh token is rotated on every use; presenting a rotated one again
  revokes its whole family (every refresh and access token descended from the
  same sign-in);
- codes and refresh tokens are stored only as SHA-256 hashes; access and ID
  tokens are signed JWTs whose ``jti`` is recorded so they can be revoked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from services.identity.adapters import audit_log
from services.identity.adapters.accounts import SqlAccountRepository
from services.identity.adapters.tables import authorization_codes, user_tokens
from services.identity.domain.accounts import released_claims
from services.identity.domain.agencies import Agency
from services.identity.domain.audit import EventType
from services.identity.domain.authorization import AuthorizationRequest
from services.identity.domain.disclosure import releasable, requested_claims
from services.identity.domain.subjects import subject_for
from services.identity.service_layer.keys import KeyStore
from services.runtime.access_tokens import ACCESS_TOKEN_TYPE
from services.runtime.db import transaction
from services.runtime.db_types import utcnow

CODE_TTL = timedelta(seconds=60)
_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")


class GrantError(Exception):
    """An OAuth error from the token endpoint (RFC 6749 §5.2)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    expires_in: int
    scope: str
    id_token: str | None
    refresh_token: str | None

    def response(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": self.scope,
        }
        if self.id_token:
            body["id_token"] = self.id_token
        if self.refresh_token:
            body["refresh_token"] = self.refresh_token
        return body


@dataclass(frozen=True)
class _Grant:
    """What a code or refresh token stands for."""

    client_id: str
    account_id: str
    sid: str
    scopes: tuple[str, ...]
    claims: dict[str, Any] | None
    acr: str
    amr: list[str]
    auth_time: datetime


def hash_value(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


class CitizenTokens:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        keys: KeyStore,
        *,
        issuer: str,
        salt: bytes,
        access_ttl: int = 300,
        id_token_ttl: int = 300,
        refresh_ttl: timedelta = timedelta(days=30),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._keys = keys
        self.issuer = issuer
        self.userinfo_audience = issuer + "/userinfo"
        self._salt = salt
        self._access_ttl = access_ttl
        self._id_ttl = id_token_ttl
        self._refresh_ttl = refresh_ttl
        self._clock = clock

    def now(self) -> datetime:
        return self._clock()

    def subject(self, account_id: str, agency: Agency) -> str:
        return subject_for(account_id, agency, self._salt)

    # -- authorization codes ----------------------------------------------------

    def create_code(
        self,
        session: Session,
        request: AuthorizationRequest,
        *,
        account_id: str,
        sid: str,
        acr: str,
        amr: list[str],
        auth_time: datetime,
    ) -> str:
        code = "ac_" + secrets.token_urlsafe(32)
        now = self._clock()
        claims = request.claims or None
        session.execute(
            authorization_codes.insert().values(
                code_hash=hash_value(code),
                client_id=request.client_id,
                account_id=account_id,
                sid=sid,
                redirect_uri=request.redirect_uri,
                scope=" ".join(request.scopes),
                nonce=request.nonce,
                code_challenge=request.code_challenge,
                claims=claims,
                acr=acr,
                amr=amr,
                auth_time=auth_time,
                created_at=now,
                expires_at=now + CODE_TTL,
            )
        )
        return code

    def redeem_code(
        self, agency: Agency, code: str, redirect_uri: str | None, verifier: str | None
    ) -> TokenSet:
        if not code:
            raise GrantError("invalid_request", "code is required")
        if not verifier or not _VERIFIER.match(verifier):
            raise GrantError("invalid_grant", "a valid code_verifier (PKCE) is required")
        now = self._clock()
        code_hash = hash_value(code)
        t = authorization_codes
        self._ready_signers(agency)
        with transaction(self._sessions) as session:
            query = sa.select(t).where(t.c.code_hash == code_hash)
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update()
            row = session.execute(query).first()
            if row is None or row.client_id != agency.client_id:
                raise GrantError("invalid_grant", "unknown authorization code")
            if row.used_at is None:
                return self._redeem(
                    session, agency, row, redirect_uri=redirect_uri, verifier=verifier, now=now
                )
            # A second use: someone else may hold the code. Revoke what it gave.
            revoked = self._revoke_where(session, user_tokens.c.code_hash == code_hash, now)
            audit_log.record(
                session,
                EventType.CODE_REUSED,
                at=now,
                account_id=row.account_id,
                client_id=agency.client_id,
                revoked_tokens=revoked,
            )
        # Raised after the commit, so the revocation sticks.
        raise GrantError("invalid_grant", "authorization code already used; its tokens are revoked")

    def _redeem(
        self,
        session: Session,
        agency: Agency,
        row: Any,
        *,
        redirect_uri: str | None,
        verifier: str,
        now: datetime,
    ) -> TokenSet:
        if row.expires_at <= now:
            raise GrantError("invalid_grant", "authorization code expired")
        if redirect_uri != row.redirect_uri:
            raise GrantError("invalid_grant", "redirect_uri does not match the authorization")
        if not hmac.compare_digest(s256(verifier), row.code_challenge):
            raise GrantError("invalid_grant", "code_verifier does not match code_challenge")
        t = authorization_codes
        marked = session.execute(
            t.update()
            .where(t.c.code_hash == row.code_hash, t.c.used_at.is_(None))
            .values(used_at=now)
            .returning(t.c.code_hash)
        ).first()
        if marked is None:  # a racing redemption won (SQLite; PostgreSQL locked the row)
            raise GrantError("invalid_grant", "authorization code already used")
        grant = _Grant(
            client_id=row.client_id,
            account_id=row.account_id,
            sid=row.sid,
            scopes=tuple(row.scope.split()),
            claims=row.claims,
            acr=row.acr,
            amr=list(row.amr),
            auth_time=row.auth_time,
        )
        family = uuid.uuid4().hex if "offline_access" in grant.scopes else None
        return self._issue(
            session, agency, grant, now, nonce=row.nonce, code_hash=row.code_hash, family=family
        )

    # -- refresh tokens -----------------------------------------------------------

    def refresh(self, agency: Agency, refresh_token: str, scope: str | None) -> TokenSet:
        if not refresh_token:
            raise GrantError("invalid_request", "refresh_token is required")
        now = self._clock()
        token_hash = hash_value(refresh_token)
        t = user_tokens
        reuse: GrantError | None = None
        self._ready_signers(agency)
        with transaction(self._sessions) as session:
            query = sa.select(t).where(t.c.id == token_hash, t.c.kind == "refresh")
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update()
            row = session.execute(query).first()
            if row is None or row.client_id != agency.client_id:
                raise GrantError("invalid_grant", "unknown refresh token")
            if row.used_at is not None and row.revoked_at is None:
                revoked = self._revoke_where(session, t.c.family == row.family, now)
                audit_log.record(
                    session,
                    EventType.REFRESH_REUSED,
                    at=now,
                    account_id=row.account_id,
                    client_id=agency.client_id,
                    revoked_tokens=revoked,
                )
                reuse = GrantError(
                    "invalid_grant", "refresh token already used; the whole family is revoked"
                )
            elif row.revoked_at is not None or row.used_at is not None:
                raise GrantError("invalid_grant", "refresh token revoked")
            elif row.expires_at <= now:
                raise GrantError("invalid_grant", "refresh token expired")
            else:
                # Never more than the agency is registered for today.
                scopes = tuple(s for s in row.scope.split() if s in agency.scopes)
                if scope:
                    narrower = tuple(dict.fromkeys(scope.split()))
                    if not set(narrower) <= set(scopes):
                        raise GrantError("invalid_scope", "scope exceeds the original grant")
                    scopes = narrower
                session.execute(t.update().where(t.c.id == token_hash).values(used_at=now))
                grant = _Grant(
                    client_id=row.client_id,
                    account_id=row.account_id,
                    sid=row.sid,
                    scopes=scopes,
                    claims=row.claims,
                    acr=row.acr,
                    amr=list(row.amr),
                    auth_time=row.auth_time,
                )
                return self._issue(session, agency, grant, now, family=row.family)
        assert reuse is not None
        raise reuse

    # -- issuing ------------------------------------------------------------------

    def _ready_signers(self, agency: Agency) -> None:
        """Make sure both signing keys exist before a transaction starts: creating
        one inside it would wait on our own write lock (SQLite)."""
        self._keys.signer()
        self._keys.signer(agency.id_token_alg)

    def _issue(
        self,
        session: Session,
        agency: Agency,
        grant: _Grant,
        now: datetime,
        *,
        nonce: str | None = None,
        code_hash: str | None = None,
        family: str | None = None,
    ) -> TokenSet:
        account = SqlAccountRepository(session).get(grant.account_id)
        if account is None:
            raise GrantError("invalid_grant", "the account no longer exists")
        sub = self.subject(grant.account_id, agency)
        iat = int(now.timestamp())
        jti = secrets.token_urlsafe(16)
        common = {
            "auth_time": int(grant.auth_time.timestamp()),
            "acr": grant.acr,
            "amr": grant.amr,
            "sid": grant.sid,
        }
        signer = self._keys.signer()
        access_token = jwt.encode(
            {
                "iss": self.issuer,
                "sub": sub,
                "client_id": agency.client_id,
                "aud": [self.userinfo_audience],
                "iat": iat,
                "exp": iat + self._access_ttl,
                "jti": jti,
                "scope": " ".join(grant.scopes),
                "gaap_mode": agency.mode,
                **common,
            },
            signer.private_key,
            algorithm=signer.alg,
            headers={"kid": signer.kid, "typ": ACCESS_TOKEN_TYPE},
        )
        id_claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": sub,
            "aud": agency.client_id,
            "iat": iat,
            "exp": iat + self._id_ttl,
            "at_hash": _half_hash(access_token),
            **common,
        }
        if nonce:
            id_claims["nonce"] = nonce
        # The ID token carries the claims asked for it one by one; scope claims are
        # for UserInfo. The grant's claims were consented (flow.py); the agency's
        # registration today bounds them again.
        asked = requested_claims(grant.claims, "id_token")
        id_claims.update(released_claims(account, releasable((), asked, agency.scopes)))
        id_signer = self._keys.signer(agency.id_token_alg)
        id_token = jwt.encode(
            id_claims,
            id_signer.private_key,
            algorithm=id_signer.alg,
            headers={"kid": id_signer.kid, "typ": "JWT"},
        )
        record = {
            "client_id": agency.client_id,
            "account_id": grant.account_id,
            "sid": grant.sid,
            "code_hash": code_hash,
            "family": family,
            "scope": " ".join(grant.scopes),
            "claims": grant.claims,
            "acr": grant.acr,
            "amr": grant.amr,
            "auth_time": grant.auth_time,
            "created_at": now,
        }
        session.execute(
            user_tokens.insert().values(
                id=jti,
                kind="access",
                expires_at=now + timedelta(seconds=self._access_ttl),
                **record,
            )
        )
        refresh_token = None
        if family is not None and "offline_access" in agency.scopes:
            refresh_token = "rt_" + secrets.token_urlsafe(32)
            session.execute(
                user_tokens.insert().values(
                    id=hash_value(refresh_token),
                    kind="refresh",
                    expires_at=now + self._refresh_ttl,
                    **record,
                )
            )
        return TokenSet(
            access_token, self._access_ttl, " ".join(grant.scopes), id_token, refresh_token
        )

    # -- revocation, introspection, userinfo --------------------------------------

    def _revoke_where(self, session: Session, condition: Any, now: datetime) -> int:
        t = user_tokens
        result = session.execute(
            t.update()
            .where(condition, t.c.revoked_at.is_(None))
            .values(revoked_at=now)
            .returning(t.c.id)
        )
        return len(result.all())

    def revoke_session(self, session: Session, sid: str) -> int:
        """Every token issued from one sign-in session (logout)."""
        return self._revoke_where(session, user_tokens.c.sid == sid, self._clock())

    def revoke_account(
        self, session: Session, account_id: str, client_id: str | None = None
    ) -> int:
        condition = user_tokens.c.account_id == account_id
        if client_id is not None:
            condition = sa.and_(condition, user_tokens.c.client_id == client_id)
        return self._revoke_where(session, condition, self._clock())

    def revoke(self, token: str, client_id: str, hint: str | None = None) -> bool:
        """RFC 7009: revoke ``token`` if it belongs to ``client_id``; unknown tokens
        are not an error. A refresh token takes its family with it."""
        now = self._clock()
        t = user_tokens
        with transaction(self._sessions) as session:
            row = session.execute(
                sa.select(t).where(t.c.id == hash_value(token), t.c.kind == "refresh")
            ).first()
            if row is None:
                jti = _unverified_jti(token)
                row = (
                    session.execute(sa.select(t).where(t.c.id == jti, t.c.kind == "access")).first()
                    if jti
                    else None
                )
            if row is None or row.client_id != client_id:
                return False
            if row.kind == "refresh" and row.family:
                self._revoke_where(session, t.c.family == row.family, now)
            else:
                self._revoke_where(session, t.c.id == row.id, now)
            audit_log.record(
                session,
                EventType.TOKEN_REVOKED,
                at=now,
                account_id=row.account_id,
                client_id=client_id,
                kind=row.kind,
            )
        return True

    def token_record(self, token_id: str) -> Any:
        with self._sessions() as session:
            return session.execute(
                sa.select(user_tokens).where(user_tokens.c.id == token_id)
            ).first()

    def refresh_record(self, refresh_token: str) -> Any:
        return self.token_record(hash_value(refresh_token))

    def is_revoked(self, jti: str) -> bool:
        row = self.token_record(jti)
        return row is not None and row.revoked_at is not None

    def userinfo_claims(
        self, account_id: str, agency: Agency, scopes: Iterable[str], claims: dict[str, Any] | None
    ) -> dict[str, Any]:
        with self._sessions() as session:
            account = SqlAccountRepository(session).get(account_id)
        if account is None:
            return {}
        asked = requested_claims(claims, "userinfo")
        return {
            "sub": self.subject(account_id, agency),
            **released_claims(account, releasable(scopes, asked, agency.scopes)),
        }


def _half_hash(token: str) -> str:
    """``at_hash`` (OIDC Core §3.1.3.6): left half of SHA-256, base64url."""
    digest = hashlib.sha256(token.encode()).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).decode().rstrip("=")


def _unverified_jti(token: str) -> str | None:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return None
    jti = claims.get("jti")
    return jti if isinstance(jti, str) else None
