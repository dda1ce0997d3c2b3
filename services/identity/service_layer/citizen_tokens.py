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

import hmac
import json
import secrets
import uuid
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError

from services.identity.domain.accounts import Account, released_claims
from services.identity.domain.agencies import Agency
from services.identity.domain.audit import EventType
from services.identity.domain.authorization import AuthorizationRequest
from services.identity.domain.citizen_tokens import (
    CODE_TTL,
    Grant,
    GrantError,
    StoredCode,
    TokenRecord,
    TokenSet,
    hash_value,
    narrowed_scopes,
    s256,
    well_formed_verifier,
)
from services.identity.domain.disclosure import releasable, requested_claims
from services.identity.domain.dpop_binding import check_bound, check_required, refresh_binding
from services.identity.domain.subjects import subject_for
from services.identity.service_layer.jwt_minting import CitizenJwts, Signers
from services.identity.service_layer.token_ports import (
    AuthorizationCodeStore,
    TokenWork,
    UserTokenStore,
)
from services.runtime.clock import utcnow
from services.runtime.unit_of_work import Transactions

# Kept importable from here: the token endpoint and tests use them with the use cases.
__all__ = ["CODE_TTL", "CitizenTokens", "GrantError", "TokenSet", "hash_value", "s256"]


class Reused(GrantError):
    """A code or rotated refresh token presented again: what it gave is revoked
    in the caller's unit of work, which must commit before the refusal is sent."""


def check_verifier(stored: StoredCode, verifier: str | None) -> None:
    """PKCE (RFC 7636 §4.6): the verifier must be well formed and match the
    code's S256 challenge; both refusals are ``invalid_grant``."""
    if verifier is None or not well_formed_verifier(verifier):
        raise GrantError("invalid_grant", "a valid code_verifier (PKCE) is required")
    if not hmac.compare_digest(s256(verifier), stored.code_challenge):
        raise GrantError("invalid_grant", "code_verifier does not match code_challenge")


class CitizenTokens:
    def __init__(
        self,
        uow: Transactions[TokenWork],
        keys: Signers,
        *,
        issuer: str,
        salt: bytes,
        access_ttl: int = 300,
        id_token_ttl: int = 300,
        refresh_ttl: timedelta = timedelta(days=30),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._uow = uow
        self._jwts = CitizenJwts(
            keys, issuer=issuer, access_ttl=access_ttl, id_token_ttl=id_token_ttl
        )
        self.issuer = issuer
        self.userinfo_audience = self._jwts.userinfo_audience
        self._salt = salt
        self._access_ttl = access_ttl
        self._refresh_ttl = refresh_ttl
        self._clock = clock

    def now(self) -> datetime:
        return self._clock()

    def subject(self, account_id: str, agency: Agency) -> str:
        return subject_for(account_id, agency, self._salt)

    # -- authorization codes ----------------------------------------------------

    def create_code(
        self,
        codes: AuthorizationCodeStore,
        request: AuthorizationRequest,
        *,
        account_id: str,
        sid: str,
        acr: str,
        amr: list[str],
        auth_time: datetime,
    ) -> str:
        """A code for a finished authorization, stored in the caller's unit of
        work (``uow.authorization_codes``) with the rest of that step."""
        code = "ac_" + secrets.token_urlsafe(32)
        now = self._clock()
        codes.add(
            StoredCode(
                code_hash=hash_value(code),
                client_id=request.client_id,
                account_id=account_id,
                sid=sid,
                redirect_uri=request.redirect_uri,
                scope=" ".join(request.scopes),
                nonce=request.nonce,
                code_challenge=request.code_challenge,
                claims=dict(request.claims) if request.claims else None,
                acr=acr,
                amr=list(amr),
                auth_time=auth_time,
                created_at=now,
                expires_at=now + CODE_TTL,
                dpop_jkt=request.dpop_jkt,
            )
        )
        return code

    def redeem_code(
        self,
        agency: Agency,
        code: str,
        redirect_uri: str | None,
        verifier: str | None,
        dpop_jkt: str | None = None,
    ) -> TokenSet:
        """The whole exchange in one unit of work (the token endpoint runs the
        same steps inside authlib's grant: ``web/oauth_grants.py``)."""
        if not code:
            raise GrantError("invalid_request", "code is required")
        self.ready(agency)
        with self._uow() as uow:
            try:
                stored = self.open_code(uow, agency, code)
            except Reused as reused:
                refusal = reused  # the revocation commits with the unit of work
            else:
                if redirect_uri != stored.redirect_uri:
                    raise GrantError(
                        "invalid_grant", "redirect_uri does not match the authorization"
                    )
                check_verifier(stored, verifier)
                return self.exchange_code(uow, agency, stored, dpop_jkt)
        raise refusal

    def open_code(self, uow: TokenWork, agency: Agency, code: str) -> StoredCode:
        """The agency's unused, unexpired code, locked until the unit of work ends.

        A second use raises ``Reused`` after revoking every token the code gave
        (someone else may hold it): commit the unit of work, then answer."""
        now = self._clock()
        code_hash = hash_value(code)
        stored = uow.authorization_codes.get(code_hash, lock=True)
        if stored is None or stored.client_id != agency.client_id:
            raise GrantError("invalid_grant", "unknown authorization code")
        if stored.used_at is not None:
            revoked = uow.user_tokens.revoke_code(code_hash, now)
            uow.audit.record(
                EventType.CODE_REUSED,
                at=now,
                account_id=stored.account_id,
                client_id=agency.client_id,
                revoked_tokens=revoked,
            )
            raise Reused("invalid_grant", "authorization code already used; its tokens are revoked")
        if stored.expires_at <= now:
            raise GrantError("invalid_grant", "authorization code expired")
        return stored

    def exchange_code(
        self, uow: TokenWork, agency: Agency, stored: StoredCode, dpop_jkt: str | None = None
    ) -> TokenSet:
        """Tokens for a code whose redirect_uri and PKCE verifier were checked;
        the code is used up here, last, so a refusal before leaves it usable.

        ``dpop_jkt``: the key of the token request's verified DPoP proof; the
        access token is bound to it, and a code bound to a key needs it."""
        check_required(agency, dpop_jkt)
        check_bound(stored.dpop_jkt, dpop_jkt, "authorization code")
        now = self._clock()
        account = uow.accounts.get(stored.account_id)
        if account is None:
            raise GrantError("invalid_grant", "the account no longer exists")
        if not uow.authorization_codes.mark_used(stored.code_hash, now):
            # a racing redemption won (SQLite; PostgreSQL locked the row)
            raise GrantError("invalid_grant", "authorization code already used")
        grant = stored.grant()
        family = uuid.uuid4().hex if "offline_access" in grant.scopes else None
        return self._issue(
            uow,
            agency,
            grant,
            account,
            now,
            nonce=stored.nonce,
            code_hash=stored.code_hash,
            family=family,
            dpop_jkt=dpop_jkt,
        )

    # -- refresh tokens -----------------------------------------------------------

    def refresh(
        self,
        agency: Agency,
        refresh_token: str,
        scope: str | None,
        dpop_jkt: str | None = None,
    ) -> TokenSet:
        if not refresh_token:
            raise GrantError("invalid_request", "refresh_token is required")
        self.ready(agency)
        with self._uow() as uow:
            try:
                record = self.open_refresh(uow, agency, refresh_token)
            except Reused as reused:
                refusal = reused  # the revocation commits with the unit of work
            else:
                return self.rotate(uow, agency, record, scope, dpop_jkt)
        raise refusal

    def open_refresh(self, uow: TokenWork, agency: Agency, refresh_token: str) -> TokenRecord:
        """The agency's live refresh token, locked until the unit of work ends.

        A rotated one presented again raises ``Reused`` after revoking its whole
        family: commit the unit of work, then answer."""
        now = self._clock()
        record = uow.user_tokens.get_refresh(hash_value(refresh_token), lock=True)
        if record is None or record.client_id != agency.client_id:
            raise GrantError("invalid_grant", "unknown refresh token")
        if record.revoked_at is not None:
            raise GrantError("invalid_grant", "refresh token revoked")
        if record.used_at is not None:
            revoked = uow.user_tokens.revoke_family(record.family or "", now)
            uow.audit.record(
                EventType.REFRESH_REUSED,
                at=now,
                account_id=record.account_id,
                client_id=agency.client_id,
                revoked_tokens=revoked,
            )
            raise Reused("invalid_grant", "refresh token already used; the whole family is revoked")
        if record.expires_at <= now:
            raise GrantError("invalid_grant", "refresh token expired")
        return record

    def rotate(
        self,
        uow: TokenWork,
        agency: Agency,
        record: TokenRecord,
        scope: str | None,
        dpop_jkt: str | None = None,
    ) -> TokenSet:
        """New tokens in the same family, never more than the agency is registered
        for today; the presented refresh token is used up. A bound refresh token
        needs a proof by its key (``dpop_jkt``); refused, it stays usable and its
        family intact. The new access token is bound to ``dpop_jkt``."""
        check_required(agency, dpop_jkt)
        check_bound(record.dpop_jkt, dpop_jkt, "refresh token")
        now = self._clock()
        scopes = narrowed_scopes(record.scope, agency.scopes, scope)
        account = uow.accounts.get(record.account_id)
        if account is None:
            raise GrantError("invalid_grant", "the account no longer exists")
        uow.user_tokens.mark_used(record.id, now)
        return self._issue(
            uow,
            agency,
            record.grant(scopes),
            account,
            now,
            family=record.family,
            dpop_jkt=dpop_jkt,
        )

    # -- issuing ------------------------------------------------------------------

    def ready(self, agency: Agency) -> None:
        """Check the agency's signing keys before a unit of work starts."""
        self._jwts.ready(agency)

    def transaction(self) -> AbstractContextManager[TokenWork]:
        """A unit of work for the token endpoint's steps (``open_code``,
        ``exchange_code``, ``open_refresh``, ``rotate``)."""
        return self._uow()

    def _issue(
        self,
        uow: TokenWork,
        agency: Agency,
        grant: Grant,
        account: Account,
        now: datetime,
        *,
        nonce: str | None = None,
        code_hash: str | None = None,
        family: str | None = None,
        dpop_jkt: str | None = None,
    ) -> TokenSet:
        sub = self.subject(grant.account_id, agency)
        jti = secrets.token_urlsafe(16)
        access_token = self._jwts.access_token(
            agency, grant, subject=sub, jti=jti, now=now, dpop_jkt=dpop_jkt
        )
        # The ID token carries the claims asked for it one by one; scope claims are
        # for UserInfo. The grant's claims were consented (flow.py); the agency's
        # registration today bounds them again.
        asked = requested_claims(grant.claims, "id_token")
        id_token = self._jwts.id_token(
            agency,
            grant,
            subject=sub,
            access_token=access_token,
            nonce=nonce,
            released=released_claims(account, releasable((), asked, agency.scopes)),
            now=now,
        )

        def record(
            token_id: str, kind: Any, expires_at: datetime, bound_to: str | None
        ) -> TokenRecord:
            return TokenRecord(
                id=token_id,
                kind=kind,
                client_id=agency.client_id,
                account_id=grant.account_id,
                sid=grant.sid,
                code_hash=code_hash,
                family=family,
                scope=" ".join(grant.scopes),
                claims=grant.claims,
                acr=grant.acr,
                amr=grant.amr,
                auth_time=grant.auth_time,
                created_at=now,
                expires_at=expires_at,
                dpop_jkt=bound_to,
            )

        access_expiry = now + timedelta(seconds=self._access_ttl)
        uow.user_tokens.add(record(jti, "access", access_expiry, dpop_jkt))
        refresh_token = None
        if family is not None and "offline_access" in agency.scopes:
            refresh_token = "rt_" + secrets.token_urlsafe(32)
            uow.user_tokens.add(
                record(
                    hash_value(refresh_token),
                    "refresh",
                    now + self._refresh_ttl,
                    refresh_binding(agency, dpop_jkt),
                )
            )
        return TokenSet(
            access_token,
            self._access_ttl,
            " ".join(grant.scopes),
            id_token,
            refresh_token,
            "Bearer" if dpop_jkt is None else "DPoP",
        )

    # -- revocation, records, userinfo --------------------------------------------

    def revoke_session(self, tokens: UserTokenStore, sid: str) -> int:
        """Every token issued from one sign-in session (logout), in the caller's
        unit of work (``uow.user_tokens``)."""
        return tokens.revoke_session(sid, self._clock())

    def revoke_account(
        self, tokens: UserTokenStore, account_id: str, client_id: str | None = None
    ) -> int:
        return tokens.revoke_account(account_id, self._clock(), client_id)

    def revoke(
        self, token: str, client_id: str, hint: str | None = None, dpop_jkt: str | None = None
    ) -> bool:
        """RFC 7009: revoke ``token`` if it belongs to ``client_id``; unknown tokens
        are not an error. A refresh token takes its family with it.

        A refresh token bound to a DPoP key (a public agency's) is revoked only
        with a proof by that key (``dpop_jkt``): RFC 9449 says nothing of
        revocation, but a public agency has no other credential, and without
        the rule anyone holding a stolen bound refresh token could end the
        citizen's session. Refused: ``GrantError``, nothing revoked."""
        now = self._clock()
        with self._uow() as uow:
            record = uow.user_tokens.get_refresh(hash_value(token))
            if record is None:
                jti = unverified_jti(token)
                record = uow.user_tokens.get_access(jti) if jti else None
            if record is None or record.client_id != client_id:
                return False
            if record.kind == "refresh":
                check_bound(record.dpop_jkt, dpop_jkt, "refresh token")
            if record.kind == "refresh" and record.family:
                uow.user_tokens.revoke_family(record.family, now)
            else:
                uow.user_tokens.revoke(record.id, now)
            uow.audit.record(
                EventType.TOKEN_REVOKED,
                at=now,
                account_id=record.account_id,
                client_id=client_id,
                kind=record.kind,
            )
        return True

    def token_record(self, token_id: str) -> TokenRecord | None:
        with self._uow.read() as uow:
            return uow.user_tokens.get(token_id)

    def refresh_record(self, refresh_token: str) -> TokenRecord | None:
        return self.token_record(hash_value(refresh_token))

    def is_revoked(self, jti: str) -> bool:
        record = self.token_record(jti)
        return record is not None and record.revoked_at is not None

    def userinfo_claims(
        self, account_id: str, agency: Agency, scopes: Iterable[str], claims: dict[str, Any] | None
    ) -> dict[str, Any]:
        with self._uow.read() as uow:
            account = uow.accounts.get(account_id)
        if account is None:
            return {}
        asked = requested_claims(claims, "userinfo")
        return {
            "sub": self.subject(account_id, agency),
            **released_claims(account, releasable(scopes, asked, agency.scopes)),
        }


def unverified_jti(token: str) -> str | None:
    """The ``jti`` of what looks like a JWT, unverified: only to find a record,
    which must then belong to the caller."""
    try:
        payload = jws.extract_compact(token.encode()).payload
        claims = json.loads(payload)
    except (JoseError, ValueError, UnicodeError):
        return None
    jti = claims.get("jti") if isinstance(claims, dict) else None
    return jti if isinstance(jti, str) else None
