"""``gaap-console``: the agency console on ``CONSOLE_HTTP_ADDRESS`` (127.0.0.1:8084)."""

from __future__ import annotations

from services.console.bootstrap import RunningConsole, start
from services.console.settings import ConsoleSettings
from services.runtime import config, process


def _start() -> tuple[RunningConsole, float]:
    platform = config.load(config.PlatformSettings)
    return start(platform, config.load(ConsoleSettings)), platform.shutdown_grace_seconds


def main() -> None:
    process.run_app("console", _start)


if __name__ == "__main__":
    main()
