"""Secrets in logs and at rest (issue 13 items 9 and 10), on SQLite and PostgreSQL.

- A statement that fails on a value (a recipient, a message, a code) logs a
  traceback without that value: engines hide bound parameters, the libpq fast
  path keeps only the primary message, and the log formatter drops the lines of
  a database error that quote row data (DETAIL, CONTEXT, parameters).
- With a key-encryption key, every secret identity and payments store is sealed,
  a value found unsealed is refused, and live mode does not start without a key.
"""

from __future__ import annotations

import base64
import io
import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from gaap.payments.v1 import payments_pb2, payments_pb2_grpc

from services.identity.adapters import instance_secrets as named
from services.identity.adapters.accounts import SqlAccountRepository
from services.identity.adapters.tables import accounts, agencies, instance_secrets, signing_keys
from services.identity.bootstrap import build as build_identity
from services.identity.bootstrap import open_identity
from services.identity.settings import IdentitySettings
from services.payments.adapters import tables as payment_tables
from services.payments.adapters.webhooks_sql import Subscriptions
from services.payments.bootstrap import open_payments
from services.payments.settings import PaymentsSettings
from services.runtime import db, logs
from services.runtime.config import PlatformSettings
from services.runtime.errors import StartupError
from services.runtime.idempotency import Keyed
from services.runtime.process import ServiceSpec
from services.runtime.sealing import UnsealedSecret
from tests.production.fleet import Fleet, base_environment, token
from tests.production.logcheck import assert_no_secrets
from tests.support.databases import for_service
from tests.support.devstack import free_ports
from tests.support.platform import ISSUER

KEK = base64.b64encode(os.urandom(32)).decode()
OTHER_KEK = base64.b64encode(os.urandom(32)).decode()


def _engine(url: str) -> sa.Engine:
    return db.create_engine(url)


# -- item 9: values in logged tracebacks ---------------------------------------------------


def _refuse_canaries(payments_url: str) -> None:
    """Make the database refuse a payment whose email starts with ``canary``."""
    engine = sa.create_engine(payments_url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(
                sa.text(
                    "ALTER TABLE payments ADD CONSTRAINT test_no_canary "
                    "CHECK (email IS NULL OR email NOT LIKE 'canary%')"
                )
            )
        else:
            conn.exec_driver_sql(
                "CREATE TRIGGER test_no_canary BEFORE INSERT ON payments "
                "WHEN NEW.email LIKE 'canary%' BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
    engine.dispose()


def test_a_failed_statement_logs_its_traceback_without_the_values(
    database_url: str, tmp_path: Path
) -> None:
    (issuer_port,) = free_ports(1)
    issuer = f"http://127.0.0.1:{issuer_port}"
    fleet = Fleet(tmp_path, base_environment(tmp_path, database_url, issuer=issuer))
    fleet.replica("identity", "identity", IDENTITY_HTTP_ADDRESS=f"127.0.0.1:{issuer_port}")
    fleet.replica("payments", "payments", GAAP_JWKS_URL=issuer + "/.well-known/jwks.json")
    canary = f"canary-{uuid.uuid4().hex}@example.org"
    try:
        fleet.start_all()
        admin = open_identity(
            PlatformSettings(issuer=issuer, var_dir=tmp_path),
            IdentitySettings(database_url=database_url),
        )
        try:
            created = admin.registry.create(name="Logs", scopes=["payments:create"], mode="test")
        finally:
            admin.database.close()
        assert created.client_secret
        _refuse_canaries(for_service(database_url, "payments"))
        access = (
            (
                "authorization",
                "Bearer "
                + token(
                    fleet.replicas["identity"].http, created.agency.client_id, created.client_secret
                ),
            ),
        )
        stub = payments_pb2_grpc.PaymentsServiceStub(fleet.channel("payments"))
        with pytest.raises(grpc.RpcError) as failed:
            stub.CreatePayment(
                payments_pb2.CreatePaymentRequest(
                    amount=1500,
                    currency="GBP",
                    reference="LOGS-1",
                    description="Licence fee",
                    return_url="https://agency.example/done",
                    email=canary,
                    idempotency_key=uuid.uuid4().hex,
                ),
                metadata=access,
                timeout=10,
            )
        assert failed.value.code() == grpc.StatusCode.INTERNAL
        assert canary not in (failed.value.details() or "")
    finally:
        fleet.stop_all()
    records = list(fleet.log_records())
    # The traceback was logged (a check of nothing proves nothing)...
    assert any("unexpected error" in line and "Traceback" in line for _, line in records)
    # ...and no line holds the value, whole or in part.
    assert_no_secrets(records, [canary, canary.split("@", maxsplit=1)[0]])


def test_the_log_formatter_drops_the_row_data_of_a_pooled_statement_error(
    database_url: str,
) -> None:
    """The pooled path (psycopg through SQLAlchemy): psycopg's message carries
    ``DETAIL: Key (email)=(...) already exists``; the log line must not."""
    engine = _engine(for_service(database_url, "identity"))
    canary = f"canary-{uuid.uuid4().hex}@example.org"
    table = sa.Table(
        f"t_{uuid.uuid4().hex[:8]}",
        sa.MetaData(),
        sa.Column("email", sa.String(200), unique=True),
    )
    table.create(engine)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.RedactingJsonFormatter("{levelname}{name}{message}", style="{"))
    logger = logging.getLogger("test.attack_secrets")
    logger.addHandler(handler)
    try:
        with engine.begin() as conn:
            conn.execute(table.insert().values(email=canary))
        with pytest.raises(sa.exc.IntegrityError) as raised, engine.begin() as conn:
            conn.execute(table.insert().values(email=canary))
        try:
            raise RuntimeError("wrapped") from raised.value
        except RuntimeError:
            logger.exception("unexpected error: %s", raised.value)
    finally:
        logger.removeHandler(handler)
        table.drop(engine)
        engine.dispose()
    lines = stream.getvalue().splitlines()
    assert lines
    assert "IntegrityError" in lines[0]
    assert_no_secrets([("formatter", line) for line in lines], [canary])


# -- item 10: identity's secrets at rest -----------------------------------------------------


@pytest.fixture(scope="module")
def platform_settings(tmp_path_factory: pytest.TempPathFactory) -> PlatformSettings:
    return PlatformSettings(issuer=ISSUER, var_dir=tmp_path_factory.mktemp("var"))


def _reset_identity(database_url: str) -> None:
    """Back to a database never opened with a key (the module shares one)."""
    engine = _engine(database_url)
    if not sa.inspect(engine).has_table("signing_keys"):  # not migrated yet: empty
        engine.dispose()
        return
    with engine.begin() as conn:
        conn.execute(signing_keys.delete())
        conn.execute(instance_secrets.delete())
        conn.execute(accounts.delete())
        conn.execute(agencies.delete())
    engine.dispose()


def _raw(database_url: str, query: sa.Select[Any]) -> dict[str, str]:
    engine = _engine(database_url)
    with engine.connect() as conn:
        rows = {str(row[0]): str(row[1]) for row in conn.execute(query)}
    engine.dispose()
    return rows


def _stop(spec: ServiceSpec) -> None:
    for stop in spec.on_stop:
        stop()


def test_identity_csrf_code_and_salt_keys_are_sealed_and_sealed_once_when_a_key_is_set(
    database_url: str, platform_settings: PlatformSettings
) -> None:
    _reset_identity(database_url)
    plain = IdentitySettings(database_url=database_url)
    _stop(build_identity(platform_settings, plain))  # the keys, made unsealed
    query = sa.select(instance_secrets.c.name, instance_secrets.c.value)
    before = _raw(database_url, query)
    assert {"csrf_key", "code_key", "pairwise_salt"} <= set(before)

    sealed = IdentitySettings(database_url=database_url, key_encryption_key=KEK)
    _stop(build_identity(platform_settings, sealed))
    after = _raw(database_url, query)
    for name in ("csrf_key", "code_key", "pairwise_salt"):
        assert after[name].startswith("sealed:v1:"), name
        assert before[name] not in after[name]
    # Still the same keys (sealed, not replaced): CSRF tokens and codes issued
    # before the key was set still verify.
    opened = open_identity(platform_settings, sealed)
    try:
        for name in ("csrf_key", "code_key"):
            assert named.get_or_create(opened.database.sessions, name).hex() == before[name]
    finally:
        opened.database.close()


def test_with_a_key_an_unsealed_secret_is_refused(
    database_url: str, platform_settings: PlatformSettings
) -> None:
    _reset_identity(database_url)
    sealed = IdentitySettings(database_url=database_url, key_encryption_key=KEK)
    opened = open_identity(platform_settings, sealed)
    try:
        account = opened.accounts.create(
            email="sealed@example.org", password="a long passphrase", totp_secret="C" * 32
        )
        known = "D" * 32  # an attacker's own TOTP secret, written in the clear
        with opened.database.sessions.begin() as session:
            session.execute(
                accounts.update().where(accounts.c.id == account.id).values(totp_secret=known)
            )
        with opened.database.sessions() as session, pytest.raises(UnsealedSecret):
            SqlAccountRepository(session).get(account.id)
        # An attacker's signing key in the clear: identity does not start on it.
        with opened.database.sessions.begin() as session:
            row = session.execute(sa.select(signing_keys).limit(1)).mappings().one()
            forged = {**row, "kid": "forged", "private_pem": b"-----BEGIN PRIVATE KEY-----"}
            session.execute(signing_keys.insert().values(**{**forged, "sealed": True}))
    finally:
        opened.database.close()
    with pytest.raises(StartupError, match="unsealed"):
        open_identity(platform_settings, sealed)


def test_identity_with_live_agencies_refuses_to_start_without_a_key(
    database_url: str, platform_settings: PlatformSettings
) -> None:
    _reset_identity(database_url)
    plain = IdentitySettings(database_url=database_url)
    opened = open_identity(platform_settings, plain)
    try:
        opened.registry.create(name="Live agency", scopes=["payments:create"], mode="live")
    finally:
        opened.database.close()
    # gaap-admin still opens the database (to set the agency back to test)...
    open_identity(platform_settings, plain).database.close()
    # ...but the service does not start.
    with pytest.raises(StartupError, match="IDENTITY_KEY_ENCRYPTION_KEY"):
        build_identity(platform_settings, plain)
    sealed = IdentitySettings(database_url=database_url, key_encryption_key=KEK)
    _stop(build_identity(platform_settings, sealed))
    with pytest.raises(StartupError, match="not the key it was sealed with"):
        open_identity(
            platform_settings,
            IdentitySettings(database_url=database_url, key_encryption_key=OTHER_KEK),
        )


# -- item 10: payments' secrets at rest ------------------------------------------------------


@pytest.fixture
def payments_url(database_url: str) -> Iterator[str]:
    url = for_service(database_url, "payments")
    yield url
    engine = _engine(url)
    if sa.inspect(engine).has_table("service_secrets"):
        with engine.begin() as conn:
            conn.execute(payment_tables.service_secrets.delete())
            conn.execute(payment_tables.webhook_subscriptions.delete())
    engine.dispose()


def _payments(database_url: str, kek: str = "", stripe_api_key: str = "") -> PaymentsSettings:
    return PaymentsSettings(
        database_url=for_service(database_url, "payments"),
        key_encryption_key=kek,
        stripe_api_key=stripe_api_key,
    )


def test_payments_webhook_and_page_link_secrets_are_sealed_in_the_database(
    database_url: str, payments_url: str, platform_settings: PlatformSettings
) -> None:
    # A subscription made before a key was set...
    app = open_payments(platform_settings, _payments(database_url))
    try:
        early, early_secret = app.subscriptions.create(
            "agency-a",
            "https://agency.example/hooks",
            [],
            Keyed("agency-a", uuid.uuid4().hex, "h1"),
        )
        page = app.links.url("pay_1")
    finally:
        app.database.close()

    # ...is sealed at the first start with one; new ones are sealed at once.
    sealed = _payments(database_url, KEK)
    app = open_payments(platform_settings, sealed)
    try:
        late, late_secret = app.subscriptions.create(
            "agency-a",
            "https://agency.example/hooks2",
            [],
            Keyed("agency-a", uuid.uuid4().hex, "h2"),
        )
        assert app.links.url("pay_1") == page  # the same page-link key, sealed
        with app.database.sessions() as session:
            repo = Subscriptions(session)
            assert repo.secret_for(early.id) == early_secret  # deliveries still sign
            assert repo.secret_for(late.id) == late_secret
    finally:
        app.database.close()
    subs = payment_tables.webhook_subscriptions
    stored = _raw(payments_url, sa.select(subs.c.id, subs.c.secret))
    for sub_id, secret in ((early.id, early_secret), (late.id, late_secret)):
        assert stored[sub_id].startswith("sealed:v1:")
        assert secret not in stored[sub_id]
    own = payment_tables.service_secrets
    for name, value in _raw(payments_url, sa.select(own.c.name, own.c.value)).items():
        assert value.startswith("sealed:v1:"), name

    # A secret written in the clear afterwards is refused, not used.
    engine = _engine(payments_url)
    with engine.begin() as conn:
        conn.execute(subs.update().where(subs.c.id == late.id).values(secret="whsec_attacker"))
    engine.dispose()
    app = open_payments(platform_settings, sealed)
    try:
        with app.database.sessions() as session, pytest.raises(UnsealedSecret):
            Subscriptions(session).secret_for(late.id)
    finally:
        app.database.close()


@pytest.mark.usefixtures("payments_url")  # cleans the payments database up afterwards
def test_payments_with_a_live_stripe_key_refuses_to_start_without_a_key(
    database_url: str, platform_settings: PlatformSettings
) -> None:
    live = "sk_live_" + uuid.uuid4().hex
    with pytest.raises(StartupError, match="PAYMENTS_KEY_ENCRYPTION_KEY"):
        open_payments(platform_settings, _payments(database_url, stripe_api_key=live))
    app = open_payments(
        platform_settings,
        _payments(database_url, KEK, live),
    )
    app.database.close()
