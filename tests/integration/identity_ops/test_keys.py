"""Key rotation (publish first, sign later, unpublish after the last token
expired) and sealing at rest, on SQLite and PostgreSQL, with an injected clock."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.exceptions import InvalidTag

from services.identity.adapters import audit_log
from services.identity.adapters.accounts import SqlAccountRepository
from services.identity.adapters.audit_log import AuditFilter
from services.identity.adapters.tables import accounts, instance_secrets, signing_keys
from services.identity.adapters.unit_of_work import identity_transactions
from services.identity.bootstrap import MIGRATIONS, open_identity
from services.identity.domain.agencies import Agency, register
from services.identity.service_layer.keys import KeyStore, longest_token
from services.identity.service_layer.tokens import AccessTokenIssuer
from services.identity.settings import IdentitySettings
from services.runtime import bootstrap, sealing
from services.runtime.access_tokens import AccessTokenVerifier
from services.runtime.config import PlatformSettings
from services.runtime.errors import FailedPrecondition, StartupError, Unauthenticated
from services.runtime.keys import KeyCache
from services.runtime.sealing import Sealer
from tests.support.platform import ISSUER

T0 = datetime(2030, 1, 1, tzinfo=UTC)
PROPAGATION = timedelta(seconds=900)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def timestamp(self) -> float:
        return self.now.timestamp()


@pytest.fixture(scope="module")
def database(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[bootstrap.Database]:
    platform = PlatformSettings(issuer=ISSUER, var_dir=tmp_path_factory.mktemp("var"))
    opened = bootstrap.open_database(
        platform, IdentitySettings(database_url=database_url), MIGRATIONS
    )
    yield opened
    opened.close()


@pytest.fixture
def fresh(database: bootstrap.Database) -> bootstrap.Database:
    with database.sessions.begin() as session:
        session.execute(signing_keys.delete())
    return database


def verifier_at(store: KeyStore, clock: Clock) -> AccessTokenVerifier:
    """A resource server that has just fetched the JWKS."""
    return AccessTokenVerifier(
        issuer=ISSUER,
        audience="urn:gaap:identity",
        keys=KeyCache(store.jwks),
        clock=clock.timestamp,
    )


def kids(store: KeyStore) -> set[str]:
    return {k["kid"] for k in store.jwks()["keys"]}


def test_rotation_publishes_first_signs_later_and_unpublishes_after_expiry(
    fresh: bootstrap.Database,
) -> None:
    clock = Clock()
    store = KeyStore(identity_transactions(fresh.sessions), clock=clock, refresh_seconds=3600)
    store.ensure_signing_key()
    old = store.signer().kid
    issuer = AccessTokenIssuer(store, issuer=ISSUER, ttl_seconds=300, clock=clock.timestamp)

    (rotation,) = store.rotate(longest_token=longest_token(300), propagation=PROPAGATION)
    new = rotation.new.kid
    assert kids(store) == {old, new}  # published at once...
    assert store.signer().kid == old  # ...but not signing yet

    clock.now = T0 + PROPAGATION - timedelta(seconds=1)
    assert store.signer().kid == old
    last_old_token = issuer.issue(_agency(), ("identity:tokens",)).access_token

    clock.now = T0 + PROPAGATION  # the switch: no reload call, the store sees the time
    assert store.signer().kid == new
    assert kids(store) == {old, new}

    # The last token the old key signed verifies until it expires.
    clock.now = T0 + PROPAGATION + timedelta(seconds=298)
    assert verifier_at(store, clock).verify(last_old_token).client_id == "ag_test"
    assert old in kids(store)

    assert rotation.retired.expires_at is not None
    clock.now = rotation.retired.expires_at
    assert kids(store) == {new}
    statuses = {k.kid: k.status for k in store.list_keys()}
    assert statuses == {new: "signing", old: "unpublished"}
    with pytest.raises(Unauthenticated, match="unknown key"):
        AccessTokenVerifier(
            issuer=ISSUER,
            audience="urn:gaap:identity",
            keys=KeyCache(store.jwks),
            clock=lambda: 0.0,  # only the key is at issue here, not the token's age
        ).verify(last_old_token)


def test_unpublish_waits_for_the_longest_token_plus_leeway(fresh: bootstrap.Database) -> None:
    clock = Clock()
    store = KeyStore(identity_transactions(fresh.sessions), clock=clock)
    store.ensure_signing_key()
    (rotation,) = store.rotate(longest_token=longest_token(3600), propagation=PROPAGATION)
    assert rotation.retired.retires_at == T0 + PROPAGATION
    assert rotation.retired.expires_at is not None
    assert rotation.retired.expires_at - (T0 + PROPAGATION) > timedelta(seconds=3600)


def test_a_second_rotation_waits_for_the_first(fresh: bootstrap.Database) -> None:
    clock = Clock()
    store = KeyStore(identity_transactions(fresh.sessions), clock=clock)
    store.ensure_signing_key()
    store.rotate(longest_token=longest_token(300), propagation=PROPAGATION)
    with pytest.raises(FailedPrecondition, match="under way"):
        store.rotate(longest_token=longest_token(300), propagation=PROPAGATION)
    clock.now = T0 + PROPAGATION
    (again,) = store.rotate(longest_token=longest_token(300), propagation=PROPAGATION)
    assert again.retired.kid != again.new.kid
    with fresh.sessions() as session:
        events = audit_log.query(session, AuditFilter(types=["keys.rotated"]), after=None, limit=10)
    assert next(e.details["new_kid"] for e in events) == again.new.kid


def _agency() -> Agency:
    registered = register(name="Test", scopes=["identity:tokens"], now=T0).agency
    return replace(registered, client_id="ag_test")


# -- sealing ------------------------------------------------------------------------

KEK = base64.b64encode(os.urandom(32)).decode()


def stored_pems(database: bootstrap.Database) -> list[tuple[bytes, bool]]:
    with database.sessions() as session:
        rows = session.execute(sa.select(signing_keys.c.private_pem, signing_keys.c.sealed))
        return [(bytes(pem), sealed) for pem, sealed in rows]


def test_sealed_keys_are_not_pem_at_rest_and_still_sign(
    fresh: bootstrap.Database, database_url: str, tmp_path: Path
) -> None:
    platform = PlatformSettings(issuer=ISSUER, var_dir=tmp_path)
    _clear_sealing(fresh)
    before = open_identity(platform, IdentitySettings(database_url=database_url))
    before.database.close()  # keys from before sealing was turned on
    assert all(pem.startswith(b"-----BEGIN") for pem, _ in stored_pems(fresh))

    opened = open_identity(  # the first start with a key seals what it finds
        platform, IdentitySettings(database_url=database_url, key_encryption_key=KEK)
    )
    try:
        stored = stored_pems(fresh)
        assert len(stored) == 2  # ES256 and RS256
        for pem, sealed in stored:
            assert sealed
            assert b"BEGIN" not in pem
            assert pem.startswith(b"sealed:v1:")
        token = AccessTokenIssuer(opened.keys, issuer=ISSUER, ttl_seconds=300).issue(
            _agency(), ("identity:tokens",)
        )
        verifier = AccessTokenVerifier(
            issuer=ISSUER, audience="urn:gaap:identity", keys=KeyCache(opened.keys.jwks)
        )
        assert verifier.verify(token.access_token).client_id == "ag_test"  # the key signs
    finally:
        opened.database.close()


def _clear_sealing(database: bootstrap.Database) -> None:
    """A database that has never been opened with a key-encryption key."""
    with database.sessions.begin() as session:
        session.execute(signing_keys.delete())
        session.execute(instance_secrets.delete())
        session.execute(accounts.update().values(totp_secret=None))


def test_a_sealed_database_needs_its_key_to_start(
    fresh: bootstrap.Database, database_url: str, tmp_path: Path
) -> None:
    _clear_sealing(fresh)
    platform = PlatformSettings(issuer=ISSUER, var_dir=tmp_path)
    open_identity(
        platform, IdentitySettings(database_url=database_url, key_encryption_key=KEK)
    ).database.close()
    for kek, message in (
        ("", "set IDENTITY_KEY_ENCRYPTION_KEY"),
        (base64.b64encode(os.urandom(32)).decode(), "is not the key it was sealed with"),
    ):
        with pytest.raises(StartupError, match=message) as caught:
            open_identity(
                platform, IdentitySettings(database_url=database_url, key_encryption_key=kek)
            )
        assert "\n" not in str(caught.value)
    opened = open_identity(
        platform, IdentitySettings(database_url=database_url, key_encryption_key=KEK)
    )
    try:
        assert opened.keys.signer().alg == "ES256"
    finally:
        opened.database.close()


def test_keys_sealed_by_an_earlier_version_refuse_a_wrong_key_before_it_is_recorded(
    fresh: bootstrap.Database, database_url: str, tmp_path: Path
) -> None:
    """An earlier version sealed signing keys but kept no check value: the first
    start with a wrong key must not record that key as the right one."""
    _clear_sealing(fresh)
    fresh.sessions.configure(info={sealing.SESSION_KEY: Sealer.from_setting(KEK, "K")})
    KeyStore(identity_transactions(fresh.sessions)).ensure_signing_key()
    platform = PlatformSettings(issuer=ISSUER, var_dir=tmp_path)
    wrong = base64.b64encode(os.urandom(32)).decode()
    with pytest.raises(StartupError, match="is not the key it was sealed with"):
        open_identity(
            platform, IdentitySettings(database_url=database_url, key_encryption_key=wrong)
        )
    open_identity(
        platform, IdentitySettings(database_url=database_url, key_encryption_key=KEK)
    ).database.close()


def stored_totp(database: bootstrap.Database, account_id: str) -> str:
    with database.engine.connect() as conn:
        return str(
            conn.execute(
                sa.select(accounts.c.totp_secret).where(accounts.c.id == account_id)
            ).scalar_one()
        )


def test_totp_secrets_are_sealed_at_rest_from_the_start_that_sets_a_key(
    fresh: bootstrap.Database, database_url: str, tmp_path: Path
) -> None:
    platform = PlatformSettings(issuer=ISSUER, var_dir=tmp_path)
    _clear_sealing(fresh)
    plain = open_identity(platform, IdentitySettings(database_url=database_url))
    try:
        before = plain.accounts.create(
            email="sealed-later@example.org", password="a long passphrase", totp_secret="A" * 32
        )
    finally:
        plain.database.close()
    assert stored_totp(fresh, before.id) == "A" * 32

    sealed = open_identity(
        platform, IdentitySettings(database_url=database_url, key_encryption_key=KEK)
    )
    try:
        after = sealed.accounts.create(
            email="sealed-now@example.org", password="a long passphrase", totp_secret="B" * 32
        )
        for account_id, secret in ((before.id, "A" * 32), (after.id, "B" * 32)):
            at_rest = stored_totp(fresh, account_id)
            assert at_rest.startswith("sealed:v1:")
            assert secret not in at_rest
            with sealed.database.sessions() as session:
                found = SqlAccountRepository(session).get(account_id)
            assert found is not None
            assert found.totp_secret == secret
        # Bound to its account: a sealed secret copied to another row does not open.
        with sealed.database.sessions.begin() as session:
            session.execute(
                accounts.update()
                .where(accounts.c.id == before.id)
                .values(totp_secret=stored_totp(fresh, after.id))
            )
        with sealed.database.sessions() as session, pytest.raises(InvalidTag):
            SqlAccountRepository(session).get(before.id)
    finally:
        sealed.database.close()
