"""Lockout holds across replicas: two identity processes on one PostgreSQL
database share the count of wrong passwords and the lock."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from services.identity.bootstrap import open_identity
from services.identity.settings import IdentitySettings
from tests.support import databases
from tests.support.oidc import CitizenBrowser
from tests.support.platform import settings_for

PASSWORD = "a sensible passphrase 42"


@contextmanager
def identity_process(database_url: str, var: Path) -> Iterator[str]:
    """``python -m services.identity.main``; yields its HTTP URL once serving."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAAP_", "IDENTITY_"))}
    env.update(
        GAAP_VAR_DIR=str(var),
        GAAP_ISSUER="https://identity.gaap.test",
        IDENTITY_DATABASE_URL=database_url,
        IDENTITY_GRPC_ADDRESS="127.0.0.1:0",
        IDENTITY_HTTP_ADDRESS="127.0.0.1:0",
        IDENTITY_SMTP_PORT="9",  # nothing listens: sending fails quietly, off the request path
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.identity.main"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    lines: list[str] = []
    url = None
    timer = threading.Timer(60, proc.kill)  # a process that never serves fails the test
    timer.start()
    try:
        for line in proc.stderr:
            lines.append(line)
            record = json.loads(line)
            if record.get("message") == "serving":
                url = str(record["http"])
                break
        assert url is not None, "".join(lines)
        threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep draining
        yield url
    finally:
        timer.cancel()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with databases.fresh_postgres_database(databases.require_postgres()) as url:
        yield url


def test_wrong_passwords_on_two_replicas_lock_the_account_for_both(
    postgres_url: str, tmp_path: Path
) -> None:
    settings = IdentitySettings(database_url=postgres_url)
    admin = open_identity(settings_for(tmp_path), settings)
    try:
        account = admin.accounts.create(
            email="two.replicas@example.gov.test",
            password=PASSWORD,
            email_verified=True,
            totp_secret="JBSWY3DPEHPK3PXP",
        )
        with ExitStack() as stack:
            first = stack.enter_context(identity_process(postgres_url, tmp_path / "a"))
            second = stack.enter_context(identity_process(postgres_url, tmp_path / "b"))
            browsers = [CitizenBrowser(first), CitizenBrowser(second)]
            for attempt in range(settings.lockout_attempts):
                browser = browsers[attempt % 2]
                page = browser.get("/account/signin")
                refused = browser.submit(page, email=account.email, password="wrong password!")
                assert refused.status_code == 400
            for browser in browsers:
                page = browser.get("/account/signin")
                locked = browser.submit(page, email=account.email, password=PASSWORD)
                assert locked.status_code == 400
                assert "You have tried too many times" in locked.text
                browser.client.close()
        # Counted per address in the shared database (both replicas saw 127.0.0.1).
        assert admin.signin.password_lockout.locked(account.email, "127.0.0.1")
    finally:
        admin.database.close()
