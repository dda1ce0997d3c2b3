"""Real service processes for the production tests: several replicas of each
service against shared databases, each logging JSON to a file the tests read
afterwards (the log check looks for secrets in every line)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.runtime.egress import LOOPBACK
from services.runtime.http import HttpServer, bind
from tests.support.databases import for_service
from tests.support.devstack import free_ports

MODULES = {
    "identity": "services.identity.main",
    "payments": "services.payments.main",
    "notify": "services.notify.main",
    "notify-worker": "services.notify.worker",
}
PREFIXES = ("GAAP_", "IDENTITY_", "PAYMENTS_", "NOTIFY_", "REDIS_URL", "DEMO_APP_")


@dataclass
class Replica:
    name: str
    service: str
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def grpc(self) -> str:
        return self.env[f"{self.service.upper()}_GRPC_ADDRESS"]

    @property
    def http(self) -> str:
        return "http://" + self.env[f"{self.service.upper()}_HTTP_ADDRESS"]


@dataclass
class Fleet:
    """Processes started from one base environment; ``replica`` adds one."""

    folder: Path
    base: dict[str, str]
    replicas: dict[str, Replica] = field(default_factory=dict)
    _channels: dict[str, grpc.Channel] = field(default_factory=dict)

    def replica(self, name: str, service: str, **extra: str) -> Replica:
        env = {**self.base, **extra}
        if service != "notify-worker":
            grpc_port, http_port = free_ports(2)
            env.setdefault(f"{service.upper()}_GRPC_ADDRESS", f"127.0.0.1:{grpc_port}")
            env.setdefault(f"{service.upper()}_HTTP_ADDRESS", f"127.0.0.1:{http_port}")
            # An ephemeral metrics port: replicas of one service share a host here.
            env.setdefault(f"{service.upper()}_METRICS_ADDRESS", "127.0.0.1:0")
        replica = Replica(name, service, env, self.folder / f"{name}.log")
        self.replicas[name] = replica
        return replica

    def start(self, name: str) -> Replica:
        replica = self.replicas[name]
        with replica.log.open("ab") as log:
            replica.process = subprocess.Popen(
                [sys.executable, "-m", MODULES[replica.service]],
                env=replica.env,
                stdout=log,
                stderr=log,
            )
        return replica

    def wait_serving(self, name: str, timeout: float = 90) -> None:
        replica = self.replicas[name]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert replica.process is not None
            if replica.process.poll() is not None:
                raise AssertionError(f"{name} exited:\n{replica.log.read_text()[-3000:]}")
            if replica.service == "notify-worker":
                if "worker started" in replica.log.read_text():
                    return
            elif _serving(replica.grpc):
                return
            time.sleep(0.1)
        raise AssertionError(f"{name} did not start:\n{replica.log.read_text()[-3000:]}")

    def start_all(self) -> None:
        for name in self.replicas:
            self.start(name)
        for name in self.replicas:
            self.wait_serving(name)

    def channel(self, name: str) -> grpc.Channel:
        if name not in self._channels:
            self._channels[name] = grpc.insecure_channel(self.replicas[name].grpc)
        return self._channels[name]

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.replicas[name].process
        assert process is not None
        process.send_signal(sig)
        process.wait(30)
        channel = self._channels.pop(name, None)
        if channel is not None:
            channel.close()

    def stop_all(self) -> None:
        for channel in self._channels.values():
            channel.close()
        for replica in self.replicas.values():
            if replica.process is not None and replica.process.poll() is None:
                replica.process.send_signal(signal.SIGTERM)
        for replica in self.replicas.values():
            if replica.process is not None:
                try:
                    replica.process.wait(30)
                except subprocess.TimeoutExpired:
                    replica.process.kill()

    def log_records(self) -> Iterator[tuple[str, str]]:
        """(replica, line) for every line any replica wrote."""
        for replica in self.replicas.values():
            if replica.log.exists():
                for line in replica.log.read_text(errors="replace").splitlines():
                    yield replica.name, line


def _serving(target: str) -> bool:
    with grpc.insecure_channel(target) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=1
            )
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def base_environment(
    var: Path, database_url: str, *, issuer: str, redis_url: str = "", **extra: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(PREFIXES)}
    env.update(
        GAAP_VAR_DIR=str(var),
        GAAP_ISSUER=issuer,
        GAAP_SHUTDOWN_GRACE_SECONDS="1",
        GAAP_LOG_LEVEL="INFO",
        IDENTITY_DATABASE_URL=database_url,
        PAYMENTS_DATABASE_URL=for_service(database_url, "payments"),
        NOTIFY_DATABASE_URL=for_service(database_url, "notify"),
        NOTIFY_DELIVER_TEST_MODE="true",
        NOTIFY_WORKER_POLL_SECONDS="0.1",
        REDIS_URL=redis_url,
        # The tests' SMS providers and receivers listen on 127.0.0.1.
        GAAP_ALLOW_PRIVATE_TARGETS=LOOPBACK,
    )
    env.update(extra)
    return env


def wait_until(check: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    """Poll for an asynchronous outcome (never a timing assertion: only a bound)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    assert check(), f"timed out waiting for {what or check}"


class SmsProvider:
    """An SMS provider over HTTP recording each message's reference (the
    notification id); ``down`` makes it answer 503, as an outage would."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.references: list[str] = []
        self.down = False
        self._lock = threading.Lock()

        async def messages(request: Request) -> Response:
            if self.down:
                return JSONResponse({"error": "unavailable"}, 503)
            if request.headers.get("authorization") != f"Bearer {self.key}":
                return JSONResponse({"error": "unauthorized"}, 401)
            body: dict[str, Any] = json.loads(await request.body())
            with self._lock:
                self.references.append(str(body["reference"]))
                count = len(self.references)
            return JSONResponse({"id": f"sms-{count}"}, 201)

        self._server = HttpServer(
            Starlette(routes=[Route("/messages", messages, methods=["POST"])]),
            bind("127.0.0.1:0"),
        )
        self.url = f"http://127.0.0.1:{self._server.port}/messages"
        self._server.start()

    def providers(self) -> str:
        return json.dumps([{"name": "test-sms", "url": self.url, "key": self.key, "weight": 1}])

    def stop(self) -> None:
        self._server.stop(2)


def token(identity_http: str, client_id: str, secret: str, scope: str | None = None) -> str:
    data = {"grant_type": "client_credentials"}
    if scope:
        data["scope"] = scope
    response = httpx.post(identity_http + "/oauth2/token", data=data, auth=(client_id, secret))
    assert response.status_code == 200, response.text
    access: str = response.json()["access_token"]
    return access
