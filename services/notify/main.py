"""``gaap-notify``: run the notify service."""

from __future__ import annotations

from services.notify.bootstrap import build
from services.notify.settings import NotifySettings
from services.runtime import config, process


def main() -> None:
    def make() -> tuple[process.ServiceSpec, float]:
        platform = config.load(config.PlatformSettings)
        return build(platform, config.load(NotifySettings)), platform.shutdown_grace_seconds

    process.run("notify", make)


if __name__ == "__main__":
    main()
