"""Processes start with clear errors, stop gracefully, and log JSON without secrets."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.runtime import process
from services.runtime.access_tokens import AccessTokenVerifier
from services.runtime.grpc_server import GrpcService
from services.runtime.http import build_app
from services.runtime.interceptors import PUBLIC, standard_interceptors
from services.runtime.keys import KeyCache
from tests.support.waiting import wait_until

SLOW = "/gaap.test.Slow/Wait"


def _slow_service(started: threading.Event, release: threading.Event) -> GrpcService:
    def wait(request: bytes, context: grpc.ServicerContext) -> bytes:
        started.set()
        release.wait(10)
        return b"done"

    handler = grpc.method_handlers_generic_handler(
        "gaap.test.Slow",
        {"Wait": grpc.unary_unary_rpc_method_handler(wait, lambda b: b, lambda b: b)},
    )
    return GrpcService("gaap.test.Slow", lambda server: server.add_generic_rpc_handlers((handler,)))


def test_sigterm_semantics_in_flight_calls_finish_and_health_goes_not_serving() -> None:
    started, release = threading.Event(), threading.Event()
    verifier = AccessTokenVerifier(
        issuer="https://x", audience="urn:gaap:test", keys=KeyCache(dict)
    )
    running = process.start(
        process.ServiceSpec(
            name="test",
            grpc_address="127.0.0.1:0",
            http_address="127.0.0.1:0",
            grpc_services=[_slow_service(started, release)],
            interceptors=standard_interceptors("test", verifier, {SLOW: PUBLIC}),
            http_app=lambda ready: build_app([], ready=ready),
        )
    )
    channel = grpc.insecure_channel(running.grpc_target)
    slow = channel.unary_unary(SLOW, lambda b: b, lambda b: b)
    future = slow.future(b"", timeout=10)
    assert started.wait(5)
    health = health_pb2_grpc.HealthStub(channel)
    statuses: list[int] = []

    stopper = threading.Thread(target=running.stop, kwargs={"grace": 5})
    stopper.start()

    def refused() -> grpc.StatusCode | None:
        # Until the server stops taking calls, health may still answer: never SERVING.
        # A probe caught mid-way by the stop is CANCELLED: the next one tells.
        try:
            statuses.append(health.Check(health_pb2.HealthCheckRequest(), timeout=5).status)
        except grpc.RpcError as exc:
            return None if exc.code() == grpc.StatusCode.CANCELLED else exc.code()
        return None

    # While the in-flight call still runs, new calls are refused as unavailable.
    assert wait_until(refused, what="new calls refused") == grpc.StatusCode.UNAVAILABLE
    assert not future.done()
    release.set()
    assert future.result() == b"done"  # the in-flight call completed
    stopper.join(10)
    assert not stopper.is_alive()
    assert health_pb2.HealthCheckResponse.SERVING not in statuses
    with pytest.raises(grpc.RpcError) as caught:
        slow(b"", timeout=2)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    with pytest.raises(httpx.TransportError):
        httpx.get(running.http_url + "/healthz", timeout=2)
    channel.close()


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAAP_", "IDENTITY_"))}
    env.update(
        GAAP_VAR_DIR=str(tmp_path),
        IDENTITY_GRPC_ADDRESS="127.0.0.1:0",
        IDENTITY_HTTP_ADDRESS="127.0.0.1:0",
        IDENTITY_METRICS_ADDRESS="127.0.0.1:0",
    )
    env.update(extra)
    return env


def _run_identity(env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.identity.main"],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def busy_port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock.getsockname()[1]
    sock.close()


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"IDENTITY_DATABASE_URL": "not a url"}, "is not a valid SQLAlchemy URL"),
        ({"IDENTITY_DATABASE_URL": "mysql+nosuchdriver://x/y"}, "no database driver"),
        (
            {"IDENTITY_DATABASE_URL": "postgresql+psycopg://u:hunter2@127.0.0.1:1/db"},
            "cannot reach the database",
        ),
        ({"GAAP_ISSUER": "ftp://identity"}, "GAAP_ISSUER"),
        ({"IDENTITY_GRPC_ADDRESS": "nohost"}, "IDENTITY_GRPC_ADDRESS"),
        ({"GAAP_LOG_LEVEL": "LOUD"}, "GAAP_LOG_LEVEL"),
    ],
)
def test_configuration_errors_stop_with_one_clear_line(
    tmp_path: Path, setting: dict[str, str], message: str
) -> None:
    result = _run_identity(_env(tmp_path, **setting))
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr
    assert "hunter2" not in result.stderr


@pytest.mark.parametrize(
    "listener", ["IDENTITY_GRPC_ADDRESS", "IDENTITY_HTTP_ADDRESS", "IDENTITY_METRICS_ADDRESS"]
)
def test_port_in_use_stops_with_one_clear_line(
    tmp_path: Path, busy_port: int, listener: str
) -> None:
    result = _run_identity(_env(tmp_path, **{listener: f"127.0.0.1:{busy_port}"}))
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert len(lines) == 1, result.stderr
    assert f"127.0.0.1:{busy_port}" in lines[0]
    assert "Traceback" not in result.stderr


def test_a_real_process_serves_then_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.identity.main"],
        env=_env(tmp_path, GAAP_SHUTDOWN_GRACE_SECONDS="2"),
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    lines: list[str] = []
    serving = None
    deadline = time.monotonic() + 60
    while serving is None and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        record = json.loads(line)
        if record.get("message") == "serving":
            serving = record
    assert serving is not None, "".join(lines)
    response = httpx.get(serving["http"] + "/.well-known/jwks.json")
    assert response.status_code == 200
    proc.send_signal(signal.SIGTERM)
    _, rest = proc.communicate(timeout=30)
    assert proc.returncode == 0
    for line in (*lines, *rest.splitlines()):
        record = json.loads(line)  # every line is one JSON object
        assert {"time", "level", "message", "service"} <= record.keys()
    assert any(json.loads(line)["message"] == "stopped" for line in rest.splitlines())
