"""``make run`` as a subprocess on free ports with its own var dir, for tests
and benchmarks that need the real processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gaap_client import GaapClient, Targets

SERVICES = ("identity", "payments", "notify")
BANNER_END = "Ctrl-C stops everything"


def free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@dataclass
class Devstack:
    process: subprocess.Popen[str]
    env: dict[str, str]
    var: Path
    banner: str
    log: Path  # everything the processes wrote to stderr

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    @property
    def issuer(self) -> str:
        return self.env["GAAP_ISSUER"]

    @property
    def app_url(self) -> str:
        return "http://" + self.env["DEMO_APP_HTTP_ADDRESS"]

    @property
    def console_url(self) -> str:
        return "http://" + self.env["CONSOLE_HTTP_ADDRESS"]

    def grpc(self, service: str) -> str:
        return self.env[f"{service.upper()}_GRPC_ADDRESS"]

    def http(self, service: str) -> str:
        return "http://" + self.env[f"{service.upper()}_HTTP_ADDRESS"]

    def metrics(self, service: str) -> str:
        """``service``'s metrics listener (``demo_app`` for the demo app)."""
        return "http://" + self.env[f"{service.upper()}_METRICS_ADDRESS"]

    def targets(self) -> Targets:
        """The services' gRPC addresses and public URLs (DPoP proofs name them)."""
        return Targets(
            self.grpc("identity"),
            self.grpc("payments"),
            self.grpc("notify"),
            identity_url=self.issuer,
            payments_url=self.env["PAYMENTS_PUBLIC_URL"],
            notify_url=self.env["NOTIFY_PUBLIC_URL"],
        )

    def demo_agency(self) -> GaapClient:
        """The demo agency through the client library, as the demo app is (its
        profile, fapi2 or not, from ``var/demo/agency.json``)."""
        return GaapClient.from_agency_file(self.var / "demo" / "agency.json", self.targets())

    def demo(self, name: str) -> dict[str, Any]:
        """``agency``, ``citizen`` or ``staff``: what make run saved under var/demo."""
        loaded: dict[str, Any] = json.loads((self.var / "demo" / f"{name}.json").read_text())
        return loaded

    def stop(self, sig: int = signal.SIGINT) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(30)


def environment(var: Path, extra: Mapping[str, str] = {}) -> dict[str, str]:
    ports = free_ports(15)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GAAP_", "IDENTITY_", "PAYMENTS_", "NOTIFY_", "DEMO_APP_", "CONSOLE_"))
    }
    env["GAAP_VAR_DIR"] = str(var)
    env["GAAP_ISSUER"] = f"http://127.0.0.1:{ports[1]}"
    env["GAAP_SHUTDOWN_GRACE_SECONDS"] = "2"
    for i, name in enumerate(SERVICES):
        env[f"{name.upper()}_GRPC_ADDRESS"] = f"127.0.0.1:{ports[2 * i]}"
        env[f"{name.upper()}_HTTP_ADDRESS"] = f"127.0.0.1:{ports[2 * i + 1]}"
    env["PAYMENTS_PUBLIC_URL"] = f"http://127.0.0.1:{ports[3]}"
    env["NOTIFY_SMTP_PORT"] = str(ports[6])
    env["IDENTITY_SMTP_PORT"] = str(ports[6])  # identity's own mail goes to the same sink
    env["NOTIFY_PUBLIC_URL"] = f"http://127.0.0.1:{ports[5]}"
    env["NOTIFY_SMS_PROVIDERS"] = json.dumps(
        [{"name": "local", "url": f"http://127.0.0.1:{ports[7]}/messages", "key": "k", "weight": 1}]
    )
    env["DEMO_APP_HTTP_ADDRESS"] = f"127.0.0.1:{ports[8]}"
    for i, name in enumerate((*SERVICES, "demo_app")):
        env[f"{name.upper()}_METRICS_ADDRESS"] = f"127.0.0.1:{ports[9 + i]}"
    env["CONSOLE_HTTP_ADDRESS"] = f"127.0.0.1:{ports[13]}"
    env["CONSOLE_METRICS_ADDRESS"] = f"127.0.0.1:{ports[14]}"
    env.update(extra)
    return env


def start(
    var: Path,
    extra: Mapping[str, str] = {},
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> Devstack:
    """``env``: a previous start's environment (the same ports), to restart it."""
    env = env if env is not None else environment(var, extra)
    var.mkdir(parents=True, exist_ok=True)
    log = var.parent / "devstack.log"
    # stderr to a file, not a pipe: a pipe nobody reads fills up and blocks every process.
    with log.open("a") as errors:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.devstack.main"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    banner = ""
    while BANNER_END not in banner and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        banner += line
    if BANNER_END not in banner:
        proc.kill()
        proc.wait()
        raise AssertionError(f"make run did not start:\n{banner}\n{log.read_text()[-5000:]}")
    threading.Thread(target=_drain, args=(proc,), daemon=True).start()
    return Devstack(proc, env, var, banner, log)


def _drain(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    for _ in proc.stdout:
        pass


@contextmanager
def running(var: Path, extra: Mapping[str, str] = {}) -> Iterator[Devstack]:
    stack = start(var, extra)
    try:
        yield stack
    finally:
        stack.stop()
