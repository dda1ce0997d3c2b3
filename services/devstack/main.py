"""``gaap-devstack`` (what ``make run`` runs): the platform on its embedded defaults.

Registers the demo agency, starts identity, payments and notify, waits until each
reports SERVING on gRPC health, prints the URLs and credentials, then watches:
Ctrl-C or SIGTERM stops everything cleanly, and a process that dies is reported
and takes the platform down with a non-zero exit instead of leaving it half-up.
"""

from __future__ import annotations

import signal
import sys
import threading
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.devstack.demo import ensure_demo_agency
from services.devstack.supervisor import Supervisor
from services.identity.settings import IdentitySettings
from services.notify.settings import NotifySettings
from services.payments.settings import PaymentsSettings
from services.runtime import config
from services.runtime.config import ServerSettings
from services.runtime.errors import StartupError

SERVICES: tuple[tuple[str, type[ServerSettings]], ...] = (
    ("identity", IdentitySettings),
    ("payments", PaymentsSettings),
    ("notify", NotifySettings),
)
STARTUP_TIMEOUT = 60.0


def wait_serving(target: str, deadline: float, alive: threading.Event) -> bool:
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline and alive.is_set():
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return True
            except grpc.RpcError:
                pass
            time.sleep(0.2)
    return False


def main() -> None:
    try:
        platform = config.load(config.PlatformSettings)
        settings = {name: config.load(cls) for name, cls in SERVICES}
        demo = ensure_demo_agency(platform, settings["identity"])  # type: ignore[arg-type]
    except StartupError as exc:
        sys.stderr.write(f"gaap-devstack: {exc}\n")
        raise SystemExit(2) from None

    stop = threading.Event()
    running = threading.Event()
    running.set()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    supervisor = Supervisor()
    for name, _ in SERVICES:
        supervisor.spawn(name, [sys.executable, "-m", f"services.{name}.main"])

    deadline = time.monotonic() + STARTUP_TIMEOUT
    for name, _ in SERVICES:
        if not wait_serving(settings[name].grpc_address, deadline, running) or stop.is_set():
            dead = supervisor.first_exited()
            reason = (
                f"{dead.name} exited with code {dead.process.returncode}"
                if dead
                else f"{name} did not become healthy within {STARTUP_TIMEOUT:.0f}s"
            )
            if not stop.is_set():
                sys.stderr.write(f"gaap-devstack: {reason}; stopping the platform\n")
            supervisor.stop_all(platform.shutdown_grace_seconds + 5)
            raise SystemExit(0 if stop.is_set() else 1)

    _print_banner(platform, settings, demo)
    code = 0
    while not stop.wait(0.5):
        dead = supervisor.first_exited()
        if dead is not None:
            sys.stderr.write(
                f"gaap-devstack: {dead.name} exited unexpectedly with code "
                f"{dead.process.returncode}; stopping the platform\n"
            )
            code = 1
            break
    print("\nstopping...", flush=True)
    supervisor.stop_all(platform.shutdown_grace_seconds + 5)
    print("stopped.", flush=True)
    raise SystemExit(code)


def _print_banner(
    platform: config.PlatformSettings,
    settings: dict[str, ServerSettings],
    demo: dict[str, object],
) -> None:
    lines = ["", "GaaP is running (embedded defaults: SQLite under var/).", ""]
    for name, _ in SERVICES:
        s = settings[name]
        lines.append(f"  {name:<9} gRPC {s.grpc_address:<16} HTTP http://{s.http_address}")
    lines += [
        "",
        f"  issuer    {platform.issuer}  (discovery: /.well-known/openid-configuration)",
        "",
        f"Demo agency (test mode), saved in {platform.var_dir / 'demo' / 'agency.json'}:",
        f"  client_id      {demo['client_id']}",
        f"  client_secret  {demo['client_secret']}",
        f"  token_endpoint {demo['token_endpoint']}",
        "",
        'Get a token:  curl -s -u "$CLIENT_ID:$CLIENT_SECRET" '
        f"-d grant_type=client_credentials {demo['token_endpoint']}",
        "Ctrl-C stops everything.",
        "",
    ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
