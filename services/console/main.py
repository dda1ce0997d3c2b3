"""``gaap-console``: the agency console on ``CONSOLE_HTTP_ADDRESS`` (127.0.0.1:8084)."""

from __future__ import annotations

import signal
import sys
import threading

from services.console.bootstrap import start
from services.console.settings import ConsoleSettings
from services.runtime import config, logs
from services.runtime.errors import StartupError


def main() -> None:
    logs.configure("console")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        platform = config.load(config.PlatformSettings)
        settings = config.load(ConsoleSettings)
        console = start(platform, settings)
    except StartupError as exc:
        sys.stderr.write(f"gaap-console: {exc}\n")
        raise SystemExit(2) from None
    stop.wait()
    console.stop(platform.shutdown_grace_seconds)


if __name__ == "__main__":
    main()
