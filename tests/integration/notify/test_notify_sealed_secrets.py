"""Status callbacks' signing secrets at rest, on both backends: with
NOTIFY_KEY_ENCRYPTION_KEY set, no table holds a secret in clear (the callback's
row nor the idempotency key of SetStatusCallback), yet a replay returns the same
secret and the outbox signs with it. A database whose secrets predate the key
(SetStatusCallback's whole reply stored as the key's response, the secret in
clear in the callback's row) is sealed, and its stored replies forgotten, by the
next start."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from gaap.notify.v1 import notify_pb2 as pb

from gaap_client import verify_signature
from services.notify import bootstrap
from services.notify.adapters import tables
from services.notify.bootstrap import Notify, open_notify
from services.notify.settings import NotifySettings
from services.runtime import db
from services.runtime.config import PlatformSettings
from services.runtime.db_types import utcnow
from services.runtime.errors import StartupError
from services.runtime.idempotency import DEFAULT_TTL, Keyed, id_response
from services.runtime.webhook_signing import new_secret
from tests.support import databases

KEK = base64.b64encode(b"k" * 32).decode()
TENANT = "agency-sealed"
URL = "https://agency.example/callbacks"


class Recorder:
    """The outbox's sender: keeps each signed POST, answers 200."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, dict[str, str]]] = []

    def __call__(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        self.sent.append((body, headers))
        return 200


@pytest.fixture
def empty_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A database of its own for each test, on the module's backend."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'notify.db'}"
        return
    with databases.fresh_postgres_database(databases.require_postgres()) as url:
        yield url


def opened(url: str, tmp_path: Path, sender: Recorder, kek: str = KEK) -> Notify:
    settings = NotifySettings(
        database_url=url,
        grpc_address="127.0.0.1:0",
        http_address="127.0.0.1:0",
        key_encryption_key=kek,
    )
    platform = PlatformSettings(var_dir=tmp_path / "var")
    return open_notify(platform, settings, callback_sender=sender)


def keyed(key: str | None = None) -> Keyed:
    return Keyed(TENANT, key or uuid.uuid4().hex, "set-status-callback")


def stored_text(url: str) -> str:
    """Every value of every column of every table, as text (bytes as Latin-1)."""
    engine = db.create_engine(url)
    try:
        with engine.connect() as connection:
            metadata = sa.MetaData()
            metadata.reflect(connection)
            found: list[str] = []
            for table in metadata.sorted_tables:
                for row in connection.execute(sa.select(table)):
                    for value in row:
                        if isinstance(value, bytes | memoryview):
                            found.append(bytes(value).decode("latin-1"))
                        elif value is not None:
                            found.append(str(value))
    finally:
        engine.dispose()
    return "\n".join(found)


def test_no_table_holds_the_secret_and_a_replay_returns_it(
    empty_database: str, tmp_path: Path
) -> None:
    sender = Recorder()
    notify = opened(empty_database, tmp_path, sender)
    try:
        call = keyed()
        created = notify.callbacks.set(TENANT, URL, call)
        secret = created.signing_secret
        assert secret.startswith("whsec_")
        assert secret not in stored_text(empty_database)
        assert notify.callbacks.set(TENANT, URL, call) == created  # same key: same secret
        notify.callbacks.send_test(TENANT, keyed(), lambda _: b"")
        assert notify.deliver_callbacks() == 1
    finally:
        notify.database.close()
    ((body, headers),) = sender.sent
    verify_signature(secret, headers["Gaap-Signature"], body)  # the worker unsealed it
    assert secret not in stored_text(empty_database)


def migrate_to(url: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(bootstrap.MIGRATIONS))
    engine = db.create_engine(url)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def test_secrets_stored_in_clear_before_the_key_are_sealed_at_the_next_start(
    empty_database: str, tmp_path: Path
) -> None:
    migrate_to(empty_database, "0002")  # as it was: whole replies kept with their keys
    kept, replaced, current = new_secret(), new_secret(), new_secret()
    now = utcnow()
    other = pb.Template(id="tpl_1", name=f"mentions {new_secret()}").SerializeToString()
    engine = db.create_engine(empty_database)
    try:
        with engine.begin() as connection:
            registered = ((TENANT, "cb_kept", kept), ("agency-b", "cb_new", current))
            for tenant, cb_id, secret in registered:
                connection.execute(
                    tables.status_callbacks.insert().values(
                        tenant=tenant, id=cb_id, url=URL, secret=secret, created_at=now
                    )
                )

            def reply(secret: str) -> bytes:
                return pb.StatusCallback(url=URL, signing_secret=secret).SerializeToString()

            for tenant, key, response in (
                (TENANT, "k-kept", reply(kept)),
                ("agency-b", "k-replaced", reply(replaced)),
                (TENANT, "k-other", other),
            ):
                connection.execute(
                    tables.idempotency_keys.insert().values(
                        tenant=tenant,
                        key=key,
                        fingerprint="set-status-callback",
                        response=response,
                        created_at=now,
                        expires_at=now + DEFAULT_TTL,
                    )
                )
    finally:
        engine.dispose()

    sender = Recorder()
    notify = opened(empty_database, tmp_path, sender)
    try:
        text = stored_text(empty_database)
        for secret in (kept, replaced, current):
            assert secret not in text
        replayed = notify.callbacks.set(TENANT, URL, keyed("k-kept"))
        assert replayed.signing_secret == kept
        notify.callbacks.send_test("agency-b", Keyed("agency-b", "k-test", "fp"), lambda _: b"")
        assert notify.deliver_callbacks() == 1
    finally:
        notify.database.close()
    ((body, headers),) = sender.sent
    verify_signature(current, headers["Gaap-Signature"], body)
    engine = db.create_engine(empty_database)
    try:
        with engine.connect() as connection:
            stored: dict[str, bytes] = dict(
                connection.execute(
                    sa.text("SELECT key, response FROM idempotency_keys WHERE key LIKE 'k-%'")
                ).all()
            )
    finally:
        engine.dispose()
    assert bytes(stored["k-kept"]) == id_response("cb_kept")
    assert "k-replaced" not in stored  # its callback is gone: the key is forgotten
    assert bytes(stored["k-other"]) == other  # any other reply is left as it was
    with pytest.raises(StartupError, match="NOTIFY_KEY_ENCRYPTION_KEY"):
        opened(empty_database, tmp_path, Recorder(), kek="")  # sealed: the key is needed
