"""``gaap-identity``: run the identity service."""

from __future__ import annotations

from services.identity.bootstrap import build
from services.identity.settings import IdentitySettings
from services.runtime import config, process


def main() -> None:
    def make() -> tuple[process.ServiceSpec, float]:
        platform = config.load(config.PlatformSettings)
        return build(platform, config.load(IdentitySettings)), platform.shutdown_grace_seconds

    process.run("identity", make)


if __name__ == "__main__":
    main()
