"""``gaap-payments``: run the payments service."""

from __future__ import annotations

from services.payments.bootstrap import build
from services.payments.settings import PaymentsSettings
from services.runtime import config, process


def main() -> None:
    def make() -> tuple[process.ServiceSpec, float]:
        platform = config.load(config.PlatformSettings)
        return build(platform, config.load(PaymentsSettings)), platform.shutdown_grace_seconds

    process.run("payments", make)


if __name__ == "__main__":
    main()
