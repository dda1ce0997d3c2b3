"""SQLAlchemy implementations of the domain's repositories."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from services.identity.adapters.tables import agencies, signing_keys, used_assertions
from services.identity.domain.agencies import Agency, PreviousSecret, SecretSlot
from services.identity.domain.signing_keys import SigningKey
from services.runtime import sealing
from services.runtime.db import advisory_lock
from services.runtime.errors import StartupError
from services.runtime.sealing import PREFIX, Sealer, UnsealedSecret

_AGENCY_BY_ID = sa.select(agencies).where(agencies.c.client_id == sa.bindparam("client_id"))


def find_agency(connection: sa.Connection, client_id: str) -> Agency | None:
    """One agency by client id on a plain connection: the token endpoint's read,
    without an ORM session's bookkeeping."""
    row = connection.execute(_AGENCY_BY_ID, {"client_id": client_id}).first()
    return _agency(row._mapping) if row else None


def record_assertion(
    connection: sa.Connection, client_id: str, jti: str, expires_at: datetime
) -> bool:
    """Record a client assertion's (client_id, jti); False if it was seen before."""
    statement = _FIRST_USE[connection.dialect.name == "sqlite"]
    result = connection.execute(
        statement, {"client_id": client_id, "jti": jti, "expires_at": expires_at}
    )
    return result.first() is not None


def record_secret_use(
    connection: sa.Connection,
    client_id: str,
    secret_hash: str,
    slot: SecretSlot,
    now: datetime,
    stale_before: datetime,
) -> None:
    """Note a secret's use, unless noted since ``stale_before``: one conditional
    UPDATE that matches the secret's hash, so a rotation in between is never
    credited to the new secret, and concurrent requests write once."""
    hash_column, used_column = _SECRET_COLUMNS[slot]
    connection.execute(
        agencies.update()
        .where(
            agencies.c.client_id == client_id,
            hash_column == secret_hash,
            sa.or_(used_column.is_(None), used_column < stale_before),
        )
        .values({used_column.name: now})
    )


_SECRET_COLUMNS = {
    "current": (agencies.c.secret_hash, agencies.c.secret_last_used_at),
    "previous": (agencies.c.previous_secret_hash, agencies.c.previous_secret_last_used_at),
}


class SqlAgencyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, agency: Agency) -> None:
        self.session.execute(agencies.insert().values(**_agency_row(agency)))

    def get(self, client_id: str) -> Agency | None:
        # Built once (bound parameter): every token request looks its agency up.
        row = self.session.execute(_AGENCY_BY_ID, {"client_id": client_id}).first()
        return _agency(row._mapping) if row else None

    def update(self, agency: Agency) -> None:
        self.session.execute(
            agencies.update()
            .where(agencies.c.client_id == agency.client_id)
            .values(**_agency_row(agency))
        )

    def touch_secret(
        self,
        client_id: str,
        secret_hash: str,
        slot: SecretSlot,
        now: datetime,
        stale_before: datetime,
    ) -> None:
        connection = self.session.connection()
        record_secret_use(connection, client_id, secret_hash, slot, now, stale_before)

    def list(self, *, after: str | None, limit: int, include_disabled: bool) -> Sequence[Agency]:
        query = sa.select(agencies).order_by(agencies.c.client_id).limit(limit)
        if after:
            query = query.where(agencies.c.client_id > after)
        if not include_disabled:
            query = query.where(agencies.c.disabled_at.is_(None))
        return [_agency(r._mapping) for r in self.session.execute(query)]


def _agency_row(agency: Agency) -> dict[str, Any]:
    previous = agency.previous_secret
    return {
        "client_id": agency.client_id,
        "name": agency.name,
        "mode": agency.mode,
        "scopes": list(agency.scopes),
        "redirect_uris": list(agency.redirect_uris),
        "auth_methods": list(agency.auth_methods),
        "secret_hash": agency.secret_hash,
        "jwks": agency.jwks,
        "created_at": agency.created_at,
        "disabled_at": agency.disabled_at,
        "subject_type": agency.subject_type,
        "sector_identifier": agency.sector_identifier,
        "id_token_alg": agency.id_token_alg,
        "post_logout_redirect_uris": list(agency.post_logout_redirect_uris),
        "backchannel_logout_uri": agency.backchannel_logout_uri,
        "require_par": agency.require_pushed_authorization_requests,
        "profile": agency.profile,
        "require_signed_request": agency.require_signed_request_object,
        "dpop_bound": agency.dpop_bound_access_tokens,
        "display_name": agency.display_name,
        "logo_uri": agency.logo_uri,
        "secret_created_at": agency.secret_created_at,
        "secret_last_used_at": agency.secret_last_used_at,
        "previous_secret_hash": previous.hash if previous else None,
        "previous_secret_created_at": previous.created_at if previous else None,
        "previous_secret_expires_at": previous.expires_at if previous else None,
        "previous_secret_last_used_at": previous.last_used_at if previous else None,
    }


def _agency(row: Any) -> Agency:
    return Agency(
        client_id=row["client_id"],
        name=row["name"],
        mode=row["mode"],
        scopes=tuple(row["scopes"]),
        redirect_uris=tuple(row["redirect_uris"]),
        auth_methods=tuple(row["auth_methods"]),
        secret_hash=row["secret_hash"],
        jwks=row["jwks"],
        created_at=row["created_at"],
        disabled_at=row["disabled_at"],
        subject_type=row["subject_type"],
        sector_identifier=row["sector_identifier"],
        id_token_alg=row["id_token_alg"],
        post_logout_redirect_uris=tuple(row["post_logout_redirect_uris"] or ()),
        backchannel_logout_uri=row["backchannel_logout_uri"],
        require_pushed_authorization_requests=bool(row["require_par"]),
        profile=row["profile"],
        require_signed_request_object=bool(row["require_signed_request"]),
        dpop_bound_access_tokens=bool(row["dpop_bound"]),
        display_name=row["display_name"],
        logo_uri=row["logo_uri"],
        secret_created_at=row["secret_created_at"],
        secret_last_used_at=row["secret_last_used_at"],
        previous_secret=PreviousSecret(
            hash=row["previous_secret_hash"],
            created_at=row["previous_secret_created_at"],
            expires_at=row["previous_secret_expires_at"],
            last_used_at=row["previous_secret_last_used_at"],
        )
        if row["previous_secret_hash"]
        else None,
    )


class SqlKeyRepository:
    """Signing keys; private keys are sealed at rest when ``sealer`` has a
    key-encryption key (the kid is the sealing context, so a sealed key copied
    to another row does not open)."""

    def __init__(self, session: Session, sealer: Sealer | None = None) -> None:
        self.session = session
        self.sealer = sealer or sealing.of(session)

    def lock(self) -> None:
        """Replicas change keys one at a time (PostgreSQL: an advisory lock)."""
        advisory_lock(self.session, "identity.signing_keys")

    def add(self, key: SigningKey) -> None:
        self.session.execute(
            signing_keys.insert().values(
                kid=key.kid,
                alg=key.alg,
                private_pem=self.sealer.seal(key.private_pem, key.kid.encode()),
                sealed=self.sealer.enabled,
                public_jwk=key.public_jwk,
                created_at=key.created_at,
                activates_at=key.activates_at,
                retires_at=key.retires_at,
                expires_at=key.expires_at,
            )
        )

    def set_times(self, key: SigningKey) -> None:
        self.session.execute(
            signing_keys.update()
            .where(signing_keys.c.kid == key.kid)
            .values(
                activates_at=key.activates_at,
                retires_at=key.retires_at,
                expires_at=key.expires_at,
            )
        )

    def all(self) -> Sequence[SigningKey]:
        rows = self.session.execute(sa.select(signing_keys)).mappings()
        return [
            SigningKey(
                kid=r["kid"],
                alg=r["alg"],
                private_pem=self._unseal(r["kid"], bytes(r["private_pem"])),
                public_jwk=dict(r["public_jwk"]),
                created_at=r["created_at"],
                activates_at=r["activates_at"],
                retires_at=r["retires_at"],
                expires_at=r["expires_at"],
            )
            for r in rows
        ]

    def seal_unsealed(self) -> int:
        """Seal keys stored before a key-encryption key was configured
        (``sealing.seal_once``, at the first start with a key)."""
        if not self.sealer.enabled:
            return 0
        t = signing_keys
        rows = self.session.execute(
            sa.select(t.c.kid, t.c.private_pem).where(t.c.sealed.is_(sa.false()))
        ).all()
        sealed = 0
        for kid, pem in rows:
            if bytes(pem).startswith(PREFIX.encode()):
                continue
            self.session.execute(
                t.update()
                .where(t.c.kid == kid)
                .values(private_pem=self.sealer.seal(bytes(pem), kid.encode()), sealed=True)
            )
            sealed += 1
        return sealed

    def _unseal(self, kid: str, stored: bytes) -> bytes:
        try:
            return self.sealer.unseal(stored, kid.encode())
        except InvalidTag:
            raise StartupError(
                f"cannot unseal signing key {kid}: {self.sealer.setting} is not the key "
                "it was sealed with"
            ) from None
        except UnsealedSecret as refused:
            raise StartupError(str(refused)) from None


def _record_once(insert: Any) -> Any:
    return (
        insert(used_assertions)
        .values(
            client_id=sa.bindparam("client_id"),
            jti=sa.bindparam("jti"),
            expires_at=sa.bindparam("expires_at"),
        )
        .on_conflict_do_nothing()
        .returning(used_assertions.c.jti)
    )


# Built once per dialect (keyed by "is SQLite"): one statement per token request.
_FIRST_USE = {True: _record_once(sqlite_insert), False: _record_once(pg_insert)}


class SqlAssertionLedger:
    """Remembers client-assertion ids until they expire, to refuse replays."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def first_use(self, client_id: str, jti: str, expires_at: datetime) -> bool:
        """Record (client_id, jti); False if it was already recorded."""
        return record_assertion(self.session.connection(), client_id, jti, expires_at)

    def purge(self, now: datetime) -> int:
        result = self.session.execute(
            used_assertions.delete()
            .where(used_assertions.c.expires_at < now)
            .returning(used_assertions.c.jti)
        )
        return len(result.all())


class EngineAssertionLedger:
    """``first_use`` on a plain connection of its own: the token endpoint's one
    write per private_key_jwt request, without an ORM session's bookkeeping."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def first_use(self, client_id: str, jti: str, expires_at: datetime) -> bool:
        with self._engine.begin() as connection:
            return record_assertion(connection, client_id, jti, expires_at)
