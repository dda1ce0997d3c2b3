"""A local SMTP sink for ``make run``: every message lands in ``var/mail/*.eml``.

It accepts everything and delivers nothing, so a person (and the demo app) can
open what a resident would have received. Listens where the worker sends
(``NOTIFY_SMTP_HOST``:``NOTIFY_SMTP_PORT``).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from services.notify.settings import NotifySettings
from services.runtime import config
from services.runtime.errors import StartupError


class MailDirHandler:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.received = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:12]}.eml"
        tmp = self.directory / (name + ".tmp")
        tmp.write_bytes(content if isinstance(content, bytes) else content.encode())
        os.replace(tmp, self.directory / name)  # readers never see half a message
        self.received += 1
        return "250 Message accepted for delivery"


class SmtpSink:
    def __init__(self, directory: Path, host: str = "127.0.0.1", port: int = 8025) -> None:
        self.handler = MailDirHandler(directory)
        self._controller = Controller(
            self.handler, hostname=host, port=port, ready_timeout=10, server_kwargs=_server_kwargs()
        )

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()


def _server_kwargs() -> dict[str, Any]:
    return {"data_size_limit": 10 * 1024 * 1024}


def main() -> None:
    try:
        platform = config.load(config.PlatformSettings)
        settings = config.load(NotifySettings)
    except StartupError as exc:
        sys.stderr.write(f"notify smtp sink: {exc}\n")
        raise SystemExit(2) from None
    directory = platform.var_dir / "mail"
    try:
        sink = SmtpSink(directory, settings.smtp_host, settings.smtp_port).start()
    except (OSError, RuntimeError) as exc:
        sys.stderr.write(f"notify smtp sink: cannot listen on {settings.smtp_port}: {exc}\n")
        raise SystemExit(2) from None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    sink.stop()


if __name__ == "__main__":
    main()
