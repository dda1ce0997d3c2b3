"""The life of one service process: start, serve, stop gracefully.

A service's ``main()`` builds a ``ServiceSpec`` (its composition root) and hands
it to ``run``. ``start`` is also what the integration tests call, with port 0.

On SIGTERM or SIGINT: health flips to NOT_SERVING (so load balancers stop
sending), the gRPC server refuses new calls and lets in-flight ones finish within
the grace period, the HTTP server drains, then background workers and the
database are closed.
"""

from __future__ import annotations

import gc
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import grpc
from grpc_health.v1 import health
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from services.runtime import logs
from services.runtime.client_address import NO_PROXIES, TrustedProxies
from services.runtime.errors import StartupError
from services.runtime.grpc_server import GrpcService, create_server
from services.runtime.http import HttpServer, bind, metrics_app
from services.runtime.json_gateway import with_json_api
from services.runtime.periodic import PeriodicJob
from services.runtime.tls import ServerTls

log = logging.getLogger(__name__)


@dataclass
class ServiceSpec:
    """Everything a running service consists of, built by its composition root."""

    name: str
    grpc_address: str
    http_address: str
    grpc_services: Sequence[GrpcService]
    interceptors: Sequence[grpc.ServerInterceptor[Any, Any]]
    http_app: Callable[[Callable[[], bool]], ASGIApp]
    max_workers: int = 8
    jobs: Sequence[PeriodicJob] = ()
    on_stop: list[Callable[[], None]] = field(default_factory=list)
    tls: ServerTls | None = None
    # JSON over HTTP (Connect) for the gRPC services, given the loopback target.
    json_api: Callable[[Callable[[], str]], list[BaseRoute]] | None = None
    # Prometheus' /metrics, on a listener the ingress never routes to.
    metrics_address: str = "127.0.0.1:0"
    trusted_proxies: TrustedProxies = NO_PROXIES


class RunningService:
    def __init__(self, spec: ServiceSpec) -> None:
        self.spec = spec
        self.health = health.HealthServicer()
        self._serving = True
        sock = bind(spec.http_address)
        try:
            metrics_sock = bind(spec.metrics_address)
        except StartupError:
            sock.close()
            raise
        try:
            self.grpc_server, self.grpc_port = create_server(
                spec.grpc_address,
                services=spec.grpc_services,
                interceptors=spec.interceptors,
                health_servicer=self.health,
                max_workers=spec.max_workers,
                credentials=spec.tls.grpc_credentials() if spec.tls else None,
            )
        except StartupError:
            sock.close()
            metrics_sock.close()
            raise
        app = spec.http_app(lambda: self._serving)
        if spec.json_api is not None:
            app = with_json_api(app, spec.json_api(lambda: self._loopback_target))
        tls_options = spec.tls.uvicorn_options() if spec.tls else None
        self.http = HttpServer(app, sock, tls_options, trusted_proxies=spec.trusted_proxies)
        self.http_port = self.http.port
        self.metrics = HttpServer(metrics_app(), metrics_sock, tls_options)
        self._stopped = threading.Event()

    @property
    def _loopback_target(self) -> str:
        host = self.spec.grpc_address.rpartition(":")[0]
        if host in ("0.0.0.0", "::", "[::]", ""):  # noqa: S104 - comparing, not binding
            host = "127.0.0.1"
        return f"{host}:{self.grpc_port}"

    @property
    def grpc_target(self) -> str:
        host = self.spec.grpc_address.rpartition(":")[0]
        return f"{host}:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        host = self.spec.http_address.rpartition(":")[0]
        scheme = "https" if self.spec.tls else "http"
        return f"{scheme}://{host}:{self.http_port}"

    @property
    def metrics_url(self) -> str:
        """Where Prometheus scrapes: ``<metrics_url>/metrics``."""
        host = self.spec.metrics_address.rpartition(":")[0]
        scheme = "https" if self.spec.tls else "http"
        return f"{scheme}://{host}:{self.metrics.port}"

    def start(self) -> RunningService:
        self.grpc_server.start()
        self.http.start()
        self.metrics.start()
        for job in self.spec.jobs:
            job.start()
        log.info(
            "serving",
            extra={
                "grpc": self.grpc_target,
                "http": self.http_url,
                "metrics": self.metrics_url,
                "service": self.spec.name,
            },
        )
        return self

    def stop(self, grace: float = 5.0) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._serving = False
        self.health.enter_graceful_shutdown()
        for job in self.spec.jobs:
            job.stop()
        done = self.grpc_server.stop(grace)
        self.http.stop(grace)
        self.metrics.stop(grace)
        done.wait(grace + 1)
        for hook in self.spec.on_stop:
            try:
                hook()
            except Exception:
                log.exception("error while stopping")
        log.info("stopped")


def start(spec: ServiceSpec) -> RunningService:
    return RunningService(spec).start()


def settle_heap() -> None:
    """Move everything built at start-up out of the garbage collector's sight.

    A service's heap after start-up (SQLAlchemy's tables, protobuf descriptors,
    templates: over 100,000 objects) lives as long as the process, yet every
    collection of the oldest generation traverses all of it; measured, the
    collector then took about 3% of a loaded service's time. ``gc.freeze``
    leaves those objects to reference counting alone. Called once by ``run``
    (and by the benchmarks, which serve as ``run`` does), not by ``start``:
    test processes start and stop many services and must collect them.
    """
    gc.collect()
    gc.freeze()


def run(name: str, build: Callable[[], tuple[ServiceSpec, float]]) -> None:
    """A service's ``main``: build, serve until SIGTERM/SIGINT, stop gracefully.

    ``build`` returns the spec and the shutdown grace period. A ``StartupError``
    (bad configuration, port in use, unreadable key) prints one line and exits 2.
    """
    logs.configure(name)
    stop_requested = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        log.info("stop requested", extra={"signal": signal.Signals(signum).name})
        stop_requested.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        spec, grace = build()
        service = start(spec)
        settle_heap()
    except StartupError as exc:
        sys.stderr.write(f"gaap-{name}: {exc}\n")
        raise SystemExit(2) from None
    while not stop_requested.wait(1.0):
        pass
    service.stop(grace)


class Stoppable(Protocol):
    def stop(self, grace: float = ...) -> None: ...


def run_app(name: str, start_app: Callable[[], tuple[Stoppable, float]]) -> None:
    """``run`` for a process that is not a ``ServiceSpec`` (the demo app, the
    console: HTTP only, started by their own ``bootstrap.start``): start, serve
    until SIGTERM/SIGINT, stop within the grace period it returned."""
    logs.configure(name)
    stop_requested = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop_requested.set())
    signal.signal(signal.SIGINT, lambda *_: stop_requested.set())
    try:
        app, grace = start_app()
    except StartupError as exc:
        sys.stderr.write(f"gaap-{name}: {exc}\n")
        raise SystemExit(2) from None
    stop_requested.wait()
    app.stop(grace)
