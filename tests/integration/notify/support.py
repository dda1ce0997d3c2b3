"""Real servers for notify's integration tests: an SMTP server (aiosmtpd), an SMS
provider over HTTP, a callback receiver, and a worker run in the test's process."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from opentelemetry.sdk.trace import TracerProvider
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.notify.bootstrap import Notify, deliverer, open_notify, sms_client
from services.notify.settings import NotifySettings
from services.notify.sinks.sms import gateway_app
from services.notify.worker import trace_worker
from services.runtime.db_types import utcnow
from services.runtime.http import HttpServer, bind
from tests.support.platform import Platform, server_settings

SMS_KEY = "local-sms-key"  # what the platform's notify expects on receipts (its default)


class RecordingHandler:
    """Accepts mail and keeps it; ``refuse`` answers with an SMTP error instead."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse: str | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuse:
            return self.refuse
        raw = envelope.original_content or b""
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class SmtpServer:
    def __init__(self, port: int = 0) -> None:
        self.handler = RecordingHandler()
        self.port = port or free_port()
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()


class HttpApp:
    """A Starlette app served on an ephemeral port in a thread."""

    def __init__(self, app: Any) -> None:
        self._server = HttpServer(app, bind("127.0.0.1:0"))
        self.url = f"http://127.0.0.1:{self._server.port}"

    def start(self) -> HttpApp:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop(2)


def sms_gateway(directory: Path) -> HttpApp:
    return HttpApp(gateway_app(directory, [SMS_KEY])).start()


@dataclass
class CallbackReceiver:
    """Records every POST (headers and raw body); answers ``status`` (default 200)."""

    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    status: int = 200

    def app(self) -> Starlette:
        async def receive(request: Request) -> Response:
            self.requests.append((dict(request.headers), await request.body()))
            return Response(status_code=self.status)

        return Starlette(routes=[Route("/callbacks", receive, methods=["POST"])])


def notify_for(platform: Platform, database_url: str, **extra: Any) -> Notify:
    """Another handle on the platform's notify database (migrations already ran)."""
    settings = server_settings(NotifySettings, database_url, **extra)
    return open_notify(platform.settings, settings)


def worker_settings(
    database_url: str, smtp_port: int, sms_url: str, public_url: str, **extra: Any
) -> NotifySettings:
    providers = [
        {"name": "local-a", "url": sms_url + "/messages", "key": SMS_KEY, "weight": 2},
        {"name": "local-b", "url": sms_url + "/messages", "key": SMS_KEY, "weight": 1},
    ]
    return server_settings(
        NotifySettings,
        database_url,
        smtp_port=smtp_port,
        sms_providers=json.dumps(providers),
        public_url=public_url,
        worker_poll_seconds=0.05,
        **extra,
    )


def run_worker(
    platform: Platform,
    settings: NotifySettings,
    clock: Callable[[], datetime] = utcnow,
    tracing: TracerProvider | None = None,
) -> int:
    """Send everything due now (by ``clock``), as one worker would; returns attempts."""
    notify = open_notify(platform.settings, settings)

    async def go() -> int:
        async with sms_client(notify) as http:
            worker = deliverer(notify, http, clock)  # tests move time instead of sleeping
            stop_tracing = trace_worker(notify, worker, tracing)
            try:
                return await worker.run_until_idle()
            finally:
                stop_tracing()

    try:
        return asyncio.run(go())
    finally:
        notify.database.close()


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll until ``check`` holds (used for asynchronous receipts, never for timing)."""
    done = threading.Event()
    deadline = utcnow().timestamp() + timeout
    while utcnow().timestamp() < deadline:
        if check():
            return True
        done.wait(0.05)
    return check()
