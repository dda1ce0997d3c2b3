"""HTTP pieces every service shares: security headers, body limits, ``/healthz``,
``/metrics`` on a listener of its own, and a uvicorn server that runs on a
socket we bound ourselves, seeing clients through trusted proxies."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.runtime.body_limit import FORM_BYTES, BodyLimit
from services.runtime.client_address import NO_PROXIES, ForwardedHeaders, TrustedProxies
from services.runtime.errors import StartupError

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"referrer-policy", b"no-referrer"),
)


class SecurityHeaders:
    """Pure ASGI middleware (cheaper than BaseHTTPMiddleware) adding anti-framing
    and sniffing headers to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {k.lower() for k, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def metrics(_: Request) -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def metrics_app() -> Starlette:
    """``/metrics`` alone, for the metrics listener: the counts it shows (security
    events, payment volumes) are for the monitoring system, not the public."""
    return Starlette(
        routes=[Route("/metrics", metrics)],
        middleware=[Middleware(SecurityHeaders), Middleware(BodyLimit, default=0)],
    )


def build_app(
    routes: Sequence[BaseRoute],
    *,
    ready: Callable[[], bool] = lambda: True,
    body_limits: Mapping[str, int] | None = None,
) -> Starlette:
    """A Starlette app with the service's routes plus ``/healthz``; request
    bodies up to ``FORM_BYTES`` unless ``body_limits`` (path -> bytes) says."""

    async def healthz(_: Request) -> Response:
        ok = ready()
        return JSONResponse({"status": "ok" if ok else "shutting down"}, 200 if ok else 503)

    return Starlette(
        routes=[*routes, Route("/healthz", healthz)],
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(BodyLimit, default=FORM_BYTES, paths=body_limits),
        ],
    )


def bind(address: str) -> socket.socket:
    """Bind a listening TCP socket, or stop with a one-line error."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, int(port)))
    except OSError as exc:
        sock.close()
        raise StartupError(f"cannot listen for HTTP on {address}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class HttpServer:
    """uvicorn on a pre-bound socket, in a thread with its own event loop."""

    def __init__(
        self,
        app: ASGIApp,
        sock: socket.socket,
        tls: Mapping[str, Any] | None = None,
        *,
        trusted_proxies: TrustedProxies = NO_PROXIES,
    ) -> None:
        """``tls``: uvicorn's ssl_* options (``tls.ServerTls.uvicorn_options``);
        ``trusted_proxies``: whose X-Forwarded-For/-Proto to believe."""
        self.sock = sock
        self.port: int = sock.getsockname()[1]
        # What uvicorn serves (tests may drive it with a chosen client address).
        self.app: ASGIApp = ForwardedHeaders(app, trusted_proxies)
        config = uvicorn.Config(
            self.app,
            log_config=None,
            access_log=False,
            lifespan="off",
            server_header=False,
            # uvicorn's own handling trusts loopback (and FORWARDED_ALLOW_IPS) by
            # default; ForwardedHeaders with GAAP_TRUSTED_PROXIES is the only one.
            proxy_headers=False,
            timeout_graceful_shutdown=10,
            **(tls or {}),
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="http", daemon=True)

    def _run(self) -> None:
        # Server.run uses uvloop when installed; outside the main thread it
        # leaves signal handling to us.
        self._server.run(sockets=[self.sock])

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(2)
