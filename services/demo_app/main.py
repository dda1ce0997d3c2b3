"""``gaap-demo-app``: the demo agency app on ``DEMO_APP_HTTP_ADDRESS`` (127.0.0.1:8080)."""

from __future__ import annotations

import signal
import sys
import threading

from services.demo_app.bootstrap import start
from services.demo_app.settings import DemoAppSettings
from services.runtime import config, logs
from services.runtime.errors import StartupError


def main() -> None:
    logs.configure("demo-app")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        platform = config.load(config.PlatformSettings)
        settings = config.load(DemoAppSettings)
        app = start(platform, settings)
    except StartupError as exc:
        sys.stderr.write(f"gaap-demo-app: {exc}\n")
        raise SystemExit(2) from None
    stop.wait()
    app.stop(platform.shutdown_grace_seconds)


if __name__ == "__main__":
    main()
