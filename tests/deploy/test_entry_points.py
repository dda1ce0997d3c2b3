"""The migration Job's and the health probe's entry points, run for real."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from services.identity import bootstrap as identity_bootstrap
from services.identity.settings import IdentitySettings
from services.runtime import process
from services.runtime.config import PlatformSettings
from services.runtime.heartbeat import MAX_AGE_SECONDS, Heartbeat, heartbeat_path
from tests.support.platform import LOCAL


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GAAP_", "IDENTITY_", "PAYMENTS_", "NOTIFY_"))
    }
    env.update(GAAP_VAR_DIR=str(tmp_path), **extra)
    return env


def run(module: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_migrate_brings_every_database_up_to_date_then_exits(tmp_path: Path) -> None:
    result = run("services.runtime.migrate", "all", env=_env(tmp_path))
    assert result.returncode == 0, result.stderr
    for service, table in (
        ("identity", "agencies"),
        ("payments", "payments"),
        ("notify", "notifications"),
    ):
        engine = sa.create_engine(f"sqlite:///{tmp_path / service}.db")
        assert table in sa.inspect(engine).get_table_names()
        engine.dispose()
    refused = run("services.runtime.migrate", "billing", env=_env(tmp_path))
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "gaap-migrate: unknown service billing; choose from identity, payments, notify or all"
    )


def test_the_probe_says_serving_or_not(tmp_path: Path) -> None:
    running = process.start(
        identity_bootstrap.build(
            PlatformSettings(var_dir=tmp_path),
            IdentitySettings(
                database_url=f"sqlite:///{tmp_path}/identity.db",
                grpc_address=LOCAL,
                http_address=LOCAL,
            ),
        )
    )
    try:
        env = _env(
            tmp_path, IDENTITY_GRPC_ADDRESS=running.grpc_target, GAAP_SERVICE="gaap-identity"
        )
        assert run("services.runtime.probe", env=env).returncode == 0
    finally:
        running.stop(grace=1)
    assert run("services.runtime.probe", env=env).returncode == 1


def test_the_workers_probe_reads_its_heartbeat(tmp_path: Path) -> None:
    env = _env(tmp_path, GAAP_SERVICE="gaap-notify-worker")
    assert run("services.runtime.probe", env=env).returncode == 1  # never beat
    beat = heartbeat_path(tmp_path, "notify-worker")
    Heartbeat(beat).beat()
    assert run("services.runtime.probe", env=env).returncode == 0
    hung = time.time() - MAX_AGE_SECONDS - 5
    os.utime(beat, (hung, hung))
    assert run("services.runtime.probe", "gaap-notify-worker", env=env).returncode == 1
