"""``gaap-demo-app``: the demo agency app on ``DEMO_APP_HTTP_ADDRESS`` (127.0.0.1:8080)."""

from __future__ import annotations

from services.demo_app.bootstrap import RunningDemoApp, start
from services.demo_app.settings import DemoAppSettings
from services.runtime import config, process


def _start() -> tuple[RunningDemoApp, float]:
    platform = config.load(config.PlatformSettings)
    return start(platform, config.load(DemoAppSettings)), platform.shutdown_grace_seconds


def main() -> None:
    process.run_app("demo-app", _start)


if __name__ == "__main__":
    main()
