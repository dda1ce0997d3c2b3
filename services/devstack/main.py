"""``gaap-devstack`` (what ``make run`` runs): the platform on its embedded defaults.

Registers the demo agency, starts the local mail and SMS sinks, identity, payments,
notify and notify's worker, waits until each reports SERVING on gRPC health (the
sinks: until they accept connections), then starts the demo agency app (it sets up
its templates and webhook on the running services) and the agency console, waits
for their HTTP ports, prints the URLs, credentials and where mail and text messages
land, then watches:
Ctrl-C or SIGTERM stops everything cleanly, and a process that dies is reported
and takes the platform down with a non-zero exit instead of leaving it half-up.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
from urllib.parse import urlsplit

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.console.settings import ConsoleSettings
from services.demo_app.settings import DemoAppSettings
from services.devstack.console import ensure_console_agency, ensure_demo_console
from services.devstack.demo import ensure_demo_agency, ensure_demo_api_agency, ensure_demo_citizen
from services.devstack.supervisor import Supervisor
from services.identity.settings import IdentitySettings
from services.notify.settings import NotifySettings
from services.payments.settings import PaymentsSettings
from services.runtime import config
from services.runtime.config import ServerSettings
from services.runtime.egress import LOOPBACK
from services.runtime.errors import StartupError

SERVICES: tuple[tuple[str, type[ServerSettings]], ...] = (
    ("identity", IdentitySettings),
    ("payments", PaymentsSettings),
    ("notify", NotifySettings),
)
STARTUP_TIMEOUT = 60.0
# notify's local sinks (started first: the worker sends to them) and its worker.
SINKS = (("smtp-sink", "services.notify.sinks.smtp"), ("sms-gateway", "services.notify.sinks.sms"))
WORKERS = (("notify-worker", "services.notify.worker"),)


def sink_addresses(notify: NotifySettings) -> dict[str, tuple[str, int]]:
    sms = urlsplit(str(notify.sms_provider_list()[0]["url"]))
    return {
        "smtp-sink": (notify.smtp_host, notify.smtp_port),
        "sms-gateway": (sms.hostname or "127.0.0.1", sms.port or 80),
    }


DEMO_APP = "demo-app"
CONSOLE = "console"


def demo_app_environment(
    settings: dict[str, ServerSettings], prefix: str = "DEMO_APP"
) -> dict[str, str]:
    """Where the demo app (or the console) finds the services (their gRPC addresses
    as configured, and the public URLs that DPoP proofs name)."""
    env = {f"{prefix}_{name.upper()}_TARGET": settings[name].grpc_address for name, _ in SERVICES}
    for name, _ in SERVICES:
        public_url = getattr(settings[name], "public_url", None)
        if isinstance(public_url, str):
            env[f"{prefix}_{name.upper()}_URL"] = public_url
    return env


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def _wait_for_http(http_address: str, supervisor: Supervisor, deadline: float) -> bool:
    address = _host_port(http_address)
    while time.monotonic() < deadline and supervisor.first_exited() is None:
        try:
            with socket.create_connection(address, timeout=1):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def _start_apps(
    supervisor: Supervisor,
    settings: dict[str, ServerSettings],
    demo_app: DemoAppSettings,
    console: ConsoleSettings,
    deadline: float,
) -> list[tuple[str, bool]]:
    """Started last: the demo app creates its templates and webhook on the running
    services, and the console signs staff in through identity."""
    supervisor.spawn(
        DEMO_APP,
        [sys.executable, "-m", "services.demo_app.main"],
        env={**os.environ, **demo_app_environment(settings)},
    )
    supervisor.spawn(
        CONSOLE,
        [sys.executable, "-m", "services.console.main"],
        env={**os.environ, **demo_app_environment(settings, "CONSOLE")},
    )
    return [
        (DEMO_APP, _wait_for_http(demo_app.http_address, supervisor, deadline)),
        (CONSOLE, _wait_for_http(console.http_address, supervisor, deadline)),
    ]


def wait_listening(address: tuple[str, int], deadline: float, alive: threading.Event) -> bool:
    while time.monotonic() < deadline and alive.is_set():
        try:
            with socket.create_connection(address, timeout=1):
                return True
        except OSError:
            time.sleep(0.2)
    return False


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
    # The demo agency's webhooks, callbacks and back-channel logout, and the local
    # SMS gateway, are on this machine: loopback is let through, nothing else.
    os.environ.setdefault("GAAP_ALLOW_PRIVATE_TARGETS", LOOPBACK)
    try:
        platform = config.load(config.PlatformSettings)
        settings = {name: config.load(cls) for name, cls in SERVICES}
        identity_settings = config.load(IdentitySettings)
        demo_app = config.load(DemoAppSettings)
        demo, api = (
            ensure_demo_agency(platform, identity_settings, demo_app.resolved_public_url()),
            ensure_demo_api_agency(platform, identity_settings, demo_app.resolved_public_url()),
        )
        citizen = ensure_demo_citizen(platform, identity_settings)
        console = config.load(ConsoleSettings)
        console_agency = ensure_console_agency(platform, identity_settings, console)
        staff, link = ensure_demo_console(
            platform, identity_settings, console, console_agency, demo
        )
    except StartupError as exc:
        sys.stderr.write(f"gaap-devstack: {exc}\n")
        raise SystemExit(2) from None

    stop = threading.Event()
    running = threading.Event()
    running.set()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    supervisor = Supervisor()
    for name, module in SINKS:
        supervisor.spawn(name, [sys.executable, "-m", module])
    for name, _ in SERVICES:
        supervisor.spawn(name, [sys.executable, "-m", f"services.{name}.main"])
    # The demo agency is in test mode; with local sinks as providers, its mail may
    # really land in var/ so people can read it.
    worker_env = {**os.environ, "NOTIFY_DELIVER_TEST_MODE": "true"}
    for name, module in WORKERS:
        supervisor.spawn(name, [sys.executable, "-m", module], env=worker_env)

    deadline = time.monotonic() + STARTUP_TIMEOUT
    sinks = sink_addresses(settings["notify"])  # type: ignore[arg-type]
    checks: list[tuple[str, bool]] = []
    for name, _ in SINKS:
        checks.append((name, wait_listening(sinks[name], deadline, running)))
    for name, _ in SERVICES:
        checks.append((name, wait_serving(settings[name].grpc_address, deadline, running)))
    if all(healthy for _, healthy in checks) and not stop.is_set():
        checks += _start_apps(supervisor, settings, demo_app, console, deadline)
    for name, healthy in checks:
        if not healthy or stop.is_set() or supervisor.first_exited() is not None:
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

    _print_banner(
        platform,
        settings,
        demo,
        citizen,
        demo_app,
        _console_lines(platform, console, staff, link),
        api=api,
    )
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
    citizen: dict[str, object],
    demo_app: DemoAppSettings,
    console: list[str],
    *,
    api: dict[str, object],
) -> None:
    lines = ["", "GaaP is running (embedded defaults: SQLite under var/).", ""]
    for name, _ in SERVICES:
        s = settings[name]
        lines.append(f"  {name:<9} gRPC {s.grpc_address:<16} HTTP http://{s.http_address}")
    lines += [
        "",
        f"  Demo agency app: {demo_app.resolved_public_url()}/  "
        "(sign in as the demo citizen below, apply, pay with 4242 4242 4242 4242)",
        "",
        "  Prometheus metrics (their own listeners, never the public HTTP ports):",
        *(f"  {name:<9} http://{settings[name].metrics_address}/metrics" for name, _ in SERVICES),
        f"  {DEMO_APP:<9} http://{demo_app.metrics_address}/metrics",
    ]
    notify = settings["notify"]
    assert isinstance(notify, NotifySettings)
    sinks = sink_addresses(notify)
    smtp, sms = sinks["smtp-sink"], sinks["sms-gateway"]
    lines += [
        "",
        "  notify's worker sends through local sinks; nothing leaves this machine:",
        f"  email     SMTP {smtp[0]}:{smtp[1]:<10} -> {platform.var_dir / 'mail'}/*.eml",
        f"  SMS       HTTP {sms[0]}:{sms[1]:<10} -> {platform.var_dir / 'sms'}/*.json",
    ]
    lines += [
        "",
        f"  issuer    {platform.issuer}  (discovery: /.well-known/openid-configuration)",
        "",
        f"Demo agency (test mode, the demo app's), saved in {platform.var_dir / 'demo'}"
        "/agency.json:",
        f"  client_id      {demo['client_id']}",
        f"  profile        {demo['profile']}  "
        f"(private_key_jwt with key {demo['kid']}, DPoP-bound tokens: use gaap_client)",
        "",
        f"Demo API agency (test mode, for your own calls), saved in {platform.var_dir / 'demo'}"
        "/api-agency.json:",
        f"  client_id      {api['client_id']}",
        f"  client_secret  {api['client_secret']}",
        f"  token_endpoint {api['token_endpoint']}",
        "",
        'Get a token:  curl -s -u "$CLIENT_ID:$CLIENT_SECRET" '
        f"-d grant_type=client_credentials {api['token_endpoint']}",
        "",
        f"Demo citizen (demo only), saved in {platform.var_dir / 'demo' / 'citizen.json'}:",
        f"  email          {citizen['email']}",
        f"  password       {citizen['password']}",
        f"  totp_secret    {citizen['totp_secret']}  (add it to any authenticator app)",
        *console,
        "Ctrl-C stops everything.",
        "",
    ]
    print("\n".join(lines), flush=True)


def _console_lines(
    platform: config.PlatformSettings,
    console: ConsoleSettings,
    staff: dict[str, object],
    link: dict[str, object],
) -> list[str]:
    path = platform.var_dir / "demo" / "staff.json"
    return [
        "",
        f"Agency console: {console.resolved_public_url()}/  "
        f"(metrics: http://{console.metrics_address}/metrics)",
        f"Demo staff member (administrator of the demo agency), saved in {path}:",
        f"  email          {staff['email']}",
        f"  password       {staff['password']}",
        f"  totp_secret    {staff['totp_secret']}  (sign in to the console with these)",
        f"Demo payment link (anyone can pay it), saved in {path.parent / 'payment-link.json'}:",
        f"  url            {link['url']}",
        "",
    ]


if __name__ == "__main__":
    main()
